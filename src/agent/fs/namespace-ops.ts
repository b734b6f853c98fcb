// NamespaceOps: names in directories (LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, LINK, UNLINK, RMDIR,
// RENAME). Dirty data of a file about to lose its last name is flushed first.
// Orphans: unlinking (or renaming over) the last name of a file this agent has open moves it
// into the hidden root directory ORPHAN_DIR instead (the server would destroy the inode at once);
// it reports nlink 0, stays readable and writable through its descriptors, and is unlinked for
// real on the last close (FileHandles.release). ORPHAN_DIR is invisible to lookup and readdir of
// the root.
import { Errno, FsError } from "../../base/errno.js";
import { Capability, type ReplyOf } from "../../proto/index.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import type { FileHandles } from "./file-handles.js";
import { ORPHAN_DIR } from "./orphan-dir.js";
import { ROOT_INO, S_IFMT, S_IFREG, type Caller, type InodeStat } from "./ports.js";
import type { WriteBack } from "./write-back.js";

export class NamespaceOps {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  readonly #wb: WriteBack;
  readonly #files: FileHandles;

  constructor(ctx: AgentContext, attrs: AttrCache, wb: WriteBack, files: FileHandles) {
    this.#ctx = ctx;
    this.#attrs = attrs;
    this.#wb = wb;
    this.#files = files;
  }

