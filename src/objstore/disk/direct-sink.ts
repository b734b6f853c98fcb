// DirectSink: the large-PUT path of DiskObjectStore (see slab-pool.ts for why). Chunks are
// collected until a slab's worth has arrived, then copied into a slab; a full slab is at once
// (a) lent to the MD5 worker and (b) written at its file offset, so hashing, disk writes of
// earlier slabs and receiving of later bytes overlap. A slab returns to the pool when both are
// done. The first DIRECT_FROM bytes of every object go through the ordinary fd (page cache):
// objects up to that size (log segments are <= 10 MiB) and the heads of larger ones stay cached
// for reads soon after, and that part is fdatasync'd in the background once written. Bytes from
// DIRECT_FROM on are written with O_DIRECT (no page-cache copy, no write-back). The last, partial
// slab and the trailer go through the ordinary fd (O_DIRECT needs whole aligned blocks).
// Durability is unchanged: the caller fdatasyncs the file before renaming it into place, which
// also commits the block allocations of the O_DIRECT writes (fdatasync acts on the inode).
import { fdatasync, write, writev } from "node:fs";
import { SLAB_BYTES, type Slab, type SlabPool } from "./slab-pool.js";
import type { SharedMd5Hasher } from "./md5-hasher.js";
import type { BodySink } from "./body-sink.js";

function writeAt(fd: number, buf: Buffer, pos: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (off: number): void => {
      write(fd, buf, off, buf.length - off, pos + off, (err, n) => {
        if (err) return reject(err);
        if (off + n >= buf.length) return resolve();
        if (n === 0) return reject(new Error(`write of ${buf.length} bytes at ${pos} made no progress`));
        step(off + n);
      });
    };
    step(0);
  });
}

function writevAt(fd: number, bufs: Buffer[], pos: number): Promise<void> {
  const total = bufs.reduce((n, b) => n + b.length, 0);
  return new Promise((resolve, reject) => {
    writev(fd, bufs, pos, (err, n) => {
      if (err) return reject(err);
      if (n >= total) return resolve();
      // Short write: finish the rest as one buffer (rare; the trailer is small).
      writeAt(fd, Buffer.concat(bufs).subarray(n), pos + n).then(resolve, reject);
    });
  });
}

/** File offset from which slabs are written with O_DIRECT (a multiple of SLAB_BYTES). */
export const DIRECT_FROM = 16 << 20;

export class DirectSink implements BodySink {
  readonly #pool: SlabPool;
  readonly #fd: number; // buffered fd of the temp file
  readonly #directFd: number; // O_DIRECT fd of the same file
  readonly #md5: SharedMd5Hasher;
  /**
   * Received bytes not yet in a slab. Slabs are taken only when a whole one can be filled at once
   * (and for the tail in finish()), so no slab ever waits for a slow client: waiting for a free
   * slab depends only on other PUTs' disk writes and hashing.
   */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** The slab being filled (only within #fill) or, after finish(), the tail's slab. */
  #slab: Slab | undefined;
  #used = 0;
  /** File offset of the current slab's first byte (= bytes already dispatched). */
  #position = 0;
  readonly #inflight = new Set<Promise<void>>();
  /** Writes of the buffered head still to be covered by its background fdatasync. */
  #buffered: Array<Promise<void>> = [];
  #error: Error | undefined;
  #finished = false;

  constructor(pool: SlabPool, fd: number, directFd: number, md5: SharedMd5Hasher) {
    this.#pool = pool;
    this.#fd = fd;
    this.#directFd = directFd;
    this.#md5 = md5;
  }


  write(chunk: Buffer): void | Promise<void> {
    if (this.#error) throw this.#error;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
    return this.#pendingBytes >= SLAB_BYTES ? this.#fill() : undefined;
  }

  /** Moves whole slabs' worth of pending chunks into slabs and dispatches them. */
  #fill(): void | Promise<void> {
    while (this.#pendingBytes >= SLAB_BYTES) {
      const s = this.#pool.acquire();
      if (s instanceof Promise) return s.then((slab) => { this.#take(slab, SLAB_BYTES); this.#dispatch(); return this.#fill(); });
      this.#take(s, SLAB_BYTES);
      this.#dispatch();
    }
    return undefined;
  }

  /** Makes `slab` the current slab, holding the first `n` pending bytes. */
  #take(slab: Slab, n: number): void {
    this.#slab = slab;
    this.#used = 0;
    while (this.#used < n) {
      const c = this.#pending[0]!;
      const k = Math.min(c.length, n - this.#used);
      c.copy(slab.buf, this.#used, 0, k);
      this.#used += k;
      if (k === c.length) this.#pending.shift();
      else this.#pending[0] = c.subarray(k);
    }
    this.#pendingBytes -= n;
  }

  #dispatch(): void {
    const slab = this.#slab!;
    const view = slab.buf.subarray(0, this.#used);
    const pos = this.#position;
    this.#slab = undefined;
    this.#position += this.#used;
    this.#used = 0;
    const written = writeAt(pos < DIRECT_FROM ? this.#fd : this.#directFd, view, pos);
    if (pos < DIRECT_FROM) this.#buffered.push(written);
    if (pos + view.length === DIRECT_FROM) {
      // The buffered head is complete: start its write-back now so the final fdatasync need not.
      const head = this.#buffered;
      this.#buffered = [];
      this.#track(Promise.all(head).then(() => new Promise<void>((resolve) => fdatasync(this.#fd, () => resolve()))));
    }
    this.#track(Promise.allSettled([this.#md5.updateShared(view), written]).then((r) => {
      this.#pool.release(slab);
      for (const x of r) if (x.status === "rejected") throw x.reason;
    }));
  }

  #track(p: Promise<void>): void {
    const t: Promise<void> = p.catch((err: Error) => { this.#error ??= err; }).finally(() => this.#inflight.delete(t));
    this.#inflight.add(t);
  }

  async #settle(): Promise<void> {
    while (this.#inflight.size > 0) await Promise.all([...this.#inflight]);
  }

  async finish(): Promise<string> {
    if (this.#error) throw this.#error;
    if (this.#pendingBytes > 0) {
      // The last, partial slab: held until close() because writeTrailer() writes from it.
      this.#take(await this.#pool.acquire(), this.#pendingBytes);
      this.#track(this.#md5.updateShared(this.#slab!.buf.subarray(0, this.#used)));
    }
    await this.#settle();
    if (this.#error) throw this.#error;
    const hex = await this.#md5.digest();
    this.#finished = true;
    return hex;
  }

  async writeTrailer(trailer: Buffer): Promise<void> {
    const tail = this.#slab ? this.#slab.buf.subarray(0, this.#used) : Buffer.alloc(0);
    await writevAt(this.#fd, [tail, trailer], this.#position);
  }

  async close(): Promise<void> {
    if (!this.#finished) this.#md5.abandon();
    await this.#settle();
    if (this.#slab) {
      this.#pool.release(this.#slab);
      this.#slab = undefined;
    }
  }
}
