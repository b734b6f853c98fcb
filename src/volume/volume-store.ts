// The narrow storage boundary of a Volume. Everything a volume knows lives behind this
// interface: inode records, directory entries, extent maps, log-segment records and the nonce
// sequence. The Volume holds no durable state of its own, so a persistent store (copy-on-write
// B+tree checkpoints plus a journal) can replace MemoryVolumeStore without touching it.
//
// Every mutation happens inside a transaction: begin() -> put/delete calls -> commit() or
// abort(). A transaction is synchronous and at most one is open at a time (the volume runs one
// operation at a time on the event loop). Reads inside a transaction see its own writes.
// commit() hands the list of mutations to the store's commit hook, which is where a journal
// appends; abort() undoes every mutation of the transaction.

import type { DirEntryRecord, InodeRecord } from "./types.js";
import type { ExtentDelta, ExtentMap } from "./extent-map.js";

export interface VolumeStoreReader {
  getInode(ino: bigint): InodeRecord | undefined;
  /** Number of inode records. */
  inodeCount(): number;

  getDirEntry(dir: bigint, name: string): DirEntryRecord | undefined;
  /** Number of entries of `dir`, excluding "." and ".." (which are not stored). */
  dirSize(dir: bigint): number;
  /** Number of entries of `dir` whose name sorts before `name` (code point order). */
  dirRank(dir: bigint, name: string): number;
  /**
   * Up to `limit` entries in name order, starting at index `from` (0-based over the sorted
   * entries) or just after the name `after`.
   */
  dirList(dir: bigint, start: { from: number } | { after: string }, limit: number): Array<[string, DirEntryRecord]>;

  /** The extent map of a file (empty for a file with no extents). Read-only use. */
  extentMap(ino: bigint): ExtentMap;

  /** Container name of a log segment, if recorded. */
  getSegment(segment: bigint): string | undefined;
  /** Bytes of all files referencing `segment` (0n when none). */
  segmentRefBytes(segment: bigint): bigint;
  /** Segments whose reference count fell to zero and are not yet deleted. */
  unreferencedSegments(): bigint[];
  /** Log-segment records per container (O(segments): for start-up, not for the data path). */
  segmentCountsByContainer(): Map<string, number>;
  /**
   * Bytes covered by the extents of all files, data and zero (fallocated) extents alike: the
   * volume's used space (statfs). A running total, O(1); loading state through transactions
   * (checkpoint load, journal replay) rebuilds it.
   */
  allocatedBytes(): bigint;

  /** The next nonce that allocateNonce would return (for statistics and tests). */
  peekNonce(): bigint;
}

/** One recorded mutation (what a journal writes). */
export type Mutation =
  | { readonly op: "putInode"; readonly rec: InodeRecord }
  | { readonly op: "deleteInode"; readonly ino: bigint }
  | { readonly op: "putDirEntry"; readonly dir: bigint; readonly name: string; readonly entry: DirEntryRecord }
  | { readonly op: "deleteDirEntry"; readonly dir: bigint; readonly name: string }
  | { readonly op: "createDir"; readonly dir: bigint }
  | { readonly op: "deleteDir"; readonly dir: bigint }
  | { readonly op: "extents"; readonly ino: bigint; readonly delta: ExtentDelta }
  | { readonly op: "deleteExtentMap"; readonly ino: bigint }
  | { readonly op: "putSegment"; readonly segment: bigint; readonly container: string }
  | { readonly op: "deleteSegment"; readonly segment: bigint }
  | { readonly op: "nonce"; readonly next: bigint };

export interface VolumeTxn extends VolumeStoreReader {
  putInode(rec: InodeRecord): void;
  deleteInode(ino: bigint): void;
  /** Creates the (empty) entry table of a new directory. */
  createDir(dir: bigint): void;
  /** Drops the entry table of a directory (which must be empty). */
  deleteDir(dir: bigint): void;
  putDirEntry(dir: bigint, name: string, entry: DirEntryRecord): void;
  deleteDirEntry(dir: bigint, name: string): void;
  /** Runs `change` on the file's extent map and records the delta it returns. */
  updateExtents(ino: bigint, change: (map: ExtentMap) => ExtentDelta): ExtentDelta;
  /** Drops a file's extent map, releasing its segment references. */
  deleteExtentMap(ino: bigint): void;
  putSegment(segment: bigint, container: string): void;
  deleteSegment(segment: bigint): void;
  /** A number never returned before by this store (inode numbers, segment numbers). */
  allocateNonce(): bigint;
  commit(): void;
  abort(): void;
}

export interface CommitRecord {
  /** Name of the volume operation, e.g. "create". */
  readonly op: string;
  readonly mutations: readonly Mutation[];
}

export interface VolumeStore extends VolumeStoreReader {
  begin(op: string): VolumeTxn;
}
