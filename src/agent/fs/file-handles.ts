// FileHandles: open/close of regular files (OPEN, FLUSH, FSYNC, RELEASE).
// Semantics (pfsagent.md §12): opening a file that has no dirty data and no lease drops its
// cached extent map, so a re-open sees what other clients wrote (close-to-open); close (flush)
// and fsync wait until the data is PUT and RpcWrote-acknowledged (#8) and report a lost write as
// EIO once; unknown file handles are EBADF (#23). Under a lease the extent map survives
// close/open and the kernel keeps its pages (keep_cache). The last close of a file this agent
// moved into ORPHAN_DIR unlinks it for real.
import { Errno, FsError } from "../../base/errno.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import { O_ACCMODE, O_RDONLY, O_TRUNC, S_IFMT, S_IFREG } from "./ports.js";
import type { WriteBack } from "./write-back.js";

export class FileHandles {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  readonly #wb: WriteBack;

  constructor(ctx: AgentContext, attrs: AttrCache, wb: WriteBack) {
    this.#ctx = ctx;
    this.#attrs = attrs;
    this.#wb = wb;
  }

  async open(ino: bigint, flags: number): Promise<bigint> {
    const c = this.#ctx;
    const f = c.file(ino);
    f.openCount++;
    const trunc = (flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) !== O_RDONLY;
    let keepCache = false;
    try {
      // A Shared lease (Exclusive to truncate) makes a writer elsewhere flush first.
      const t = c.leases !== undefined && c.regular.has(ino) ? await c.leases.acquire(ino, trunc ? "exclusive" : "shared") : undefined;
      if (flags & O_TRUNC) await this.#wb.flushFile(f, false);
      const st = t !== undefined ? await this.#attrs.leasedStat(ino) : await this.#attrs.getStat(ino);
      if ((st.FileMode & S_IFMT) !== S_IFREG) throw new FsError(Errno.EINVAL, `inode ${ino} is not a regular file`);
      if (trunc) {
        await c.call("RpcResize", { ...c.h(ino), NewSize: 0n });
        c.leases?.forgetStat(ino);
        c.meta?.forgetAttrs(ino); // the size cached under the directory's lease is gone too
        f.knowSize(0);
        f.extentMap = undefined;
      } else if (!f.dirty && t === undefined) {
        // Close-to-open: forget extents learned before, in case another client changed the file.
        // (Under a lease they are still right: it would have been revoked first.)
        f.extentMap = undefined;
      }
      keepCache = !trunc && c.leases !== undefined && c.leases.openKeepCache(t);
    } catch (err) {
      f.openCount--;
      c.maybeForgetFile(f);
      throw err;
    }
    const fh = c.newFh();
    c.handles.set(fh, { ino, flags, dir: false, keepCache });
    return fh;
  }

  /** Forgets handle fh (no check): its FileInode loses one open count. */
  closeHandle(fh: bigint): void {
    const c = this.#ctx;
    const h = c.handles.get(fh);
    if (!h) return;
    c.handles.delete(fh);
    const f = c.files.get(h.ino);
    if (f) {
      f.openCount--;
      c.maybeForgetFile(f);
    }
  }

  /** close(2) of one descriptor: makes the file's data durable (close-to-open). */
  /**
   * close(2) of one descriptor. Under an Exclusive lease (deferCloseFlush) the data stays
   * buffered: no other mount can read the file before the lease interrupt flushes it, and
   * MaxFlushTime, DirtyFileLimit, fsync and unmount bound how long it stays here (close-to-open
   * holds across agents; durability is fsync's). Otherwise it waits until the data is stored and
   * reported. A write failure since the last report is returned (EIO) either way.
   */
  async flush(ino: bigint, fh: bigint): Promise<void> {
    const c = this.#ctx;
    const h = c.handle(fh, ino, false);
    const f = c.files.get(ino);
    if (!f) return;
    // A read-only descriptor wrote nothing: its close neither flushes nor reports write errors
    // (those go to the writers' close and fsync, and to fsync of any descriptor).
    if ((h.flags & O_ACCMODE) === O_RDONLY) return;
    if (c.o.deferCloseFlush && c.leases?.held(ino) === "exclusive" && !c.orphans.has(ino) && f.writeError === undefined) return;
    await this.#wb.flushFile(f, true);
  }

  /** fsync/fdatasync: the data stored and reported, and (early replies) every change made so far durable. */
  async fsync(ino: bigint, fh: bigint): Promise<void> {
    const c = this.#ctx;
    c.handle(fh, ino, false);
    const f = c.files.get(ino);
    if (f) await this.#wb.flushFile(f, true);
    await c.syncMeta();
  }

  async release(ino: bigint, fh: bigint): Promise<void> {
    const c = this.#ctx;
    c.handle(fh, ino, false);
    // The kernel sends FLUSH before RELEASE for every close(2); anything still dirty here
    // completes in the background (the FileInode lives on while it is dirty).
    const f = c.files.get(ino); // before closeHandle, which may forget it
    this.closeHandle(fh);
    if (f && f.openCount === 0 && c.orphans.has(ino)) await c.orphans.reap(ino, () => this.#wb.flushFile(f, false));
  }

  /** Whether OPEN of handle fh may keep the kernel's page cache (FOPEN_KEEP_CACHE). */
  keepCache(fh: bigint): boolean {
    return this.#ctx.handles.get(fh)?.keepCache ?? false;
  }
}
