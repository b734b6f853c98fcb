// SlabPool: the process-wide buffers of the direct-I/O PUT path (direct-body-writer.ts).
//
// Why: on a 2-core machine a large PUT is CPU-bound. Buffered writes cost a copy into the page
// cache plus writeback work (measured ~0.25-0.4 s of kernel CPU per 256 MiB here), and MD5 needs
// its own copy of the bytes on the worker thread. With slabs in one SharedArrayBuffer the body is
// copied once (socket chunk -> slab); the MD5 worker reads the slab in place and the kernel DMAs
// it to disk with O_DIRECT, so neither needs a copy of its own.
//
// O_DIRECT needs the memory address aligned (512 bytes on virtio-blk, up to 4096 elsewhere) and
// JavaScript cannot see addresses, so probeDirect() finds the aligned offset inside the
// SharedArrayBuffer by trying 4 KiB O_DIRECT writes at each 16-byte offset of its first page
// (allocators align to 16): the kernel rejects misaligned buffers with EINVAL and has no side
// effects then. Slabs are SLAB_BYTES apart from that offset, so they are all equally aligned.
// Invariant: a slab is used by at most one PUT at a time, from acquire() to release().
import { close, constants, open, unlink, write } from "node:fs";
import { randomBytes } from "node:crypto";
import { join } from "node:path";

/** Bytes per slab: a multiple of 4096, so every slab write is at an aligned file offset too. */
export const SLAB_BYTES = 4 << 20;
const SLAB_COUNT = 8;
const PAGE = 4096;
const PROBE_STEP = 16;

export interface Slab {
  /** SLAB_BYTES of aligned memory (a view of the pool's SharedArrayBuffer). */
  readonly buf: Buffer;
}

export class SlabPool {
  readonly #sab: SharedArrayBuffer;
  #base: number | undefined;
  #free: Slab[] = [];
  #waiters: Array<(s: Slab) => void> = [];

  constructor(count: number) {
    this.#sab = new SharedArrayBuffer(count * SLAB_BYTES + PAGE);
  }

  get aligned(): boolean {
    return this.#base !== undefined;
  }

  /** A slab now if one is free, else a promise of the next released one (FIFO). */
  acquire(): Slab | Promise<Slab> {
    const s = this.#free.pop();
    if (s) return s;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  release(s: Slab): void {
    const w = this.#waiters.shift();
    if (w) w(s);
    else this.#free.push(s);
  }

  /** Fixes the aligned offset (once) and creates the slabs. */
  setBase(base: number): void {
    if (this.#base !== undefined) return;
    this.#base = base;
    const count = Math.floor((this.#sab.byteLength - base) / SLAB_BYTES);
    for (let i = 0; i < count; i++) this.#free.push({ buf: Buffer.from(this.#sab, base + i * SLAB_BYTES, SLAB_BYTES) });
  }

  /** A PAGE-long view at `off` of the first page, for probing. */
  probeView(off: number): Buffer {
    return Buffer.from(this.#sab, off, PAGE);
  }

  get base(): number | undefined {
    return this.#base;
  }
}

let pool: SlabPool | undefined;

const openFd = (path: string, flags: number): Promise<number> =>
  new Promise((resolve, reject) => open(path, flags, 0o600, (err, fd) => (err ? reject(err) : resolve(fd))));
const writeOk = (fd: number, buf: Buffer): Promise<boolean> =>
  new Promise((resolve) => write(fd, buf, 0, buf.length, 0, (err, n) => resolve(!err && n === buf.length)));

/**
 * The slab pool when O_DIRECT writes work for files in `dir` (probed with a scratch file there),
 * else undefined (no O_DIRECT on this platform or file system, e.g. tmpfs). Never throws.
 */
export async function probeDirect(dir: string): Promise<SlabPool | undefined> {
  const O_DIRECT = constants.O_DIRECT;
  if (!O_DIRECT) return undefined;
  const path = join(dir, `direct-probe-${randomBytes(6).toString("hex")}`);
  let fd: number;
  try {
    fd = await openFd(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT);
  } catch {
    await new Promise<void>((r) => unlink(path, () => r()));
    return undefined;
  }
  try {
    pool ??= new SlabPool(SLAB_COUNT);
    if (pool.base !== undefined) return (await writeOk(fd, pool.probeView(pool.base))) ? pool : undefined;
    for (let off = 0; off < PAGE; off += PROBE_STEP) {
      if (await writeOk(fd, pool.probeView(off))) {
        pool.setBase(off);
        return pool;
      }
    }
    return undefined;
  } finally {
    close(fd, () => undefined);
    await new Promise<void>((r) => unlink(path, () => r()));
  }
}
