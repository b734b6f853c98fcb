// LogSegment: one in-flight object of written file data (pfsagent.md §7.1-7.3).
//
// Lifetime: created by the first write that needs it → RpcProvisionObject names the object →
// a chunked PUT starts at once and streams the buffer as writes append to it → the segment is
// closed when it reaches MaxFlushSize bytes, MaxFlushTime after it was created, or on a flush
// (fsync, close, truncate, shutdown...) → the PUT ends → every file with bytes in it reports its
// extents (its SegmentSlice) with RpcWrote, in creation order with the file's other segments.
// One segment may carry the data of many small files (WriteBack shares it): one PUT for all.
//
// The whole buffer stays in memory until the segment is completed: a retried PUT attempt replays
// it from byte 0 (the body factory is called afresh), and reads of not-yet-reported data are
// served from it.
//
// INVARIANT: chunks are never modified once appended (readers keep references to them);
// #length == sum of chunk lengths.
import type { ObjectRef } from "./extent-map.js";

export type LogSegmentState = "open" | "closed";

export interface LogSegmentIo {
  /** RpcProvisionObject → the object to PUT. */
  provision(): Promise<ObjectRef>;
  /** Streams `body` (called afresh per attempt) as a chunked PUT; resolves on 201. */
  put(ref: ObjectRef, body: () => AsyncIterable<Uint8Array>): Promise<void>;
}

export class LogSegment {
  readonly id: number;
  readonly createdAt = Date.now();
  #chunks: Buffer[] = [];
  /** File offset of each chunk, and offset in the buffer: for copying out by object offset. */
  #chunkObjOff: number[] = [];
  #length = 0;
  #state: LogSegmentState = "open";
  #wakers: Array<() => void> = [];
  #timer: NodeJS.Timeout | undefined;
  #ref: ObjectRef | undefined;
  /** Resolves when the PUT succeeded, rejects when it failed for good. Never both. */
  readonly uploaded: Promise<void>;
  #maxFlushSize: number;

  constructor(id: number, io: LogSegmentIo, options: { maxFlushSize: number; maxFlushTimeMs: number }) {
    this.id = id;
    this.#maxFlushSize = options.maxFlushSize;
    this.#timer = setTimeout(() => this.close(), options.maxFlushTimeMs);
    this.uploaded = this.#upload(io);
    this.uploaded.catch(() => {}); // observed by the owner; avoid an unhandled rejection meanwhile
  }

  get state(): LogSegmentState {
    return this.#state;
  }

  get length(): number {
    return this.#length;
  }

  /** The object, once provisioned. */
  get ref(): ObjectRef | undefined {
    return this.#ref;
  }

  /** Appends `data` (only while open); returns its offset in the object. */
  append(data: Buffer): number {
    if (this.#state !== "open") throw new Error(`LogSegment ${this.id} is closed; cannot append`);
    const objOff = this.#length;
    if (data.length === 0) return objOff;
    this.#chunkObjOff.push(objOff);
    this.#chunks.push(data);
    this.#length += data.length;
    this.#wake();
    if (this.#length >= this.#maxFlushSize) this.close();
    return objOff;
  }

  /** Ends the PUT body after what has been appended so far. Idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#wake();
  }

  /** Copies buffer bytes [objOff, objOff+len) into dst at dstOff. */
  copyOut(objOff: number, len: number, dst: Buffer, dstOff: number): void {
    // Binary search for the chunk holding objOff.
    let lo = 0;
    let hi = this.#chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#chunkObjOff[mid]! <= objOff) lo = mid;
      else hi = mid - 1;
    }
    let pos = objOff;
    const end = objOff + len;
    for (let i = lo; i < this.#chunks.length && pos < end; i++) {
      const c = this.#chunks[i]!;
      const base = this.#chunkObjOff[i]!;
      const from = pos - base;
      const n = Math.min(c.length - from, end - pos);
      c.copy(dst, dstOff + (pos - objOff), from, from + n);
      pos += n;
    }
  }

  #wake(): void {
    const w = this.#wakers;
    this.#wakers = [];
    for (const f of w) f();
  }

  async *#body(): AsyncGenerator<Uint8Array> {
    let i = 0;
    for (;;) {
      while (i < this.#chunks.length) yield this.#chunks[i++]!;
      if (this.#state === "closed" && i >= this.#chunks.length) return;
      await new Promise<void>((resolve) => this.#wakers.push(resolve));
    }
  }

  async #upload(io: LogSegmentIo): Promise<void> {
    try {
      this.#ref = await io.provision();
      await io.put(this.#ref, () => this.#body());
    } finally {
      // A failed upload must not leave the timer or a body reader hanging.
      this.close();
    }
  }
}
