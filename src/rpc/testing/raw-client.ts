// RawClient: a bare TLS connection to a RetryRpcServer for tests that must send exact bytes
// (captured frames, garbage, protocol violations) and see exactly what comes back.
import tls from "node:tls";
import { FrameDecoder } from "../frame-decoder.js";

export class RawClient {
  readonly socket: tls.TLSSocket;
  readonly frames: Array<{ type: number; body: string }> = [];
  closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    const d = new FrameDecoder();
    socket.on("data", (c: Buffer) => {
      try {
        d.push(c, (type, body) => this.frames.push({ type, body: body.toString("utf8") }));
      } catch {
        socket.destroy();
      }
      this.#wake();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
  }

  static connect(port: number, caCertPem: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: "127.0.0.1", port, ca: caCertPem }, () => resolve(new RawClient(s)));
      s.once("error", reject);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  write(bytes: Buffer): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  /** Waits until `n` frames arrived or the connection closed (or the timeout passed). */
  async waitFrames(n: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    await this.waitFrames(Number.MAX_SAFE_INTEGER, timeoutMs);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
