// ExtentFile: the contents of one MemFs regular file as a sorted list of extents, so that holes
// cost no memory (a 1 TiB file holding a few bytes is a few bytes), read as zeros, and are found
// by SEEK_DATA/SEEK_HOLE.
//
// INVARIANTS: extents are sorted by `off`, never overlap and are never empty; every extent ends at
// or before `size`. An extent with `buf === null` is allocated but unwritten (fallocate): it reads
// as zeros, counts in st_blocks and is reported as data by SEEK_DATA (as tmpfs does).
// Offsets are JS numbers: MemFs caps files at MAX_FILE_SIZE (2^52), so every offset and length
// here is an exact integer (< 2^53); callers convert from bigint after checking that bound.

/** Largest file size MemFs accepts (writes or truncates beyond it fail with EFBIG). */
export const MAX_FILE_SIZE = 2 ** 52;

interface Extent {
  off: number;
  len: number;
  /** null: allocated but unwritten (reads as zeros). */
  buf: Buffer | null;
  /**
   * Backing store with spare capacity that `buf` is the start of, so appends grow the extent in
   * amortized O(1). Only an extent that owns its whole backing store has one: pieces split off
   * by #cut share memory with their siblings and must never grow in place.
   */
  room?: Buffer;
}

/** Small neighbouring writes are coalesced up to this size, so a file written 4 KiB at a time does not hold thousands of extents. */
const COALESCE_LIMIT = 1 << 20;

export class ExtentFile {
  #ext: Extent[] = [];
  #size = 0;
  /** Bytes held in memory (written extents only). */
  #memBytes = 0;
  /** Bytes allocated (written and unwritten extents). */
  #allocBytes = 0;

