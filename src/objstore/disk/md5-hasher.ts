// MD5 of a PUT body, computed either inline or on a worker thread. MD5 runs at ~0.8 GB/s on one
// core; on the event loop it would be the ceiling of every large PUT, so bodies that are large
// (or of unknown length) are hashed off-thread while the event loop receives and writes.
// workerMd5: chunks are copied into 1 MiB staging buffers that are transferred (not cloned) to
// the worker; at most MAX_OUTSTANDING bytes may wait in the worker before update() asks the caller
// to wait. sharedMd5: the caller already holds the bytes in a SharedArrayBuffer (the direct-I/O
// slabs) and lends them to the worker without a copy until the returned promise settles.
import { createHash } from "node:crypto";
import { Worker } from "node:worker_threads";

export interface Md5Hasher {
  /** Adds bytes; when it returns a promise, await it before the next update (backpressure). */
  update(chunk: Buffer): void | Promise<void>;
  /** The hex digest; the hasher must not be used afterwards. */
  digest(): Promise<string>;
  /** Releases worker-side state after a failure. */
  abandon(): void;
}

export function inlineMd5(): Md5Hasher {
  const h = createHash("md5");
  return {
    update: (c) => void h.update(c),
    digest: async () => h.digest("hex"),
    abandon: () => undefined,
  };
}

const STAGE = 1 << 20;
const MAX_OUTSTANDING = 16 << 20;

export interface SharedMd5Hasher {
  /**
   * Hashes `view` (over a SharedArrayBuffer) after everything given before. The caller must not
   * change those bytes until the promise settles; it settles (rejects) also when the worker dies.
   */
  updateShared(view: Uint8Array): Promise<void>;
  digest(): Promise<string>;
  abandon(): void;
}

interface Pending {
  outstanding: number;
  wake: (() => void) | undefined;
  done: ((hex: string) => void) | undefined;
  fail: ((err: Error) => void) | undefined;
  /** Lent shared views in the order sent; the worker acks them in that order. */
  shared: Array<{ resolve: () => void; reject: (err: Error) => void }>;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL("./md5-worker.js", import.meta.url));
  w.on("message", (m: { id: number; acked?: number; shared?: number; hex?: string }) => {
    const p = pending.get(m.id);
    if (!p) return;
    if (m.shared !== undefined) p.shared.shift()?.resolve();
    if (m.acked !== undefined) {
      p.outstanding -= m.acked;
      const wake = p.wake;
      if (wake && p.outstanding <= MAX_OUTSTANDING / 2) { p.wake = undefined; wake(); }
    }
    if (m.hex !== undefined) {
      untrack(m.id);
      p.done?.(m.hex);
    }
  });
  const die = (err: Error): void => {
    worker = undefined;
    for (const p of pending.values()) {
      p.fail?.(err);
      p.wake?.();
      for (const l of p.shared.splice(0)) l.reject(err);
    }
    pending.clear();
  };
  w.on("error", die);
  w.on("exit", (code) => die(new Error(`MD5 worker exited with code ${code}`)));
  // After the listeners: attaching a 'message' listener re-refs the port. The worker keeps the
  // process alive only while a hash is pending (see track/untrack).
  w.unref();
  worker = w;
  return w;
}

function track(id: number, p: Pending): void {
  if (pending.size === 0) worker?.ref();
  pending.set(id, p);
}

function untrack(id: number): void {
  pending.delete(id);
  if (pending.size === 0) worker?.unref();
}

export function workerMd5(): Md5Hasher {
  const w = getWorker();
  const id = nextId++;
  const p: Pending = { outstanding: 0, wake: undefined, done: undefined, fail: undefined, shared: [] };
  track(id, p);
  let stage = new Uint8Array(STAGE);
  let used = 0;
  let failed: Error | undefined;
  const ship = (): void => {
    if (used === 0) return;
    w.postMessage({ id, buf: stage.buffer, len: used }, [stage.buffer]);
    p.outstanding += used;
    stage = new Uint8Array(STAGE);
    used = 0;
  };
  p.fail = (err) => { failed = err; };
  return {
    update(chunk) {
      if (failed) throw failed;
      let off = 0;
      while (off < chunk.length) {
        const n = Math.min(chunk.length - off, STAGE - used);
        stage.set(chunk.subarray(off, off + n), used);
        used += n;
        off += n;
        if (used === STAGE) ship();
      }
      if (p.outstanding > MAX_OUTSTANDING) return new Promise<void>((resolve) => { p.wake = resolve; });
      return undefined;
    },
    digest() {
      ship();
      return new Promise<string>((resolve, reject) => {
        if (failed) return reject(failed);
        p.done = resolve;
        p.fail = reject;
        w.postMessage({ id, end: true });
      });
    },
    abandon() {
      if (!pending.has(id)) return;
      p.outstanding = 0;
      p.done = () => undefined;
      p.fail = () => undefined;
      w.postMessage({ id, end: true });
    },
  };
}

export function sharedMd5(): SharedMd5Hasher {
  const w = getWorker();
  const id = nextId++;
  const p: Pending = { outstanding: 0, wake: undefined, done: undefined, fail: undefined, shared: [] };
  track(id, p);
  let failed: Error | undefined;
  p.fail = (err) => { failed = err; };
  return {
    updateShared(view) {
      if (failed) return Promise.reject(failed);
      if (!(view.buffer instanceof SharedArrayBuffer)) return Promise.reject(new TypeError("updateShared needs a view of a SharedArrayBuffer"));
      return new Promise<void>((resolve, reject) => {
        p.shared.push({ resolve, reject });
        w.postMessage({ id, sab: view.buffer, off: view.byteOffset, len: view.byteLength });
      });
    },
    digest() {
      return new Promise<string>((resolve, reject) => {
        if (failed) return reject(failed);
        p.done = resolve;
        p.fail = reject;
        w.postMessage({ id, end: true });
      });
    },
    abandon() {
      if (!pending.has(id)) return;
      // Views already lent are still hashed and acked (messages are processed in order), so
      // their promises settle and the caller can reuse the memory afterwards.
      p.done = () => undefined;
      p.fail = () => undefined;
      w.postMessage({ id, end: true });
    },
  };
}
