// ReadCache: the agent's global LRU of LogSegment "cache lines" (pfsagent.md §6.4).
//
// A line is ReadCacheLineSize bytes of one object, aligned to a multiple of the line size, fetched
// with one ranged GET. LogSegments are write-once, so a line never goes stale and is never
// invalidated. Concurrent readers of a missing line share one GET (single flight): the pending
// entry is in the map before the GET starts. A failed GET is removed from the cache, so the next
// reader tries again; its waiters all see the error.
//
// INVARIANT: #lines.size <= lineCount after every insert (eviction happens before inserting);
// Map insertion order is LRU order (a hit re-inserts the key at the MRU end).

export type FetchLine = (container: string, object: string, start: number, length: number) => Promise<Buffer>;

export interface ReadCacheStats {
  hits: number;
  misses: number;
  evictions: number;
  fetchErrors: number;
}

export class ReadCache {
  readonly lineSize: number;
  readonly lineCount: number;
  readonly #fetch: FetchLine;
  readonly #lines = new Map<string, Promise<Buffer>>();
  readonly stats: ReadCacheStats = { hits: 0, misses: 0, evictions: 0, fetchErrors: 0 };

  constructor(options: { lineSize: number; lineCount: number; fetch: FetchLine }) {
    if (!Number.isSafeInteger(options.lineSize) || options.lineSize < 1) throw new RangeError(`ReadCacheLineSize ${options.lineSize} must be a positive integer`);
    if (!Number.isSafeInteger(options.lineCount) || options.lineCount < 1) throw new RangeError(`ReadCacheLineCount ${options.lineCount} must be a positive integer`);
    this.lineSize = options.lineSize;
    this.lineCount = options.lineCount;
    this.#fetch = options.fetch;
  }

  get cachedLines(): number {
    return this.#lines.size;
  }

  /**
   * The line of `object` holding byte `objOff` (its first byte is at lineStart(objOff)). The buffer
   * may be shorter than lineSize at the end of the object.
   */
  line(container: string, object: string, objOff: number): Promise<Buffer> {
    const tag = Math.floor(objOff / this.lineSize);
    const key = `${container}/${object}#${tag}`;
    const hit = this.#lines.get(key);
    if (hit) {
      this.stats.hits++;
      this.#lines.delete(key);
      this.#lines.set(key, hit);
      return hit;
    }
    this.stats.misses++;
    while (this.#lines.size >= this.lineCount) {
      const oldest = this.#lines.keys().next().value as string;
      this.#lines.delete(oldest);
      this.stats.evictions++;
    }
    const p = this.#fetch(container, object, tag * this.lineSize, this.lineSize);
    this.#lines.set(key, p);
    p.catch(() => {
      this.stats.fetchErrors++;
      if (this.#lines.get(key) === p) this.#lines.delete(key);
    });
    return p;
  }

  lineStart(objOff: number): number {
    return Math.floor(objOff / this.lineSize) * this.lineSize;
  }

  /**
   * Copies object bytes [objOff, objOff+len) into `dst` at `dstOff`, one line at a time (lines
   * are fetched in parallel). @throws the fetch error, or Error when the object is shorter.
   */
  async read(container: string, object: string, objOff: number, len: number, dst: Buffer, dstOff: number): Promise<void> {
    const jobs: Promise<void>[] = [];
    let pos = objOff;
    const end = objOff + len;
    while (pos < end) {
      const start = this.lineStart(pos);
      const stop = Math.min(start + this.lineSize, end);
      const from = pos;
      jobs.push(this.line(container, object, from).then((line) => {
        const need = stop - start;
        if (line.length < need) {
          throw new ShortObjectError(`object ${container}/${object} has ${start + line.length} bytes; a file extent needs bytes up to ${stop}`);
        }
        line.copy(dst, dstOff + (from - objOff), from - start, stop - start);
      }));
      pos = stop;
    }
    await Promise.all(jobs);
  }
}

/** An extent points past the end of its object (the server's extent map and the store disagree). */
export class ShortObjectError extends Error {
  override readonly name = "ShortObjectError";
  readonly code = "ERR_SHORT_OBJECT";
}
