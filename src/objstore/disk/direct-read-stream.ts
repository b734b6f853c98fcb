// DirectReadStream: the body of a large GET, READ_AHEAD reads in flight. Bytes before DIRECT_FROM
// (written through the page cache, see direct-sink.ts) are read normally straight into the output
// buffers; bytes from DIRECT_FROM on are read with O_DIRECT into pool slabs (slab-pool.ts) and
// copied out into a fresh Buffer as soon as they arrive.
//
// Why: large PUTs are written with O_DIRECT, so a GET soon after finds nothing in the page cache.
// Buffered reads of a cold file in 1 MiB steps measured ~0.5 GB/s here (one read at a time behind
// the kernel's read-ahead); O_DIRECT reads of 4 MiB measured 1.6-2.0 GB/s with two in flight and
// up to 2.8 GB/s with four.
// Invariant: a slab is held only while the kernel fills it and for the copy-out, never while
// waiting for the client, so a slow reader cannot starve PUTs of slabs.
import { Readable } from "node:stream";
import { close, read } from "node:fs";
import { SLAB_BYTES, type Slab, type SlabPool } from "./slab-pool.js";
import { DIRECT_FROM } from "./direct-sink.js";

const READ_AHEAD = 3;
const ALIGN = 4096;

function readFull(fd: number, buf: Buffer, pos: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const step = (got: number): void => {
      read(fd, buf, got, buf.length - got, pos + got, (err, n) => {
        if (err) return reject(err);
        if (n === 0 || got + n >= buf.length) return resolve(got + n);
        step(got + n);
      });
    };
    step(0);
  });
}

export class DirectReadStream extends Readable {
  readonly #pool: SlabPool;
  readonly #fd: number; // the ordinary fd (closed with the stream)
  readonly #directFd: number;
  readonly #start: number;
  readonly #endExcl: number;
  /** Next aligned file offset to request. */
  #pos: number;
  readonly #queue: Array<Promise<Buffer>> = [];
  #wanted = false;
  #delivering = false;

  /** Streams bytes [start, end] (inclusive) of the file; takes ownership of both fds. */
  constructor(pool: SlabPool, fd: number, directFd: number, start: number, end: number) {
    super({ highWaterMark: 2 * SLAB_BYTES });
    this.#pool = pool;
    this.#fd = fd;
    this.#directFd = directFd;
    this.#start = start;
    this.#endExcl = end + 1;
    this.#pos = start - (start % ALIGN);
  }

  override _read(): void {
    this.#wanted = true;
    this.#ahead();
    void this.#deliver();
  }

  #ahead(): void {
    while (!this.destroyed && this.#queue.length < READ_AHEAD && this.#pos < this.#endExcl) {
      const off = this.#pos;
      this.#pos = off < DIRECT_FROM ? Math.min(off + SLAB_BYTES, DIRECT_FROM) : off + SLAB_BYTES;
      const p = off < DIRECT_FROM ? this.#readBuffered(off, this.#pos) : this.#readAt(off);
      p.catch(() => undefined); // handled in #deliver (or ignored after destroy)
      this.#queue.push(p);
    }
  }

  /** Bytes [off, to) clipped to the range, read through the page cache. */
  async #readBuffered(off: number, to: number): Promise<Buffer> {
    const lo = Math.max(this.#start, off);
    const hi = Math.min(this.#endExcl, to);
    const out = Buffer.allocUnsafe(hi - lo);
    const n = await readFull(this.#fd, out, lo);
    if (n < out.length) throw new Error(`object file is shorter than its size (read ${n} bytes at ${lo}, needed ${out.length})`);
    return out;
  }

  async #readAt(off: number): Promise<Buffer> {
    const got = this.#pool.acquire();
    const slab: Slab = got instanceof Promise ? await got : got;
    try {
      const n = await readFull(this.#directFd, slab.buf, off);
      const lo = Math.max(this.#start, off);
      const hi = Math.min(this.#endExcl, off + SLAB_BYTES);
      if (off + n < hi) throw new Error(`object file is shorter than its size (read ${n} bytes at ${off}, needed up to ${hi})`);
      const out = Buffer.allocUnsafe(hi - lo);
      slab.buf.copy(out, 0, lo - off, hi - off);
      return out;
    } finally {
      this.#pool.release(slab);
    }
  }

  async #deliver(): Promise<void> {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      while (this.#wanted && this.#queue.length > 0 && !this.destroyed) {
        let buf: Buffer;
        try {
          buf = await this.#queue[0]!;
        } catch (err) {
          this.destroy(err as Error);
          return;
        }
        this.#queue.shift();
        if (this.destroyed) return;
        this.#ahead();
        this.#wanted = this.push(buf);
        if (this.#queue.length === 0 && this.#pos >= this.#endExcl) {
          this.push(null);
          return;
        }
      }
    } finally {
      this.#delivering = false;
    }
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    // Reads in flight still use the fds and slabs: close only after they settle.
    void Promise.allSettled(this.#queue).then(() => {
      close(this.#directFd, () => close(this.#fd, () => cb(err)));
    });
  }
}
