// A file's extent map: file offset -> (log segment, offset in that segment, length).
// File bytes live in write-once log-segment objects; the map says where each byte is.
//
// INVARIANTS:
// - extents never overlap and have length > 0; keys are their fileOffset;
// - segment 0n marks a "zero extent": allocated space that reads as zeros (fallocate);
//   a range covered by no extent is a hole (also reads as zeros);
// - two neighbours are merged when they touch and continue the same segment
//   (or are both zero extents), so sequential writes keep the map small;
// - #segmentBytes[s] is the sum of lengths of the extents of segment s (s != 0), and
//   holds no zero entries;
// - #allocated is the sum of lengths of all extents, data and zero (st_blocks, statfs usage).
// Every mutation returns an ExtentDelta (extents removed, then extents added) so a journal can
// record it and a transaction can undo it with `revert`.

import { Cursor, SortedMap, compareBigint } from "./sorted-map.js";

export interface Extent {
  readonly fileOffset: bigint;
  readonly length: bigint;
  /** Log segment number (its nonce; object name is %016X of it); 0n = zero extent. */
  readonly segment: bigint;
  readonly segmentOffset: bigint;
}

export interface ExtentDelta {
  readonly removed: readonly Extent[];
  readonly added: readonly Extent[];
}

/** One step of a read plan: bytes from a segment, or zeros (segment 0n, hole or zero extent). */
export interface ReadStep {
  readonly fileOffset: bigint;
  readonly length: bigint;
  readonly segment: bigint;
  readonly segmentOffset: bigint;
}

/** The answer to a FetchExtentMapChunk-style request. */
export interface ExtentChunk {
  /** Bytes in [rangeStart, rangeEnd) not covered by `extents` read as zeros (up to fileSize). */
  readonly rangeStart: bigint;
  readonly rangeEnd: bigint;
  readonly extents: readonly Extent[];
}

const EMPTY: ExtentDelta = { removed: [], added: [] };

export class ExtentMap {
  readonly #tree = new SortedMap<bigint, Extent>(compareBigint);
  readonly #segmentBytes = new Map<bigint, bigint>();
  #allocated = 0n;

  /** Number of extents (data and zero). */
  get count(): number {
    return this.#tree.size;
  }

  /** Bytes referenced per log segment (zero extents excluded). */
  get segmentBytes(): ReadonlyMap<bigint, bigint> {
    return this.#segmentBytes;
  }

  /**
   * Bytes covered by extents, data and zero (fallocated) alike: the file's allocated space.
   * Holes count nothing, so a sparse file allocates only what was written. O(1).
   */
  get allocatedBytes(): bigint {
    return this.#allocated;
  }

