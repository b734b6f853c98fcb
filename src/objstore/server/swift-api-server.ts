// SwiftApiServer: an embedded HTTP server speaking the OpenStack Swift API subset proxyfs uses
// (account/container/object CRUD, metadata, listings in plain/json/xml, single ranges, chunked PUT,
// If-None-Match: *) plus tempauth-compatible GET /auth/v1.0. It serves DiskObjectStore per account
// (or MemoryObjectStore without a directory), so durability rules are those of the store: a 201
// is sent only after the bytes, metadata and directory entry are fsync'd.
//
// URL forms accepted: /v1/<account>/..., /v1.0/<account>/... and /proxyfs/<account>/... (the
// pfsagentd "bypass" form). Paths are never normalised: an object may be called "..". Every
// request except auth, /info and /healthcheck needs a valid token for the account in the path.
//
// With `bypassMode` set, /proxyfs/ and PROXYFS follow our pfs WSGI filter (middleware/, and
// proxyfs-server.md 2.3-2.4) so that this server and a real Swift proxy with that filter answer
// alike: a user that is not the account's owner (tempauth: not .admin) gets 403 for everything
// (there are no ACLs here); the owner's /proxyfs/ writes get 405 in read-only mode; PROXYFS gets
// 405 in mode off, and in read-only mode only allow_read_only methods. Without `bypassMode` the
// older behaviour stays: /proxyfs/ is exactly /v1 and every PROXYFS method is relayed.
//
// Status codes, headers and bodies follow what Swift 2.30 sends (checked by the differential test
// against a real SAIO), e.g. 204 for an empty plain listing, 202 for PUT of an existing container,
// 412 for names that are not UTF-8 or contain NUL, 400 for over-long names.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { ContainerEntry, Metadata, ObjectEntry, ObjectInfo, ObjectStore } from "../object-store.js";
import { LIMITS } from "../object-store.js";
import { ObjectStoreError, statusForCode } from "../object-store-error.js";
import { MemoryObjectStore } from "../memory/memory-object-store.js";
import { DiskObjectStore } from "../disk/disk-object-store.js";
import { DirSync } from "../disk/dir-sync.js";
import { fileNameFor } from "../disk/object-file.js";
import { parseRangeHeader } from "../byte-range.js";
import { ticksToLastModified, normalToTicks } from "../swift-time.js";
import { guessContentType } from "./content-type.js";
import { swiftErrorBody } from "./error-body.js";
import { decodePathSegment } from "./path.js";
import { PROXYFS_MAX_BODY, ProxyfsRelayError, parseRawRequest, relayToProxyfsd, rewriteProxyfsRequest, type ProxyfsRelayTarget, type RawRequest } from "./proxyfs-relay.js";
import type { Duplex } from "node:stream";

export interface SwiftUser {
  /** The part before ':' in the user name ("test" in test:tester). */
  account: string;
  user: string;
  key: string;
  /** Swift account served to this user; default "AUTH_" + account. */
  accountName?: string;
  /**
   * The account's owner (tempauth ".admin", Swift's environ swift_owner); default true. A
   * non-owner gets 403 on every request, as from tempauth for a user with no ACL grants.
   */
  owner?: boolean;
}

/** pfs_middleware bypass_mode (proxyfs-server.md 2.1). */
export type BypassMode = "off" | "read-only" | "read-write";

export interface SwiftApiServerOptions {
  /** Persist here (created if missing). Without it the server keeps everything in memory. */
  dir?: string;
  users: SwiftUser[];
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Token lifetime in seconds (default 86400, as tempauth). */
  tokenLifetimeSec?: number;
  /**
   * proxyfsd's JSON-RPC port: enables the PROXYFS method (pfs_middleware's metadata tunnel, used by
   * pfsagentd to mount and unmount). Without it PROXYFS gets 405.
   */
  proxyfs?: ProxyfsRelayTarget;
  /**
   * Behave as a Swift proxy with our pfs filter in this bypass_mode (see the top of this file).
   * Default: no filter rules (/proxyfs/ is /v1, PROXYFS relays every allowed method).
   */
  bypassMode?: BypassMode;
  /** Called with a one-line description of each failed request (status >= 500). */
  log?: (line: string) => void;
}

