// RetryRpcClient: the pfsagentd end of retryrpc, wire-compatible with ProxyFS 1.17.1.
//
// * Connects lazily (first call) over TLS, verifying the server against the CA PEM from the mount
//   reply and the dialled address (an IP must be in the certificate's IP SANs; no SNI for an IP).
// * Every connection starts with exactly one PassID (the MountID). Never any other non-RPC frame:
//   1.17.1 deadlocks on one.
// * Requests get ids 1, 2, 3…; each carries highestReplySeen, the largest N such that every id <= N
//   has had its reply delivered here. Any number of calls may be outstanding; replies are matched
//   by id and may arrive in any order.
// * On connection loss, an undecodable reply, or an I/O deadline passing with calls outstanding, the
//   client closes the connection, redials (first at once, then 100 ms doubling, `connectRetryLimit`
//   retries) and resends every outstanding request with its original bytes; the server's reply
//   cache makes that exactly-once. When the retries run out (1.17.1 panics here) the outstanding
//   calls fail with RpcConnectError and the next call starts over.
// * Upcalls are handed to `onUpcall` outside the read loop. With `onUpcall` set the client also
//   reconnects when idle, so interrupts keep arriving.

import tls from "node:tls";
import { isIP } from "node:net";
import { encodeFrame, MsgType } from "./frame.js";
import { FrameDecoder } from "./frame-decoder.js";
import { FrameWriter } from "./frame-writer.js";
import { decodeReplyBody, encodePassIdBody, encodeRequestBody } from "./envelope.js";
import { RpcClosedError, RpcConnectError, RpcProtocolError, RpcReplyError } from "./errors.js";
import { defaultRpcLogger, type RpcLogger } from "./logger.js";

export interface RetryRpcClientOptions {
  /** RetryRPCPublicIPAddr from the mount reply. */
  host: string;
  /** RetryRPCPort from the mount reply. */
  port: number;
  /** The client ID sent in PassID and every envelope: the MountID. */
  clientId: string;
  /** PEM text of the root CA (RootCAx509CertificatePEM, base64-decoded). */
  caCertPem: string;
  /** RetryRPCDeadlineIO, default 60 s. */
  deadlineIoMs?: number;
  /** TCP keep-alive period, default 60 s. */
  keepAlivePeriodMs?: number;
  /** Redial attempts after the first failure, default 8 (as 1.17.1). */
  connectRetryLimit?: number;
  /** First redial delay, doubling each time; default 100 ms. */
  connectRetryDelayMs?: number;
  /** Server->client messages (lease interrupts); payload is the raw body. */
  onUpcall?: (payload: Buffer) => void;
  /** Largest accepted frame body, default 64 MiB. */
  maxBodyBytes?: number;
  log?: RpcLogger;
}

export interface RetryRpcClientStats {
  calls: number;
  connects: number;
  /** Requests sent again after a reconnect. */
  resent: number;
  upcalls: number;
  /** Replies for ids not outstanding (late duplicates), dropped. */
  droppedReplies: number;
}

interface Outstanding {
  frame: Buffer;
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

interface Conn {
  socket: tls.TLSSocket;
  decoder: FrameDecoder;
  writer: FrameWriter;
  /** True once TLS is up and PassID + resends are queued. */
  ready: boolean;
  /** True once any frame arrived on it (the server accepted us). */
  gotFrame: boolean;
}

export class RetryRpcClient {
  #o: Required<Omit<RetryRpcClientOptions, "onUpcall">> & Pick<RetryRpcClientOptions, "onUpcall">;
  #nextId = 1;
  #highestConsecutive = 0;
  /** Ids above #highestConsecutive whose reply was delivered. */
  #doneAbove = new Set<number>();
  /** INVARIANT: insertion order = id order, so iterating resends in the original order. */
  #outstanding = new Map<number, Outstanding>();
  #conn: Conn | null = null;
  #connecting: Promise<void> | null = null;
  /** Connections in a row that the server dropped before sending anything. */
  #churn = 0;
  #closed = false;
  #stats: RetryRpcClientStats = { calls: 0, connects: 0, resent: 0, upcalls: 0, droppedReplies: 0 };

  constructor(options: RetryRpcClientOptions) {
    if (!options.caCertPem || !options.caCertPem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new TypeError("RetryRpcClient needs caCertPem holding a PEM certificate (RootCAx509CertificatePEM)");
    }
    if (typeof options.clientId !== "string" || options.clientId === "") throw new TypeError("RetryRpcClient needs a non-empty clientId");
    this.#o = {
      host: options.host,
      port: options.port,
      clientId: options.clientId,
      caCertPem: options.caCertPem,
      deadlineIoMs: options.deadlineIoMs ?? 60_000,
      keepAlivePeriodMs: options.keepAlivePeriodMs ?? 60_000,
      connectRetryLimit: options.connectRetryLimit ?? 8,
      connectRetryDelayMs: options.connectRetryDelayMs ?? 100,
      onUpcall: options.onUpcall,
      maxBodyBytes: options.maxBodyBytes ?? 64 * 1024 * 1024,
      log: options.log ?? defaultRpcLogger,
    };
  }