  *extents(): IterableIterator<Extent> {
    for (const c = this.#tree.first(); c.valid; c.next()) yield c.value;
  }

  /** End of the last extent (0n when empty). */
  get end(): bigint {
    const c = this.#tree.last();
    return c.valid ? c.value.fileOffset + c.value.length : 0n;
  }

  /** Overlays [fileOffset, +length) with bytes from `segment` at `segmentOffset` (0n = zeros). */
  write(fileOffset: bigint, length: bigint, segment: bigint, segmentOffset: bigint): ExtentDelta {
    if (length <= 0n) return EMPTY;
    const removed: Extent[] = [];
    const added: Extent[] = [];
    this.#cut(fileOffset, fileOffset + length, removed, added);
    this.#insertMerged({ fileOffset, length, segment, segmentOffset }, removed, added);
    return normalizeDelta(removed, added);
  }

  /** Removes everything in [fileOffset, +length), leaving a hole. */
  punch(fileOffset: bigint, length: bigint): ExtentDelta {
    if (length <= 0n) return EMPTY;
    const removed: Extent[] = [];
    const added: Extent[] = [];
    this.#cut(fileOffset, fileOffset + length, removed, added);
    return normalizeDelta(removed, added);
  }

  /** Removes everything at or beyond `size` (growing needs no extents: the tail is a hole). */
  truncate(size: bigint): ExtentDelta {
    const end = this.end;
    if (end <= size) return EMPTY;
    return this.punch(size, end - size);
  }

  /** Covers the holes of [fileOffset, +length) with zero extents; existing extents stay. */
  allocate(fileOffset: bigint, length: bigint): ExtentDelta {
    if (length <= 0n) return EMPTY;
    const end = fileOffset + length;
    const holes: Array<[bigint, bigint]> = [];
    let pos = fileOffset;
    for (const c = this.#startCursor(fileOffset); c.valid && c.value.fileOffset < end; c.next()) {
      const e = c.value;
      if (e.fileOffset > pos) holes.push([pos, e.fileOffset]);
      pos = maxBig(pos, e.fileOffset + e.length);
    }
    if (pos < end) holes.push([pos, end]);
    const removed: Extent[] = [];
    const added: Extent[] = [];
    for (const [s, e] of holes) this.#insertMerged({ fileOffset: s, length: e - s, segment: 0n, segmentOffset: 0n }, removed, added);
    return normalizeDelta(removed, added);
  }

  /** Undoes `delta` (which must be the latest mutation not yet reverted). */
  revert(delta: ExtentDelta): void {
    for (const e of delta.added) this.#del(e);
    for (const e of delta.removed) this.#put(e);
  }

  /** Applies a delta recorded elsewhere (journal replay). */
  apply(delta: ExtentDelta): void {
    for (const e of delta.removed) this.#del(e);
    for (const e of delta.added) this.#put(e);
  }

  /**
   * Where the bytes of [fileOffset, +length) come from, clipped to `fileSize`. Steps are
   * contiguous and cover the clipped range exactly; holes and zero extents are segment 0n.
   */
  readPlan(fileOffset: bigint, length: bigint, fileSize: bigint): ReadStep[] {
    const end = minBig(fileOffset + length, fileSize);
    const steps: ReadStep[] = [];
    if (length <= 0n || fileOffset >= end) return steps;
    let pos = fileOffset;
    const zero = (upTo: bigint): void => {
      const last = steps[steps.length - 1];
      if (last !== undefined && last.segment === 0n) {
        steps[steps.length - 1] = { ...last, length: last.length + (upTo - pos) };
      } else {
        steps.push({ fileOffset: pos, length: upTo - pos, segment: 0n, segmentOffset: 0n });
      }
      pos = upTo;
    };
    for (const c = this.#startCursor(fileOffset); c.valid && pos < end; c.next()) {
      const e = c.value;
      if (e.fileOffset >= end) break;
      if (e.fileOffset > pos) zero(e.fileOffset);
      const stepEnd = minBig(e.fileOffset + e.length, end);
      if (stepEnd <= pos) continue;
      if (e.segment === 0n) {
        zero(stepEnd);
      } else {
        steps.push({ fileOffset: pos, length: stepEnd - pos, segment: e.segment, segmentOffset: e.segmentOffset + (pos - e.fileOffset) });
        pos = stepEnd;
      }
    }
    if (pos < end) zero(end);
    return steps;
  }

  /**
   * lseek(SEEK_DATA): the first offset >= `offset` inside an extent (data or zero extent),
   * or undefined when there is none before `fileSize` (the caller answers ENXIO).
   */
  seekData(offset: bigint, fileSize: bigint): bigint | undefined {
    if (offset >= fileSize) return undefined;
    const c = this.#startCursor(offset);
    if (!c.valid) return undefined;
    const e = c.value;
    const at = e.fileOffset <= offset ? offset : e.fileOffset;
    return at < fileSize ? at : undefined;
  }

  /** lseek(SEEK_HOLE): the first offset >= `offset` not inside an extent; EOF counts as a hole. */
  seekHole(offset: bigint, fileSize: bigint): bigint | undefined {
    if (offset >= fileSize) return undefined;
    let pos = offset;
    for (const c = this.#startCursor(offset); c.valid; c.next()) {
      const e = c.value;
      if (e.fileOffset > pos) break;
      pos = maxBig(pos, e.fileOffset + e.length);
    }
    return minBig(pos, fileSize);
  }

  /**
   * ProxyFS FetchExtentMapChunk: the data extent containing `fileOffset` (or the next one
   * after it) plus up to maxFrom-1 following and maxBefore preceding data extents. Zero extents
   * are left out (they read as zeros like holes). rangeStart is the end of the data extent
   * before the first returned one (0 if none), rangeEnd the start of the one after the last
   * returned one (fileSize if none). With no extent at or after the offset, only preceding
   * extents are returned and rangeEnd is fileSize.
   */
  fetchChunk(fileOffset: bigint, maxFrom: number, maxBefore: number, fileSize: bigint): ExtentChunk {
    const start = this.#startCursor(fileOffset);
    skipZero(start, +1);
    const out: Extent[] = [];
    // Backward part: extents strictly before the start point.
    const back = this.#cursorBefore(start);
    skipZero(back, -1);
    const before: Extent[] = [];
    while (back.valid && before.length < maxBefore) {
      before.push(back.value);
      back.prev();
      skipZero(back, -1);
    }
    const rangeStart = back.valid ? back.value.fileOffset + back.value.length : 0n;
    for (let i = before.length - 1; i >= 0; i--) out.push(before[i]!);
    let taken = 0;
    while (start.valid && taken < maxFrom) {
      out.push(start.value);
      taken++;
      start.next();
      skipZero(start, +1);
    }
    const rangeEnd = start.valid ? start.value.fileOffset : maxBig(fileSize, out.length > 0 ? out[out.length - 1]!.fileOffset + out[out.length - 1]!.length : 0n);
    return { rangeStart, rangeEnd, extents: out };
  }

  // First extent whose end is beyond `offset` (the one containing it, or the next one).
  #startCursor(offset: bigint): Cursor<bigint, Extent> {
    const c = this.#tree.floor(offset);
    if (c.valid) {
      if (c.value.fileOffset + c.value.length > offset) return c;
      c.next();
      return c;
    }
    return this.#tree.first();
  }