  get size(): number { return this.#size; }
  get memBytes(): number { return this.#memBytes; }
  get allocatedBytes(): number { return this.#allocBytes; }
  get extentCount(): number { return this.#ext.length; }

  /** Index of the first extent that ends after `off`. */
  #firstEndingAfter(off: number): number {
    let lo = 0;
    let hi = this.#ext.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.#ext[mid]!;
      if (e.off + e.len <= off) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #account(e: Extent, sign: 1 | -1): void {
    this.#allocBytes += sign * e.len;
    if (e.buf) this.#memBytes += sign * e.len;
  }

  /** Removes [start, end) from the extent list, trimming or splitting the extents it cuts. Returns the index where the range was. */
  #cut(start: number, end: number): number {
    const i = this.#firstEndingAfter(start);
    let j = i;
    const keep: Extent[] = [];
    while (j < this.#ext.length && this.#ext[j]!.off < end) {
      const e = this.#ext[j]!;
      this.#account(e, -1);
      if (e.off < start) {
        const head: Extent = { off: e.off, len: start - e.off, buf: e.buf ? e.buf.subarray(0, start - e.off) : null };
        keep.push(head);
      }
      const eEnd = e.off + e.len;
      if (eEnd > end) {
        const tail: Extent = { off: end, len: eEnd - end, buf: e.buf ? e.buf.subarray(end - e.off) : null };
        keep.push(tail);
      }
      j++;
    }
    for (const k of keep) this.#account(k, 1);
    this.#ext.splice(i, j - i, ...keep);
    // Where [start, end) now sits: after a kept head, if any.
    return keep.length > 0 && keep[0]!.off < start ? i + 1 : i;
  }

  #insert(at: number, e: Extent): void {
    const prev = this.#ext[at - 1];
    if (prev && prev.buf && e.buf && prev.off + prev.len === e.off && prev.len + e.len <= COALESCE_LIMIT) {
      const len = prev.len + e.len;
      if (!prev.room || prev.room.length < len) {
        const room = Buffer.allocUnsafe(Math.min(COALESCE_LIMIT, Math.max(len * 2, 64 * 1024)));
        prev.buf.copy(room, 0);
        prev.room = room;
      }
      e.buf.copy(prev.room, prev.len);
      this.#account(prev, -1);
      prev.buf = prev.room.subarray(0, len);
      prev.len = len;
      this.#account(prev, 1);
      return;
    }
    this.#ext.splice(at, 0, e);
    this.#account(e, 1);
  }

  /** Writes `data` at `off`, extending the size if needed. The buffer is copied. */
  write(off: number, data: Buffer): void {
    if (data.length === 0) return;
    const end = off + data.length;
    // Fast path: an overwrite inside one written extent.
    const i = this.#firstEndingAfter(off);
    const e = this.#ext[i];
    if (e && e.buf && e.off <= off && e.off + e.len >= end) {
      data.copy(e.buf, off - e.off);
    } else {
      const at = this.#cut(off, end);
      this.#insert(at, { off, len: data.length, buf: Buffer.from(data) });
    }
    if (end > this.#size) this.#size = end;
  }

  /** Reads up to `len` bytes at `off` (short at end of file); holes read as zeros. */
  read(off: number, len: number): Buffer {
    if (off >= this.#size || len <= 0) return Buffer.alloc(0);
    const end = Math.min(off + len, this.#size);
    const out = Buffer.alloc(end - off);
    for (let i = this.#firstEndingAfter(off); i < this.#ext.length; i++) {
      const e = this.#ext[i]!;
      if (e.off >= end) break;
      if (!e.buf) continue;
      const from = Math.max(off, e.off);
      const to = Math.min(end, e.off + e.len);
      e.buf.copy(out, from - off, from - e.off, to - e.off);
    }
    return out;
  }

  /** Sets the size: shrinking drops data past it; growing adds a hole. */
  truncate(size: number): void {
    if (size < this.#size) this.#cut(size, this.#size);
    this.#size = size;
  }

  /** Deallocates [off, off+len) (it reads as zeros). The size does not change. */
  punch(off: number, len: number): void {
    const end = Math.min(off + len, this.#size);
    if (end > off) this.#cut(off, end);
  }

  /** Allocates [off, off+len) without changing written data; grows the size unless keepSize. */
  allocate(off: number, len: number, keepSize: boolean): void {
    const end = off + len;
    // Fill only the holes inside the range with unwritten extents.
    let pos = off;
    let i = this.#firstEndingAfter(off);
    while (pos < end) {
      const e = this.#ext[i];
      const holeEnd = e ? Math.min(e.off, end) : end;
      if (holeEnd > pos) {
        this.#ext.splice(i, 0, { off: pos, len: holeEnd - pos, buf: null });
        this.#account(this.#ext[i]!, 1);
        i++;
      }
      if (!e || e.off >= end) break;
      pos = e.off + e.len;
      i++;
    }
    if (!keepSize && end > this.#size) this.#size = end;
    else if (keepSize && end > this.#size) {
      // Allocation past EOF with KEEP_SIZE is kept only up to the size: the invariant is that no
      // extent ends past the size (real file systems keep it as preallocation; nothing observable differs but st_blocks).
      this.#cut(this.#size, end);
    }
  }

  /** Zeroes [off, off+len) (as a hole); grows the size unless keepSize. */
  zeroRange(off: number, len: number, keepSize: boolean): void {
    this.punch(off, len);
    this.allocate(off, len, keepSize);
  }

  /** SEEK_DATA: the first offset >= off inside data, or null past the last data (ENXIO). */
  seekData(off: number): number | null {
    if (off >= this.#size) return null;
    const i = this.#firstEndingAfter(off);
    const e = this.#ext[i];
    if (!e) return null;
    return Math.max(e.off, off);
  }

  /** SEEK_HOLE: the first offset >= off inside a hole (the size counts as a hole), or null past EOF (ENXIO). */
  seekHole(off: number): number | null {
    if (off >= this.#size) return null;
    let pos = off;
    for (let i = this.#firstEndingAfter(off); i < this.#ext.length; i++) {
      const e = this.#ext[i]!;
      if (e.off > pos) return pos;
      pos = e.off + e.len;
    }
    return Math.min(pos, this.#size);
  }

  /** Copies all data (for copy_file_range of whole ranges) as extents [off, buf]. */
  *dataRanges(off: number, end: number): Generator<{ off: number; len: number }> {
    for (let i = this.#firstEndingAfter(off); i < this.#ext.length; i++) {
      const e = this.#ext[i]!;
      if (e.off >= end) break;
      const from = Math.max(off, e.off);
      const to = Math.min(end, e.off + e.len);
      yield { off: from, len: to - from };
    }
  }
}
