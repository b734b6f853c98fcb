// RetryRpcServer: the proxyfsd end of retryrpc, wire-compatible with ProxyFS 1.17.1.
//
// * TLS only (1.17.1 has no plain mode); credentials from tls-credentials.ts.
// * Every connection starts with a PassID frame naming the client (the agent's MountID). The ID
//   selects the client record: reply cache, acknowledgement mark, and the connection upcalls go to.
//   An optional `authorizeClient` check refuses IDs (e.g. not in the mount table): such a connection
//   stays open and every RPC on it is answered with UNKNOWN_CLIENT_ERRSTR, never executed. Without
//   the check, an unknown ID creates a record, as 1.17.1 does.
// * Requests run concurrently; replies go back in completion order. Exactly-once via ReplyCache.
// * Robustness: any malformed input (bad header, bad JSON, a non-RPC frame after PassID, a first
//   frame that is not PassID) closes only that connection, with a warning naming the problem. 1.17.1
//   deadlocks on a second PassID; we close the connection instead.
// * I/O deadline: socket inactivity of deadlineIoMs while a frame is half received or a write is
//   stuck closes the connection; an idle connection is left alone (as 1.17.1).

import tls from "node:tls";
import type net from "node:net";
import type { AddressInfo } from "node:net";
import { stringifyJson } from "../base/json/index.js";
import { encodeFrame, MsgType } from "./frame.js";
import { FrameDecoder } from "./frame-decoder.js";
import { FrameWriter } from "./frame-writer.js";
import { decodePassIdBody, decodeRequestBody, encodeReplyBody, type RequestEnvelope } from "./envelope.js";
import { FsError } from "../base/errno.js";
import { errstrOf, RpcHandlerError, RpcProtocolError, UNKNOWN_CLIENT_ERRSTR, UNKNOWN_METHOD_ERRSTR } from "./errors.js";
import { ReplyCache } from "./reply-cache.js";
import type { ServerCredentials } from "./tls-credentials.js";
import { defaultRpcLogger, type RpcLogger } from "./logger.js";

export interface ClientInfo {
  /** The PassID string: the agent's MountID. */
  readonly clientId: string;
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
}

/** A method implementation. Throw FsError (-> "errno: N") or RpcHandlerError (errstr verbatim). */
export type RpcMethodHandler = (method: string, request: unknown, client: ClientInfo) => Promise<unknown>;

export interface RetryRpcServerOptions {
  credentials: ServerCredentials;
  /** Listen address (1.17.1: [Peer:<WhoAmI>] PublicIPAddr). Default "127.0.0.1". */
  host?: string;
  /** Listen port (RetryRPCPort); 0 picks a free one. Default 0. */
  port?: number;
  /** RetryRPCDeadlineIO, default 60 s. */
  deadlineIoMs?: number;
  /** RetryRPCKeepAlivePeriod (TCP keep-alive), default 60 s. */
  keepAlivePeriodMs?: number;
  /** RetryRPCAckTrim, default 100 ms. */
  ackTrimMs?: number;
  /** RetryRPCTTLCompleted, default 10 min. */
  ttlCompletedMs?: number;
  /** Largest accepted frame body, default 64 MiB. */
  maxBodyBytes?: number;
  /** Refuse client IDs (returns false): their RPCs get UNKNOWN_CLIENT_ERRSTR. Default: accept all. */
  authorizeClient?: (clientId: string) => boolean;
  log?: RpcLogger;
}

export interface RetryRpcServerStats {
  connections: number;
  requests: number;
  executed: number;
  /** Retransmits answered from the cache (completed). */
  repliedFromCache: number;
  /** Retransmits that joined an execution still running. */
  joinedPending: number;
  /** Requests for an already acknowledged id that were not in the cache (refused, not run). */
  staleRequests: number;
  rejectedRequests: number;
  protocolErrors: number;
  upcallsSent: number;
  upcallsDropped: number;
}

class ClientRecord {
  readonly clientId: string;
  readonly cache = new ReplyCache();
  current: ServerConnection | null = null;
  running = 0;

