// ExtentLru: ExtentMapEntryLimit. Caps the extent entries cached over all files: least recently
// read maps are dropped beyond it (never a map a read is populating now).
//
// INVARIANT: `#lru` holds exactly the tracked FileInodes whose extentMap may be set, least
// recently used first (Map insertion order); a FileInode leaves it when its map is dropped or
// the file is forgotten.
import type { FileInode } from "./file-inode.js";

export class ExtentLru {
  readonly #limit: number;
  readonly #stats: { extentMapEvictions: number };
  /** Files with a cached extent map, least recently read first (ExtentMapEntryLimit). */
  readonly #lru = new Map<bigint, FileInode>();
  /** Reads populating an extent map now, per inode: such maps are not evicted. */
  readonly #populating = new Map<bigint, number>();

  constructor(limit: number, stats: { extentMapEvictions: number }) {
    this.#limit = limit;
    this.#stats = stats;
  }

  /** Extent entries cached now over all files. */
  entries(): number {
    let n = 0;
    for (const f of this.#lru.values()) n += f.extentMap?.size ?? 0;
    return n;
  }

  /** ExtentMapEntryLimit: drops least recently read extent maps (not those being populated). */
  enforce(): void {
    let total = this.entries();
    if (total <= this.#limit) return;
    for (const [ino, f] of this.#lru) {
      if (total <= this.#limit) break;
      if (this.#populating.has(ino)) continue;
      total -= f.extentMap?.size ?? 0;
      f.extentMap = undefined;
      this.#lru.delete(ino);
      this.#stats.extentMapEvictions++;
    }
  }

  /** Marks f's extent map as just used (LRU for ExtentMapEntryLimit). */
  touch(f: FileInode): void {
    this.#lru.delete(f.ino);
    if (f.extentMap) this.#lru.set(f.ino, f);
  }

  delete(ino: bigint): void {
    this.#lru.delete(ino);
  }

  /** A read starts filling ino's extent map: it is not evicted until endPopulating. */
  beginPopulating(ino: bigint): void {
    this.#populating.set(ino, (this.#populating.get(ino) ?? 0) + 1);
  }

  endPopulating(ino: bigint): void {
    const n = this.#populating.get(ino)! - 1;
    if (n > 0) this.#populating.set(ino, n);
    else this.#populating.delete(ino);
  }
}
