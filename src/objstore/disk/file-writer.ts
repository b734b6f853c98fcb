// FileWriter: appends buffers to an open file in order with at most one writev in flight, so the
// event loop never blocks on disk. write() returns false above the high-water mark (the caller
// should await drain()). Every `syncEvery` bytes it starts an fdatasync in the background: the
// kernel then writes back while more data arrives, and the final sync has little left to do.
import { fdatasync, writev } from "node:fs";

export class FileWriter {
  readonly #fd: number;
  readonly #highWater: number;
  readonly #syncEvery: number;
  #queue: Buffer[] = [];
  #queued = 0;
  #inflight = false;
  #written = 0;
  #sinceSync = 0;
  #error: Error | undefined;
  #waiters: Array<() => void> = [];
  #syncs: Array<Promise<void>> = [];

  constructor(fd: number, opts: { highWater?: number; syncEvery?: number } = {}) {
    this.#fd = fd;
    this.#highWater = opts.highWater ?? 8 << 20;
    this.#syncEvery = opts.syncEvery ?? 32 << 20;
  }

  get bytesWritten(): number {
    return this.#written;
  }

  write(buf: Buffer): boolean {
    if (this.#error) throw this.#error;
    this.#queue.push(buf);
    this.#queued += buf.length;
    this.#pump();
    return this.#queued < this.#highWater;
  }

  /** Resolves when queued bytes fall below the high-water mark. */
  drain(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#queued < this.#highWater) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Resolves when everything queued is written (and background syncs finished). */
  async flush(): Promise<void> {
    while (this.#queued > 0 || this.#inflight) {
      if (this.#error) throw this.#error;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    if (this.#error) throw this.#error;
    await Promise.all(this.#syncs);
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #pump(): void {
    if (this.#inflight || this.#queue.length === 0 || this.#error) return;
    const batch = this.#queue.length > 1024 ? this.#queue.splice(0, 1024) : this.#queue;
    if (batch === this.#queue) this.#queue = [];
    let n = 0;
    for (const b of batch) n += b.length;
    this.#inflight = true;
    this.#writeAll(batch, n, (err) => {
      this.#inflight = false;
      if (err) {
        this.#error = err;
      } else {
        this.#queued -= n;
        this.#written += n;
        this.#sinceSync += n;
        if (this.#sinceSync >= this.#syncEvery) {
          this.#sinceSync = 0;
          this.#syncs.push(new Promise((resolve) => fdatasync(this.#fd, () => resolve())));
        }
      }
      this.#wake();
      this.#pump();
    });
  }

  /** writev until all of `bufs` is written (handles short writes). */
  #writeAll(bufs: Buffer[], total: number, done: (err: Error | null) => void): void {
    writev(this.#fd, bufs, (err, wrote) => {
      if (err) return done(err);
      if (wrote >= total) return done(null);
      // Short write: drop what was written and continue with the rest.
      let skip = wrote;
      const rest: Buffer[] = [];
      for (const b of bufs) {
        if (skip >= b.length) { skip -= b.length; continue; }
        rest.push(skip > 0 ? b.subarray(skip) : b);
        skip = 0;
      }
      this.#writeAll(rest, total - wrote, done);
    });
  }
}