  get clientId(): string {
    return this.#o.clientId;
  }

  get stats(): Readonly<RetryRpcClientStats> {
    return { ...this.#stats };
  }

  /** Number of calls waiting for their reply. */
  get outstanding(): number {
    return this.#outstanding.size;
  }

  /** The highestReplySeen the next request will carry. */
  get highestReplySeen(): number {
    return this.#highestConsecutive;
  }

  /**
   * Sends one RPC and resolves with its parsed `result` (bigint-safe).
   * @throws RpcReplyError when the server answered with a non-empty errstr
   * @throws RpcConnectError when the server could not be reached within the retry limit
   * @throws RpcClosedError after close()
   */
  call(method: string, params: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new RpcClosedError(`retryrpc client ${this.#o.clientId} is closed; cannot call ${method}`));
    const id = this.#nextId++;
    let frame: Buffer;
    try {
      frame = encodeFrame(MsgType.RPC, encodeRequestBody(this.#o.clientId, id, this.#highestConsecutive, method, params));
    } catch (err) {
      return Promise.reject(err);
    }
    this.#stats.calls++;
    return new Promise((resolve, reject) => {
      this.#outstanding.set(id, { frame, method, resolve, reject });
      const c = this.#conn;
      if (c?.ready) c.writer.write(frame);
      else void this.#ensureConnected();
    });
  }

  /** Connects now instead of at the first call (e.g. to receive upcalls early). */
  connect(): Promise<void> {
    if (this.#closed) return Promise.reject(new RpcClosedError("retryrpc client is closed"));
    if (this.#conn?.ready) return Promise.resolve();
    return this.#ensureConnected();
  }

  /** Fails outstanding calls with RpcClosedError and closes the connection (TLS close_notify). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new RpcClosedError(`retryrpc client ${this.#o.clientId} was closed`));
    const c = this.#conn;
    this.#conn = null;
    if (c && !c.socket.destroyed) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => c.socket.destroy(), 1000);
        c.socket.once("close", () => {
          clearTimeout(t);
          resolve();
        });
        c.socket.end();
      });
    }
  }

  #failAll(err: Error): void {
    const all = [...this.#outstanding.values()];
    this.#outstanding.clear();
    for (const o of all) o.reject(err);
  }

  #ensureConnected(): Promise<void> {
    if (!this.#connecting) {
      this.#connecting = this.#dialWithRetries().finally(() => {
        this.#connecting = null;
      });
      this.#connecting.catch(() => { /* reported through the failed calls */ });
    }
    return this.#connecting;
  }

  async #dialWithRetries(): Promise<void> {
    let delay = this.#o.connectRetryDelayMs;
    let lastErr: Error | undefined;
    if (this.#churn > this.#o.connectRetryLimit) {
      this.#churn = 0;
      const err = new RpcConnectError(`retryrpc: ${this.#o.host}:${this.#o.port} closed ${this.#o.connectRetryLimit + 1} connections in a row before answering anything`);
      this.#o.log("warn", err.message);
      this.#failAll(err);
      throw err;
    }
    if (this.#churn > 0) await new Promise((r) => setTimeout(r, Math.min(delay * 2 ** (this.#churn - 1), 30_000)));
    for (let attempt = 0; attempt <= this.#o.connectRetryLimit; attempt++) {
      if (this.#closed) throw new RpcClosedError("retryrpc client is closed");
      if (attempt > 0) {
        await new Promise((r) => setTimeout(r, delay));
        delay *= 2;
        if (this.#closed) throw new RpcClosedError("retryrpc client is closed");
      }
      try {
        await this.#dialOnce();
        return;
      } catch (err) {
        lastErr = err as Error;
        this.#o.log("debug", `dial ${this.#o.host}:${this.#o.port} attempt ${attempt + 1} failed: ${lastErr.message}`);
      }
    }
    const err = new RpcConnectError(
      `retryrpc: cannot connect to ${this.#o.host}:${this.#o.port} after ${this.#o.connectRetryLimit + 1} attempts: ${lastErr?.message}`,
      { cause: lastErr },
    );
    this.#o.log("warn", err.message);
    this.#failAll(err);
    throw err;
  }

  #dialOnce(): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host: this.#o.host,
        port: this.#o.port,
        ca: this.#o.caCertPem,
        // Go sends no SNI for an IP literal; Node does not either, but be explicit for names.
        ...(isIP(this.#o.host) ? {} : { servername: this.#o.host }),
        minVersion: "TLSv1.2",
      });
      const onEarlyError = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      const onHandshakeTimeout = () => onEarlyError(new Error(`TLS handshake took longer than ${this.#o.deadlineIoMs} ms`));
      socket.once("error", onEarlyError);
      socket.setTimeout(this.#o.deadlineIoMs);
      socket.once("timeout", onHandshakeTimeout);
      socket.once("secureConnect", () => {
        socket.off("error", onEarlyError);
        socket.off("timeout", onHandshakeTimeout);
        if (this.#closed) {
          socket.destroy();
          reject(new RpcClosedError("retryrpc client is closed"));
          return;
        }
        this.#attach(socket);
        resolve();
      });
    });
  }

