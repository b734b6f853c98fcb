// SwiftObjectStore: the ObjectStore over the OpenStack Swift HTTP API (real Swift, the embedded
// server, or anything speaking the same subset), on node:http with a keep-alive pool.
//
// Request engine (mirrors pfsagentd's doHTTPRequest, pfsagent.md §9, with deliberate widening):
// - every attempt carries the current X-Auth-Token; a 401 calls the authenticate hook once per
//   failure (single-flight: concurrent 401s with the same stale token share one call) and retries;
// - 408/429/498/5xx answers, connection failures and per-attempt timeouts are retried with the
//   SwiftRetry* schedule (RetryPolicy) up to SwiftRetryLimit times. All requests this store makes
//   are safe to resend: PUT/POST replace whole state and PUT bodies are replayable (PutBody);
// - a reset on a reused keep-alive socket before any response is retried at once, once, without
//   counting (the server closed an idle connection; not a failure of the request);
// - SwiftTimeout bounds each attempt from sending until the response body is fully read (for a
//   streamed GET: until the caller finishes the stream).
// Bodies stream in both directions: PUT bodies are written chunk by chunk with backpressure; large
// or unknown-length PUTs use Expect: 100-continue so a refused request does not upload the body.
import http, { type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import https from "node:https";
import { parse as parseLossless, isSafeNumber } from "lossless-json";
import type {
  AccountInfo, ContainerEntry, ContainerInfo, GetOptions, GetResult, GetStreamResult, ListOptions,
  Metadata, ObjectEntry, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, RequestOptions,
} from "../object-store.js";
import { ObjectStoreError, codeForStatus } from "../object-store-error.js";
import { checkContainerName, checkMetadata, checkObjectName } from "../names.js";
import { bodyChunks, checkPutBody, knownLength } from "../put-body.js";
import { rangeHeader, resolveRange } from "../byte-range.js";
import { checkListOptions } from "../listing.js";
import { RetryPolicy, type SwiftRetryConfig } from "./retry-policy.js";
import type { SwiftAuthenticate, SwiftCredentials } from "./tempauth.js";

export interface SwiftObjectStoreOptions {
  /** Obtains credentials; see SwiftAuthenticate. */
  authenticate: SwiftAuthenticate;
  /** Credentials already obtained elsewhere (e.g. an auth plug-in); used until the first 401. */
  credentials?: SwiftCredentials;
  /** SwiftRetryLimit / SwiftRetryDelay / SwiftRetryDelayVariance / SwiftRetryExpBackoff. */
  retry?: Partial<SwiftRetryConfig>;
  /** SwiftTimeout in ms, per attempt (default 10 minutes, pfsagent.conf's sample). */
  timeoutMs?: number;
  /** SwiftConnectionPoolSize: max sockets (and idle sockets kept) per host (default 200). */
  connectionPoolSize?: number;
  userAgent?: string;
  /** Bodies larger than this (and unknown-length bodies) are sent with Expect: 100-continue. */
  expectContinueThreshold?: number;
  /** Injected for tests: sleep used between retries. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Statuses that say "try again later" rather than "your request is wrong". */
const RETRYABLE_STATUS = new Set([408, 429, 498, 500, 502, 503, 504]);
/** Transport error codes after which a resend is reasonable. */
const RETRYABLE_ERRNO = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "ECONNABORTED", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN", "ERR_STREAM_PREMATURE_CLOSE"]);
/** How much of an error response body we keep for messages. */
const ERROR_BODY_LIMIT = 4096;

interface RequestSpec {
  method: "GET" | "HEAD" | "PUT" | "POST" | "DELETE";
  container?: string;
  object?: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  body?: PutBody;
  contentLength?: number;
  accept: readonly number[];
  response: "buffer" | "stream";
  signal?: AbortSignal | undefined;
  /** For DELETE: a 404 after an attempt that may have reached the server counts as done. */
  notFoundAfterRetryIsSuccess?: boolean;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  stream?: IncomingMessage;
}

/** A transport failure of one attempt. `stale`: reset of a reused idle socket before any reply. */
class AttemptFailure {
  constructor(readonly error: ObjectStoreError, readonly stale: boolean, readonly retryable: boolean) {}
}

function encodePathPart(s: string): string {
  // '.' is escaped too so that "." / ".." segments can never be normalised away by anything.
  return encodeURIComponent(s).replace(/%2F/g, "/").replace(/\./g, "%2E");
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError(signal));
    const t = setTimeout(() => { signal?.removeEventListener("abort", onAbort); resolve(); }, ms);
    const onAbort = (): void => { clearTimeout(t); reject(abortError(signal!)); };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(signal: AbortSignal): ObjectStoreError {
  return new ObjectStoreError("Aborted", "Operation aborted by the caller", { cause: signal.reason });
}

function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

function metadataFrom(h: IncomingHttpHeaders, prefix: string): Metadata {
  const out: Metadata = {};
  for (const [k, v] of Object.entries(h)) {
    if (k.startsWith(prefix) && v !== undefined) out[k.slice(prefix.length)] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function metadataHeaders(meta: Metadata | undefined, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (meta) for (const [k, v] of Object.entries(meta)) out[`${prefix}${k}`] = v;
  return out;
}

function bigintHeader(h: IncomingHttpHeaders, name: string): bigint {
  const v = header(h, name);
  return v !== undefined && /^\d+$/.test(v) ? BigInt(v) : 0n;
}

/** Parses listing JSON keeping integers beyond 2^53 exact (as bigint). */
function parseListing(body: Buffer): Array<Record<string, unknown>> {
  if (body.length === 0) return [];
  const v = parseLossless(body.toString("utf8"), null, (s: string) => (isSafeNumber(s) ? Number(s) : BigInt(s)));
  if (!Array.isArray(v)) throw new ObjectStoreError("ServerError", "Listing response is not a JSON array");
  return v as Array<Record<string, unknown>>;
}

export class SwiftObjectStore implements ObjectStore {
  readonly #authenticate: SwiftAuthenticate;
  readonly #policy: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #userAgent: string;
  readonly #expectThreshold: number;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #httpAgent: http.Agent;
  readonly #httpsAgent: https.Agent;
  // INVARIANT: at most one authenticate() call runs at a time (#authPromise); #creds is replaced
  // only when it resolves.
  #creds: SwiftCredentials | undefined;
  #authPromise: Promise<SwiftCredentials> | undefined;
  #closed = false;

  constructor(opts: SwiftObjectStoreOptions) {
    if (typeof opts.authenticate !== "function") throw new TypeError("SwiftObjectStore needs an authenticate function");
    this.#authenticate = opts.authenticate;
    this.#creds = opts.credentials;
    this.#policy = new RetryPolicy(opts.retry ?? {});
    this.#timeoutMs = opts.timeoutMs ?? 600_000;
    if (!(this.#timeoutMs > 0)) throw new RangeError(`SwiftTimeout ${opts.timeoutMs} ms must be positive`);
    const pool = opts.connectionPoolSize ?? 200;
    if (!Number.isSafeInteger(pool) || pool < 1) throw new RangeError(`SwiftConnectionPoolSize ${pool} must be a positive integer`);
    this.#userAgent = opts.userAgent ?? "proxyfs-objstore";
    this.#expectThreshold = opts.expectContinueThreshold ?? 1 << 20;
    this.#sleep = opts.sleep ?? defaultSleep;
    const agentOpts = { keepAlive: true, maxSockets: pool, maxFreeSockets: pool, scheduling: "lifo" as const };
    this.#httpAgent = new http.Agent(agentOpts);
    this.#httpsAgent = new https.Agent(agentOpts);
  }

  get description(): string {
    return `swift(${this.#creds?.storageUrl ?? "unauthenticated"})`;
  }

  /** The credentials in use (after the first request), e.g. to hand the token to another process. */
  get credentials(): SwiftCredentials | undefined {
    return this.#creds;
  }

  // ---- credentials ----

  async #credentials(signal: AbortSignal | undefined): Promise<SwiftCredentials> {
    if (this.#authPromise) return this.#authPromise;
    if (this.#creds) return this.#creds;
    return this.#reauth(undefined, signal);
  }

  /** Re-authenticates unless someone already replaced `staleToken`. */
  #reauth(staleToken: string | undefined, signal: AbortSignal | undefined): Promise<SwiftCredentials> {
    if (this.#authPromise) return this.#authPromise;
    if (staleToken !== undefined && this.#creds && this.#creds.token !== staleToken) return Promise.resolve(this.#creds);
    const p = (async () => {
      try {
        const c = await this.#authenticate(signal);
        if (!c || typeof c.token !== "string" || typeof c.storageUrl !== "string") {
          throw new ObjectStoreError("Unauthorized", "The authenticate hook returned no token/storageUrl");
        }
        this.#creds = { token: c.token, storageUrl: c.storageUrl.replace(/\/+$/, "") };
        return this.#creds;
      } catch (err) {
        if (err instanceof ObjectStoreError) throw err;
        throw new ObjectStoreError("Unauthorized", `Authentication failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
      } finally {
        this.#authPromise = undefined;
      }
    })();
    this.#authPromise = p;
    return p;
  }

  // ---- request engine ----

  /**
   * Where a request goes. The path is built as a raw string and never passed through WHATWG URL
   * parsing, which would resolve "%2E%2E" segments and send an object named ".." to its parent.
   */
  #target(storageUrl: string, spec: RequestSpec): { url: URL; path: string } {
    const url = new URL(storageUrl);
    let path = url.pathname.replace(/\/+$/, "");
    if (spec.container !== undefined) path += `/${encodePathPart(spec.container)}`;
    if (spec.object !== undefined) path += `/${encodePathPart(spec.object)}`;
    const q: string[] = [];
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) q.push(`${k}=${encodeURIComponent(String(v))}`);
    return { url, path: q.length ? `${path}?${q.join("&")}` : path };
  }

  #describe(spec: RequestSpec): string {
    let what = spec.method;
    if (spec.container !== undefined) what += ` container ${JSON.stringify(spec.container)}`;
    if (spec.object !== undefined) what += ` object ${JSON.stringify(spec.object)}`;
    if (spec.container === undefined) what += " account";
    return what;
  }

  async #request(spec: RequestSpec): Promise<Reply> {
    if (this.#closed) throw new ObjectStoreError("InvalidArgument", "SwiftObjectStore is closed");
    const limit = this.#policy.config.limit;
    let retries = 0;
    let staleRetried = false;
    let mayHaveApplied = false;
    for (;;) {
      if (spec.signal?.aborted) throw abortError(spec.signal);
      const creds = await this.#credentials(spec.signal);
      let reply: Reply;
      try {
        reply = await this.#attempt(spec, creds);
      } catch (failure) {
        if (!(failure instanceof AttemptFailure)) throw failure;
        if (failure.stale && !staleRetried) { staleRetried = true; continue; }
        if (!failure.retryable || retries >= limit) throw failure.error;
        mayHaveApplied = true;
        await this.#sleep(this.#policy.delayMs(retries++), spec.signal);
        continue;
      }
      if (spec.accept.includes(reply.status)) return reply;
      if (reply.status === 401 && retries < limit) {
        retries++;
        await this.#reauth(creds.token, spec.signal);
        continue;
      }
      if (reply.status === 404 && spec.notFoundAfterRetryIsSuccess && mayHaveApplied) return reply;
      if (RETRYABLE_STATUS.has(reply.status) && retries < limit) {
        mayHaveApplied = true;
        await this.#sleep(this.#policy.delayMs(retries++), spec.signal);
        continue;
      }
      const text = reply.body.toString("utf8").replace(/<[^>]*>/g, " ").replace(/\s+/g, " ").trim().slice(0, 200);
      throw new ObjectStoreError(codeForStatus(reply.status), `${this.#describe(spec)} failed with status ${reply.status}${text ? `: ${text}` : ""}`, { status: reply.status });
    }
  }

  /** One HTTP exchange. Rejects with AttemptFailure for transport problems. */
  #attempt(spec: RequestSpec, creds: SwiftCredentials): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const { url, path } = this.#target(creds.storageUrl, spec);
      const isHttps = url.protocol === "https:";
      const headers: Record<string, string> = { "X-Auth-Token": creds.token, "User-Agent": this.#userAgent, ...spec.headers };
      const len = spec.body !== undefined ? knownLength(spec.body, spec.contentLength) : undefined;
      if (spec.body !== undefined) {
        if (len !== undefined) headers["Content-Length"] = String(len);
        else headers["Transfer-Encoding"] = "chunked";
      } else if (spec.method === "PUT" || spec.method === "POST") {
        headers["Content-Length"] = "0";
      }
      const useExpect = spec.body !== undefined && (len === undefined || len > this.#expectThreshold);
      if (useExpect) headers["Expect"] = "100-continue";

      const req = (isHttps ? https : http).request({
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || (isHttps ? 443 : 80),
        path,
        method: spec.method,
        headers,
        agent: isHttps ? this.#httpsAgent : this.#httpAgent,
      });
      let settled = false; // the promise is settled (resolve or reject)
      let responded = false;
      let bodySent = spec.body === undefined;
      let stream: IncomingMessage | undefined;
      const what = this.#describe(spec);

      const timer = setTimeout(() => {
        const err = new ObjectStoreError("Timeout", `${what} timed out after ${this.#timeoutMs} ms`);
        if (stream) stream.destroy(err);
        else fail(err, true);
      }, this.#timeoutMs);
      const onAbort = (): void => {
        const err = abortError(spec.signal!);
        if (stream) stream.destroy(err);
        else fail(err, false);
      };
      spec.signal?.addEventListener("abort", onAbort, { once: true });
      const cleanup = (): void => {
        clearTimeout(timer);
        spec.signal?.removeEventListener("abort", onAbort);
      };

      const fail = (error: ObjectStoreError, retryable: boolean, stale = false): void => {
        if (settled) return;
        settled = true;
        cleanup();
        req.destroy();
        reject(new AttemptFailure(error, stale, retryable));
      };

      req.on("error", (err: NodeJS.ErrnoException) => {
        if (settled) return;
        if (err instanceof ObjectStoreError) return fail(err, err.code === "Timeout" || err.code === "Network");
        const code = err.code ?? "";
        const stale = req.reusedSocket && !responded && (code === "ECONNRESET" || code === "EPIPE");
        fail(new ObjectStoreError("Network", `${what} to ${url.host} failed: ${err.message}`, { cause: err }), RETRYABLE_ERRNO.has(code) || code === "", stale);
      });

      req.on("response", (res: IncomingMessage) => {
        responded = true;
        const status = res.statusCode ?? 0;
        if (!bodySent) {
          // The server answered before taking the whole body (e.g. 401/404 after Expect, or an
          // early error): the connection is in an unknown state and must not be reused.
          res.on("end", () => req.destroy());
        }
        res.on("error", (err) => fail(err instanceof ObjectStoreError ? err : new ObjectStoreError("Network", `${what}: response body failed: ${err.message}`, { cause: err }), true));
        res.on("aborted", () => fail(new ObjectStoreError("Network", `${what}: connection closed before the response body ended`), true));
        if (spec.response === "stream" && spec.accept.includes(status)) {
          settled = true;
          stream = res;
          res.on("close", cleanup);
          resolve({ status, headers: res.headers, body: Buffer.alloc(0), stream: res });
          return;
        }
        const accepted = spec.accept.includes(status);
        const declared = Number(header(res.headers, "content-length"));
        const exact = accepted && Number.isSafeInteger(declared) && declared >= 0 && spec.method !== "HEAD" ? Buffer.allocUnsafe(declared) : undefined;
        const parts: Buffer[] = [];
        let got = 0;
        res.on("data", (chunk: Buffer) => {
          if (exact) {
            if (got + chunk.length <= exact.length) chunk.copy(exact, got);
          } else if (accepted || got < ERROR_BODY_LIMIT) {
            parts.push(chunk);
          }
          got += chunk.length;
        });
        res.on("end", () => {
          if (settled) return;
          if (exact && got !== exact.length) return fail(new ObjectStoreError("Network", `${what}: response body had ${got} bytes, expected ${exact.length}`), true);
          settled = true;
          cleanup();
          resolve({ status, headers: res.headers, body: exact ?? Buffer.concat(parts) });
        });
      });

      if (spec.body === undefined) {
        req.end();
        return;
      }
      const send = (): void => {
        this.#writeBody(req, spec.body!, len, () => responded || settled).then(
          () => { bodySent = true; },
          (err: unknown) => fail(err instanceof ObjectStoreError ? err : new ObjectStoreError("InvalidArgument", `${what}: reading the PUT body failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }), false),
        );
      };
      if (!useExpect) return send();
      // Wait for 100 Continue (or a final answer); send anyway after 1 s like curl, for servers
      // that ignore Expect.
      let started = false;
      const start = (): void => {
        clearTimeout(fallback);
        if (started || responded || settled) return;
        started = true;
        send();
      };
      const fallback = setTimeout(start, 1000);
      req.on("continue", start);
      req.on("close", () => clearTimeout(fallback));
      req.flushHeaders();
    });
  }

  /** Writes one attempt's body with backpressure; stops early when `stop()` turns true. */
  async #writeBody(req: http.ClientRequest, body: PutBody, len: number | undefined, stop: () => boolean): Promise<void> {
    if (body instanceof Uint8Array) {
      req.end(body);
      return;
    }
    let sent = 0;
    for await (const chunk of bodyChunks(body)) {
      if (stop() || req.destroyed) return;
      sent += chunk.length;
      if (len !== undefined && sent > len) throw new ObjectStoreError("InvalidArgument", `PUT body is longer than contentLength ${len}`);
      if (!req.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => { req.off("drain", done); req.off("close", done); resolve(); };
          req.on("drain", done);
          req.on("close", done);
        });
      }
    }
    if (stop() || req.destroyed) return;
    if (len !== undefined && sent !== len) throw new ObjectStoreError("InvalidArgument", `PUT body had ${sent} bytes but contentLength was ${len}`);
    req.end();
  }

  // ---- account ----

  async headAccount(opts: RequestOptions = {}): Promise<AccountInfo> {
    const r = await this.#request({ method: "HEAD", accept: [200, 204], response: "buffer", signal: opts.signal });
    return {
      containerCount: bigintHeader(r.headers, "x-account-container-count"),
      objectCount: bigintHeader(r.headers, "x-account-object-count"),
      bytesUsed: bigintHeader(r.headers, "x-account-bytes-used"),
      metadata: metadataFrom(r.headers, "x-account-meta-"),
    };
  }

  async postAccount(metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkMetadata(metadata, true);
    await this.#request({ method: "POST", headers: metadataHeaders(metadata, "X-Account-Meta-"), accept: [204, 200], response: "buffer", signal: opts.signal });
  }

  async listContainers(opts: ListOptions = {}): Promise<ContainerEntry[]> {
    checkListOptions(opts);
    const r = await this.#request({ method: "GET", query: this.#listQuery(opts), accept: [200, 204], response: "buffer", signal: opts.signal });
    return parseListing(r.body).map((e) =>
      typeof e["subdir"] === "string"
        ? { name: e["subdir"], count: 0n, bytes: 0n, lastModified: "" }
        : { name: String(e["name"]), count: BigInt(e["count"] as number | bigint), bytes: BigInt(e["bytes"] as number | bigint), lastModified: String(e["last_modified"] ?? "") },
    );
  }

  #listQuery(opts: ListOptions): Record<string, string | number | undefined> {
    return { format: "json", prefix: opts.prefix, marker: opts.marker, end_marker: opts.endMarker, limit: opts.limit, delimiter: opts.delimiter };
  }

  // ---- containers ----

  async putContainer(container: string, opts: RequestOptions & { metadata?: Metadata } = {}): Promise<{ created: boolean }> {
    checkContainerName(container);
    checkMetadata(opts.metadata ?? {}, true);
    const r = await this.#request({ method: "PUT", container, headers: metadataHeaders(opts.metadata, "X-Container-Meta-"), accept: [201, 202], response: "buffer", signal: opts.signal });
    return { created: r.status === 201 };
  }

  async headContainer(container: string, opts: RequestOptions = {}): Promise<ContainerInfo> {
    checkContainerName(container);
    const r = await this.#request({ method: "HEAD", container, accept: [200, 204], response: "buffer", signal: opts.signal });
    return {
      objectCount: bigintHeader(r.headers, "x-container-object-count"),
      bytesUsed: bigintHeader(r.headers, "x-container-bytes-used"),
      timestamp: header(r.headers, "x-timestamp") ?? "",
      metadata: metadataFrom(r.headers, "x-container-meta-"),
    };
  }

  async postContainer(container: string, metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkContainerName(container);
    checkMetadata(metadata, true);
    await this.#request({ method: "POST", container, headers: metadataHeaders(metadata, "X-Container-Meta-"), accept: [204, 200], response: "buffer", signal: opts.signal });
  }

  async deleteContainer(container: string, opts: RequestOptions = {}): Promise<void> {
    checkContainerName(container);
    await this.#request({ method: "DELETE", container, accept: [204, 200], response: "buffer", signal: opts.signal, notFoundAfterRetryIsSuccess: true });
  }

  async listObjects(container: string, opts: ListOptions = {}): Promise<ObjectEntry[]> {
    checkContainerName(container);
    checkListOptions(opts);
    const r = await this.#request({ method: "GET", container, query: this.#listQuery(opts), accept: [200, 204], response: "buffer", signal: opts.signal });
    return parseListing(r.body).map((e): ObjectEntry =>
      typeof e["subdir"] === "string"
        ? { kind: "subdir", subdir: e["subdir"] }
        : {
          kind: "object",
          name: String(e["name"]),
          bytes: Number(e["bytes"]),
          hash: String(e["hash"]),
          contentType: String(e["content_type"]),
          lastModified: String(e["last_modified"]),
        },
    );
  }

  // ---- objects ----

  async putObject(container: string, name: string, body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    checkObjectName(container, name);
    checkMetadata(opts.metadata ?? {}, false);
    checkPutBody(body, opts.contentLength);
    const headers: Record<string, string> = {
      "Content-Type": opts.contentType ?? "application/octet-stream",
      ...metadataHeaders(opts.metadata, "X-Object-Meta-"),
    };
    if (opts.ifNoneMatch === "*") headers["If-None-Match"] = "*";
    if (opts.etag !== undefined) headers["ETag"] = opts.etag;
    // 202: real Swift's answer when a concurrent PUT of the same name with an equal or newer
    // timestamp won; this write was received whole but is superseded (not an error for the caller).
    const spec: RequestSpec = { method: "PUT", container, object: name, headers, body, accept: [201, 202], response: "buffer", signal: opts.signal };
    if (opts.contentLength !== undefined) spec.contentLength = opts.contentLength;
    const r = await this.#request(spec);
    const lm = header(r.headers, "last-modified");
    return {
      etag: (header(r.headers, "etag") ?? "").replace(/"/g, ""),
      lastModified: lm ? new Date(lm) : new Date(0),
    };
  }

  #info(h: IncomingHttpHeaders, size: number): ObjectInfo {
    const lm = header(h, "last-modified");
    return {
      size,
      etag: (header(h, "etag") ?? "").replace(/"/g, ""),
      contentType: header(h, "content-type") ?? "",
      lastModified: lm ? new Date(lm) : new Date(0),
      timestamp: header(h, "x-timestamp") ?? "",
      metadata: metadataFrom(h, "x-object-meta-"),
    };
  }

  /** Size and returned range from a 200/206 reply. */
  #sizeAndRange(r: Reply): { size: number; range?: { start: number; end: number } } {
    if (r.status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(header(r.headers, "content-range") ?? "");
      if (!m) throw new ObjectStoreError("ServerError", `206 reply without a usable Content-Range (${header(r.headers, "content-range")})`);
      return { size: Number(m[3]), range: { start: Number(m[1]), end: Number(m[2]) } };
    }
    return { size: Number(header(r.headers, "content-length") ?? 0) };
  }

  #getSpec(container: string, name: string, opts: GetOptions, response: "buffer" | "stream"): RequestSpec {
    checkObjectName(container, name);
    const headers: Record<string, string> = {};
    if (opts.range) headers["Range"] = rangeHeader(opts.range);
    return { method: "GET", container, object: name, headers, accept: [200, 206], response, signal: opts.signal };
  }

  async getObject(container: string, name: string, opts: GetOptions = {}): Promise<GetResult> {
    const r = await this.#request(this.#getSpec(container, name, opts, "buffer"));
    const { size, range } = this.#sizeAndRange(r);
    const info = this.#info(r.headers, size);
    if (opts.range && !range) {
      // The server ignored the Range header and sent everything: cut the range out ourselves.
      const want = resolveRange(opts.range, size);
      if (!want) return { info, body: r.body };
      return { info, range: want, body: r.body.subarray(want.start, want.end + 1) };
    }
    return range ? { info, range, body: r.body } : { info, body: r.body };
  }

  async getObjectStream(container: string, name: string, opts: GetOptions = {}): Promise<GetStreamResult> {
    const r = await this.#request(this.#getSpec(container, name, opts, "stream"));
    const stream = r.stream!;
    const { size, range } = this.#sizeAndRange(r);
    const info = this.#info(r.headers, size);
    if (opts.range && !range && resolveRange(opts.range, size) !== undefined) {
      stream.destroy();
      throw new ObjectStoreError("ServerError", `GET object ${JSON.stringify(name)}: the server ignored the Range header`);
    }
    return range ? { info, range, body: stream } : { info, body: stream };
  }

  async headObject(container: string, name: string, opts: RequestOptions = {}): Promise<ObjectInfo> {
    checkObjectName(container, name);
    const r = await this.#request({ method: "HEAD", container, object: name, accept: [200, 204], response: "buffer", signal: opts.signal });
    return this.#info(r.headers, Number(header(r.headers, "content-length") ?? 0));
  }

  async postObject(container: string, name: string, metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkObjectName(container, name);
    checkMetadata(metadata, false);
    await this.#request({ method: "POST", container, object: name, headers: metadataHeaders(metadata, "X-Object-Meta-"), accept: [202, 204, 200], response: "buffer", signal: opts.signal });
  }

  async deleteObject(container: string, name: string, opts: RequestOptions = {}): Promise<void> {
    checkObjectName(container, name);
    await this.#request({ method: "DELETE", container, object: name, accept: [204, 200], response: "buffer", signal: opts.signal, notFoundAfterRetryIsSuccess: true });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#httpAgent.destroy();
    this.#httpsAgent.destroy();
  }
}