/** Parses "account:user:key[:accountName]" as given on the command line. */
export function parseUserSpec(spec: string): SwiftUser {
  const parts = spec.split(":");
  if (parts.length < 3 || parts.length > 4 || parts.slice(0, 3).some((p) => p === "")) {
    throw new RangeError(`User spec ${JSON.stringify(spec)} must be account:user:key[:AUTH_name]`);
  }
  const u: SwiftUser = { account: parts[0]!, user: parts[1]!, key: parts[2]! };
  if (parts[3]) u.accountName = parts[3];
  return u;
}

interface Route {
  account: string;
  /** The version segment was "proxyfs" (a bypass request, proxyfs-server.md 2.3). */
  proxyfsPath: boolean;
  container?: string;
  object?: string;
}

class HttpError extends Error {
  constructor(readonly status: number, message = "", readonly headers: Record<string, string> = {}) {
    super(message);
  }
}

const TEXT_HTML = "text/html; charset=UTF-8";
let transCounter = 0;
const transBase = randomBytes(8).toString("hex");

function transId(): string {
  return `tx${transBase}${(++transCounter).toString(16).padStart(13, "0")}-${Math.floor(Date.now() / 1000).toString(16).padStart(10, "0")}`;
}

/** Swift-style header name: X-Object-Meta-Some-Key. */
function titleCase(s: string): string {
  return s.replace(/(^|-)([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());
}

/** JSON the way Python's json.dumps writes it (", " and ": " separators, non-ASCII escaped). */
function pyJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyJson).join(", ")}]`;
  if (v !== null && typeof v === "object") {
    return `{${Object.entries(v).map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`).join(", ")}}`;
  }
  if (typeof v === "string") {
    return JSON.stringify(v).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  }
  return JSON.stringify(v) ?? "null";
}

