// NamespaceOps: names in directories (LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, LINK, UNLINK, RMDIR,
// RENAME). Dirty data of a file about to lose its last name is flushed first.
// With the MetaCache capability (and leases) a lookup takes a Shared lease on the directory and
// answers from the MetaCache while it holds (negative lookups too); this agent's own changes
// update the cache. With Plus, creates and links get the new attributes in their reply.
// Orphans: unlinking (or renaming over) the last name of a file this agent has open moves it
// into the hidden root directory ORPHAN_DIR instead (the server would destroy the inode at once);
// it reports nlink 0, stays readable and writable through its descriptors, and is unlinked for
// real on the last close (FileHandles.release). ORPHAN_DIR is invisible to lookup and readdir of
// the root.
import { Errno, FsError } from "../../base/errno.js";
import { Capability, LeaseRequestType, type LookupPlusReply, type StatStruct } from "../../proto/index.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import type { FileHandles } from "./file-handles.js";
import { ORPHAN_DIR } from "./orphan-dir.js";
import { ROOT_INO, S_IFDIR, S_IFMT, S_IFREG, type Caller, type InodeStat, type LookupResult } from "./ports.js";
import type { Ticket } from "./lease-table.js";
import type { WriteBack } from "./write-back.js";

/** Entries per RpcReaddirPlusByLoc when listing a directory whole (#listWhole). */
const LIST_PAGE = 256;
/** Directories with more entries are not listed whole: their absent names are asked of the server. */
const LIST_WHOLE_MAX = 1024;

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

  /** A lease on directory `dir` to cache under (MetaCache on), taken if needed. */
  async #dirTicket(dir: bigint): Promise<Ticket | undefined> {
    const c = this.#ctx;
    if (c.meta === undefined) return undefined;
    return c.leases!.acquire(dir, "shared");
  }

  /** LOOKUP: from the MetaCache when the directory is leased, else RpcLookupPlus (then cached). */
  async lookupEntry(parent: bigint, name: string): Promise<LookupResult> {
    const c = this.#ctx;
    if (parent === ROOT_INO && name === ORPHAN_DIR) return { found: false, leased: false };
    const t = await this.#dirTicket(parent);
    const hit = c.meta?.lookup(parent, name);
    if (hit !== undefined) {
      if (hit.kind === "absent") return { found: false, leased: true };
      return { found: true, ino: hit.ino, stat: this.#attrs.noteStat(hit.ino, hit.stat), leased: true };
    }
    // A leased directory not known in full: list it once (small directories), after which names
    // it lacks are absent without asking (untar, git and builds probe many absent names).
    if (t !== undefined && (await this.#listWhole(parent, t))) {
      const again = c.meta!.lookup(parent, name);
      if (again?.kind === "absent") return { found: false, leased: true };
      if (again !== undefined) return { found: true, ino: again.ino, stat: this.#attrs.noteStat(again.ino, again.stat), leased: true };
    }
    let r: LookupPlusReply;
    try {
      r = await c.call("RpcLookupPlus", { ...c.h(parent), Basename: name }, Errno.ENOENT);
    } catch (err) {
      if ((err as FsError).errno !== Errno.ENOENT) throw err;
      const leased = t !== undefined && c.meta!.noteAbsent(parent, name, t);
      return { found: false, leased };
    }
    const { InodeNumber, ...stat } = r;
    const leased = t !== undefined && c.meta!.noteEntry(parent, name, InodeNumber, stat, t);
    return { found: true, ino: InodeNumber, stat: this.#attrs.noteStat(InodeNumber, stat), leased };
  }

  /**
   * Lists `dir` (up to LIST_WHOLE_MAX entries) into the MetaCache and marks it complete; false if
   * it is bigger, was tried under this lease already, or changed meanwhile.
   */
  async #listWhole(dir: bigint, t: Ticket): Promise<boolean> {
    const c = this.#ctx;
    const m = c.meta!;
    const version = m.startListing(dir, t);
    if (version === undefined) return false;
    const found: Array<{ name: string; ino: bigint; stat: StatStruct }> = [];
    let prev = -1n;
    for (;;) {
      const r = await c.call("RpcReaddirPlusByLoc", { ...c.h(dir), MaxEntries: BigInt(LIST_PAGE), PrevDirEntLocation: prev });
      const dirs = r.DirEnts ?? [];
      const stats = r.StatEnts ?? [];
      if (dirs.length !== stats.length) return false;
      dirs.forEach((d, i) => {
        if (d.Basename !== "." && d.Basename !== ".." && !(dir === ROOT_INO && d.Basename === ORPHAN_DIR)) found.push({ name: d.Basename, ino: d.InodeNumber, stat: stats[i]! });
      });
      if (dirs.length < LIST_PAGE) break;
      if (found.length >= LIST_WHOLE_MAX) return false;
      prev = dirs[dirs.length - 1]!.NextDirLocation - 1n;
    }
    return m.noteListing(dir, t, version, found);
  }

  async lookup(parent: bigint, name: string): Promise<InodeStat> {
    const r = await this.lookupEntry(parent, name);
    if (!r.found) throw new FsError(Errno.ENOENT, `no entry ${JSON.stringify(name)} in directory ${parent}`);
    return { ino: r.ino, stat: r.stat, leased: r.leased };
  }

  /** The inode a name holds now: from the MetaCache, else asked (undefined when absent). */
  async #entryIno(dir: bigint, name: string): Promise<bigint | undefined> {
    const c = this.#ctx;
    const known = c.meta?.entry(dir, name);
    if (known !== undefined) return known;
    try {
      return (await c.rpc.call("RpcLookup", { ...c.h(dir), Basename: name })).InodeNumber;
    } catch {
      return undefined;
    }
  }

  /**
   * A node `name` was created (or linked) in `parent` and the reply carried its attributes: noted
   * in the MetaCache (the parent's own attributes changed).
   */
  #created(parent: bigint, name: string, ino: bigint, stat: StatStruct, t: Ticket | undefined): InodeStat {
    const c = this.#ctx;
    // The server gave the parent the new node's ctime as mtime and ctime (and a link for a subdirectory).
    c.meta?.dirChanged(parent, stat.CTimeNs, (stat.FileMode & S_IFMT) === S_IFDIR ? 1n : 0n);
    const leased = t !== undefined && c.meta!.noteEntry(parent, name, ino, stat, t);
    return { ino, stat: this.#attrs.noteStat(ino, stat), leased };
  }

  /** CreateLease: RpcCreatePlus made this mount the new file's Exclusive holder; its state is known (empty). */
  #adoptCreated(ino: bigint, stat: StatStruct): void {
    const c = this.#ctx;
    if (!c.caps.has(Capability.CreateLease)) return;
    if (c.leases === undefined) {
      // No lease table here: give the grant back, or the server would wait for our Release.
      void c.rpc.call("RpcLease", { ...c.h(ino), LeaseRequestType: LeaseRequestType.Release }).catch(() => {});
      return;
    }
    c.regular.add(ino);
    c.leases.adoptExclusive(ino, stat);
    const f = c.file(ino);
    f.knowSize(0);
    c.maybeForgetFile(f); // kept while the lease is held
  }

  /** RpcXxxPlus when agreed (one round trip), else the 1.17.1 call followed by a getattr. */
  async #make(
    parent: bigint, name: string,
    plus: () => Promise<LookupPlusReply>,
    plain: () => Promise<{ InodeNumber: bigint }>,
  ): Promise<InodeStat> {
    const c = this.#ctx;
    const t = await this.#dirTicket(parent);
    if (c.caps.has(Capability.Plus)) {
      const { InodeNumber, ...stat } = await plus();
      return this.#created(parent, name, InodeNumber, stat, t);
    }
    const r = await plain();
    c.meta?.forgetName(parent, name);
    c.meta?.dirChanged(parent);
    return this.#attrs.getattr(r.InodeNumber);
  }

  async symlink(caller: Caller, parent: bigint, name: string, target: string): Promise<InodeStat> {
    const c = this.#ctx;
    const req = { ...c.h(parent), Basename: name, Target: target, UserID: caller.uid, GroupID: caller.gid };
    return this.#make(parent, name, () => c.call("RpcSymlinkPlus", req), () => c.call("RpcSymlink", req));
  }

  async mkdir(caller: Caller, parent: bigint, name: string, mode: number): Promise<InodeStat> {
    const c = this.#ctx;
    const req = { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 };
    return this.#make(parent, name, () => c.call("RpcMkdirPlus", req), () => c.call("RpcMkdir", req));
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
      const req = { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 };
      return this.#make(parent, name, async () => {
        const r = await c.call("RpcCreatePlus", req);
        const { InodeNumber, ...stat } = r;
        this.#adoptCreated(InodeNumber, stat);
        return r;
      }, () => c.call("RpcCreate", req));
    }
    if (!c.caps.has(Capability.Mknod)) throw new FsError(Errno.EPERM, `mknod of type 0o${type.toString(8)} needs the ${Capability.Mknod} extension`);
    const req = { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode, Rdev: rdev >>> 0 };
    return this.#make(parent, name, () => c.call("RpcMknodPlus", req), () => c.call("RpcMknod", req));
  }

  /** Creates and opens a regular file. */
  async create(caller: Caller, parent: bigint, name: string, mode: number, flags: number): Promise<InodeStat & { fh: bigint }> {
    const c = this.#ctx;
    const req = { ...c.h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 };
    const t = await this.#dirTicket(parent);
    let made: InodeStat | undefined;
    let ino: bigint;
    if (c.caps.has(Capability.Plus)) {
      const { InodeNumber, ...stat } = await c.call("RpcCreatePlus", req);
      this.#adoptCreated(InodeNumber, stat);
      made = this.#created(parent, name, InodeNumber, stat, t);
      ino = InodeNumber;
    } else {
      ino = (await c.call("RpcCreate", req)).InodeNumber;
      c.meta?.forgetName(parent, name);
      c.meta?.dirChanged(parent);
    }
    const f = c.file(ino);
    f.openCount++;
    const fh = c.newFh();
    c.handles.set(fh, { ino, flags, dir: false });
    try {
      return { ...(made ?? (await this.#attrs.getattr(ino))), fh };
    } catch (err) {
      this.#files.closeHandle(fh);
      throw err;
    }
  }

  async link(ino: bigint, parent: bigint, name: string): Promise<InodeStat> {
    const c = this.#ctx;
    // A new name changes no data: dirty data stays buffered (and in a shared segment).
    await this.#attrs.changing(ino);
    const req = { ...c.h(parent), Basename: name, TargetInodeNumber: ino };
    try {
      if (c.caps.has(Capability.Plus)) {
        const t = await this.#dirTicket(parent);
        c.meta?.forgetAttrs(ino);
        const { InodeNumber, ...stat } = await c.call("RpcLinkPlus", req);
        return this.#created(parent, name, InodeNumber, stat, t);
      }
      await c.call("RpcLink", req);
    } finally {
      c.leases?.forgetStat(ino);
    }
    c.meta?.forgetName(parent, name);
    c.meta?.dirChanged(parent);
    c.meta?.forgetAttrs(ino);
    return this.#attrs.getattr(ino);
  }

  /** Flushes the dirty data of `name` in `dir` before it may be destroyed by unlink/rename. */
  async #flushVictim(dir: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    if (c.dirty.size === 0) return;
    const ino = await this.#entryIno(dir, name);
    if (ino === undefined) return; // absent: nothing to flush; the real operation reports the error
    const f = c.dirty.get(ino);
    if (f === undefined) return;
    // Another name keeps the inode (git: write tmp, link it to its final name, unlink tmp): the
    // data need not be stored before this name goes.
    const st = c.meta?.attrs(ino) ?? c.leases?.cachedStat(ino);
    if (st !== undefined && st.NumLinks > 1n) return;
    await this.#wb.flushFile(f, false);
  }

  async unlink(parent: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    let victim: bigint | undefined;
    try {
      if (await this.#orphanIfOpen(parent, name)) return;
      await this.#flushVictim(parent, name);
      victim = c.unsafe !== undefined || c.meta !== undefined ? await this.#entryIno(parent, name) : undefined;
      await c.call("RpcUnlink", { ...c.h(parent), Basename: name }, Errno.EIO, victim ?? 0n);
      c.meta?.removed(parent, name);
      if (victim !== undefined) c.meta?.forgetAttrs(victim);
    } finally {
      // The victim's link count and ctime changed. Under the directory's lease the name's inode
      // is known for sure; otherwise any cached stat may be the victim's.
      if (c.meta !== undefined && victim !== undefined) c.leases?.forgetStat(victim);
      else c.leases?.forgetAllStats();
      c.meta?.dirChanged(parent);
    }
  }

  /**
   * If `name` in `dir` is the last link of a regular file open here, moves it into ORPHAN_DIR
   * (so the server keeps the inode) and returns true; the last close unlinks it (OrphanDir.reap).
   */
  async #orphanIfOpen(dir: bigint, name: string): Promise<boolean> {
    const c = this.#ctx;
    if (c.handles.size === 0) return false;
    const known = c.meta?.entry(dir, name);
    // Cheap test first: only a file open here can need hiding.
    if (known !== undefined && !((c.files.get(known)?.openCount ?? 0) > 0)) return false;
    let r: LookupPlusReply;
    try {
      r = await c.rpc.call("RpcLookupPlus", { ...c.h(dir), Basename: name });
    } catch {
      return false; // absent: the real operation reports the error
    }
    const f = c.files.get(r.InodeNumber);
    if (!f || f.openCount === 0 || (r.FileMode & S_IFMT) !== S_IFREG || r.NumLinks !== 1n || c.orphans.has(r.InodeNumber)) return false;
    await c.orphans.hide(dir, name, r.InodeNumber);
    c.meta?.removed(dir, name);
    c.meta?.dirChanged(dir);
    c.meta?.forgetAttrs(r.InodeNumber);
    return true;
  }

  async rmdir(parent: bigint, name: string): Promise<void> {
    const c = this.#ctx;
    const victim = c.unsafe !== undefined || c.meta !== undefined ? await this.#entryIno(parent, name) : undefined;
    try {
      await c.call("RpcRmdir", { ...c.h(parent), Basename: name }, Errno.EIO, victim ?? 0n);
      c.meta?.removed(parent, name);
    } finally {
      c.meta?.dirChanged(parent);
      if (victim !== undefined) {
        c.meta?.forgetAttrs(victim);
        c.meta?.drop(victim, true);
      }
    }
  }

  /** flags: renameat2's RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2), only with the Rename2 extension. */
  async rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags = 0): Promise<void> {
    const c = this.#ctx;
    const moved = c.unsafe !== undefined || c.meta !== undefined ? await this.#entryIno(srcParent, srcName) : undefined;
    const replaced = c.meta !== undefined ? c.meta.entry(dstParent, dstName) : undefined;
    // Whether the stats a rename changes are known: the moved inode, and what dst named.
    const known = c.meta !== undefined && moved !== undefined && (replaced !== undefined || c.meta.knownAbsent(dstParent, dstName));
    let renamed = false;
    try {
      await this.#rename(srcParent, srcName, dstParent, dstName, flags, moved ?? 0n);
      renamed = true;
    } finally {
      // A replaced file's link count changed, the moved one's ctime.
      if (known) {
        for (const ino of [moved, replaced]) if (ino !== undefined) c.leases?.forgetStat(ino);
      } else {
        c.leases?.forgetAllStats();
      }
      const m = c.meta;
      if (m !== undefined) {
        if (renamed && flags === 0 && moved !== undefined) {
          // What a plain rename does, modelled: the directories stay known in full.
          m.removed(srcParent, srcName);
          m.renamedTo(dstParent, dstName, moved);
        } else {
          m.forgetName(srcParent, srcName);
          m.forgetName(dstParent, dstName);
        }
        m.dirChanged(srcParent);
        m.dirChanged(dstParent);
        for (const ino of [srcParent, dstParent, moved, replaced]) if (ino !== undefined) m.forgetAttrs(ino);
      }
    }
  }

  async #rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags: number, moved: bigint): Promise<void> {
    const c = this.#ctx;
    const names = { MountID: c.mountId, SrcDirInodeNumber: srcParent, SrcBasename: srcName, DstDirInodeNumber: dstParent, DstBasename: dstName };
    if (flags !== 0) {
      // 1.17.1 ignored the flags (pfsagent.md §12 #19); without the extension we refuse instead.
      if (!c.caps.has(Capability.Rename2)) throw new FsError(Errno.EINVAL, `rename flags ${flags} need the ${Capability.Rename2} extension`);
      if (flags & 2) await this.#flushVictim(srcParent, srcName);
      await this.#flushVictim(dstParent, dstName);
      await c.call("RpcRename2", { ...names, Flags: flags }, Errno.EIO, moved);
      return;
    }
    if (!(await this.#orphanIfOpen(dstParent, dstName))) await this.#flushVictim(dstParent, dstName);
    await c.call("RpcRename", names, Errno.EIO, moved);
  }
}
