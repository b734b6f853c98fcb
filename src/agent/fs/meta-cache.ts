// MetaCache: directory entries, negative lookups and the attributes of a directory's children,
// cached while the agent holds a lease on that directory (the MetaCache capability: proxyfsd
// revokes the leases other mounts hold on a directory before changing its entries, and on every
// directory under which a mount learned an inode's attributes before changing that inode).
// What is cached here may also be handed to the kernel with a long TTL; the names and inodes that
// were are remembered, so that when the lease goes (interrupt, LRU release, re-mount, eviction)
// the kernel is told to drop them (FUSE_NOTIFY_INVAL_ENTRY / _INODE) before the lease is answered.
//
// INVARIANTS: a DirState exists only with a Ticket of its directory's lease; a state whose ticket
// is no longer valid is dropped at its next use (the lease went without dropCaches reaching it).
// `attrs` holds an inode's stat only while at least one cached directory covers it (its `dirs`),
// and is learned only from a reply the server covered (lookup-plus, readdir-plus, Plus replies).
// The total of entries, absent names and attributes stays <= limit (least recently used
// directories are dropped first).
import type { StatStruct } from "../../proto/index.js";
import type { Ticket } from "./lease-table.js";

export interface MetaCacheHooks {
  /** Whether the lease a ticket proves is still held. */
  valid(t: Ticket): boolean;
  /** Drops the kernel's dentry of `name` in `parent` (also a negative one). */
  invalidateEntry(parent: bigint, name: string): void;
  /** Drops the kernel's cached attributes of an inode. */
  invalidateInode(ino: bigint): void;
}

interface DirState {
  readonly ticket: Ticket;
  readonly entries: Map<string, bigint>;
  readonly absent: Set<string>;
  /** Names (present or absent) the kernel was given with a long entry TTL. */
  readonly kernelNames: Set<string>;
  /**
   * The directory's own attributes: every change of them goes through a change of the directory
   * that the server fences on this very lease, so they are as safe as its entries.
   */
  self?: StatStruct;
  /** The kernel was given `self` with a long TTL. */
  selfKernel?: boolean;
  /**
   * Every name of the directory is in `entries` (it was listed under this lease and every change
   * since was this agent's own, modelled): a name not in `entries` is absent, no server asked.
   */
  complete?: boolean;
  /** A listing to make it complete was tried under this lease (once is enough). */
  listTried?: boolean;
  /** Bumped by every change this agent makes: a listing that raced one is not trusted. */
  version: number;
}

/** `name` is known absent from the directory: noted so, or missing from a complete listing. */
function isAbsent(s: DirState, name: string): boolean {
  return s.absent.has(name) || (s.complete === true && !s.entries.has(name));
}

interface ChildAttrs {
  stat: StatStruct;
  readonly dirs: Set<bigint>;
  /** The kernel was given these attributes with a long TTL. */
  kernel: boolean;
}

export type CachedLookup = { kind: "found"; ino: bigint; stat: StatStruct } | { kind: "absent" };

export interface MetaCacheStats {
  metaCacheHits: number;
  metaCacheMisses: number;
  metaCacheEvictions: number;
  metaCacheDirs: number;
  metaCacheItems: number;
}