  // A cursor on the entry just before `c` (the last entry when `c` is past the end).
  #cursorBefore(c: Cursor<bigint, Extent>): Cursor<bigint, Extent> {
    if (!c.valid) return this.#tree.last();
    const b = this.#tree.lowerBound(c.key);
    b.prev();
    return b;
  }

  // Removes the parts of extents inside [start, end), keeping the pieces outside.
  #cut(start: bigint, end: bigint, removed: Extent[], added: Extent[]): void {
    const hit: Extent[] = [];
    for (const c = this.#startCursor(start); c.valid && c.value.fileOffset < end; c.next()) hit.push(c.value);
    for (const e of hit) {
      this.#del(e);
      removed.push(e);
      const eEnd = e.fileOffset + e.length;
      if (e.fileOffset < start) {
        const left = { fileOffset: e.fileOffset, length: start - e.fileOffset, segment: e.segment, segmentOffset: e.segmentOffset };
        this.#put(left);
        added.push(left);
      }
      if (eEnd > end) {
        const skip = end - e.fileOffset;
        const right = { fileOffset: end, length: eEnd - end, segment: e.segment, segmentOffset: e.segment === 0n ? 0n : e.segmentOffset + skip };
        this.#put(right);
        added.push(right);
      }
    }
  }

  // Inserts `x` (whose range must be free), merging with touching continuations.
  #insertMerged(x: Extent, removed: Extent[], added: Extent[]): void {
    let ext = x;
    const prev = this.#tree.floor(ext.fileOffset - 1n);
    if (prev.valid && continues(prev.value, ext)) {
      const p = prev.value;
      this.#del(p);
      removed.push(p);
      ext = { fileOffset: p.fileOffset, length: p.length + ext.length, segment: p.segment, segmentOffset: p.segmentOffset };
    }
    const end = ext.fileOffset + ext.length;
    const next = this.#tree.get(end);
    if (next !== undefined && continues(ext, next)) {
      this.#del(next);
      removed.push(next);
      ext = { ...ext, length: ext.length + next.length };
    }
    this.#put(ext);
    added.push(ext);
  }

  #put(e: Extent): void {
    this.#tree.set(e.fileOffset, e);
    this.#allocated += e.length;
    if (e.segment !== 0n) this.#segmentBytes.set(e.segment, (this.#segmentBytes.get(e.segment) ?? 0n) + e.length);
  }

  #del(e: Extent): void {
    this.#tree.delete(e.fileOffset);
    this.#allocated -= e.length;
    if (e.segment !== 0n) {
      const left = (this.#segmentBytes.get(e.segment) ?? 0n) - e.length;
      if (left === 0n) this.#segmentBytes.delete(e.segment);
      else this.#segmentBytes.set(e.segment, left);
    }
  }
}

/** Whether `b` starts where `a` ends and continues the same segment bytes (or both are zero). */
function continues(a: Extent, b: Extent): boolean {
  if (a.fileOffset + a.length !== b.fileOffset || a.segment !== b.segment) return false;
  return a.segment === 0n || a.segmentOffset + a.length === b.segmentOffset;
}

function skipZero(c: Cursor<bigint, Extent>, dir: 1 | -1): void {
  while (c.valid && c.value.segment === 0n) {
    if (dir > 0) c.next();
    else c.prev();
  }
}

// Drops extents that were both added and removed within one mutation (temporary pieces),
// so deltas stay minimal and `revert` remains exact.
function normalizeDelta(removed: Extent[], added: Extent[]): ExtentDelta {
  const addedSet = new Set(added);
  const transient = new Set<Extent>();
  for (const e of removed) if (addedSet.has(e)) transient.add(e);
  if (transient.size === 0) return { removed, added };
  return { removed: removed.filter((e) => !transient.has(e)), added: added.filter((e) => !transient.has(e)) };
}

function minBig(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function maxBig(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
