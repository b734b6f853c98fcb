// VolumeStore kept entirely in memory: the reference implementation and the test double.
// Directories are order-statistic B+trees keyed by name; extent maps are ExtentMaps.
// Transactions apply writes immediately and keep an undo list, so abort() restores the state
// exactly and reads inside a transaction see its own writes.

import { ExtentMap, type ExtentDelta } from "./extent-map.js";
import { SortedMap, compareNames } from "./sorted-map.js";
import type { DirEntryRecord, InodeRecord } from "./types.js";
import type { CommitRecord, Mutation, VolumeStore, VolumeTxn } from "./volume-store.js";

/** First nonce handed out: 0 means "none" and 1 is the root directory (as ProxyFS). */
export const FIRST_NONCE = 2n;

/** The state of a store as exportState() hands it out. */
export interface StoreSnapshot {
  readonly inodes: Iterable<InodeRecord>;
  readonly dirs: Iterable<[bigint, Iterable<[string, DirEntryRecord]>]>;
  readonly extentMaps: Iterable<[bigint, ExtentMap]>;
  readonly segments: Iterable<[bigint, string]>;
  readonly unreferenced: readonly bigint[];
  readonly nextNonce: bigint;
}

export class StoreStateError extends Error {
  override readonly name = "StoreStateError";
  readonly code = "ERR_VOLUME_STORE_STATE";
}

const EMPTY_EXTENT_MAP = new ExtentMap();

export interface MemoryVolumeStoreOptions {
  /** Called with every committed transaction (a journal would append it). */
  onCommit?: (record: CommitRecord) => void;
}

export class MemoryVolumeStore implements VolumeStore {
  readonly #inodes = new Map<bigint, InodeRecord>();
  readonly #dirs = new Map<bigint, SortedMap<string, DirEntryRecord>>();
  readonly #extents = new Map<bigint, ExtentMap>();
  readonly #segments = new Map<bigint, string>();
  readonly #segmentRefs = new Map<bigint, bigint>();
  readonly #unreferenced = new Set<bigint>();
  /** Sum of allocatedBytes of every extent map, kept by applyRefs (every extent change passes there). */
  #allocatedTotal = 0n;
  readonly #onCommit: ((record: CommitRecord) => void) | undefined;
  #nextNonce = FIRST_NONCE;
  #open: Txn | null = null;

  constructor(options: MemoryVolumeStoreOptions = {}) {
    this.#onCommit = options.onCommit;
  }