  async lookup(parent: bigint, name: string): Promise<InodeStat> {
    const c = this.#ctx;
    if (parent === ROOT_INO && name === ORPHAN_DIR) throw new FsError(Errno.ENOENT, `${ORPHAN_DIR} is reserved by the agent`);
    const r = await c.call("RpcLookupPlus", { ...c.h(parent), Basename: name }, Errno.ENOENT);
    const { InodeNumber, ...stat } = r;
    return { ino: InodeNumber, stat: this.#attrs.noteStat(InodeNumber, stat) };
  }

  async symlink(caller: Caller, parent: bigint, name: string, target: string): Promise<InodeStat> {
    const c = this.#ctx;
    const r = await c.call("RpcSymlink", { ...c.h(parent), Basename: name, Target: target, UserID: caller.uid, GroupID: caller.gid });
    return this.#attrs.getattr(r.InodeNumber);
  }

  async mkdir(caller: Caller, parent: bigint, name: string, mode: number): Promise<InodeStat> {
    const c = this.#ctx;
    const r = await c.call("RpcMkdir", { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
    return this.#attrs.getattr(r.InodeNumber);
  }

  /**
   * mknod(2). A regular file (type S_IFREG or 0) is an RpcCreate, as on any 1.17.1 server; fifos,
   * sockets and device nodes need the Mknod extension (the server keeps mode and rdev). Without
   * it they fail with EPERM, as on NFS servers that cannot store special files (never ENOSYS,
   * which would make the kernel refuse every later MKNOD, regular files included).
   */
  async mknod(caller: Caller, parent: bigint, name: string, mode: number, rdev: number): Promise<InodeStat> {
    const c = this.#ctx;
    const type = mode & S_IFMT;
    if (type === 0 || type === S_IFREG) {
      const r = await c.call("RpcCreate", { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
      return this.#attrs.getattr(r.InodeNumber);
    }
    if (!c.caps.has(Capability.Mknod)) throw new FsError(Errno.EPERM, `mknod of type 0o${type.toString(8)} needs the ${Capability.Mknod} extension`);
    const r = await c.call("RpcMknod", { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode, Rdev: rdev >>> 0 });
    return this.#attrs.getattr(r.InodeNumber);
  }

  /** Creates and opens a regular file. */
  async create(caller: Caller, parent: bigint, name: string, mode: number, flags: number): Promise<InodeStat & { fh: bigint }> {
    const c = this.#ctx;
    const r = await c.call("RpcCreate", { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
    const f = c.file(r.InodeNumber);
    f.openCount++;
    const fh = c.newFh();
    c.handles.set(fh, { ino: r.InodeNumber, flags, dir: false });
    try {
      return { ...(await this.#attrs.getattr(r.InodeNumber)), fh };
    } catch (err) {
      this.#files.closeHandle(fh);
      throw err;
    }
  }

  async link(ino: bigint, parent: bigint, name: string): Promise<InodeStat> {
    const c = this.#ctx;
    await this.#attrs.changing(ino);
    const f = c.files.get(ino);
    if (f) await this.#wb.flushFile(f, false);
    try {
      await c.call("RpcLink", { ...c.h(parent), Basename: name, TargetInodeNumber: ino });
    } finally {
      c.leases?.forgetStat(ino);
    }
    return this.#attrs.getattr(ino);
  }

  /** Flushes the dirty data of `name` in `dir` before it may be destroyed by unlink/rename. */
  async #flushVictim(dir: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    if (c.dirty.size === 0) return;
    let ino: bigint;
    try {
      ino = (await c.rpc.call("RpcLookup", { ...c.h(dir), Basename: name })).InodeNumber;
    } catch {
      return; // absent: nothing to flush; the real operation reports the error
    }
    const f = c.dirty.get(ino);
    if (f) await this.#wb.flushFile(f, false);
  }

  async unlink(parent: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    try {
      if (await this.#orphanIfOpen(parent, name)) return;
      await this.#flushVictim(parent, name);
      await c.call("RpcUnlink", { ...c.h(parent), Basename: name });
    } finally {
      c.leases?.forgetAllStats(); // the victim's link count and ctime changed
    }
  }

  /**
   * If `name` in `dir` is the last link of a regular file open here, moves it into ORPHAN_DIR
   * (so the server keeps the inode) and returns true; the last close unlinks it (OrphanDir.reap).
   */
  async #orphanIfOpen(dir: bigint, name: string): Promise<boolean> {
    const c = this.#ctx;
    if (c.handles.size === 0) return false;
    let r: ReplyOf<"RpcLookupPlus">;
    try {
      r = await c.rpc.call("RpcLookupPlus", { ...c.h(dir), Basename: name });
    } catch {
      return false; // absent: the real operation reports the error
    }
    const f = c.files.get(r.InodeNumber);
    if (!f || f.openCount === 0 || (r.FileMode & S_IFMT) !== S_IFREG || r.NumLinks !== 1n || c.orphans.has(r.InodeNumber)) return false;
    await c.orphans.hide(dir, name, r.InodeNumber);
    return true;
  }

  async rmdir(parent: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    await c.call("RpcRmdir", { ...c.h(parent), Basename: name });
  }

  /** flags: renameat2's RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2), only with the Rename2 extension. */
  async rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags = 0): Promise<void> {
    try {
      await this.#rename(srcParent, srcName, dstParent, dstName, flags);
    } finally {
      this.#ctx.leases?.forgetAllStats(); // a replaced file's link count changed, the moved one's ctime
    }
  }

  async #rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags: number): Promise<void> {
    const c = this.#ctx;
    const names = { MountID: c.mountId, SrcDirInodeNumber: srcParent, SrcBasename: srcName, DstDirInodeNumber: dstParent, DstBasename: dstName };
    if (flags !== 0) {
      // 1.17.1 ignored the flags (pfsagent.md §12 #19); without the extension we refuse instead.
      if (!c.caps.has(Capability.Rename2)) throw new FsError(Errno.EINVAL, `rename flags ${flags} need the ${Capability.Rename2} extension`);
      if (flags & 2) await this.#flushVictim(srcParent, srcName);
      await this.#flushVictim(dstParent, dstName);
      await c.call("RpcRename2", { ...names, Flags: flags });
      return;
    }
    if (!(await this.#orphanIfOpen(dstParent, dstName))) await this.#flushVictim(dstParent, dstName);
    await c.call("RpcRename", names);
  }
}
