// The PROXYFS HTTP method (protocol doc §3): how a 1.17.1 agent reaches proxyfsd's JSON-RPC port
// through the Swift proxy, for Server.RpcMountByAccountName and Server.RpcUnmount.
//
//   PROXYFS <StorageURL>            Content-Type: application/json, X-Auth-Token, Content-Length
//   {"jsonrpc":"2.0","method":"Server.RpcXxx","id":<n>,"params":[{...}]}
//   → 200 (or 422) {"id":<n>,"result":{...},"error":null}
//
// Ids come from a per-process counter that starts at 2 (as 1.17.1). 200 and 422 are success;
// 401 renews the token through the auth plug-in and retries; other statuses and transport
// errors are retried with the SwiftRetry* schedule (1.17.1 made transport errors fatal).
import http from "node:http";
import https from "node:https";
import { RawJson } from "../../base/json/index.js";
import { RetryPolicy, type SwiftRetryConfig } from "../../objstore/index.js";
import { decodeJsonRpcResponse, encodeJsonRpcRequest } from "../../proto/index.js";

export class ProxyFsHttpError extends Error {
  override readonly name = "ProxyFsHttpError";
  readonly code: "PROXYFS_HTTP_STATUS" | "PROXYFS_HTTP_TRANSPORT" | "PROXYFS_RPC_ERROR" | "PROXYFS_BAD_REPLY";
  readonly status: number | undefined;

  constructor(code: ProxyFsHttpError["code"], message: string, options: { status?: number; cause?: unknown } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    this.status = options.status;
  }
}

export interface ProxyFsHttpOptions {
  /** "<scheme>://<host[:port]>/proxyfs/<Account>" (the plug-in's StorageURL). */
  storageUrl: () => string;
  /** Current token (waits for a renewal in progress). */
  token: () => Promise<string>;
  /** Renews the token after a 401. */
  renewToken: () => Promise<string>;
  retry?: Partial<SwiftRetryConfig>;
  /** Per attempt (SwiftTimeout). */
  timeoutMs?: number;
  userAgent?: string;
  log?: (msg: string) => void;
  sleep?: (ms: number) => Promise<void>;
}

interface HttpReply {
  status: number;
  body: string;
}

export class ProxyFsHttpClient {
  readonly #o: ProxyFsHttpOptions;
  readonly #policy: RetryPolicy;
  /** 1.17.1 initialises its counter to 1 and increments before use: the first id is 2. */
  #lastId = 1;

  constructor(options: ProxyFsHttpOptions) {
    this.#o = options;
    this.#policy = new RetryPolicy(options.retry ?? {});
  }

  /**
   * One JSON-RPC call through PROXYFS. `params` is params[0] (RawJson from a struct codec, or a
   * plain value). Resolves with the reply's `result` (bigint-safe parse).
   * @throws ProxyFsHttpError
   */
  async call(method: string, params: RawJson | unknown): Promise<unknown> {
    const id = ++this.#lastId;
    const body = encodeJsonRpcRequest(method, id, params);
    const limit = this.#policy.config.limit;
    let lastProblem = "";
    for (let attempt = 0; ; attempt++) {
      let reply: HttpReply | undefined;
      try {
        reply = await this.#send(body, await this.#o.token());
      } catch (err) {
        lastProblem = `${(err as Error).message}`;
      }
      if (reply && (reply.status === 200 || reply.status === 422)) return this.#decode(method, id, reply.body);
      if (reply) lastProblem = `HTTP ${reply.status}${reply.body ? `: ${reply.body.slice(0, 200)}` : ""}`;
      if (attempt >= limit) {
        const code = reply ? "PROXYFS_HTTP_STATUS" : "PROXYFS_HTTP_TRANSPORT";
        throw new ProxyFsHttpError(code, `PROXYFS ${method} to ${this.#o.storageUrl()} failed after ${attempt + 1} attempt(s): ${lastProblem}`, reply ? { status: reply.status } : {});
      }
      if (reply?.status === 401) {
        try {
          await this.#o.renewToken();
        } catch (err) {
          lastProblem += ` (token renewal failed: ${(err as Error).message})`;
        }
      }
      this.#o.log?.(`PROXYFS ${method}: ${lastProblem}; retrying (${attempt + 1}/${limit})`);
      await (this.#o.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))))(this.#policy.delayMs(attempt));
    }
  }

  #decode(method: string, id: number, text: string): unknown {
    let r;
    try {
      r = decodeJsonRpcResponse(text);
    } catch (err) {
      throw new ProxyFsHttpError("PROXYFS_BAD_REPLY", `PROXYFS ${method}: reply is not a JSON-RPC response: ${(err as Error).message}`, { cause: err });
    }
    if (String(r.id) !== String(id)) {
      throw new ProxyFsHttpError("PROXYFS_BAD_REPLY", `PROXYFS ${method}: reply id ${String(r.id)} does not match request id ${id}`);
    }
    if (r.error !== null) throw new ProxyFsHttpError("PROXYFS_RPC_ERROR", `${method} failed: ${r.error}`);
    return r.result;
  }

  #send(body: string, token: string): Promise<HttpReply> {
    const url = new URL(this.#o.storageUrl());
    const mod = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, {
        method: "PROXYFS",
        headers: {
          "User-Agent": this.#o.userAgent ?? "PFSAgent",
          "Content-Length": Buffer.byteLength(body),
          "Content-Type": "application/json",
          "X-Auth-Token": token,
        },
        timeout: this.#o.timeoutMs ?? 600_000,
        agent: false,
      });
      req.on("timeout", () => req.destroy(new Error(`no reply within ${this.#o.timeoutMs ?? 600_000} ms`)));
      req.on("error", reject);
      req.on("response", (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      });
      req.end(body);
    });
  }
}