  begin(op: string): VolumeTxn {
    if (this.#open !== null) throw new StoreStateError(`cannot begin "${op}": transaction "${this.#open.op}" is still open`);
    const txn = new Txn(this, op);
    this.#open = txn;
    return txn;
  }

  getInode(ino: bigint): InodeRecord | undefined {
    return this.#inodes.get(ino);
  }

  inodeCount(): number {
    return this.#inodes.size;
  }

  getDirEntry(dir: bigint, name: string): DirEntryRecord | undefined {
    return this.#dirs.get(dir)?.get(name);
  }

  dirSize(dir: bigint): number {
    return this.#dirs.get(dir)?.size ?? 0;
  }

  dirRank(dir: bigint, name: string): number {
    return this.#dirs.get(dir)?.rank(name) ?? 0;
  }

  dirList(dir: bigint, start: { from: number } | { after: string }, limit: number): Array<[string, DirEntryRecord]> {
    const tree = this.#dirs.get(dir);
    const out: Array<[string, DirEntryRecord]> = [];
    if (tree === undefined || limit <= 0) return out;
    const c = "from" in start ? tree.at(start.from) : tree.upperBound(start.after);
    for (; c.valid && out.length < limit; c.next()) out.push([c.key, c.value]);
    return out;
  }

  extentMap(ino: bigint): ExtentMap {
    return this.#extents.get(ino) ?? EMPTY_EXTENT_MAP;
  }

  getSegment(segment: bigint): string | undefined {
    return this.#segments.get(segment);
  }

  segmentRefBytes(segment: bigint): bigint {
    return this.#segmentRefs.get(segment) ?? 0n;
  }

  unreferencedSegments(): bigint[] {
    return [...this.#unreferenced];
  }

  segmentCountsByContainer(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const c of this.#segments.values()) counts.set(c, (counts.get(c) ?? 0) + 1);
    return counts;
  }

  allocatedBytes(): bigint {
    return this.#allocatedTotal;
  }

  peekNonce(): bigint {
    return this.#nextNonce;
  }

  /**
   * The whole state, for checkpoint writers (persist/). Call between transactions; the
   * iterables are live views, so finish reading them before the next transaction.
   */
  exportState(): StoreSnapshot {
    if (this.#open !== null) throw new StoreStateError(`cannot export state: transaction "${this.#open.op}" is open`);
    const dirs = this.#dirs;
    return {
      inodes: this.#inodes.values(),
      dirs: (function* () {
        for (const [dir, tree] of dirs) {
          yield [dir, (function* () {
            for (const c = tree.at(0); c.valid; c.next()) yield [c.key, c.value] as [string, DirEntryRecord];
          })()] as [bigint, Iterable<[string, DirEntryRecord]>];
        }
      })(),
      extentMaps: this.#extents.entries(),
      segments: this.#segments.entries(),
      unreferenced: [...this.#unreferenced],
      nextNonce: this.#nextNonce,
    };
  }

  /** Restores the unreferenced-segment set of a loaded checkpoint (records must exist). */
  markUnreferenced(segments: Iterable<bigint>): void {
    for (const s of segments) if (!this.#segmentRefs.has(s)) this.#unreferenced.add(s);
  }

  /** Raises the nonce sequence to at least `next` (recovery: skips reserved numbers). */
  advanceNonce(next: bigint): void {
    if (this.#open !== null) throw new StoreStateError(`cannot advance the nonce: transaction "${this.#open.op}" is open`);
    if (next > this.#nextNonce) this.#nextNonce = next;
  }

  // ---- used by Txn only ----

  /** @internal */ get inodes(): Map<bigint, InodeRecord> {
    return this.#inodes;
  }
  /** @internal */ get dirs(): Map<bigint, SortedMap<string, DirEntryRecord>> {
    return this.#dirs;
  }
  /** @internal */ get extentMaps(): Map<bigint, ExtentMap> {
    return this.#extents;
  }
  /** @internal */ get segments(): Map<bigint, string> {
    return this.#segments;
  }
  /** @internal */ get unreferenced(): Set<bigint> {
    return this.#unreferenced;
  }
  /** @internal */ takeNonce(): bigint {
    return this.#nextNonce++;
  }
  /** @internal */ setNonce(next: bigint): void {
    this.#nextNonce = next;
  }

  /** @internal Adds (sign 1) or removes (sign -1) the segment references of a delta. */
  applyRefs(delta: ExtentDelta, sign: 1 | -1): void {
    for (const e of delta.added) {
      this.#addRef(e.segment, sign > 0 ? e.length : -e.length);
      this.#allocatedTotal += sign > 0 ? e.length : -e.length;
    }
    for (const e of delta.removed) {
      this.#addRef(e.segment, sign > 0 ? -e.length : e.length);
      this.#allocatedTotal += sign > 0 ? -e.length : e.length;
    }
  }

  /** @internal */ closed(txn: Txn, record: CommitRecord | null): void {
    if (this.#open === txn) this.#open = null;
    if (record !== null && this.#onCommit !== undefined) this.#onCommit(record);
  }

  #addRef(segment: bigint, bytes: bigint): void {
    if (segment === 0n || bytes === 0n) return;
    const n = (this.#segmentRefs.get(segment) ?? 0n) + bytes;
    if (n < 0n) throw new StoreStateError(`segment ${segment} reference bytes went negative (${n})`);
    if (n === 0n) {
      this.#segmentRefs.delete(segment);
      this.#unreferenced.add(segment);
    } else {
      this.#segmentRefs.set(segment, n);
      this.#unreferenced.delete(segment);
    }
  }
}

class Txn implements VolumeTxn {
  readonly op: string;
  readonly #s: MemoryVolumeStore;
  readonly #mutations: Mutation[] = [];
  readonly #undo: Array<() => void> = [];
  #done = false;

  constructor(store: MemoryVolumeStore, op: string) {
    this.#s = store;
    this.op = op;
  }

  getInode(ino: bigint): InodeRecord | undefined {
    return this.#s.getInode(ino);
  }
  inodeCount(): number {
    return this.#s.inodeCount();
  }
  getDirEntry(dir: bigint, name: string): DirEntryRecord | undefined {
    return this.#s.getDirEntry(dir, name);
  }
  dirSize(dir: bigint): number {
    return this.#s.dirSize(dir);
  }
  dirRank(dir: bigint, name: string): number {
    return this.#s.dirRank(dir, name);
  }
  dirList(dir: bigint, start: { from: number } | { after: string }, limit: number): Array<[string, DirEntryRecord]> {
    return this.#s.dirList(dir, start, limit);
  }
  extentMap(ino: bigint): ExtentMap {
    return this.#s.extentMap(ino);
  }
  getSegment(segment: bigint): string | undefined {
    return this.#s.getSegment(segment);
  }
  segmentRefBytes(segment: bigint): bigint {
    return this.#s.segmentRefBytes(segment);
  }
  unreferencedSegments(): bigint[] {
    return this.#s.unreferencedSegments();
  }

  segmentCountsByContainer(): Map<string, number> {
    return this.#s.segmentCountsByContainer();
  }
  allocatedBytes(): bigint {
    return this.#s.allocatedBytes();
  }
  peekNonce(): bigint {
    return this.#s.peekNonce();
  }

  putInode(rec: InodeRecord): void {
    this.#live();
    const inodes = this.#s.inodes;
    const old = inodes.get(rec.ino);
    inodes.set(rec.ino, rec);
    this.#undo.push(old === undefined ? () => inodes.delete(rec.ino) : () => inodes.set(rec.ino, old));
    this.#mutations.push({ op: "putInode", rec });
  }

  deleteInode(ino: bigint): void {
    this.#live();
    const inodes = this.#s.inodes;
    const old = inodes.get(ino);
    if (old === undefined) return;
    inodes.delete(ino);
    this.#undo.push(() => inodes.set(ino, old));
    this.#mutations.push({ op: "deleteInode", ino });
  }

  createDir(dir: bigint): void {
    this.#live();
    const dirs = this.#s.dirs;
    if (dirs.has(dir)) throw new StoreStateError(`directory table ${dir} already exists`);
    dirs.set(dir, new SortedMap<string, DirEntryRecord>(compareNames));
    this.#undo.push(() => dirs.delete(dir));
    this.#mutations.push({ op: "createDir", dir });
  }

  deleteDir(dir: bigint): void {
    this.#live();
    const dirs = this.#s.dirs;
    const old = dirs.get(dir);
    if (old === undefined) return;
    if (old.size !== 0) throw new StoreStateError(`directory table ${dir} is not empty (${old.size} entries)`);
    dirs.delete(dir);
    this.#undo.push(() => dirs.set(dir, old));
    this.#mutations.push({ op: "deleteDir", dir });
  }

  putDirEntry(dir: bigint, name: string, entry: DirEntryRecord): void {
    this.#live();
    const tree = this.#s.dirs.get(dir);
    if (tree === undefined) throw new StoreStateError(`no directory table ${dir}`);
    const old = tree.get(name);
    tree.set(name, entry);
    this.#undo.push(old === undefined ? () => tree.delete(name) : () => tree.set(name, old));
    this.#mutations.push({ op: "putDirEntry", dir, name, entry });
  }

  deleteDirEntry(dir: bigint, name: string): void {
    this.#live();
    const tree = this.#s.dirs.get(dir);
    const old = tree?.get(name);
    if (tree === undefined || old === undefined) return;
    tree.delete(name);
    this.#undo.push(() => tree.set(name, old));
    this.#mutations.push({ op: "deleteDirEntry", dir, name });
  }

  updateExtents(ino: bigint, change: (map: ExtentMap) => ExtentDelta): ExtentDelta {
    this.#live();
    const maps = this.#s.extentMaps;
    let map = maps.get(ino);
    const created = map === undefined;
    if (map === undefined) {
      map = new ExtentMap();
      maps.set(ino, map);
    }
    const m = map;
    const delta = change(m);
    this.#s.applyRefs(delta, 1);
    this.#undo.push(() => {
      m.revert(delta);
      this.#s.applyRefs(delta, -1);
      if (created) maps.delete(ino);
    });
    if (delta.added.length > 0 || delta.removed.length > 0) this.#mutations.push({ op: "extents", ino, delta });
    return delta;
  }

  deleteExtentMap(ino: bigint): void {
    this.#live();
    const maps = this.#s.extentMaps;
    const map = maps.get(ino);
    if (map === undefined) return;
    const delta: ExtentDelta = { removed: [...map.extents()], added: [] };
    maps.delete(ino);
    this.#s.applyRefs(delta, 1);
    this.#undo.push(() => {
      maps.set(ino, map);
      this.#s.applyRefs(delta, -1);
    });
    this.#mutations.push({ op: "deleteExtentMap", ino });
  }

  putSegment(segment: bigint, container: string): void {
    this.#live();
    const segs = this.#s.segments;
    const old = segs.get(segment);
    if (old === container) return;
    segs.set(segment, container);
    this.#undo.push(old === undefined ? () => segs.delete(segment) : () => segs.set(segment, old));
    this.#mutations.push({ op: "putSegment", segment, container });
  }

  deleteSegment(segment: bigint): void {
    this.#live();
    const segs = this.#s.segments;
    const unref = this.#s.unreferenced;
    const old = segs.get(segment);
    const wasUnref = unref.delete(segment);
    if (old !== undefined) segs.delete(segment);
    this.#undo.push(() => {
      if (old !== undefined) segs.set(segment, old);
      if (wasUnref) unref.add(segment);
    });
    this.#mutations.push({ op: "deleteSegment", segment });
  }

  allocateNonce(): bigint {
    this.#live();
    const n = this.#s.takeNonce();
    this.#undo.push(() => this.#s.setNonce(n));
    this.#mutations.push({ op: "nonce", next: n + 1n });
    return n;
  }

  commit(): void {
    this.#live();
    this.#done = true;
    this.#s.closed(this, { op: this.op, mutations: this.#mutations });
  }

  abort(): void {
    if (this.#done) return;
    this.#done = true;
    for (let i = this.#undo.length - 1; i >= 0; i--) this.#undo[i]!();
    this.#s.closed(this, null);
  }

  #live(): void {
    if (this.#done) throw new StoreStateError(`transaction "${this.op}" is already finished`);
  }
}
