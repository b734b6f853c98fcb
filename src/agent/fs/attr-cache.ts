// AttrCache: inode attributes. Without a lease they are fetched from the server on every getattr
// (no stale cachedStat, pfsagent.md §12 #6); under a Shared lease (regular files, `leases`
// option) getattr is answered from the lease table's cached stat. Either way the size of a file
// with unreported writes includes them (noteStat). When a lease ends, dropCaches forgets the
// file's extent map and server size and, through the FUSE side's invalidator, the kernel's
// cached attributes.
import { safeNumber } from "./fs-errors.js";
import type { AgentContext } from "./context.js";
import type { Ticket } from "./lease-table.js";
import { S_IFDIR, S_IFMT, S_IFREG, type InodeStat } from "./ports.js";
import type { StatStruct } from "../../proto/index.js";

export class AttrCache {
  readonly #ctx: AgentContext;
  /** Drops the kernel's cached attributes of an inode (set by the FUSE side). */
  #invalidateKernel: (ino: bigint) => void = () => {};

  constructor(ctx: AgentContext) {
    this.#ctx = ctx;
  }

  /** GETATTR: the inode and its attributes (leasedStat). */
  async getattr(ino: bigint): Promise<InodeStat> {
    const cached = this.#ctx.meta?.attrs(ino);
    if (cached !== undefined) {
      this.#ctx.stats.attrCacheHits++;
      return { ino, stat: this.noteStat(ino, cached), leased: true };
    }
    // A directory this agent holds a lease on: its own attributes are cached with its entries.
    const m = this.#ctx.meta;
    const t = m?.ticketOf(ino);
    const stat = await this.leasedStat(ino);
    const leased = t !== undefined && (stat.FileMode & S_IFMT) === S_IFDIR && m!.noteSelf(ino, stat, t);
    // A regular file whose stat is cached under its own lease: the kernel may keep it long too;
    // the lease's end (dropCaches) and this agent's own changes (kernel.attrs) invalidate it.
    const fileLeased = !leased && this.#ctx.meta !== undefined && (stat.FileMode & S_IFMT) === S_IFREG && this.#ctx.leases?.cachedStat(ino) !== undefined;
    return leased || fileLeased ? { ino, stat, leased: true } : { ino, stat };
  }

  /** RpcGetStat, always (no lease consulted), noted. */
  async getStat(ino: bigint): Promise<StatStruct> {
    const c = this.#ctx;
    c.stats.getStatRpcs++;
    const epoch = c.files.get(ino)?.sizeEpoch ?? 0;
    const st = await c.call("RpcGetStat", c.h(ino));
    return this.noteStat(ino, st, epoch);
  }

  /**
   * The inode's attributes under a Shared lease when it is a regular file (taken if needed):
   * from the cache while the lease lasts, else fetched and cached. Others: RpcGetStat.
   */
  async leasedStat(ino: bigint): Promise<StatStruct> {
    const c = this.#ctx;
    const L = c.leases;
    if (L === undefined || !c.regular.has(ino)) return this.getStat(ino);
    const hit = L.cachedStat(ino);
    if (hit !== undefined) {
      c.stats.attrCacheHits++;
      return this.noteStat(ino, hit);
    }
    const t = await L.acquire(ino, "shared");
    const mark = L.statMark(ino);
    c.stats.getStatRpcs++;
    const epoch = c.files.get(ino)?.sizeEpoch ?? 0;
    const st = await c.call("RpcGetStat", c.h(ino));
    if (t !== undefined) L.cacheStat(t, mark, st);
    return this.noteStat(ino, st, epoch);
  }

  /** Before changing a regular file's attributes: an Exclusive lease (others drop theirs), then no cached stat. */
  async changing(ino: bigint, forget = true): Promise<Ticket | undefined> {
    const c = this.#ctx;
    const t = c.leases !== undefined && c.regular.has(ino) ? await c.leases.acquire(ino, "exclusive") : undefined;
    if (forget) this.forget(ino);
    return t;
  }

