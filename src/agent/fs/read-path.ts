// ReadPath: the read side of AgentFs (pfsagent.md §6). A read learns the persisted extents of the
// range with RpcFetchExtentMapChunk (kept in the file's extent map, capped over all files by
// ExtentMapEntryLimit, see extent-lru.ts), GETs them through the ReadCache, and overlays the
// file's in-flight LogSegments (our own unreported writes).
// Semantics (pfsagent.md §12): a read never holds a lock across object GETs (#17); a file with
// size > 0 and no extents reads as zeros (#15).
import { Errno, FsError } from "../../base/errno.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import { ExtentMap } from "./extent-map.js";
import type { FileInode } from "./file-inode.js";
import { safeNumber, toFsError } from "./fs-errors.js";
import { O_ACCMODE, O_WRONLY } from "./ports.js";
import { ReadCache } from "./read-cache.js";

export class ReadPath {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  readonly cache: ReadCache;

  constructor(ctx: AgentContext, attrs: AttrCache) {
    this.#ctx = ctx;
    this.#attrs = attrs;
    this.cache = new ReadCache({
      lineSize: ctx.o.readCacheLineSize,
      lineCount: ctx.o.readCacheLineCount,
      fetch: (container, object, start, length) => this.#fetchLine(container, object, start, length),
    });
  }

  async read(ino: bigint, fh: bigint, offset: bigint, size: number): Promise<Buffer> {
    const c = this.#ctx;
    const h = c.handle(fh, ino, false);
    if ((h.flags & O_ACCMODE) === O_WRONLY) throw new FsError(Errno.EBADF, `file handle ${fh} is open write-only`);
    const f = c.file(ino);
    // A Shared lease makes a writer elsewhere flush first (it may have been revoked since OPEN).
    const t = c.leases !== undefined ? await c.leases.acquire(ino, "shared") : undefined;
    if (f.serverSize === undefined && !f.dirty) await (t !== undefined ? this.#attrs.leasedStat(ino) : this.#attrs.getStat(ino));
    const fileSize = f.effectiveSize(f.serverSize ?? 0);
    if (offset >= BigInt(fileSize) || size <= 0) return Buffer.alloc(0);
    const start = Number(offset);
    const end = Math.min(start + size, fileSize);
    c.extents.beginPopulating(ino);
    try {
      await this.#populateExtentMap(f, start, end);
    } finally {
      c.extents.endPopulating(ino);
    }
    // Snapshot synchronously: persisted extents, then in-flight segments oldest first (later
    // ones override earlier ones and all override persisted data). Segments keep their buffers.
    const out = Buffer.alloc(end - start);
    const pieces = f.extentMap ? f.extentMap.pieces(start, end) : [];
    const overlays: Array<() => void> = [];
    for (const p of f.segments) {
      for (const piece of p.slice.extents.pieces(start, end)) {
        if (piece.ref === undefined) continue;
        const seg = p.slice.seg;
        overlays.push(() => seg.copyOut(piece.objOff!, piece.len, out, piece.off - start));
      }
    }
    if (overlays.length > 0) c.stats.logSegmentReadHits++;
    c.extents.touch(f);
    c.extents.enforce(); // after the snapshot: this read needs the map no more
    const gets: Promise<void>[] = [];
    for (const p of pieces) {
      if (!p.ref) continue; // hole or gap: zeros
      gets.push(this.cache.read(p.ref.container, p.ref.object, p.objOff!, p.len, out, p.off - start));
    }
    try {
      await Promise.all(gets);
    } catch (err) {
      throw toFsError(err, Errno.EIO, `reading inode ${ino}`);
    }
    for (const o of overlays) o();
    return out;
  }

  /** Learns the persisted extents covering [start, end) with RpcFetchExtentMapChunk (§6.2). */
  async #populateExtentMap(f: FileInode, start: number, end: number): Promise<void> {
    const c = this.#ctx;
    f.extentMap ??= new ExtentMap();
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const map: ExtentMap = f.extentMap ?? (f.extentMap = new ExtentMap());
      const gap = map.firstGap(start, end);
      if (gap === undefined) return;
      if (f.serverSize !== undefined && gap >= f.serverSize) {
        // Past the server's EOF only our own unreported writes (overlaid by read) can exist.
        map.fillGaps(gap, end - gap, null, 0);
        continue;
      }
      c.stats.extentMapFetches++;
      const r = await c.call("RpcFetchExtentMapChunk", {
        ...c.h(f.ino), FileOffset: BigInt(gap),
        MaxEntriesFromFileOffset: BigInt(c.o.fetchExtentsFromFileOffset), MaxEntriesBeforeFileOffset: BigInt(c.o.fetchExtentsBeforeFileOffset),
      });
      const m: ExtentMap = f.extentMap ?? (f.extentMap = new ExtentMap());
      // Fetched extents only fill unknown ranges: what we already know (our own completed
      // writes) is at least as new as the server's answer.
      let pos = safeNumber(r.FileOffsetRangeStart, "FileOffsetRangeStart");
      const rangeEnd = safeNumber(r.FileOffsetRangeEnd, "FileOffsetRangeEnd");
      for (const e of r.ExtentMapEntry ?? []) {
        const eOff = safeNumber(e.FileOffset, "extent FileOffset");
        const eLen = safeNumber(e.Length, "extent Length");
        if (eOff > pos) m.fillGaps(pos, eOff - pos, null, 0);
        if (eLen > 0) m.fillGaps(eOff, eLen, { container: e.ContainerName, object: e.ObjectName }, safeNumber(e.LogSegmentOffset, "extent LogSegmentOffset"));
        pos = Math.max(pos, eOff + eLen);
      }
      if (rangeEnd > pos) m.fillGaps(pos, rangeEnd - pos, null, 0);
      // Nothing known at `gap` (past the server's EOF, or a file with no extents): zeros.
      if (m.firstGap(gap, gap + 1) !== undefined) {
        const next = m.pieces(gap, end).find((p) => p.ref !== undefined);
        m.fillGaps(gap, (next ? next.off : end) - gap, null, 0);
      }
    }
    throw new FsError(Errno.EIO, `extent map of inode ${f.ino} did not converge`);
  }

  async #fetchLine(container: string, object: string, start: number, length: number): Promise<Buffer> {
    const r = await this.#ctx.store.getObject(container, object, { range: { offset: start, length } });
    return r.body;
  }
}
