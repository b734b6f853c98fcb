// InodeOps: operations on one inode's attributes and contents that are not plain reads and
// writes (SETATTR, READLINK, FALLOCATE, LSEEK SEEK_DATA/SEEK_HOLE, xattrs, ACCESS, STATFS).
// A change to a regular file first takes an Exclusive lease (AttrCache.changing); a size change
// flushes the file's dirty data first, other changes of a file with data in flight are sent
// after that data is reported (WriteBack.deferAttrs); the reply's stat is cached under the lease.
import { Errno, FsError } from "../../base/errno.js";
import { Capability, SEEK_DATA, SEEK_HOLE, type StatVFS } from "../../proto/index.js";
import type { AttrCache } from "./attr-cache.js";
import type { Ticket } from "./lease-table.js";
import type { AgentContext } from "./context.js";
import { safeNumber } from "./fs-errors.js";
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, type Caller, type InodeStat, type SetAttrChanges } from "./ports.js";
import { resolveAttrChanges, setAttrPlusRequest, type ResolvedAttrChanges } from "./set-attr-request.js";
import type { WriteBack } from "./write-back.js";

export class InodeOps {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  readonly #wb: WriteBack;

  constructor(ctx: AgentContext, attrs: AttrCache, wb: WriteBack) {
    this.#ctx = ctx;
    this.#attrs = attrs;
    this.#wb = wb;
  }

  async setattr(ino: bigint, changes: SetAttrChanges): Promise<InodeStat> {
    const c = this.#ctx;
    const ch = resolveAttrChanges(changes);
    const t = await this.#attrs.changing(ino, false);
    const f = c.files.get(ino);
    const plus = c.caps.has(Capability.Plus);
    // A size change needs the data in flight stored first. Other changes of a file with data in
    // flight are sent after that data (WriteBack.deferAttrs: no flush, so small files keep
    // sharing a segment). Without Plus, the 1.17.1 way: flush, then change.
    const defer = plus && ch.size === undefined && f !== undefined && f.dirty && t !== undefined && c.leases!.ticketValid(t, "exclusive");
    // Deferred changes leave the cached stat right (noteStat shows them).
    if (!defer) this.#attrs.forget(ino);
    if (f && !defer) await this.#wb.flushFile(f, false);
    // An explicit mtime replaces the one buffered writes implied (AttrCache.noteStat).
    if (f && ch.mtime !== undefined) f.lastWriteNs = undefined;
    if (defer) {
      this.#wb.deferAttrs(f, ch);
      return this.#attrs.getattr(ino);
    }
    if (plus) return this.#setattrPlus(ino, ch, t);
    if (ch.mode !== undefined) await c.call("RpcChmod", { ...c.h(ino), FileMode: ch.mode });
    if (ch.uid !== undefined || ch.gid !== undefined) {
      await c.call("RpcChown", { ...c.h(ino), UserID: ch.uid ?? -1, GroupID: ch.gid ?? -1 });
    }
    if (ch.size !== undefined) {
      const size = safeNumber(ch.size, "new size", Errno.EFBIG);
      await c.call("RpcResize", { ...c.h(ino), NewSize: ch.size });
      const g = c.files.get(ino);
      if (g) {
        g.knowSize(size);
        g.extentMap?.truncate(size);
      }
    }
    if (ch.atime !== undefined || ch.mtime !== undefined) {
      await c.call("RpcSetTime", {
        ...c.h(ino), CTimeNs: 0n, CRTimeNs: 0n, MTimeNs: ch.mtime ?? 0n, ATimeNs: ch.atime ?? 0n, Size: 0n, NumLinks: 0n,
        StatInodeNumber: 0n, FileMode: 0, UserID: 0, GroupID: 0,
      });
    }
    c.leases?.forgetStat(ino);
    return this.#attrs.getattr(ino);
  }

  /** All changes in one RpcSetAttrPlus; its reply is the new stat (no getattr round trip). */
  async #setattrPlus(ino: bigint, ch: ResolvedAttrChanges, lease: Ticket | undefined): Promise<InodeStat> {
    const c = this.#ctx;
    const size = ch.size !== undefined ? safeNumber(ch.size, "new size", Errno.EFBIG) : undefined;
    const mark = c.leases?.statMark(ino) ?? 0;
    const st = await c.call("RpcSetAttrPlus", setAttrPlusRequest(c.h(ino), ch));
    if (size !== undefined) {
      const g = c.files.get(ino);
      if (g) {
        g.knowSize(size);
        g.extentMap?.truncate(size);
      }
    }
    // The reply is the inode's stat after the change: cached under the Exclusive lease taken for it.
    if (lease !== undefined && c.leases !== undefined && c.leases.ticketValid(lease, "exclusive")) c.leases.cacheStat(lease, mark, st);
    else c.leases?.forgetStat(ino);
    c.meta?.updateAttrs(ino, st);
    return { ino, stat: this.#attrs.noteStat(ino, st), leased: c.meta?.attrs(ino) !== undefined };
  }

  async readlink(ino: bigint): Promise<string> {
    const c = this.#ctx;
    return (await c.call("RpcReadSymlink", c.h(ino))).Target;
  }

