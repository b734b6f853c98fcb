// FileInode: what the agent keeps about one regular file while it is open or has dirty data
// (pfsagent.md §7.1): the sizes it knows, the persisted extent map learned so far, and the FIFO of
// in-flight LogSegments whose extents must be reported with RpcWrote strictly in creation order.
//
// INVARIANT: segments[] is in creation order; only the last one can be open; a segment leaves the
// list only after its RpcWrote finished (or its PUT failed), and then its extents are already in
// extentMap (success) or writeError is set (failure).
import type { ExtentMap } from "./extent-map.js";
import type { SegmentSlice } from "./segment-slice.js";
import type { ResolvedAttrChanges } from "./set-attr-request.js";

/**
 * Attribute changes made while data was in flight (mode bits, owner, explicit atime/mtime in ns):
 * applied right after that data's RpcWrote (which would set mtime to the server's now).
 */
export type PendingAttrs = Omit<ResolvedAttrChanges, "size">;

export interface PendingSegment {
  /** This file's part of the segment (the segment itself may be shared with other files). */
  readonly slice: SegmentSlice;
  /** Attributes to set once this segment is reported (RpcWrote sets mtime to the server's now). */
  attrs?: PendingAttrs;
  /** Resolves when the segment left the list (reported or failed). Never rejects. */
  readonly done: Promise<void>;
  resolveDone(): void;
}

export class FileInode {
  readonly ino: bigint;
  /** Open file handles on this inode. */
  openCount = 0;
  /** Size from the server's latest stat (grown by our own completed writes). */
  serverSize: number | undefined;
  /**
   * Bumped whenever this agent itself moves the server's size (RpcWrote, truncate): a stat asked
   * for before the bump may be older than serverSize and must not overwrite it.
   */
  sizeEpoch = 0;
  /** Size including unreported writes; defined only while segments is non-empty. */
  localSize: number | undefined;
  /** Wall-clock ns of the latest write() buffered here: the file's mtime/ctime until the server's pass it. */
  lastWriteNs: bigint | undefined;
  /** The newest PendingAttrs not yet applied on the server: stats show them meanwhile. */
  pendingAttrs: PendingAttrs | undefined;
  /** Persisted extents learned from the server and our completed LogSegments; undefined = nothing known. */
  extentMap: ExtentMap | undefined;
  readonly segments: PendingSegment[] = [];
  /** True while the completion loop runs (RpcWrote in order). */
  pumping = false;
  /** A write failed for good since the last flush/fsync reported it (EIO there, like Linux's errseq). */
  writeError: Error | undefined;

  constructor(ino: bigint) {
    this.ino = ino;
  }

  get dirty(): boolean {
    return this.segments.length > 0;
  }

  /**
   * Bytes written into segments not yet reported with RpcWrote: allocated space the server does
   * not count yet (an overwrite inside one segment counts twice until it is reported). O(segments).
   */
  get dirtyBytes(): number {
    let n = 0;
    for (const p of this.segments) n += p.slice.bytes;
    return n;
  }

  /** This agent changed the server's size of the file (RpcWrote, resize, truncate). */
  knowSize(size: number | undefined): void {
    this.serverSize = size;
    this.sizeEpoch++;
  }

  /** The newest slice if it still accepts this file's writes. */
  openSlice(): SegmentSlice | undefined {
    const last = this.segments[this.segments.length - 1];
    return last && last.slice.writable ? last.slice : undefined;
  }

  /** The size to report: unreported writes may make the file longer than the server knows. */
  effectiveSize(serverSize: number): number {
    return this.localSize !== undefined ? Math.max(serverSize, this.localSize) : serverSize;
  }
}
