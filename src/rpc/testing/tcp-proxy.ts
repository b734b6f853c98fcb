// TcpProxy: a byte-level TCP relay on 127.0.0.1 for fault injection in tests. TLS passes through
// untouched (the client still verifies the real server), and the test can cut every relayed
// connection at a chosen moment, e.g. after the server executed a call but before its reply
// reached the client, or hold server->client bytes back.

import net from "node:net";

export class TcpProxy {
  #server: net.Server;
  #targetPort: number;
  #pairs = new Set<{ a: net.Socket; b: net.Socket }>();
  /** When true, bytes from the server are discarded instead of relayed. */
  dropServerToClient = false;
  accepted = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
    this.#server = net.createServer((a) => {
      this.accepted++;
      const b = net.connect(this.#targetPort, "127.0.0.1");
      const pair = { a, b };
      this.#pairs.add(pair);
      a.on("data", (d) => b.write(d));
      b.on("data", (d) => {
        if (!this.dropServerToClient) a.write(d);
      });
      const end = () => {
        a.destroy();
        b.destroy();
        this.#pairs.delete(pair);
      };
      a.on("close", end);
      b.on("close", end);
      a.on("error", end);
      b.on("error", end);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, "127.0.0.1", () => resolve((this.#server.address() as net.AddressInfo).port)));
  }

  /** Destroys every relayed connection (both sides see a reset/close). */
  cutAll(): number {
    const n = this.#pairs.size;
    for (const { a, b } of this.#pairs) {
      a.destroy();
      b.destroy();
    }
    this.#pairs.clear();
    return n;
  }

  get connections(): number {
    return this.#pairs.size;
  }

  close(): Promise<void> {
    this.cutAll();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
