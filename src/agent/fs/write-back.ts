// WriteBack: the write path of AgentFs (pfsagent.md §7). Writes are appended to the file's open
// LogSegment; each segment is PUT to the object store and then reported with RpcWrote, strictly
// in creation order per file (the pump). Small files (up to sharedSegmentFileLimit bytes) share
// one open segment: untar-like work makes one PUT for many files instead of one each; a file
// that outgrows it continues in segments of its own. DirtyLogSegmentLimit tokens cap the segments in flight,
// DirtyFileLimit the files with dirty data (the oldest are flushed first).
// Semantics chosen where the 1.17.1 agent had bugs (pfsagent.md §12), and why:
//  - close (flush) and fsync both wait until the file's data is PUT and RpcWrote-acknowledged
//    (close-to-open consistency; #8 lost data on close);
//  - a failed PUT or RpcWrote is never fatal: the data of that segment is dropped, and the next
//    flush/fsync of the file fails with EIO, once (#9, #14).
// Under leases, written data is only buffered under an Exclusive lease: an interrupt flushes it
// before anyone else may read.
import { Errno, FsError } from "../../base/errno.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import { ExtentMap, type ObjectRef } from "./extent-map.js";
import type { FileInode, PendingSegment, PendingAttrs } from "./file-inode.js";
import { LogSegment } from "./log-segment.js";
import { O_ACCMODE, O_APPEND, O_RDONLY } from "./ports.js";
import { SegmentSlice } from "./segment-slice.js";
import { Semaphore } from "./semaphore.js";
import { setAttrPlusRequest } from "./set-attr-request.js";

export class WriteBack {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  /** DirtyLogSegmentLimit: one token per LogSegment from creation until every file's slice of it is reported. */
  readonly #tokens: Semaphore;
  /** Slices of each LogSegment not yet reported (the token goes back at zero). */
  readonly #sliceCount = new Map<LogSegment, number>();
  /** The open segment small files append to (one PUT for many files), if any. */
  #shared: LogSegment | undefined;
  #nextSegmentId = 1;

  constructor(ctx: AgentContext, attrs: AttrCache) {
    this.#ctx = ctx;
    this.#attrs = attrs;
    this.#tokens = new Semaphore(ctx.o.dirtyLogSegmentLimit);
  }

  /** LogSegments not yet reported, over all dirty files. */
  inFlightSegments(): number {
    let inFlight = 0;
    for (const f of this.#ctx.dirty.values()) inFlight += f.segments.length;
    return inFlight;
  }

  async write(ino: bigint, fh: bigint, offset: bigint, data: Buffer): Promise<number> {
    const c = this.#ctx;
    const h = c.handle(fh, ino, false);
    if ((h.flags & O_ACCMODE) === O_RDONLY) throw new FsError(Errno.EBADF, `file handle ${fh} is open read-only`);
    if (offset < 0n || offset + BigInt(data.length) > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FsError(Errno.EFBIG, `write at ${offset} of ${data.length} bytes is beyond the largest supported file size`);
    }
    if (data.length === 0) return 0;
    const f = c.file(ino);
    let slice: SegmentSlice | undefined;
    for (;;) {
      // Written data is only buffered under an Exclusive lease: an interrupt flushes it before
      // anyone else may read. The lease must still be held when the append happens.
      const t = c.leases !== undefined ? await c.leases.acquire(ino, "exclusive") : undefined;
      if (f.serverSize === undefined) await this.#attrs.getStat(ino);
      slice = f.openSlice();
      if (!slice) {
        if (!f.dirty) await this.#makeRoomForDirtyFile(f);
        const small = this.#small(f, offset, data.length);
        slice = f.openSlice() ?? this.#joinShared(f, small);
        if (!slice) {
          await this.#tokens.acquire();
          slice = f.openSlice() ?? this.#joinShared(f, small);
          if (slice) this.#tokens.release();
          else slice = this.#newSegment(f, small);
        }
      }
      if (t === undefined || c.leases!.ticketValid(t, "exclusive")) break;
    }
    // From here to the append nothing awaits: the slice is still writable.
    f.localSize ??= f.serverSize ?? 0;
    const off = h.flags & O_APPEND ? f.localSize : Number(offset);
    slice.append(off, data);
    // A file that outgrows the shared segment continues in segments of its own (parallel PUTs).
    if (slice.seg === this.#shared && slice.bytes >= c.o.sharedSegmentFileLimit) slice.open = false;
    f.localSize = Math.max(f.localSize, off + data.length);
    f.lastWriteNs = BigInt(Date.now()) * 1_000_000n;
    return data.length;
  }

  /** Whether a write of `len` bytes at `offset` keeps f a small file (its data may share a segment). */
  #small(f: FileInode, offset: bigint, len: number): boolean {
    const limit = this.#ctx.o.sharedSegmentFileLimit;
    const size = f.localSize ?? f.serverSize ?? 0;
    return size + len <= limit && Number(offset) + len <= limit;
  }

  /** A slice of the shared segment for a small file's data, if one is open. */
  #joinShared(f: FileInode, small: boolean): SegmentSlice | undefined {
    const s = this.#shared;
    if (!small || s === undefined || s.state !== "open") return undefined;
    this.#sliceCount.set(s, (this.#sliceCount.get(s) ?? 0) + 1);
    return this.#addSlice(f, s);
  }

