// JsonRpcListener: proxyfsd's [JSONRPCServer] TCPPort (protocol doc §4): Go net/rpc with the
// jsonrpc codec over plain TCP. Requests arrive back to back on a stream (no delimiter needed);
// each gets one reply line `{"id":…,"result":…,"error":…}\n`, possibly out of order. pfs_middleware
// (and our Swift-API relay) uses one connection per call and reads one line.
//
// Robustness: a stream that is not JSON objects, or a request over 1 MiB, closes that connection
// (Go's codec does the same); a request naming an unknown method gets net/rpc's error text.

import net from "node:net";
import type { AddressInfo } from "node:net";
import { RawJson } from "../../base/json/index.js";
import { JsonObjectStreamSplitter, decodeJsonRpcRequest, encodeJsonRpcResponse, jsonRpcMethods, type JsonRpcMethodName, ProtoDecodeError } from "../../proto/index.js";

/** A JSON-RPC method: resolves with the result value, or rejects with an Error whose message is the error text. */
export type JsonRpcHandler = (params: unknown) => Promise<unknown>;

export interface JsonRpcListenerOptions {
  host: string;
  port: number;
  handlers: { [M in JsonRpcMethodName]?: (request: unknown) => Promise<unknown> };
  log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

export class JsonRpcListener {
  readonly #o: JsonRpcListenerOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  constructor(options: JsonRpcListenerOptions) {
    this.#o = options;
    this.#server = net.createServer((s) => this.#accept(s));
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off("error", reject);
        this.#server.on("error", (err) => this.#o.log("error", `JSON-RPC listener: ${err.message}`));
        resolve((this.#server.address() as AddressInfo).port);
      });
    });
  }

  get port(): number {
    return (this.#server.address() as AddressInfo | null)?.port ?? 0;
  }

  close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const s of this.#sockets) s.destroy();
    return closed;
  }

  #accept(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.setEncoding("utf8");
    const splitter = new JsonObjectStreamSplitter(1 << 20);
    socket.on("data", (chunk: string) => {
      let texts: string[];
      try {
        texts = splitter.push(chunk);
      } catch (err) {
        this.#o.log("warn", `JSON-RPC connection from ${socket.remoteAddress}:${socket.remotePort}: ${(err as Error).message}; closing it`);
        socket.destroy();
        return;
      }
      for (const text of texts) void this.#serve(socket, text);
    });
    socket.on("error", (err) => this.#o.log("debug", `JSON-RPC connection: ${err.message}`));
    socket.on("close", () => this.#sockets.delete(socket));
  }

  async #serve(socket: net.Socket, text: string): Promise<void> {
    let id: unknown = null;
    let line: string;
    try {
      const req = decodeJsonRpcRequest(text);
      id = req.id;
      const handler = Object.hasOwn(this.#o.handlers, req.method) ? this.#o.handlers[req.method as JsonRpcMethodName] : undefined;
      if (handler === undefined) {
        const dot = req.method.lastIndexOf(".");
        line = encodeJsonRpcResponse(id, null, dot < 0 ? `rpc: service/method request ill-formed: ${req.method}` : req.method.startsWith("Server.") ? `rpc: can't find method ${req.method}` : `rpc: can't find service ${req.method}`);
      } else {
        const spec = jsonRpcMethods[req.method as JsonRpcMethodName] as unknown as { request: { decode(v: unknown, p: string): unknown }; reply: { encode(v: unknown, p: string): string } };
        const typed = spec.request.decode(req.params, `${req.method} params`);
        const result = await handler(typed);
        line = encodeJsonRpcResponse(id, new RawJson(spec.reply.encode(result, `${req.method} reply`)), null);
      }
    } catch (err) {
      if (!(err instanceof ProtoDecodeError) && !(err instanceof JsonRpcError)) this.#o.log("error", `JSON-RPC request failed: ${(err as Error)?.stack ?? String(err)}`);
      line = encodeJsonRpcResponse(id, null, (err as Error)?.message || "errno: 5");
    }
    if (!socket.destroyed) socket.write(line);
  }
}

/** A JSON-RPC failure whose message is sent verbatim as the reply's error text. */
export class JsonRpcError extends Error {
  override readonly name = "JsonRpcError";
  readonly code = "ERR_JSONRPC";
}
