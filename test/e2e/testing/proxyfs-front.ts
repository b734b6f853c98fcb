// ProxyFsFront: a test stand-in for the Swift proxy's pfs_middleware PROXYFS relay (protocol doc
// §3.4), used when the embedded SwiftApiServer has no PROXYFS support of its own.
//
// A TCP listener in front of the Swift-API server. A connection whose first request line starts
// with "PROXYFS " is handled here: the token is checked with a HEAD of the account on the Swift
// server (401 passed back), the JSON body is relayed to proxyfsd's JSON-RPC port and its one reply
// line returned with 200 (as pfs_middleware does), then the connection is closed. Every other
// connection is piped byte for byte to the Swift server (Host is kept, so tempauth hands out
// storage URLs pointing at this front).
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";

export interface ProxyFsFrontOptions {
  swiftPort: number;
  jsonRpcPort: number;
  host?: string;
}

function relayJsonRpc(port: number, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(body));
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        s.destroy();
        resolve(buf.slice(0, nl + 1));
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error("proxyfsd closed the JSON-RPC connection without a reply")));
  });
}

function headAccount(swiftPort: number, path: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: swiftPort, method: "HEAD", path, headers: { "X-Auth-Token": token }, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

export class ProxyFsFront {
  readonly #o: ProxyFsFrontOptions;
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();
  proxyfsRequests = 0;

  constructor(options: ProxyFsFrontOptions) {
    this.#o = options;
    this.#server = net.createServer((s) => this.#accept(s));
  }

  listen(port = 0): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, this.#o.host ?? "127.0.0.1", () => resolve((this.#server.address() as AddressInfo).port));
    });
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: net.Socket): void {
    this.#sockets.add(client);
    client.on("close", () => this.#sockets.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      head = Buffer.concat([head, d]);
      if (head.length < 8 && !head.includes(0x20)) return;
      client.off("data", onData);
      client.pause();
      if (head.subarray(0, 8).toString("latin1") === "PROXYFS ") void this.#proxyfs(client, head);
      else this.#pipe(client, head);
    };
    client.on("data", onData);
  }

  #pipe(client: net.Socket, first: Buffer): void {
    const upstream = net.connect(this.#o.swiftPort, "127.0.0.1");
    this.#sockets.add(upstream);
    upstream.on("close", () => { this.#sockets.delete(upstream); client.destroy(); });
    upstream.on("error", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.write(first);
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  async #proxyfs(client: net.Socket, first: Buffer): Promise<void> {
    this.proxyfsRequests++;
    let buf = first;
    const more = (): Promise<void> => new Promise((resolve, reject) => {
      client.once("data", (d: Buffer) => { buf = Buffer.concat([buf, d]); resolve(); });
      client.once("end", () => reject(new Error("client closed mid-request")));
      client.resume();
    });
    const reply = (status: number, reason: string, body: string): void => {
      client.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
    };
    try {
      let end: number;
      while ((end = buf.indexOf("\r\n\r\n")) < 0) await more();
      const lines = buf.subarray(0, end).toString("latin1").split("\r\n");
      const path = lines[0]!.split(" ")[1] ?? "/";
      const headers = new Map(lines.slice(1).map((l) => [l.slice(0, l.indexOf(":")).trim().toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      const len = Number(headers.get("content-length") ?? "0");
      while (buf.length < end + 4 + len) await more();
      const body = buf.subarray(end + 4, end + 4 + len);
      if (headers.get("content-type") !== "application/json") return reply(415, "Unsupported Media Type", "");
      const status = await headAccount(this.#o.swiftPort, path.replace(/^\/proxyfs\//, "/v1/"), headers.get("x-auth-token") ?? "");
      if (status === 401 || status === 403) return reply(status, "Unauthorized", "");
      reply(200, "OK", await relayJsonRpc(this.#o.jsonRpcPort, body));
    } catch (err) {
      reply(502, "Bad Gateway", JSON.stringify({ error: (err as Error).message }));
    }
  }
}