export class MetaCache {
  readonly #limit: number;
  readonly #hooks: MetaCacheHooks;
  /** Least recently used first. */
  readonly #dirs = new Map<bigint, DirState>();
  readonly #attrs = new Map<bigint, ChildAttrs>();
  #items = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(limit: number, hooks: MetaCacheHooks) {
    if (!(limit >= 1)) throw new RangeError("MetaCacheLimit must be at least 1");
    this.#limit = limit;
    this.#hooks = hooks;
  }

  get stats(): MetaCacheStats {
    return { metaCacheHits: this.#hits, metaCacheMisses: this.#misses, metaCacheEvictions: this.#evictions, metaCacheDirs: this.#dirs.size, metaCacheItems: this.#items };
  }

  /** The state of `dir` if its lease still holds (touched as most recently used). */
  #state(dir: bigint): DirState | undefined {
    const s = this.#dirs.get(dir);
    if (s === undefined) return undefined;
    if (!this.#hooks.valid(s.ticket)) {
      this.drop(dir, true);
      return undefined;
    }
    this.#dirs.delete(dir);
    this.#dirs.set(dir, s);
    return s;
  }

  /** The state of `dir` for filling under `ticket` (a new one when the lease changed). */
  #fill(dir: bigint, ticket: Ticket): DirState | undefined {
    if (!this.#hooks.valid(ticket)) return undefined;
    let s = this.#state(dir);
    if (s !== undefined && s.ticket.gen !== ticket.gen) {
      this.drop(dir, true);
      s = undefined;
    }
    if (s === undefined) {
      s = { ticket, entries: new Map(), absent: new Set(), kernelNames: new Set(), version: 0 };
      this.#dirs.set(dir, s);
    }
    return s;
  }

  /** The ticket `dir`'s cached state lives under, while its lease holds. */
  ticketOf(dir: bigint): Ticket | undefined {
    return this.#state(dir)?.ticket;
  }

  /** Whether `dir`'s contents are cached under a lease now. */
  leased(dir: bigint): boolean {
    return this.#state(dir) !== undefined;
  }

  /** A lookup answered from the cache, or undefined (ask the server). */
  lookup(dir: bigint, name: string): CachedLookup | undefined {
    const s = this.#state(dir);
    if (s !== undefined) {
      if (isAbsent(s, name)) {
        this.#hits++;
        s.kernelNames.add(name); // the kernel may keep the negative entry long
        return { kind: "absent" };
      }
      const ino = s.entries.get(name);
      const a = ino === undefined ? undefined : this.#attrs.get(ino);
      if (ino !== undefined && a !== undefined) {
        this.#hits++;
        return { kind: "found", ino, stat: a.stat };
      }
    }
    this.#misses++;
    return undefined;
  }

  /**
   * Whether to list `dir` now to make it complete (see DirState.complete): once per lease. Returns
   * the version a listing must still see for noteListing to accept it, or undefined.
   */
  startListing(dir: bigint, ticket: Ticket): number | undefined {
    const s = this.#fill(dir, ticket);
    if (s === undefined || s.complete === true || s.listTried === true) return undefined;
    s.listTried = true;
    return s.version;
  }

  /**
   * The whole of `dir` as listed under `ticket`: accepted only if the lease and the version are
   * still those startListing saw (no change of this agent's raced the listing).
   */
  noteListing(dir: bigint, ticket: Ticket, version: number, entries: ReadonlyArray<{ name: string; ino: bigint; stat: StatStruct }>): boolean {
    const s = this.#dirs.get(dir);
    if (s === undefined || s.ticket.gen !== ticket.gen || s.version !== version || !this.#hooks.valid(ticket)) return false;
    for (const e of entries) this.noteEntry(dir, e.name, e.ino, e.stat, ticket);
    if (this.#dirs.get(dir) !== s) return false; // evicted meanwhile (MetaCacheLimit)
    s.complete = true;
    return true;
  }

  /** Whether `name` is known absent from `dir` (no hit counted). */
  knownAbsent(dir: bigint, name: string): boolean {
    const s = this.#state(dir);
    return s !== undefined && isAbsent(s, name);
  }

  /** The inode `name` in `dir` names, if cached (no stat needed). */
  entry(dir: bigint, name: string): bigint | undefined {
    return this.#state(dir)?.entries.get(name);
  }

  /** A directory's own attributes, learned under `ticket` (its lease). */
  noteSelf(dir: bigint, stat: StatStruct, ticket: Ticket): boolean {
    const s = this.#fill(dir, ticket);
    if (s === undefined) return false;
    s.self = stat;
    s.selfKernel = true;
    return true;
  }

  /**
   * This agent changed `dir`'s entries: its own attributes moved. `at` (the new child's ctime,
   * which the server also gave the directory's mtime and ctime) and `linkDelta` (a subdirectory
   * made) update them exactly; without `at` they are forgotten.
   */
  dirChanged(dir: bigint, at?: bigint, linkDelta = 0n): void {
    // Its copy as a child of its parent's cache is stale too (the kernel learns from the reply).
    if (this.#attrs.delete(dir)) this.#items--;
    const s = this.#dirs.get(dir);
    if (s !== undefined) s.version++;
    if (s?.self === undefined) return;
    s.self = at === undefined ? undefined : { ...s.self, MTimeNs: at, CTimeNs: at, NumLinks: s.self.NumLinks + linkDelta };
  }

  /** Cached attributes of an inode: a leased directory's own, or a child's covered by one. */
  attrs(ino: bigint): StatStruct | undefined {
    const own = this.#dirs.get(ino)?.self;
    if (own !== undefined && this.#state(ino) !== undefined) {
      this.#hits++;
      return own;
    }
    const a = this.#attrs.get(ino);
    if (a === undefined) return undefined;
    for (const d of a.dirs) {
      if (this.#state(d) !== undefined) {
        this.#hits++;
        return a.stat;
      }
    }
    return undefined;
  }

  /** Learned under `ticket` (a lease on `dir`): `name` names `ino`, whose attributes are `stat`. */
  noteEntry(dir: bigint, name: string, ino: bigint, stat: StatStruct | undefined, ticket: Ticket): boolean {
    const s = this.#fill(dir, ticket);
    if (s === undefined) return false;
    if (s.absent.delete(name)) this.#items--;
    if (!s.entries.has(name)) this.#items++;
    s.entries.set(name, ino);
    s.kernelNames.add(name); // conservatively: whatever is cached may be handed out long
    if (stat !== undefined) {
      let a = this.#attrs.get(ino);
      if (a === undefined) {
        a = { stat, dirs: new Set(), kernel: true };
        this.#attrs.set(ino, a);
        this.#items++;
      }
      a.stat = stat;
      a.dirs.add(dir);
    }
    this.#bound();
    return true;
  }

  /** Learned under `ticket`: `name` is absent from `dir`. */
  noteAbsent(dir: bigint, name: string, ticket: Ticket): boolean {
    const s = this.#fill(dir, ticket);
    if (s === undefined) return false;
    if (s.entries.delete(name)) this.#items--;
    if (!s.absent.has(name)) this.#items++;
    s.absent.add(name);
    s.kernelNames.add(name);
    this.#bound();
    return true;
  }

  /** This agent renamed an entry to `name` in `dir`: it names `ino` now (attributes unknown). */
  renamedTo(dir: bigint, name: string, ino: bigint): void {
    const s = this.#state(dir);
    if (s === undefined) return;
    s.version++;
    if (s.absent.delete(name)) this.#items--;
    if (!s.entries.has(name)) this.#items++;
    s.entries.set(name, ino);
    s.kernelNames.add(name);
    this.#bound();
  }

  /** This agent removed `name` from `dir` (it is absent now, if the directory is cached). */
  removed(dir: bigint, name: string): void {
    const s = this.#state(dir);
    if (s === undefined) return;
    s.version++;
    if (s.entries.delete(name)) this.#items--;
    if (!s.absent.has(name)) this.#items++;
    s.absent.add(name);
    s.kernelNames.add(name);
  }

  /** Forgets one name of `dir` (this agent changed it in a way not worth modelling). */
  forgetName(dir: bigint, name: string): void {
    const s = this.#dirs.get(dir);
    if (s === undefined) return;
    s.complete = false;
    s.version++;
    if (s.entries.delete(name)) this.#items--;
    if (s.absent.delete(name)) this.#items--;
  }

  /**
   * This agent changed the inode: its cached attributes are stale. With `kernel`, the kernel's
   * long-lived copy is dropped too (for changes whose FUSE reply does not carry attributes).
   */
  forgetAttrs(ino: bigint, kernel = false): void {
    const a = this.#attrs.get(ino);
    if (a === undefined) return;
    this.#attrs.delete(ino);
    this.#items--;
    if (kernel && a.kernel) this.#hooks.invalidateInode(ino);
  }

  /** This agent changed the inode and the server replied with its new attributes. */
  updateAttrs(ino: bigint, stat: StatStruct): void {
    const a = this.#attrs.get(ino);
    if (a !== undefined) a.stat = stat;
  }

  /** The kernel was handed `name` in `dir` (present or absent) with a long TTL. */
  kernelHasEntry(dir: bigint, name: string): void {
    this.#dirs.get(dir)?.kernelNames.add(name);
  }

  /** The kernel was handed the attributes of `ino` with a long TTL. */
  kernelHasAttrs(ino: bigint): void {
    const a = this.#attrs.get(ino);
    if (a !== undefined) a.kernel = true;
    const s = this.#dirs.get(ino);
    if (s?.self !== undefined) s.selfKernel = true;
  }

  /**
   * The lease on `dir` is going (or the state is evicted): forget its entries and the attributes
   * only it covered, and with `kernel` tell the kernel to drop what it was given of them.
   */
  drop(dir: bigint, kernel: boolean): void {
    const s = this.#dirs.get(dir);
    if (s === undefined) return;
    this.#dirs.delete(dir);
    this.#items -= s.entries.size + s.absent.size;
    for (const ino of s.entries.values()) {
      const a = this.#attrs.get(ino);
      if (a === undefined || !a.dirs.delete(dir) || a.dirs.size > 0) continue;
      this.#attrs.delete(ino);
      this.#items--;
      if (kernel && a.kernel) this.#hooks.invalidateInode(ino);
    }
    if (kernel) for (const name of s.kernelNames) this.#hooks.invalidateEntry(dir, name);
    if (kernel && s.selfKernel === true) this.#hooks.invalidateInode(dir);
  }

  /** Everything goes (re-mount: the old mount's leases are gone). */
  dropAll(): void {
    for (const dir of [...this.#dirs.keys()]) this.drop(dir, true);
  }

  #bound(): void {
    while (this.#items > this.#limit && this.#dirs.size > 0) {
      const oldest = this.#dirs.keys().next().value as bigint;
      this.drop(oldest, true);
      this.#evictions++;
    }
  }
}
