// Readdir "locations" (the ProxyFS ReaddirByLoc cookies) that stay stable while the
// directory changes.
//
// ProxyFS numbers the listing by index: "." is 0, ".." is 1, real entries follow in name
// order, and each entry carries NextDirLocation = index + 1; a client continues with
// Prev = NextDirLocation - 1. With plain indexes, a create or unlink before the cursor makes
// the next call skip or repeat entries. Here every NextDirLocation handed out is remembered
// together with the name of the entry that carried it, so a continuation resumes *after that
// name* (by name, like ProxyFS's RpcReaddir) whatever changed meanwhile.
//
// Numbering still matches ProxyFS exactly while the directory does not change: an entry at
// index i gets i + 1. If that number was already handed out for a different name (the
// directory changed since), a fresh number from a per-directory counter above 2^40 is used,
// so one location never means two different names.
//
// This is soft state (not persisted, bounded): a location not remembered (evicted, or handed
// out before a restart) falls back to the index meaning, which is exactly ProxyFS's behaviour.

/** Locations >= this are unique counters, never indexes. */
export const UNIQUE_LOCATION_BASE = 1n << 40n;

interface DirState {
  names: Map<bigint, string>;
  nextUnique: bigint;
}

export class DirCursors {
  readonly #dirs = new Map<bigint, DirState>();
  readonly #perDir: number;
  readonly #maxDirs: number;

  constructor(options: { perDir?: number; maxDirs?: number } = {}) {
    this.#perDir = options.perDir ?? 8192;
    this.#maxDirs = options.maxDirs ?? 4096;
  }

  /** The name whose entry carried NextDirLocation `location`, if remembered. */
  resolve(dir: bigint, location: bigint): string | undefined {
    return this.#dirs.get(dir)?.names.get(location);
  }

  /** The NextDirLocation to hand out for `name`, preferring `preferred` (index + 1). */
  assign(dir: bigint, preferred: bigint, name: string): bigint {
    let st = this.#dirs.get(dir);
    if (st === undefined) {
      if (this.#dirs.size >= this.#maxDirs) this.#dirs.delete(this.#dirs.keys().next().value!);
      st = { names: new Map(), nextUnique: UNIQUE_LOCATION_BASE };
      this.#dirs.set(dir, st);
    }
    const known = st.names.get(preferred);
    let loc = preferred;
    if (known !== undefined && known !== name) loc = st.nextUnique++;
    if (known !== name) {
      if (st.names.size >= this.#perDir) st.names.delete(st.names.keys().next().value!);
      st.names.set(loc, name);
    }
    return loc;
  }

  /** Forgets a directory (it was removed). */
  drop(dir: bigint): void {
    this.#dirs.delete(dir);
  }
}
