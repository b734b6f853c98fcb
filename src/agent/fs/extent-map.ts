// ExtentMap: a sorted, non-overlapping map from file byte ranges to where their bytes live.
//
// Used twice by the agent (pfsagent.md §6.2, §7.1):
//  - per file, the persisted extents learned from RpcFetchExtentMapChunk and from our own
//    completed LogSegments (`ref` = the LogSegment object; `ref === null` = a known hole);
//  - per in-flight LogSegment, which file ranges it holds (`ref` unused, objOff = offset in its buffer).
// Byte ranges that are in no extent are "unknown" (gaps): the read path asks the server about them.
//
// Offsets are JS numbers: every caller validates that file offsets and sizes stay at or below
// Number.MAX_SAFE_INTEGER (2^53 - 1 bytes = 8 PiB) before they get here, so arithmetic is exact.
//
// INVARIANT: #ext is sorted by off; extents never overlap; every len > 0.

export interface ObjectRef {
  readonly container: string;
  readonly object: string;
}

export interface Extent {
  /** File offset of the first byte. */
  off: number;
  len: number;
  /** Where the bytes live; null for a hole (zeros). */
  ref: ObjectRef | null;
  /** Offset inside the object (or LogSegment buffer) of the byte at `off`. */
  objOff: number;
}

/** One piece of a queried range: an extent clipped to the query, or a gap (`extent` undefined). */
export interface Piece {
  off: number;
  len: number;
  ref?: ObjectRef | null;
  objOff?: number;
}

export class ExtentMap {
  #ext: Extent[] = [];

  get size(): number {
    return this.#ext.length;
  }

  /** All extents in ascending order (read-only view). */
  extents(): readonly Readonly<Extent>[] {
    return this.#ext;
  }

  /** Index of the first extent whose end is beyond `pos`. */
  #firstEndingAfter(pos: number): number {
    let lo = 0;
    let hi = this.#ext.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.#ext[mid]!;
      if (e.off + e.len <= pos) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Removes [off, off+len), splitting extents that straddle the edges. Returns the insert index. */
  #cut(off: number, len: number): number {
    const end = off + len;
    let i = this.#firstEndingAfter(off);
    const insertAt = i;
    const keep: Extent[] = [];
    let j = i;
    while (j < this.#ext.length && this.#ext[j]!.off < end) {
      const e = this.#ext[j]!;
      if (e.off < off) keep.push({ off: e.off, len: off - e.off, ref: e.ref, objOff: e.objOff });
      const eEnd = e.off + e.len;
      if (eEnd > end) keep.push({ off: end, len: eEnd - end, ref: e.ref, objOff: e.objOff + (end - e.off) });
      j++;
    }
    this.#ext.splice(i, j - i, ...keep);
    // The part before `off` (if any) stays at insertAt; the new extent goes after it.
    i = insertAt;
    if (keep.length > 0 && keep[0]!.off < off) i++;
    return i;
  }

  /** Maps [off, off+len) to ref/objOff, replacing whatever was there (newest wins). */
  set(off: number, len: number, ref: ObjectRef | null, objOff: number): void {
    if (len <= 0) return;
    const i = this.#cut(off, len);
    const prev = this.#ext[i - 1];
    // Extend the previous extent when both file and object offsets are contiguous.
    if (prev && prev.off + prev.len === off && prev.ref === ref && prev.objOff + prev.len === objOff) {
      prev.len += len;
      return;
    }
    this.#ext.splice(i, 0, { off, len, ref, objOff });
  }

  /** Maps only the unknown parts of [off, off+len); known extents are kept (they are newer). */
  fillGaps(off: number, len: number, ref: ObjectRef | null, objOff: number): void {
    for (const p of this.pieces(off, off + len)) {
      if (p.ref === undefined) this.set(p.off, p.len, ref, objOff + (p.off - off));
    }
  }

  /** The pieces covering [start, end): clipped extents and gaps, in order. */
  pieces(start: number, end: number): Piece[] {
    const out: Piece[] = [];
    let pos = start;
    for (let i = this.#firstEndingAfter(start); i < this.#ext.length && pos < end; i++) {
      const e = this.#ext[i]!;
      if (e.off >= end) break;
      if (e.off > pos) {
        out.push({ off: pos, len: e.off - pos });
        pos = e.off;
      }
      const stop = Math.min(e.off + e.len, end);
      out.push({ off: pos, len: stop - pos, ref: e.ref, objOff: e.objOff + (pos - e.off) });
      pos = stop;
    }
    if (pos < end) out.push({ off: pos, len: end - pos });
    return out;
  }

  /** The first offset in [start, end) covered by no extent, or undefined. */
  firstGap(start: number, end: number): number | undefined {
    let pos = start;
    for (let i = this.#firstEndingAfter(start); i < this.#ext.length && pos < end; i++) {
      const e = this.#ext[i]!;
      if (e.off > pos) return pos;
      pos = e.off + e.len;
    }
    return pos < end ? pos : undefined;
  }

  /** Forgets everything at or beyond `size`. */
  truncate(size: number): void {
    const i = this.#firstEndingAfter(size);
    const e = this.#ext[i];
    if (e && e.off < size) {
      e.len = size - e.off;
      this.#ext.length = i + 1;
    } else {
      this.#ext.length = i;
    }
  }

  /** End of the last extent (0 when empty). */
  get end(): number {
    const last = this.#ext[this.#ext.length - 1];
    return last ? last.off + last.len : 0;
  }
}