  #attach(socket: tls.TLSSocket): void {
    const conn: Conn = { socket, decoder: new FrameDecoder({ maxBodyBytes: this.#o.maxBodyBytes }), writer: new FrameWriter(socket), ready: false, gotFrame: false };
    this.#conn = conn;
    this.#stats.connects++;
    socket.setKeepAlive(true, this.#o.keepAlivePeriodMs);
    socket.setNoDelay(true);
    socket.setTimeout(this.#o.deadlineIoMs);
    socket.on("timeout", () => {
      // Idle with nothing outstanding is fine (1.17.1 ignores it); otherwise the deadline passed.
      if (this.#outstanding.size > 0) this.#lost(conn, `no I/O for ${this.#o.deadlineIoMs} ms with ${this.#outstanding.size} calls outstanding`, true);
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        conn.decoder.push(chunk, (type, body) => this.#onFrame(conn, type, body));
      } catch (err) {
        this.#lost(conn, (err as Error).message);
      }
    });
    socket.on("error", (err) => this.#lost(conn, err.message));
    socket.on("close", () => this.#lost(conn, "connection closed"));
    // PassID first, then every outstanding request in id order, all in one corked batch.
    conn.writer.write(encodeFrame(MsgType.PassID, encodePassIdBody(this.#o.clientId)));
    let resent = 0;
    for (const o of this.#outstanding.values()) {
      conn.writer.write(o.frame);
      resent++;
    }
    if (this.#stats.connects > 1) this.#stats.resent += resent;
    conn.ready = true;
  }

  #onFrame(conn: Conn, type: number, body: Buffer): void {
    if (this.#conn !== conn) return; // a stale connection's leftovers
    conn.gotFrame = true;
    if (type === MsgType.Upcall) {
      this.#stats.upcalls++;
      const cb = this.#o.onUpcall;
      if (cb) {
        setImmediate(() => {
          try {
            cb(body);
          } catch (err) {
            this.#o.log("error", `onUpcall threw: ${(err as Error).message}`);
          }
        });
      }
      return;
    }
    if (type !== MsgType.RPC) throw new RpcProtocolError(`server sent message type ${type}; expected RPC (1) or Upcall (2)`);
    const env = decodeReplyBody(body);
    const id = typeof env.requestid === "number" ? env.requestid : -1;
    const o = this.#outstanding.get(id);
    if (o === undefined) {
      this.#stats.droppedReplies++;
      return;
    }
    this.#outstanding.delete(id);
    this.#markDelivered(id);
    if (env.errstr !== "") o.reject(new RpcReplyError(o.method, env.errstr));
    else o.resolve(env.result);
  }

  #markDelivered(id: number): void {
    if (id !== this.#highestConsecutive + 1) {
      if (id > this.#highestConsecutive) this.#doneAbove.add(id);
      return;
    }
    let h = id;
    while (this.#doneAbove.delete(h + 1)) h++;
    this.#highestConsecutive = h;
  }

  #lost(conn: Conn, why: string, byDeadline = false): void {
    if (this.#conn !== conn) return;
    this.#conn = null;
    conn.socket.destroy();
    if (this.#closed) return;
    // A server that accepts and then drops us at once (no frame at all) must not make us spin:
    // count such connections and back off; a deadline expiry (slow call) is not churn.
    if (conn.gotFrame) this.#churn = 0;
    else if (!byDeadline) this.#churn++;
    this.#o.log("debug", `connection to ${this.#o.host}:${this.#o.port} lost (${why}); ${this.#outstanding.size} calls outstanding`);
    if (this.#outstanding.size > 0 || this.#o.onUpcall) void this.#ensureConnected();
  }
}