  /**
   * This agent changed the inode: no cached stat of it is right any more. With `kernel` (the
   * change reaches the kernel in no reply: data stored, deferred attributes sent), the kernel's
   * long-lived copy goes too.
   */
  forget(ino: bigint, kernel = false): void {
    const c = this.#ctx;
    c.leases?.forgetStat(ino);
    c.meta?.forgetAttrs(ino, kernel);
    if (kernel) c.kernel.attrs(ino);
  }

  /**
   * Records what a fresh stat says about a file we track, and adjusts its size for local writes.
   * `epoch` is the file's sizeEpoch when the stat was asked for: if this agent moved the size
   * since (a RpcWrote or truncate completed while the stat was in flight), its own size wins.
   */
  noteStat(ino: bigint, st: StatStruct, epoch?: number): StatStruct {
    const c = this.#ctx;
    // The ORPHAN_DIR entry is not a name the user sees.
    if (c.orphans.has(ino) && st.NumLinks > 0n) st = { ...st, NumLinks: st.NumLinks - 1n };
    if ((st.FileMode & S_IFMT) === S_IFREG) c.regular.add(ino);
    const f = c.files.get(ino);
    if (!f || (st.FileMode & S_IFMT) !== S_IFREG) return st;
    const stale = epoch !== undefined && epoch !== f.sizeEpoch && f.serverSize !== undefined;
    const size = stale ? f.serverSize! : safeNumber(st.Size, `size of inode ${ino}`);
    f.serverSize = size;
    const eff = f.effectiveSize(size);
    // StatExtended: our unreported writes are allocated space the server does not count yet.
    const dirty = st.AllocatedBytes !== undefined ? f.dirtyBytes : 0;
    // chmod/chown/utimensat wait for the data in flight (WriteBack.deferAttrs); they show already.
    const pt = f.pendingAttrs;
    const mtime = pt?.mtime ?? st.MTimeNs;
    // write(2) sets mtime and ctime now, even while the data is still buffered here.
    const written = f.lastWriteNs !== undefined && f.lastWriteNs > mtime ? f.lastWriteNs : undefined;
    if (eff === size && !stale && dirty === 0 && written === undefined && pt === undefined) return st;
    const adjusted = { ...st, Size: BigInt(eff) };
    if (pt !== undefined) {
      if (pt.atime !== undefined) adjusted.ATimeNs = pt.atime;
      adjusted.MTimeNs = mtime;
      if (pt.mode !== undefined) adjusted.FileMode = (st.FileMode & S_IFMT) | (pt.mode & 0o7777);
      if (pt.uid !== undefined) adjusted.UserID = pt.uid;
      if (pt.gid !== undefined) adjusted.GroupID = pt.gid;
    }
    if (dirty > 0) adjusted.AllocatedBytes = st.AllocatedBytes! + BigInt(dirty);
    if (written !== undefined) {
      adjusted.MTimeNs = written;
      if (written > adjusted.CTimeNs) adjusted.CTimeNs = written;
    }
    return adjusted;
  }

  /** The lease of `ino` is ending (kernel: drop the kernel's attributes too) or just began. */
  dropCaches(ino: bigint, kernel: boolean): void {
    const c = this.#ctx;
    // A directory's lease: its cached entries and children's attributes (and the kernel's) go.
    if (kernel) c.meta?.drop(ino, true);
    const f = c.files.get(ino);
    if (f) {
      f.extentMap = undefined;
      if (!f.dirty) f.serverSize = undefined;
      c.extents.delete(ino);
      c.maybeForgetFile(f);
    }
    if (!kernel) return;
    try {
      this.#invalidateKernel(ino);
    } catch (err) {
      c.log.warn(`invalidating the kernel's attributes of inode ${ino}: ${(err as Error).message}`);
    }
  }

  /** How the FUSE side drops the kernel's cached attributes of an inode (lease lost). */
  setKernelInvalidator(fn: (ino: bigint) => void): void {
    this.#invalidateKernel = fn;
  }
}