  /**
   * fallocate(2): mode 0, KEEP_SIZE (1), PUNCH_HOLE|KEEP_SIZE (3) go to the server as they are;
   * ZERO_RANGE (0x10, optionally |KEEP_SIZE) is done here as a punch (the range then reads as
   * zeros) plus, without KEEP_SIZE, a resize when the range ends past EOF. Needs the Fallocate extension.
   */
  async fallocate(ino: bigint, fh: bigint, mode: number, offset: bigint, length: bigint): Promise<void> {
    const c = this.#ctx;
    c.handle(fh, ino, false);
    if (!c.caps.has(Capability.Fallocate)) throw new FsError(Errno.EOPNOTSUPP, `fallocate needs the ${Capability.Fallocate} extension`);
    // The server takes ranges up to 2^63-1, but this agent handles sizes as numbers (2^53-1, as
    // write and truncate check): a file grown past that would fail every later stat with EIO.
    if (offset + length > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FsError(Errno.EFBIG, `fallocate of ${length} bytes at ${offset} ends beyond the largest supported file size`);
    }
    await this.#attrs.changing(ino);
    const f = c.file(ino);
    await this.#wb.flushFile(f, false);
    if ((mode & ~FALLOC_FL_KEEP_SIZE) === FALLOC_FL_ZERO_RANGE) {
      await c.call("RpcFallocate", { MountID: c.mountId, InodeNumber: ino, Mode: FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, Offset: offset, Length: length });
      if ((mode & FALLOC_FL_KEEP_SIZE) === 0) {
        const st = await this.#attrs.getStat(ino);
        if (offset + length > st.Size) await c.call("RpcResize", { ...c.h(ino), NewSize: offset + length });
      }
    } else {
      await c.call("RpcFallocate", { MountID: c.mountId, InodeNumber: ino, Mode: mode, Offset: offset, Length: length });
    }
    // The server changed the extent map (holes) and maybe the size: learn both afresh.
    f.extentMap = undefined;
    c.leases?.forgetStat(ino);
    await this.#attrs.getStat(ino);
  }

  /** lseek(2) SEEK_DATA / SEEK_HOLE from the server's extent map (after flushing); needs the SeekDataHole extension. */
  async seek(ino: bigint, fh: bigint, offset: bigint, whence: number): Promise<bigint> {
    const c = this.#ctx;
    c.handle(fh, ino, false);
    if ((whence !== SEEK_DATA && whence !== SEEK_HOLE) || !c.caps.has(Capability.SeekDataHole)) {
      throw new FsError(Errno.ENOSYS, `lseek whence ${whence} is not served by this agent`);
    }
    const f = c.files.get(ino);
    if (f) await this.#wb.flushFile(f, false);
    return (await c.call("RpcSeek", { MountID: c.mountId, InodeNumber: ino, Offset: offset, Whence: whence })).Offset;
  }

  /**
   * The server's figures, less the space this agent's written but unreported data will take
   * (closes do not wait for it under a lease): df agrees with st_blocks. Counted before the call,
   * so data reported meanwhile is counted twice rather than not at all.
   */
  async statfs(): Promise<StatVFS> {
    const c = this.#ctx;
    let dirty = 0;
    for (const f of c.dirty.values()) dirty += f.dirtyBytes;
    const v = await c.call("RpcStatVFS", { MountID: c.mountId });
    if (dirty === 0 || v.FragmentSize <= 0n) return v;
    const frags = (BigInt(dirty) + v.FragmentSize - 1n) / v.FragmentSize;
    const less = (n: bigint): bigint => (n > frags ? n - frags : 0n);
    return { ...v, FreeBlocks: less(v.FreeBlocks), AvailBlocks: less(v.AvailBlocks) };
  }

  async access(caller: Caller, ino: bigint, mask: number): Promise<void> {
    const c = this.#ctx;
    await c.call("RpcAccess", { ...c.h(ino), UserID: caller.uid, GroupID: caller.gid, AccessMode: mask });
  }

  #xattrCheck(): void {
    if (!this.#ctx.o.xattrEnabled) throw new FsError(Errno.ENOSYS, "extended attributes are disabled (XAttrEnabled=false)");
  }

  async setxattr(ino: bigint, name: string, value: Buffer, flags: number): Promise<void> {
    const c = this.#ctx;
    this.#xattrCheck();
    await this.#attrs.changing(ino);
    try {
      await c.call("RpcSetXAttr", { ...c.h(ino), AttrName: name, AttrValue: value, AttrFlags: flags });
    } finally {
      c.leases?.forgetStat(ino); // ctime
    }
  }

  async getxattr(ino: bigint, name: string): Promise<Buffer> {
    const c = this.#ctx;
    this.#xattrCheck();
    return (await c.call("RpcGetXAttr", { ...c.h(ino), AttrName: name }, Errno.ENODATA)).AttrValue;
  }

  async listxattr(ino: bigint): Promise<string[]> {
    const c = this.#ctx;
    this.#xattrCheck();
    return (await c.call("RpcListXAttr", c.h(ino))).AttrNames ?? [];
  }

  async removexattr(ino: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    this.#xattrCheck();
    await this.#attrs.changing(ino);
    try {
      await c.call("RpcRemoveXAttr", { ...c.h(ino), AttrName: name }, Errno.ENODATA);
    } finally {
      c.leases?.forgetStat(ino); // ctime
    }
  }
}
