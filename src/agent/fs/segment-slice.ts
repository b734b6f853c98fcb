// SegmentSlice: one file's part of a LogSegment. A segment shared by many small files holds one
// slice per file; each file reports its slice's extents with its own RpcWrote once the segment's
// PUT is done.
//
// INVARIANT: extents map file ranges to offsets in `seg` below seg.length (newest write wins);
// `bytes` counts every byte this file appended (an overwrite counts twice until reported).
import { ExtentMap } from "./extent-map.js";
import type { LogSegment } from "./log-segment.js";

export class SegmentSlice {
  readonly seg: LogSegment;
  /** File range -> offset in the segment's buffer. */
  readonly extents = new ExtentMap();
  bytes = 0;
  /** False once the file must put its next writes elsewhere (it outgrew a shared segment). */
  open = true;

  constructor(seg: LogSegment) {
    this.seg = seg;
  }

  /** Whether the file may append here now. */
  get writable(): boolean {
    return this.open && this.seg.state === "open";
  }

  append(fileOffset: number, data: Buffer): void {
    if (data.length === 0) return;
    const objOff = this.seg.append(data);
    this.extents.set(fileOffset, data.length, null, objOff);
    this.bytes += data.length;
  }
}