  constructor(clientId: string) {
    this.clientId = clientId;
  }
}

/** Requests refused as stale get EINVAL: the client acknowledged this id, so it cannot be a retransmit. */
const STALE_REQUEST_ERRSTR = "errno: 22";

export class RetryRpcServer {
  #opts: Required<Omit<RetryRpcServerOptions, "authorizeClient" | "credentials">> & Pick<RetryRpcServerOptions, "authorizeClient">;
  #tls: tls.Server;
  #handlers = new Map<string, RpcMethodHandler>();
  #clients = new Map<string, ClientRecord>();
  #connections = new Set<ServerConnection>();
  #rawSockets = new Set<net.Socket>();
  #timers: NodeJS.Timeout[] = [];
  #closed = false;
  #stats: RetryRpcServerStats = {
    connections: 0, requests: 0, executed: 0, repliedFromCache: 0, joinedPending: 0, staleRequests: 0,
    rejectedRequests: 0, protocolErrors: 0, upcallsSent: 0, upcallsDropped: 0,
  };

  constructor(options: RetryRpcServerOptions) {
    this.#opts = {
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 0,
      deadlineIoMs: options.deadlineIoMs ?? 60_000,
      keepAlivePeriodMs: options.keepAlivePeriodMs ?? 60_000,
      ackTrimMs: options.ackTrimMs ?? 100,
      ttlCompletedMs: options.ttlCompletedMs ?? 600_000,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      authorizeClient: options.authorizeClient,
      log: options.log ?? defaultRpcLogger,
    };
    const c = options.credentials;
    if (!c || !c.certPem || !c.keyPem) throw new TypeError("RetryRpcServer needs credentials with certPem and keyPem");
    this.#tls = tls.createServer({ cert: c.certPem, key: c.keyPem, minVersion: "TLSv1.2", handshakeTimeout: this.#opts.deadlineIoMs }, (socket) => this.#accept(socket));
    this.#tls.on("tlsClientError", (err) => this.#opts.log("debug", `TLS handshake failed: ${err.message}`));
    // Raw sockets, so close() can also drop connections still in (or stuck in) the TLS handshake.
    this.#tls.on("connection", (raw: net.Socket) => {
      this.#rawSockets.add(raw);
      raw.once("close", () => this.#rawSockets.delete(raw));
    });
  }

  /** Registers the handler of one method name (bare, e.g. "RpcGetStat"). */
  register(method: string, handler: RpcMethodHandler): this {
    this.#handlers.set(method, handler);
    return this;
  }

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#tls.once("error", onError);
      this.#tls.listen(this.#opts.port, this.#opts.host, () => {
        this.#tls.off("error", onError);
        this.#tls.on("error", (err) => this.#opts.log("error", `listener: ${err.message}`));
        const ack = setInterval(() => this.#trimAcked(), this.#opts.ackTrimMs);
        const ttlEvery = Math.max(10, Math.min(this.#opts.ttlCompletedMs / 2, 60_000));
        const ttl = setInterval(() => this.#trimByAge(), ttlEvery);
        ack.unref();
        ttl.unref();
        this.#timers.push(ack, ttl);
        resolve((this.#tls.address() as AddressInfo).port);
      });
    });
  }

  get port(): number {
    return (this.#tls.address() as AddressInfo | null)?.port ?? 0;
  }

  get stats(): Readonly<RetryRpcServerStats> {
    return { ...this.#stats };
  }

  /** Client IDs with a record (connected or holding cached replies). */
  get clientIds(): string[] {
    return [...this.#clients.keys()];
  }

  /** Cached reply entries of one client (for tests and metrics). */
  cachedReplies(clientId: string): number {
    return this.#clients.get(clientId)?.cache.size ?? 0;
  }

  /**
   * Best-effort server->client message on the client's current connection (1.17.1 SendCallback):
   * `payload` is sent as is when a string/bytes, else JSON-encoded. Returns false when the client
   * has no live connection (nothing is queued; callers repeat, as the lease manager does).
   */
  sendUpcall(clientId: string, payload: unknown): boolean {
    const conn = this.#clients.get(clientId)?.current;
    if (!conn || this.#closed) {
      this.#stats.upcallsDropped++;
      return false;
    }
    const body = typeof payload === "string" || payload instanceof Uint8Array ? payload : stringifyJson(payload);
    const ok = conn.writer.write(encodeFrame(MsgType.Upcall, body));
    if (ok) this.#stats.upcallsSent++;
    else this.#stats.upcallsDropped++;
    return ok;
  }

  /** Drops every connection of `clientId` and forgets its record (e.g. at unmount). */
  forgetClient(clientId: string): void {
    const rec = this.#clients.get(clientId);
    if (!rec) return;
    this.#clients.delete(clientId);
    rec.current?.destroy();
  }

  /** Stops listening and closes every connection. Running handlers finish but their replies are dropped. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    const closed = new Promise<void>((resolve) => this.#tls.close(() => resolve()));
    for (const c of this.#connections) c.destroy();
    for (const s of this.#rawSockets) s.destroy();
    await closed;
  }

  #accept(socket: tls.TLSSocket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#stats.connections++;
    const conn = new ServerConnection(socket, this.#opts.maxBodyBytes);
    this.#connections.add(conn);
    socket.setKeepAlive(true, this.#opts.keepAlivePeriodMs);
    socket.setNoDelay(true);
    socket.setTimeout(this.#opts.deadlineIoMs);
    socket.on("timeout", () => {
      // A half-read frame, a write the peer does not drain, or no PassID yet: deadline exceeded.
      if (conn.state === "awaitPassId" || conn.decoder.pendingBytes > 0 || socket.writableLength > 0) {
        this.#opts.log("warn", `closing connection from ${conn.peer}: no I/O progress for ${this.#opts.deadlineIoMs} ms`);
        conn.destroy();
      }
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        conn.decoder.push(chunk, (type, body) => this.#onFrame(conn, type, body));
      } catch (err) {
        this.#stats.protocolErrors++;
        this.#opts.log("warn", `closing connection from ${conn.peer}: ${(err as Error).message}`);
        conn.destroy();
      }
    });
    socket.on("error", (err) => this.#opts.log("debug", `connection from ${conn.peer}: ${err.message}`));
    socket.on("close", () => {
      this.#connections.delete(conn);
      if (conn.record && conn.record.current === conn) conn.record.current = null;
    });
  }

  /** Called by the decoder; throws RpcProtocolError to close the connection. */
  #onFrame(conn: ServerConnection, type: number, body: Buffer): void {
    if (conn.state === "awaitPassId") {
      if (type !== MsgType.PassID) throw new RpcProtocolError(`first message has type ${type}, expected PassID (3)`);
      const clientId = decodePassIdBody(body);
      const auth = this.#opts.authorizeClient;
      let ok = true;
      if (auth) {
        try {
          ok = auth(clientId) === true;
        } catch (err) {
          this.#opts.log("error", `authorizeClient(${JSON.stringify(clientId)}) threw: ${(err as Error).message}`);
          ok = false;
        }
      }
      conn.info = { clientId, remoteAddress: conn.socket.remoteAddress, remotePort: conn.socket.remotePort };
      if (!ok) {
        conn.state = "rejected";
        this.#opts.log("warn", `client ${JSON.stringify(clientId)} from ${conn.peer} is unknown; its RPCs get "${UNKNOWN_CLIENT_ERRSTR}"`);
        return;
      }
      let rec = this.#clients.get(clientId);
      if (!rec) {
        rec = new ClientRecord(clientId);
        this.#clients.set(clientId, rec);
      }
      // A reconnect replaces the previous connection: the client has given up on it. Executions
      // started on it stay in the cache, so retransmits join them instead of running twice.
      const old = rec.current;
      rec.current = conn;
      conn.record = rec;
      conn.state = "active";
      if (old && old !== conn) old.destroy();
      return;
    }
    if (type !== MsgType.RPC) throw new RpcProtocolError(`unexpected message type ${type} after PassID (only RPC (1) is allowed)`);
    const env = decodeRequestBody(body);
    this.#stats.requests++;
    if (conn.state === "rejected") {
      this.#stats.rejectedRequests++;
      conn.writer.write(encodeFrame(MsgType.RPC, encodeReplyBody(env.myuniqueid, env.requestid, UNKNOWN_CLIENT_ERRSTR, null)));
      return;
    }
    this.#onRequest(conn, conn.record!, env);
  }

  #onRequest(conn: ServerConnection, rec: ClientRecord, env: RequestEnvelope): void {
    const cache = rec.cache;
    const found = cache.lookup(env.requestid);
    cache.ack(env.highestReplySeen);
    if (found.state === "completed") {
      this.#stats.repliedFromCache++;
      conn.writer.write(found.frame);
      return;
    }
    if (found.state === "pending") {
      this.#stats.joinedPending++;
      found.pending.then((frame) => conn.writer.write(frame), () => { /* execute() never rejects */ });
      return;
    }
    if (cache.isAcknowledged(env.requestid) && env.requestid !== 0) {
      // The client said it has this reply already, and the cache entry is gone: running it again
      // would break exactly-once, so refuse.
      this.#stats.staleRequests++;
      this.#opts.log("warn", `client ${JSON.stringify(rec.clientId)} resent acknowledged requestid ${env.requestid} (${env.method}); refused`);
      conn.writer.write(encodeFrame(MsgType.RPC, encodeReplyBody(env.myuniqueid, env.requestid, STALE_REQUEST_ERRSTR, null)));
      return;
    }
    const pending = this.#execute(conn, rec, env);
    cache.begin(env.requestid, pending);
    pending.then((frame) => {
      cache.complete(env.requestid, frame, Date.now());
      conn.writer.write(frame);
    }, () => { /* never rejects */ });
  }

  /** Runs the handler; always resolves with an encoded reply frame. */
  async #execute(conn: ServerConnection, rec: ClientRecord, env: RequestEnvelope): Promise<Buffer> {
    this.#stats.executed++;
    rec.running++;
    let errstr = "";
    let body: string;
    try {
      const handler = this.#handlers.get(env.method);
      let result: unknown = null;
      if (handler === undefined) {
        errstr = UNKNOWN_METHOD_ERRSTR;
      } else {
        try {
          result = await handler(env.method, env.params, conn.info!);
        } catch (err) {
          errstr = errstrOf(err);
          if (!(err instanceof FsError) && !(err instanceof RpcHandlerError)) {
            this.#opts.log("error", `${env.method} from ${JSON.stringify(rec.clientId)} failed unexpectedly: ${(err as Error)?.stack ?? String(err)}`);
          }
        }
      }
      try {
        body = encodeReplyBody(env.myuniqueid, env.requestid, errstr, result);
      } catch (err) {
        this.#opts.log("error", `${env.method}: reply cannot be encoded: ${(err as Error).message}`);
        body = encodeReplyBody(env.myuniqueid, env.requestid, "errno: 5", null);
      }
    } finally {
      rec.running--;
    }
    return encodeFrame(MsgType.RPC, body);
  }

  #trimAcked(): void {
    for (const rec of this.#clients.values()) rec.cache.trimAcked();
  }

  #trimByAge(): void {
    const cutoff = Date.now() - this.#opts.ttlCompletedMs;
    for (const [id, rec] of this.#clients) {
      rec.cache.trimOlderThan(cutoff);
      if (rec.cache.size === 0 && rec.current === null && rec.running === 0) this.#clients.delete(id);
    }
  }
}

class ServerConnection {
  readonly socket: tls.TLSSocket;
  readonly decoder: FrameDecoder;
  readonly writer: FrameWriter;
  readonly peer: string;
  state: "awaitPassId" | "active" | "rejected" = "awaitPassId";
  record: ClientRecord | null = null;
  info: ClientInfo | null = null;

  constructor(socket: tls.TLSSocket, maxBodyBytes: number) {
    this.socket = socket;
    this.decoder = new FrameDecoder({ maxBodyBytes });
    this.writer = new FrameWriter(socket, Math.max(2 * maxBodyBytes, 64 * 1024 * 1024));
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