  /** DirtyFileLimit: before one more file becomes dirty, flush the oldest dirty files. */
  async #makeRoomForDirtyFile(f: FileInode): Promise<void> {
    const c = this.#ctx;
    while (c.dirty.size >= c.o.dirtyFileLimit) {
      const oldest = c.dirty.values().next().value as FileInode;
      if (oldest === f) return;
      await this.flushFile(oldest, false);
    }
  }

  /** A new LogSegment (the caller holds a token for it); with `shared`, small files may join it. */
  #newSegment(f: FileInode, shared: boolean): SegmentSlice {
    const c = this.#ctx;
    const seg = new LogSegment(this.#nextSegmentId++, {
      provision: async () => {
        const r = await c.rpc.call("RpcProvisionObject", { MountID: c.mountId });
        return parsePhysPath(r.PhysPath);
      },
      put: async (ref, body) => {
        await c.store.putObject(ref.container, ref.object, body);
      },
    }, { maxFlushSize: c.o.maxFlushSize, maxFlushTimeMs: c.o.maxFlushTimeMs });
    c.stats.logSegmentPuts++;
    this.#sliceCount.set(seg, 1);
    if (shared) this.#shared = seg;
    return this.#addSlice(f, seg);
  }

  /** Queues f's new slice of `seg` behind its other segments and makes sure its pump runs. */
  #addSlice(f: FileInode, seg: LogSegment): SegmentSlice {
    const c = this.#ctx;
    const slice = new SegmentSlice(seg);
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const pending: PendingSegment = { slice, done, resolveDone };
    f.segments.push(pending);
    c.dirty.delete(f.ino);
    c.dirty.set(f.ino, f);
    if (!f.pumping) this.#pump(f).catch((err: unknown) => c.log.error(`completing LogSegments of inode ${f.ino}: ${(err as Error)?.stack ?? String(err)}`));
    return slice;
  }

  /** One file's slice of `seg` is done; the segment's token returns with the last one. */
  #sliceLeft(seg: LogSegment): void {
    const n = (this.#sliceCount.get(seg) ?? 1) - 1;
    if (n > 0) {
      this.#sliceCount.set(seg, n);
      return;
    }
    this.#sliceCount.delete(seg);
    if (this.#shared === seg) this.#shared = undefined;
    this.#tokens.release();
  }

  /** Completes f's segments strictly in order: wait for the PUT, then RpcWrote, then merge extents. */
  async #pump(f: FileInode): Promise<void> {
    const c = this.#ctx;
    f.pumping = true;
    try {
      while (f.segments.length > 0) {
        const p = f.segments[0]!;
        const slice = p.slice;
        const seg = slice.seg;
        let uploaded = true;
        try {
          await seg.uploaded;
        } catch (err) {
          uploaded = false;
          c.stats.logSegmentPutFailures++;
          f.writeError = err instanceof Error ? err : new Error(String(err));
          c.log.error(`LogSegment PUT for inode ${f.ino} failed; ${slice.bytes} bytes of written data are lost: ${f.writeError.message}`);
        }
        if (uploaded) {
          const ref = seg.ref!;
          const ext = slice.extents.extents();
          try {
            await c.send("RpcWrote", {
              ...c.h(f.ino), ContainerName: ref.container, ObjectName: ref.object,
              FileOffset: ext.map((e) => BigInt(e.off)), ObjectOffset: ext.map((e) => BigInt(e.objOff)), Length: ext.map((e) => BigInt(e.len)),
            });
            c.stats.logSegmentPutBytes += slice.bytes;
            f.extentMap ??= new ExtentMap();
            for (const e of ext) f.extentMap.set(e.off, e.len, ref, e.objOff);
            f.knowSize(f.serverSize !== undefined ? Math.max(f.serverSize, slice.extents.end) : undefined);
            this.#attrs.forget(f.ino, true); // the server's mtime and size moved
            c.extents.touch(f);
            c.extents.enforce();
          } catch (err) {
            c.stats.wroteFailures++;
            f.writeError = err instanceof Error ? err : new Error(String(err));
            f.extentMap = undefined;
            c.log.error(`RpcWrote for inode ${f.ino} (${ref.container}/${ref.object}) failed; the server does not know ${slice.bytes} written bytes: ${f.writeError.message}`);
          }
        }
        if (p.attrs !== undefined) await this.#applyAttrs(f, p.attrs);
        f.segments.shift();
        this.#sliceLeft(seg);
        p.resolveDone();
      }
    } finally {
      f.pumping = false;
      f.localSize = undefined;
      if (c.dirty.get(f.ino) === f) c.dirty.delete(f.ino);
      c.maybeForgetFile(f);
    }
  }

  /**
   * chmod/chown/utimensat of a file whose data is still in flight (Plus servers, Exclusive lease):
   * the change is sent right after that data's RpcWrote (which would otherwise overwrite mtime
   * with the server's now), in one RpcSetAttrPlus, so neither the close nor the shared segment
   * is flushed for it and tar's chown+chmod+utimensat cost no round trip. Later writes go to a
   * later slice (they come after the change, as POSIX orders them). Stats show it meanwhile; the
   * kernel already checked the caller's permission (default_permissions).
   */
  deferAttrs(f: FileInode, ch: PendingAttrs): void {
    const last = f.segments[f.segments.length - 1];
    if (last === undefined) throw new Error(`deferAttrs: inode ${f.ino} has no data in flight`);
    last.slice.open = false;
    // `ch` holds only the fields it changes (resolveAttrChanges): later ones win.
    const merged: PendingAttrs = { ...last.attrs, ...ch };
    last.attrs = merged;
    f.pendingAttrs = merged;
  }

  async #applyAttrs(f: FileInode, at: PendingAttrs): Promise<void> {
    const c = this.#ctx;
    try {
      await c.send("RpcSetAttrPlus", setAttrPlusRequest(c.h(f.ino), at));
    } catch (err) {
      f.writeError ??= err instanceof Error ? err : new Error(String(err));
      c.log.error(`changing the attributes of inode ${f.ino} after its data was stored failed: ${f.writeError.message}`);
    } finally {
      if (f.pendingAttrs === at) f.pendingAttrs = undefined;
      this.#attrs.forget(f.ino, true);
    }
  }

  /**
   * Closes f's open segment and waits until every segment that exists now is reported.
   * With `report`, a write failure since the last report is thrown (once) as EIO.
   */
  async flushFile(f: FileInode, report: boolean): Promise<void> {
    // Every segment holding f's data ends now (a shared one for every file in it): an earlier
    // slice may sit in a shared segment that is still open for other files.
    for (const p of f.segments) p.slice.seg.close();
    const last = f.segments[f.segments.length - 1];
    if (last) await last.done;
    if (report && f.writeError) {
      const err = f.writeError;
      f.writeError = undefined;
      throw new FsError(Errno.EIO, `writing inode ${f.ino} failed: ${err.message}`, { cause: err });
    }
  }

  /** Shutdown: flushes every dirty file and waits for all LogSegments to be reported. */
  async flushAll(): Promise<void> {
    const c = this.#ctx;
    while (c.dirty.size > 0) {
      await Promise.all([...c.dirty.values()].map((f) => this.flushFile(f, false)));
    }
  }
}

/**
 * "/v1/<account>/<container>/<object>" → container and object (protocol doc §7.2: the account
 * part is ignored; the StorageURL's account is used).
 */
export function parsePhysPath(physPath: string): ObjectRef {
  const parts = physPath.split("/");
  if (parts.length !== 5 || parts[0] !== "" || parts[3] === "" || parts[4] === "") {
    throw new Error(`RpcProvisionObject returned PhysPath ${JSON.stringify(physPath)}, not /v1/<account>/<container>/<object>`);
  }
  return { container: parts[3]!, object: parts[4]! };
}