function xmlEscape(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

function metaFromHeaders(req: IncomingMessage, kind: "account" | "container" | "object"): Metadata {
  const prefix = `x-${kind}-meta-`;
  const remove = `x-remove-${kind}-meta-`;
  const out: Metadata = {};
  for (const [k, v] of Object.entries(req.headers)) {
    const value = (Array.isArray(v) ? v.join(",") : v ?? "").trim();
    if (k.startsWith(prefix)) {
      const key = k.slice(prefix.length);
      if (!key) throw new HttpError(400, "Metadata name cannot be empty");
      if (kind === "object" && value === "") continue;
      out[key] = value;
    } else if (k.startsWith(remove) && kind !== "object") {
      out[k.slice(remove.length)] = "";
    }
  }
  return out;
}

function setMetaHeaders(res: ServerResponse, kind: string, meta: Metadata): void {
  for (const [k, v] of Object.entries(meta)) res.setHeader(`X-${titleCase(kind)}-Meta-${titleCase(k)}`, v);
}

export class SwiftApiServer {
  readonly #opts: SwiftApiServerOptions;
  readonly #server: http.Server;
  readonly #tokens = new Map<string, { account: string; owner: boolean; expires: number }>();
  readonly #stores = new Map<string, Promise<ObjectStore>>();
  readonly #dirSync = new DirSync();
  readonly #log: (line: string) => void;

  private constructor(opts: SwiftApiServerOptions) {
    this.#opts = opts;
    this.#log = opts.log ?? (() => undefined);
    this.#server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 75_000 }, (req, res) => {
      void this.#handle(req, res, false);
    });
    this.#server.on("checkContinue", (req, res) => void this.#handle(req, res, true));
    this.#server.on("clientError", (err, socket) => {
      const raw = (err as { rawPacket?: Buffer }).rawPacket;
      if (raw !== undefined && raw.subarray(0, 8).toString("latin1") === "PROXYFS ") {
        if (this.#opts.proxyfs !== undefined) return this.#proxyfsConnection(socket, raw);
        if (socket.writable) return void socket.end("HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nConnection: close\r\n\r\nPROXYFS is not enabled on this server");
      }
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
      else socket.destroy(err);
    });
  }

  /** Starts listening; resolves once the port is bound and every configured account is loaded. */
  static async start(opts: SwiftApiServerOptions): Promise<SwiftApiServer> {
    if (!Array.isArray(opts.users) || opts.users.length === 0) throw new RangeError("SwiftApiServer needs at least one user");
    if (opts.bypassMode !== undefined && !["off", "read-only", "read-write"].includes(opts.bypassMode)) {
      throw new RangeError(`bypassMode must be off, read-only or read-write, not ${JSON.stringify(opts.bypassMode)}`);
    }
    const s = new SwiftApiServer(opts);
    for (const u of opts.users) await s.#store(u.accountName ?? `AUTH_${u.account}`);
    await new Promise<void>((resolve, reject) => {
      s.#server.once("error", reject);
      s.#server.listen(opts.port ?? 0, opts.host ?? "127.0.0.1", () => {
        s.#server.off("error", reject);
        resolve();
      });
    });
    return s;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** http://host:port */
  get url(): string {
    const host = this.#opts.host ?? "127.0.0.1";
    return `http://${host.includes(":") ? `[${host}]` : host}:${this.port}`;
  }

  get authUrl(): string {
    return `${this.url}/auth/v1.0`;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
    for (const p of this.#stores.values()) await (await p).close();
  }

  #store(account: string): Promise<ObjectStore> {
    let p = this.#stores.get(account);
    if (!p) {
      p = this.#opts.dir
        ? DiskObjectStore.open({ dir: join(this.#opts.dir, "accounts", fileNameFor(account, "a")), dirSync: this.#dirSync, description: `disk(${account})` })
        : Promise.resolve(new MemoryObjectStore({ description: `memory(${account})` }));
      this.#stores.set(account, p);
    }
    return p;
  }

  // ---- request handling ----

  async #handle(req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    res.setHeader("X-Trans-Id", transId());
    res.setHeader("X-Openstack-Request-Id", res.getHeader("X-Trans-Id")!);
    let bodyUsed = false;
    try {
      const raw = req.url ?? "/";
      const q = raw.indexOf("?");
      const path = q < 0 ? raw : raw.slice(0, q);
      const query = new URLSearchParams(q < 0 ? "" : raw.slice(q + 1));
      if (path === "/auth/v1.0" || path === "/auth/v1.0/" || path === "/auth/v1" || path === "/auth/v1/") return this.#auth(req, res);
      if (path === "/healthcheck") return this.#send(res, 200, "OK", "text/plain");
      if (path === "/info") return this.#info(req, res);
      const route = this.#route(path);
      this.#checkToken(req, route.account);
      const method = req.method ?? "GET";
      // pfs filter: the owner's bypass is read-only in that mode (a non-owner got 403 above).
      if (route.proxyfsPath && this.#opts.bypassMode === "read-only" && method !== "GET" && method !== "HEAD") throw new HttpError(405);
      const store = await this.#store(route.account);
      if (route.object !== undefined) {
        if (method === "PUT") {
          bodyUsed = true;
          return await this.#putObject(store, route, req, res, expectContinue);
        }
        return await this.#object(store, route, method, req, res, query);
      }
      if (route.container !== undefined) return await this.#container(store, route.container, method, req, res, query);
      return await this.#account(store, method, req, res, query);
    } catch (err) {
      this.#fail(req, res, err, bodyUsed);
    } finally {
      if (!bodyUsed && !req.complete) req.resume();
    }
  }

  #fail(req: IncomingMessage, res: ServerResponse, err: unknown, bodyUsed: boolean): void {
    let status = 500;
    let headers: Record<string, string> = {};
    let detail = "";
    if (err instanceof HttpError) {
      status = err.status;
      headers = err.headers;
      detail = err.message;
    } else if (err instanceof ObjectStoreError) {
      status = err.code === "InvalidName" ? 400 : statusForCode(err.code);
      detail = err.code === "InvalidArgument" || err.code === "InvalidName" ? err.message : "";
      if (err.code === "Aborted" || err.code === "Network") status = 499;
    } else {
      this.#log(`${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}`);
    }
    if (status >= 500) this.#log(`${req.method} ${req.url} -> ${status}: ${(err as Error)?.message ?? String(err)}`);
    if (res.headersSent || res.destroyed || req.socket.destroyed) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    // A request body we did not read makes the connection unusable for the next request.
    if (bodyUsed ? !req.complete : false) res.setHeader("Connection", "close");
    if (status === 499) {
      res.destroy();
      return;
    }
    const body = detail && status === 400 ? detail : swiftErrorBody(status);
    // A 416 keeps the object's headers, Content-Type included, as Swift does.
    const type = status === 416 ? String(res.getHeader("Content-Type") ?? TEXT_HTML) : detail && status === 400 ? "text/plain" : TEXT_HTML;
    this.#send(res, status, req.method === "HEAD" ? "" : body, type, req.method === "HEAD" ? Buffer.byteLength(body) : undefined);
  }

  #send(res: ServerResponse, status: number, body: string | Buffer, contentType: string, headLength?: number): void {
    const buf = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    res.statusCode = status;
    res.setHeader("Content-Type", contentType);
    res.setHeader("Content-Length", headLength ?? buf.length);
    res.end(headLength === undefined && status !== 204 && status !== 304 ? buf : undefined);
  }

  #route(path: string): Route {
    const m = /^\/(v1|v1\.0|proxyfs)\/([^/]+)(?:\/([^/]*)(?:\/(.*))?)?$/s.exec(path);
    if (!m) throw new HttpError(404);
    const account = decodePathSegment(m[2]!);
    if (account === undefined) throw new HttpError(412, "Invalid UTF8 or contains NULL");
    const route: Route = { account, proxyfsPath: m[1] === "proxyfs" };
    if (m[3] !== undefined && m[3] !== "") {
      const c = decodePathSegment(m[3]);
      if (c === undefined) throw new HttpError(412, "Invalid UTF8 or contains NULL");
      if (Buffer.byteLength(c) > LIMITS.maxContainerNameBytes) throw new HttpError(400, `Container name length of ${Buffer.byteLength(c)} longer than ${LIMITS.maxContainerNameBytes}`);
      route.container = c;
      if (m[4] !== undefined && m[4] !== "") {
        const o = decodePathSegment(m[4]);
        if (o === undefined) throw new HttpError(412, "Invalid UTF8 or contains NULL");
        if (Buffer.byteLength(o) > LIMITS.maxObjectNameBytes) throw new HttpError(400, `Object name length of ${Buffer.byteLength(o)} longer than ${LIMITS.maxObjectNameBytes}`);
        route.object = o;
      }
    } else if (m[4] !== undefined) {
      throw new HttpError(404); // "/v1/acct//obj": no container
    }
    return route;
  }

  #checkToken(req: IncomingMessage, account: string): void {
    const token = req.headers["x-auth-token"] ?? req.headers["x-storage-token"];
    const t = typeof token === "string" ? this.#tokens.get(token) : undefined;
    if (!t || t.expires < Date.now()) {
      if (t) this.#tokens.delete(token as string);
      throw new HttpError(401, "", { "Www-Authenticate": `Swift realm="${account.replace(/["\\]/g, "")}"` });
    }
    if (t.account !== account || !t.owner) throw new HttpError(403);
  }

  #auth(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "GET" && req.method !== "HEAD") throw new HttpError(405);
    const user = req.headers["x-auth-user"] ?? req.headers["x-storage-user"];
    const key = req.headers["x-auth-key"] ?? req.headers["x-storage-pass"];
    const found = this.#opts.users.find((u) => `${u.account}:${u.user}` === user && u.key === key);
    if (!found) throw new HttpError(401, "", { "Www-Authenticate": 'Swift realm="unknown"' });
    const account = found.accountName ?? `AUTH_${found.account}`;
    const lifetime = this.#opts.tokenLifetimeSec ?? 86400;
    const token = `AUTH_tk${randomBytes(16).toString("hex")}`;
    this.#tokens.set(token, { account, owner: found.owner !== false, expires: Date.now() + lifetime * 1000 });
    const host = req.headers.host ?? `${this.#opts.host ?? "127.0.0.1"}:${this.port}`;
    res.setHeader("X-Auth-Token", token);
    res.setHeader("X-Storage-Token", token);
    res.setHeader("X-Auth-Token-Expires", String(lifetime));
    res.setHeader("X-Storage-Url", `http://${host}/v1/${encodeURIComponent(account)}`);
    this.#send(res, 200, "", TEXT_HTML);
  }

  #info(_req: IncomingMessage, res: ServerResponse): void {
    const body = pyJson({
      swift: {
        version: "proxyfs-objstore",
        max_file_size: LIMITS.maxObjectSize,
        max_meta_name_length: LIMITS.maxMetaNameLength,
        max_meta_value_length: LIMITS.maxMetaValueLength,
        max_meta_count: LIMITS.maxMetaCount,
        max_meta_overall_size: LIMITS.maxMetaOverallSize,
        max_object_name_length: LIMITS.maxObjectNameBytes,
        max_container_name_length: LIMITS.maxContainerNameBytes,
        container_listing_limit: LIMITS.listingLimit,
        account_listing_limit: LIMITS.listingLimit,
        valid_api_versions: ["v1", "v1.0"],
      },
      tempauth: { account_acls: false },
    });
    this.#send(res, 200, body, "application/json; charset=UTF-8");
  }

  // ---- PROXYFS (proxyfs-relay.ts) ----
  // Node's HTTP parser knows only the standard methods and rejects "PROXYFS" as a client error
  // (HPE_INVALID_METHOD), handing us the raw bytes. We parse that one request ourselves, answer
  // it with "Connection: close" and end the connection (the agent opens a new one for its next
  // request; HTTP/1.1 allows that at any time).

  #proxyfsConnection(socket: Duplex, first: Buffer): void {
    let buf = first;
    let done = false;
    const answer = (status: number, body: string, contentType: string): void => {
      if (done) return;
      done = true;
      const reasons: Record<number, string> = { 200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 411: "Length Required", 412: "Precondition Failed", 413: "Request Entity Too Large", 415: "Unsupported Media Type", 500: "Internal Server Error", 502: "Bad Gateway" };
      const b = Buffer.from(body, "utf8");
      const tx = transId();
      socket.end(Buffer.concat([Buffer.from(
        `HTTP/1.1 ${status} ${reasons[status] ?? "Error"}\r\nContent-Type: ${contentType}\r\nDate: ${new Date().toUTCString()}\r\nContent-Length: ${b.length}\r\n` +
        `X-Trans-Id: ${tx}\r\nX-Openstack-Request-Id: ${tx}\r\nConnection: close\r\n\r\n`, "latin1"), b]));
    };
    const fail = (status: number, why: string): void => {
      if (status >= 500) this.#log(`PROXYFS -> ${status}: ${why}`);
      answer(status, why, "text/plain");
    };
    const step = (): void => {
      if (done) return;
      const req = parseRawRequest(buf, PROXYFS_MAX_BODY);
      if (req === "incomplete") return;
      socket.removeListener("data", onData);
      if (typeof req === "number") return fail(req, req === 413 ? `PROXYFS body is larger than ${PROXYFS_MAX_BODY} bytes` : req === 411 ? "PROXYFS needs a Content-Length or a chunked body" : "malformed PROXYFS request");
      void this.#proxyfs(req).then(
        (r) => answer(r.status, r.body, r.contentType),
        (err) => fail(500, (err as Error)?.message ?? String(err)),
      );
    };
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length > PROXYFS_MAX_BODY + 65536) {
        socket.removeListener("data", onData);
        return fail(413, `PROXYFS body is larger than ${PROXYFS_MAX_BODY} bytes`);
      }
      step();
    };
    socket.on("data", onData);
    socket.on("error", () => socket.destroy());
    (socket as Duplex & { setTimeout?: (ms: number, cb: () => void) => void }).setTimeout?.(60_000, () => socket.destroy());
    step();
  }

  async #proxyfs(req: RawRequest): Promise<{ status: number; body: string; contentType: string }> {
    const fail = (status: number, why: string) => ({ status, body: why, contentType: "text/plain" });
    const target = this.#opts.proxyfs!;
    let route: Route;
    try {
      route = this.#route(req.path.split("?")[0]!);
      this.#checkToken({ headers: req.headers } as unknown as IncomingMessage, route.account);
    } catch (err) {
      if (err instanceof HttpError) return fail(err.status, err.message || swiftErrorBody(err.status));
      throw err;
    }
    if (route.container !== undefined) return fail(405, "PROXYFS is only allowed on an account URL");
    if (this.#opts.bypassMode === "off") return fail(405, "PROXYFS needs bypass_mode read-only or read-write");
    const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    if (type !== "application/json") return fail(415, "PROXYFS needs Content-Type: application/json");
    try {
      const line = await relayToProxyfsd(target, rewriteProxyfsRequest(req.body.toString("utf8"), route.account, this.#opts.bypassMode === "read-only"));
      return { status: 200, body: line, contentType: "application/json" };
    } catch (err) {
      if (err instanceof ProxyfsRelayError) {
        if (err.status >= 500) this.#log(`PROXYFS ${req.path} -> ${err.status}: ${err.message}`);
        return fail(err.status, err.message);
      }
      throw err;
    }
  }

  // ---- account ----

  async #account(store: ObjectStore, method: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    if (method === "POST") {
      await store.postAccount(metaFromHeaders(req, "account"));
      return this.#send(res, 204, "", TEXT_HTML);
    }
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405);
    const info = await store.headAccount();
    res.setHeader("X-Account-Container-Count", info.containerCount.toString());
    res.setHeader("X-Account-Object-Count", info.objectCount.toString());
    res.setHeader("X-Account-Bytes-Used", info.bytesUsed.toString());
    setMetaHeaders(res, "account", info.metadata);
    res.setHeader("Accept-Ranges", "bytes");
    const format = this.#format(req, query);
    if (method === "HEAD") {
      res.setHeader("Vary", "Accept");
      return this.#send(res, 204, "", "text/plain; charset=utf-8");
    }
    const entries = await store.listContainers(this.#listOptions(query));
    this.#listing(res, format, entries.map((e) => ({ name: e.name, entry: e })), "account", (e) => {
      const c = e as ContainerEntry;
      return c.lastModified === "" ? { subdir: c.name } : { name: c.name, count: Number(c.count), bytes: Number(c.bytes), last_modified: c.lastModified };
    });
  }

  #format(req: IncomingMessage, query: URLSearchParams): "json" | "xml" | "plain" {
    const f = query.get("format")?.toLowerCase();
    if (f === "json" || f === "xml" || f === "plain") return f;
    const accept = req.headers.accept ?? "";
    if (/application\/json/.test(accept)) return "json";
    if (/(application|text)\/xml/.test(accept)) return "xml";
    return "plain";
  }

  #listOptions(query: URLSearchParams): { prefix?: string; marker?: string; endMarker?: string; limit?: number; delimiter?: string } {
    const o: { prefix?: string; marker?: string; endMarker?: string; limit?: number; delimiter?: string } = {};
    for (const [param, key] of [["prefix", "prefix"], ["marker", "marker"], ["end_marker", "endMarker"], ["delimiter", "delimiter"]] as const) {
      const v = query.get(param);
      if (v === null || v === "") continue;
      if (v.includes("\0") || v.includes("\uFFFD")) throw new HttpError(412, `Invalid UTF8 or contains NULL in ${param}`);
      o[key] = v;
    }
    const limit = query.get("limit");
    if (limit !== null && /^\d+$/.test(limit)) {
      const n = Number(limit);
      if (n > LIMITS.listingLimit) throw new HttpError(412, `Maximum limit is ${LIMITS.listingLimit}`);
      o.limit = n;
    }
    return o;
  }

  #listing(res: ServerResponse, format: "json" | "xml" | "plain", items: Array<{ name: string; entry: unknown }>, kind: "account" | "container", toJson: (e: unknown) => Record<string, unknown>, containerName?: string): void {
    if (format === "json") {
      return this.#send(res, 200, pyJson(items.map((i) => toJson(i.entry))), "application/json; charset=utf-8");
    }
    if (format === "xml") {
      const root = kind === "account" ? `<account name="${xmlEscape(containerName ?? "")}">` : `<container name="${xmlEscape(containerName ?? "")}">`;
      const parts = items.map((i) => {
        const j = toJson(i.entry);
        if (typeof j["subdir"] === "string") return `<subdir name="${xmlEscape(j["subdir"] as string)}"><name>${xmlEscape(j["subdir"] as string)}</name></subdir>`;
        const tag = kind === "account" ? "container" : "object";
        return `<${tag}>${Object.entries(j).map(([k, v]) => `<${k}>${xmlEscape(String(v))}</${k}>`).join("")}</${tag}>`;
      });
      return this.#send(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n${root}${parts.join("")}</${kind}>`, "application/xml; charset=utf-8");
    }
    res.setHeader("Vary", "Accept");
    if (items.length === 0) return this.#send(res, 204, "", "text/plain; charset=utf-8");
    this.#send(res, 200, items.map((i) => `${i.name}\n`).join(""), "text/plain; charset=utf-8");
  }

  // ---- container ----

  async #container(store: ObjectStore, container: string, method: string, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
    switch (method) {
      case "PUT": {
        const meta = metaFromHeaders(req, "container");
        const { created } = await store.putContainer(container, { metadata: meta });
        return this.#send(res, created ? 201 : 202, created ? "" : swiftErrorBody(202), TEXT_HTML);
      }
      case "POST":
        await store.postContainer(container, metaFromHeaders(req, "container"));
        return this.#send(res, 204, "", TEXT_HTML);
      case "DELETE":
        await store.deleteContainer(container);
        return this.#send(res, 204, "", TEXT_HTML);
      case "HEAD":
      case "GET": {
        const format = this.#format(req, query);
        const opts = method === "GET" ? this.#listOptions(query) : {};
        const info = await store.headContainer(container);
        const entries = method === "GET" ? await store.listObjects(container, opts) : [];
        res.setHeader("X-Container-Object-Count", info.objectCount.toString());
        res.setHeader("X-Container-Bytes-Used", info.bytesUsed.toString());
        res.setHeader("X-Timestamp", info.timestamp);
        const ticks = normalToTicks(info.timestamp);
        if (ticks !== undefined) res.setHeader("Last-Modified", ticksToLastModified(ticks).toUTCString());
        res.setHeader("Accept-Ranges", "bytes");
        res.setHeader("X-Storage-Policy", "Policy-0");
        setMetaHeaders(res, "container", info.metadata);
        if (method === "HEAD") {
          res.setHeader("Vary", "Accept");
          return this.#send(res, 204, "", "text/plain; charset=utf-8");
        }
        return this.#listing(res, format, entries.map((e) => ({ name: e.kind === "object" ? e.name : e.subdir, entry: e })), "container", (e) => {
          const o = e as ObjectEntry;
          return o.kind === "subdir" ? { subdir: o.subdir } : { bytes: o.bytes, hash: o.hash, name: o.name, content_type: o.contentType, last_modified: o.lastModified };
        }, container);
      }
      default:
        throw new HttpError(405);
    }
  }

  // ---- object ----

  #objectHeaders(res: ServerResponse, info: ObjectInfo): void {
    res.setHeader("Content-Type", info.contentType);
    setMetaHeaders(res, "object", info.metadata);
    res.setHeader("Etag", info.etag);
    res.setHeader("Last-Modified", info.lastModified.toUTCString());
    res.setHeader("X-Timestamp", info.timestamp);
    res.setHeader("Accept-Ranges", "bytes");
  }

  async #object(store: ObjectStore, route: Route, method: string, req: IncomingMessage, res: ServerResponse, _query: URLSearchParams): Promise<void> {
    const c = route.container!;
    const o = route.object!;
    switch (method) {
      case "HEAD": {
        const info = await store.headObject(c, o);
        this.#objectHeaders(res, info);
        res.statusCode = 200;
        res.setHeader("Content-Length", info.size);
        res.end();
        return;
      }
      case "GET": {
        const range = parseRangeHeader(req.headers.range);
        let r;
        try {
          r = await store.getObjectStream(c, o, range ? { range } : {});
        } catch (err) {
          if (ObjectStoreError.is(err, "RangeNotSatisfiable")) {
            const info = await store.headObject(c, o);
            this.#objectHeaders(res, info);
            throw new HttpError(416, "", { "Content-Range": `bytes */${info.size}` });
          }
          throw err;
        }
        this.#objectHeaders(res, r.info);
        if (r.range) {
          res.statusCode = 206;
          res.setHeader("Content-Range", `bytes ${r.range.start}-${r.range.end}/${r.info.size}`);
          res.setHeader("Content-Length", r.range.end - r.range.start + 1);
        } else {
          res.statusCode = 200;
          res.setHeader("Content-Length", r.info.size);
        }
        try {
          await pipeline(r.body, res);
        } catch {
          res.destroy(); // client went away or the read failed; headers are already out
        }
        return;
      }
      case "POST":
        await store.postObject(c, o, metaFromHeaders(req, "object"));
        return this.#send(res, 202, swiftErrorBody(202), TEXT_HTML);
      case "DELETE":
        await store.deleteObject(c, o);
        return this.#send(res, 204, "", TEXT_HTML);
      default:
        throw new HttpError(405);
    }
  }

  /** The request body; a client that goes away mid-body surfaces as ObjectStoreError Network. */
  async *#body(req: IncomingMessage): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of req) yield chunk as Buffer;
    } catch (err) {
      throw new ObjectStoreError("Network", `Client disconnected during PUT: ${(err as Error).message}`, { cause: err });
    }
    if (!req.complete) throw new ObjectStoreError("Network", "Client disconnected during PUT");
  }

  async #putObject(store: ObjectStore, route: Route, req: IncomingMessage, res: ServerResponse, expectContinue: boolean): Promise<void> {
    const c = route.container!;
    const o = route.object!;
    const te = req.headers["transfer-encoding"];
    const cl = req.headers["content-length"];
    if (te !== undefined && te.toLowerCase() !== "chunked") throw new HttpError(501, `Unsupported Transfer-Encoding ${te}`);
    if (te === undefined && cl === undefined) throw new HttpError(411);
    const length = cl !== undefined && te === undefined ? Number(cl) : undefined;
    if (length !== undefined && length > LIMITS.maxObjectSize) throw new HttpError(413);
    const meta = metaFromHeaders(req, "object");
    const ifNoneMatch = req.headers["if-none-match"];
    if (ifNoneMatch !== undefined && ifNoneMatch !== "*") throw new HttpError(400, "If-None-Match only supports *");
    const etag = req.headers["etag"]?.replace(/"/g, "");
    // Answer errors that need no body before the client sends it (Expect: 100-continue).
    await store.headContainer(c);
    if (ifNoneMatch === "*") {
      const exists = await store.headObject(c, o).then(() => true, (err) => (ObjectStoreError.is(err, "NotFound") ? false : Promise.reject(err)));
      if (exists) throw new HttpError(412);
    }
    if (expectContinue) res.writeContinue();
    const result = await store.putObject(c, o, () => this.#body(req), {
      ...(length !== undefined ? { contentLength: length } : {}),
      contentType: req.headers["content-type"] ?? guessContentType(o),
      metadata: meta,
      ...(ifNoneMatch === "*" ? { ifNoneMatch: "*" as const } : {}),
      ...(etag ? { etag } : {}),
    });
    res.setHeader("Etag", result.etag);
    res.setHeader("Last-Modified", result.lastModified.toUTCString());
    this.#send(res, 201, "", TEXT_HTML);
  }
}
