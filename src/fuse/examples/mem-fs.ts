// MemFs: a complete in-memory POSIX file system written only against the FuseHandler interface.
// It is the library's reference file system: every FUSE operation is implemented with POSIX
// semantics and it is mounted for real by the tests (see src/fuse/testing/posix-suite.ts).
//
// Permissions: MemFs expects to be mounted with default_permissions, so the kernel checks mode
// bits on every access. MemFs itself enforces what the kernel cannot know or leaves to the file
// system: ownership rules of chown/chmod, set-group-ID inheritance and clearing, the sticky bit,
// clearing set-user-ID on write/truncate/chown (HANDLE_KILLPRIV), and answers ACCESS.
//
// Interrupt hook (for tests): a regular file carrying the xattr "user.memfs.slow" is opened in
// direct-I/O mode and every READ of it blocks until the kernel interrupts the request (a signal
// reached the reader); the read then fails with EINTR and `onInterrupt("READ", ino)` is called.
// A blocked F_SETLKW or flock that is interrupted reports the same way ("SETLKW").
//
// INVARIANTS: an inode is in #inodes while it is linked (nlink > 0), open, or known to the
// kernel (a lookup reference it has not forgotten); it is dropped when all three end.
// Directory cookies are stable: "." is 1, ".." is 2, each entry gets the next cookie of its
// directory when linked there and keeps it until unlinked, so readdir resumes correctly
// across concurrent changes.
import { promises as fsp } from "node:fs";
import { Errno, FsError } from "../../base/errno.js";
import type {
  Attr, AttrReply, CreateReply, DirEntry, Entry, FileLock, FuseHandler, LockRequest, NegativeEntry,
  OpenReply, RequestContext, SetattrRequest, StatfsReply,
} from "../handler.js";
import { ExtentFile, MAX_FILE_SIZE } from "./mem-fs-extents.js";
import { LockTable } from "./mem-fs-locks.js";

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFSOCK = 0o140000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;
const S_IXGRP = 0o010;

const O_ACCMODE = 3;
const O_WRONLY = 1;
const O_RDWR = 2;
const O_TRUNC = 0o1000;

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
const FALLOC_FL_ZERO_RANGE = 0x10;
const FUSE_WRITE_KILL_SUIDGID = 1 << 2;

const NAME_MAX = 255;
const PATH_MAX = 4096;
const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
const ROOT = 1n;
const SLOW_XATTR = "user.memfs.slow";
/** A blocked slow read gives up after this long even without INTERRUPT, so a broken test cannot hang forever. */
const SLOW_READ_CAP_MS = 60_000;

interface Slot {
  name: string;
  ino: bigint;
  cookie: number;
  gone: boolean;
}

interface DirData {
  parent: bigint;
  entries: Map<string, Slot>;
  /** Slots in ascending cookie order (removed ones flagged `gone` until compaction). */
  order: Slot[];
  nextCookie: number;
  gone: number;
}

interface Inode {
  ino: bigint;
  mode: number;
  uid: number;
  gid: number;
  rdev: number;
  nlink: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  btimeNs: bigint;
  xattrs: Map<string, Buffer>;
  /** The kernel holds a lookup reference (cleared by forget). */
  known: boolean;
  openCount: number;
  file?: ExtentFile;
  dir?: DirData;
  target?: string;
  locks?: LockTable;
}

interface Handle {
  ino: bigint;
  flags: number;
}

export interface MemFsOptions {
  /** Bytes the file system may allocate (statfs and ENOSPC). Default 4 GiB. */
  capacityBytes?: number;
  /** Inodes the file system may hold (statfs and ENOSPC). Default 1,000,000. */
  maxInodes?: number;
  /** Called when a blocked request gave up because the kernel interrupted it. */
  onInterrupt?: (op: string, ino: bigint) => void;
  /** Clock in ns since the epoch (tests may pin it). */
  now?: () => bigint;
}

const isDir = (m: number) => (m & S_IFMT) === S_IFDIR;

// Wall-clock nanoseconds that never go backwards within this process: the epoch offset is
// fixed once and the monotonic clock supplies the rest.
const clockBase = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();
function nowNs(): bigint {
  return clockBase + process.hrtime.bigint();
}

function checkName(name: string): void {
  if (name.length === 0 || name.includes("/") || name.includes("\0")) throw new FsError(Errno.EINVAL, `invalid file name "${name}"`);
  if (Buffer.byteLength(name, "utf8") > NAME_MAX) throw new FsError(Errno.ENAMETOOLONG, `file name longer than ${NAME_MAX} bytes`);
}

/** Converts a 64-bit offset to a number after checking it fits MemFs's file size limit. */
function offsetNumber(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(MAX_FILE_SIZE)) throw new FsError(Errno.EFBIG, `${what} ${v} exceeds the maximum file size ${MAX_FILE_SIZE}`);
  return Number(v);
}

/** Supplementary groups of a process, from /proc (FUSE requests carry only uid and gid). */
async function groupsOf(pid: number, gid: number): Promise<number[]> {
  if (pid <= 0) return [gid];
  try {
    const text = await fsp.readFile(`/proc/${pid}/status`, "utf8");
    const line = /^Groups:\s*(.*)$/m.exec(text)?.[1] ?? "";
    return [gid, ...line.split(/\s+/).filter(Boolean).map(Number)];
  } catch {
    return [gid];
  }
}

export class MemFs implements FuseHandler {
  readonly #inodes = new Map<bigint, Inode>();
  readonly #handles = new Map<bigint, Handle>();
  #nextIno = 2n;
  #nextFh = 1n;
  #usedBytes = 0;
  readonly #capacity: number;
  readonly #maxInodes: number;
  readonly #now: () => bigint;
  readonly #onInterrupt: ((op: string, ino: bigint) => void) | undefined;
  /** Requests that gave up because of INTERRUPT. */
  interrupts = 0;

  constructor(opts: MemFsOptions = {}) {
    this.#capacity = opts.capacityBytes ?? 4 * 2 ** 30;
    this.#maxInodes = opts.maxInodes ?? 1_000_000;
    this.#now = opts.now ?? nowNs;
    this.#onInterrupt = opts.onInterrupt;
    const t = this.#now();
    this.#inodes.set(ROOT, {
      ino: ROOT, mode: S_IFDIR | 0o755, uid: 0, gid: 0, rdev: 0, nlink: 2,
      atimeNs: t, mtimeNs: t, ctimeNs: t, btimeNs: t, xattrs: new Map(), known: true, openCount: 0,
      dir: { parent: ROOT, entries: new Map(), order: [], nextCookie: 3, gone: 0 },
    });
  }

  /** Number of inodes held (linked, open or known to the kernel). */
  get inodeCount(): number { return this.#inodes.size; }
  get usedBytes(): number { return this.#usedBytes; }

  // ---- helpers ----

  #get(ino: bigint): Inode {
    const i = this.#inodes.get(ino);
    if (!i) throw new FsError(Errno.ENOENT, `inode ${ino} is gone`);
    return i;
  }

  #dir(ino: bigint): Inode & { dir: DirData } {
    const i = this.#get(ino);
    if (!i.dir) throw new FsError(Errno.ENOTDIR, `inode ${ino} is not a directory`);
    return i as Inode & { dir: DirData };
  }

  #attr(i: Inode): Attr {
    const size = i.file ? BigInt(i.file.size) : i.target !== undefined ? BigInt(Buffer.byteLength(i.target)) : i.dir ? 4096n : 0n;
    const blocks = i.file ? BigInt(Math.ceil(i.file.allocatedBytes / 512)) : i.dir ? 8n : 0n;
    return {
      ino: i.ino, size, blocks, atimeNs: i.atimeNs, mtimeNs: i.mtimeNs, ctimeNs: i.ctimeNs, btimeNs: i.btimeNs,
      mode: i.mode, nlink: i.nlink, uid: i.uid, gid: i.gid, rdev: i.rdev, blksize: 4096,
    };
  }

  #entry(i: Inode): Entry {
    i.known = true;
    return { attr: this.#attr(i) };
  }

  /** Drops an inode nobody can reach any more: unlinked, closed and forgotten. */
  #maybeFree(i: Inode): void {
    if (i.ino === ROOT || i.nlink > 0 || i.openCount > 0 || i.known) return;
    if (i.file) this.#usedBytes -= i.file.allocatedBytes;
    this.#inodes.delete(i.ino);
  }

  #touch(i: Inode, what: { a?: boolean; m?: boolean; c?: boolean }): void {
    const t = this.#now();
    if (what.a) i.atimeNs = t;
    if (what.m) i.mtimeNs = t;
    if (what.c) i.ctimeNs = t;
  }

  #newInode(ctx: RequestContext, parent: Inode, mode: number, extra: Partial<Inode>): Inode {
    if (this.#inodes.size >= this.#maxInodes) throw new FsError(Errno.ENOSPC, "no free inodes");
    let gid = ctx.gid;
    // A set-group-ID directory passes its group on, and its set-group-ID bit to subdirectories.
    if (parent.mode & S_ISGID) {
      gid = parent.gid;
      if (isDir(mode)) mode |= S_ISGID;
    }
    const t = this.#now();
    const i: Inode = {
      ino: this.#nextIno++, mode, uid: ctx.uid, gid, rdev: 0, nlink: 1,
      atimeNs: t, mtimeNs: t, ctimeNs: t, btimeNs: t, xattrs: new Map(), known: false, openCount: 0, ...extra,
    };
    this.#inodes.set(i.ino, i);
    return i;
  }

  #link(parent: Inode & { dir: DirData }, name: string, ino: bigint): void {
    const slot: Slot = { name, ino, cookie: parent.dir.nextCookie++, gone: false };
    parent.dir.entries.set(name, slot);
    parent.dir.order.push(slot);
  }

  #unlinkSlot(parent: Inode & { dir: DirData }, name: string): void {
    const d = parent.dir;
    const slot = d.entries.get(name);
    if (!slot) return;
    d.entries.delete(name);
    slot.gone = true;
    d.gone++;
    if (d.gone > 64 && d.gone * 2 > d.order.length) {
      d.order = d.order.filter((s) => !s.gone);
      d.gone = 0;
    }
  }

  #child(parent: Inode & { dir: DirData }, name: string): Inode | undefined {
    const s = parent.dir.entries.get(name);
    return s ? this.#inodes.get(s.ino) : undefined;
  }

  /** The sticky-bit rule: in a sticky directory only the owner of the entry or of the directory (or root) may remove or rename it. */
  #checkSticky(ctx: RequestContext, parent: Inode, child: Inode): void {
    if ((parent.mode & S_ISVTX) && ctx.uid !== 0 && ctx.uid !== parent.uid && ctx.uid !== child.uid) {
      throw new FsError(Errno.EPERM, "sticky directory: not the owner");
    }
  }

  /** True when `dir` is `ancestor` or lies below it. */
  #isWithin(dir: bigint, ancestor: bigint): boolean {
    for (let cur = dir; ; ) {
      if (cur === ancestor) return true;
      if (cur === ROOT) return false;
      const d = this.#inodes.get(cur)?.dir;
      if (!d) return false;
      cur = d.parent;
    }
  }

  /**
   * Clears set-user-ID, and set-group-ID when group-executable (a write or chown by a non-owner
   * must not keep privileges). Every non-directory: Linux's chown_common kills the bits on fifos,
   * sockets and device nodes too (pjdfstest chown/00); writes and truncates reach regular files only.
   */
  #killSuidgid(i: Inode): void {
    if (isDir(i.mode)) return;
    let m = i.mode & ~S_ISUID;
    if (m & S_IXGRP) m &= ~S_ISGID;
    i.mode = m;
  }

  #handle(fh: bigint, ino: bigint): Handle {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino) throw new FsError(Errno.EBADF, `no open handle ${fh} on inode ${ino}`);
    return h;
  }

  #locks(i: Inode): LockTable {
    i.locks ??= new LockTable();
    return i.locks;
  }

  /** Bytes in [off, off+len) of `f` not yet allocated: what a write or allocation there adds. */
  #newBytes(f: ExtentFile, off: number, len: number): number {
    let have = 0;
    for (const r of f.dataRanges(off, off + len)) have += r.len;
    return len - have;
  }

  #reserve(bytes: number): void {
    if (this.#usedBytes + bytes > this.#capacity) throw new FsError(Errno.ENOSPC, "file system is full");
  }

  /** Runs a change to `f`, keeping #usedBytes equal to the sum of allocated bytes. */
  #change(f: ExtentFile, fn: () => void): void {
    const before = f.allocatedBytes;
    fn();
    this.#usedBytes += f.allocatedBytes - before;
  }

  #interrupted(op: string, ino: bigint): FsError {
    this.interrupts++;
    this.#onInterrupt?.(op, ino);
    return new FsError(Errno.EINTR, `${op} interrupted`);
  }

  // ---- lifecycle ----

  forget(nodeid: bigint): void {
    const i = this.#inodes.get(nodeid);
    if (!i) return;
    i.known = false;
    this.#maybeFree(i);
  }

  // ---- names ----

  async lookup(_ctx: RequestContext, parent: bigint, name: string): Promise<Entry | NegativeEntry> {
    const p = this.#dir(parent);
    if (name === ".") return this.#entry(p);
    if (name === "..") return this.#entry(this.#get(p.dir.parent));
    if (Buffer.byteLength(name, "utf8") > NAME_MAX) throw new FsError(Errno.ENAMETOOLONG);
    const c = this.#child(p, name);
    if (!c) throw new FsError(Errno.ENOENT);
    return this.#entry(c);
  }

  async getattr(_ctx: RequestContext, nodeid: bigint): Promise<AttrReply> {
    return { attr: this.#attr(this.#get(nodeid)) };
  }

  async setattr(ctx: RequestContext, nodeid: bigint, ch: SetattrRequest): Promise<AttrReply> {
    const i = this.#get(nodeid);
    const root = ctx.uid === 0;
    const owner = root || ctx.uid === i.uid;
    let groups: number[] | undefined;
    const inGroup = async (g: number) => (groups ??= await groupsOf(ctx.pid, ctx.gid)).includes(g);
    // Check everything before changing anything: a failed setattr changes nothing.
    if (ch.mode !== undefined && !owner) throw new FsError(Errno.EPERM, "only the owner may chmod");
    if (ch.uid !== undefined && ch.uid !== i.uid && !root) throw new FsError(Errno.EPERM, "only root may change the owner");
    if (ch.gid !== undefined && ch.gid !== i.gid && !root && !(ctx.uid === i.uid && (await inGroup(ch.gid)))) {
      throw new FsError(Errno.EPERM, "only the owner may change the group, to one of its groups");
    }
    if (ch.size !== undefined) {
      if (i.dir) throw new FsError(Errno.EISDIR);
      if (!i.file) throw new FsError(Errno.EINVAL, "cannot truncate a special file");
    }
    const size = ch.size !== undefined ? offsetNumber(ch.size, "size") : undefined;
    const setsTime = ch.atime !== undefined || ch.mtime !== undefined;
    if (setsTime && !owner) {
      // Only "now" is allowed to non-owners (with write permission, which the kernel checked).
      if (ch.atime !== "now" && ch.atime !== undefined) throw new FsError(Errno.EPERM);
      if (ch.mtime !== "now" && ch.mtime !== undefined) throw new FsError(Errno.EPERM);
    }

    if (ch.mode !== undefined) {
      let mode = ch.mode & 0o7777;
      // A non-root owner who is not in the file's group cannot set set-group-ID on it.
      if ((mode & S_ISGID) && !root && !(await inGroup(i.gid))) mode &= ~S_ISGID;
      i.mode = (i.mode & S_IFMT) | mode;
    }
    if (ch.uid !== undefined || ch.gid !== undefined) {
      if (ch.uid !== undefined) i.uid = ch.uid;
      if (ch.gid !== undefined) i.gid = ch.gid;
      // chown of a non-directory clears set-user-ID/set-group-ID, even by root (as Linux's
      // chown_common does); with HANDLE_KILLPRIV the kernel leaves that to the file system.
      this.#killSuidgid(i);
    }
    if (size !== undefined && i.file) {
      const f = i.file;
      this.#change(f, () => f.truncate(size));
      if (!root || ch.killSuidgid) this.#killSuidgid(i);
      this.#touch(i, { m: true, c: true });
    } else if (ch.killSuidgid) this.#killSuidgid(i);
    const t = this.#now();
    if (ch.atime !== undefined) i.atimeNs = ch.atime === "now" ? t : ch.atime;
    if (ch.mtime !== undefined) i.mtimeNs = ch.mtime === "now" ? t : ch.mtime;
    i.ctimeNs = ch.ctime ?? t;
    return { attr: this.#attr(i) };
  }

  async readlink(_ctx: RequestContext, nodeid: bigint): Promise<string> {
    const i = this.#get(nodeid);
    if (i.target === undefined) throw new FsError(Errno.EINVAL, "not a symbolic link");
    this.#touch(i, { a: true });
    return i.target;
  }

  #prepareCreate(parent: bigint, name: string): Inode & { dir: DirData } {
    const p = this.#dir(parent);
    checkName(name);
    if (p.nlink === 0) throw new FsError(Errno.ENOENT, "directory was removed");
    if (p.dir.entries.has(name)) throw new FsError(Errno.EEXIST);
    return p;
  }

  #finishCreate(p: Inode & { dir: DirData }, name: string, i: Inode): Entry {
    this.#link(p, name, i.ino);
    this.#touch(p, { m: true, c: true });
    return this.#entry(i);
  }

  async symlink(ctx: RequestContext, parent: bigint, name: string, target: string): Promise<Entry> {
    const p = this.#prepareCreate(parent, name);
    if (target.length === 0) throw new FsError(Errno.ENOENT, "empty symlink target");
    if (Buffer.byteLength(target) >= PATH_MAX) throw new FsError(Errno.ENAMETOOLONG);
    const i = this.#newInode(ctx, p, S_IFLNK | 0o777, { target });
    return this.#finishCreate(p, name, i);
  }

  async mknod(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; rdev: number; umask: number }): Promise<Entry> {
    const p = this.#prepareCreate(parent, name);
    const type = opts.mode & S_IFMT;
    const mode = type === 0 ? S_IFREG | (opts.mode & 0o7777 & ~opts.umask) : type | (opts.mode & 0o7777 & ~opts.umask);
    const t = mode & S_IFMT;
    if (t !== S_IFREG && t !== S_IFIFO && t !== S_IFCHR && t !== S_IFBLK && t !== S_IFSOCK) {
      throw new FsError(Errno.EINVAL, `mknod cannot make type 0o${t.toString(8)}`);
    }
    const extra: Partial<Inode> = t === S_IFREG ? { file: new ExtentFile() } : {};
    if (t === S_IFCHR || t === S_IFBLK) extra.rdev = opts.rdev;
    const i = this.#newInode(ctx, p, mode, extra);
    return this.#finishCreate(p, name, i);
  }

  async mkdir(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number }): Promise<Entry> {
    const p = this.#prepareCreate(parent, name);
    const i = this.#newInode(ctx, p, S_IFDIR | (opts.mode & 0o7777 & ~opts.umask), {
      nlink: 2, dir: { parent: p.ino, entries: new Map(), order: [], nextCookie: 3, gone: 0 },
    });
    p.nlink++;
    return this.#finishCreate(p, name, i);
  }

  async unlink(ctx: RequestContext, parent: bigint, name: string): Promise<void> {
    const p = this.#dir(parent);
    const c = this.#child(p, name);
    if (!c) throw new FsError(Errno.ENOENT);
    if (c.dir) throw new FsError(Errno.EISDIR);
    this.#checkSticky(ctx, p, c);
    this.#unlinkSlot(p, name);
    c.nlink--;
    this.#touch(c, { c: true });
    this.#touch(p, { m: true, c: true });
    this.#maybeFree(c);
  }

  async rmdir(ctx: RequestContext, parent: bigint, name: string): Promise<void> {
    const p = this.#dir(parent);
    if (name === ".") throw new FsError(Errno.EINVAL);
    if (name === "..") throw new FsError(Errno.ENOTEMPTY);
    const c = this.#child(p, name);
    if (!c) throw new FsError(Errno.ENOENT);
    if (!c.dir) throw new FsError(Errno.ENOTDIR);
    if (c.dir.entries.size > 0) throw new FsError(Errno.ENOTEMPTY);
    this.#checkSticky(ctx, p, c);
    this.#unlinkSlot(p, name);
    c.nlink = 0;
    p.nlink--;
    this.#touch(c, { c: true });
    this.#touch(p, { m: true, c: true });
    this.#maybeFree(c);
  }

  async rename(ctx: RequestContext, from: { parent: bigint; name: string }, to: { parent: bigint; name: string }, flags: number): Promise<void> {
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw new FsError(Errno.EINVAL, `unsupported rename flags 0x${flags.toString(16)}`);
    if ((flags & RENAME_NOREPLACE) && (flags & RENAME_EXCHANGE)) throw new FsError(Errno.EINVAL);
    const sp = this.#dir(from.parent);
    const dp = this.#dir(to.parent);
    checkName(to.name);
    const src = this.#child(sp, from.name);
    if (!src) throw new FsError(Errno.ENOENT);
    const dst = this.#child(dp, to.name);
    if (flags & RENAME_EXCHANGE) {
      if (!dst) throw new FsError(Errno.ENOENT);
      return this.#exchange(ctx, sp, from.name, src, dp, to.name, dst);
    }
    if (dst && (flags & RENAME_NOREPLACE)) throw new FsError(Errno.EEXIST);
    // Renaming a name onto another link of the same inode does nothing (POSIX).
    if (dst === src) return;
    if (src.dir) {
      if (this.#isWithin(dp.ino, src.ino)) throw new FsError(Errno.EINVAL, "cannot move a directory into itself");
      if (dst && !dst.dir) throw new FsError(Errno.ENOTDIR);
      if (dst?.dir && dst.dir.entries.size > 0) throw new FsError(Errno.ENOTEMPTY);
    } else if (dst?.dir) {
      throw new FsError(Errno.EISDIR);
    }
    this.#checkSticky(ctx, sp, src);
    if (dst) this.#checkSticky(ctx, dp, dst);
    if (dp.nlink === 0) throw new FsError(Errno.ENOENT, "target directory was removed");

    if (dst) {
      this.#unlinkSlot(dp, to.name);
      if (dst.dir) {
        dst.nlink = 0;
        dp.nlink--;
      } else dst.nlink--;
      this.#touch(dst, { c: true });
    }
    this.#unlinkSlot(sp, from.name);
    this.#link(dp, to.name, src.ino);
    if (src.dir && sp !== dp) {
      src.dir.parent = dp.ino;
      sp.nlink--;
      dp.nlink++;
    }
    this.#touch(src, { c: true });
    this.#touch(sp, { m: true, c: true });
    this.#touch(dp, { m: true, c: true });
    if (dst) this.#maybeFree(dst);
  }

  #exchange(ctx: RequestContext, sp: Inode & { dir: DirData }, sname: string, src: Inode, dp: Inode & { dir: DirData }, dname: string, dst: Inode): void {
    if (src === dst) return;
    if (src.dir && this.#isWithin(dp.ino, src.ino)) throw new FsError(Errno.EINVAL, "cannot move a directory into itself");
    if (dst.dir && this.#isWithin(sp.ino, dst.ino)) throw new FsError(Errno.EINVAL, "cannot move a directory into itself");
    this.#checkSticky(ctx, sp, src);
    this.#checkSticky(ctx, dp, dst);
    sp.dir.entries.get(sname)!.ino = dst.ino;
    dp.dir.entries.get(dname)!.ino = src.ino;
    if (sp !== dp) {
      if (src.dir) { src.dir.parent = dp.ino; sp.nlink--; dp.nlink++; }
      if (dst.dir) { dst.dir.parent = sp.ino; dp.nlink--; sp.nlink++; }
    }
    this.#touch(src, { c: true });
    this.#touch(dst, { c: true });
    this.#touch(sp, { m: true, c: true });
    this.#touch(dp, { m: true, c: true });
  }

  async link(_ctx: RequestContext, nodeid: bigint, to: { parent: bigint; name: string }): Promise<Entry> {
    const i = this.#get(nodeid);
    if (i.dir) throw new FsError(Errno.EPERM, "cannot hard-link a directory");
    const p = this.#prepareCreate(to.parent, to.name);
    i.nlink++;
    this.#touch(i, { c: true });
    return this.#finishCreate(p, to.name, i);
  }

  // ---- files ----

  #open(i: Inode, flags: number): OpenReply {
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: i.ino, flags });
    i.openCount++;
    return { fh, directIo: i.xattrs.has(SLOW_XATTR) };
  }

  async open(ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply> {
    const i = this.#get(nodeid);
    if (i.dir) throw new FsError(Errno.EISDIR);
    const writes = (flags & O_ACCMODE) === O_WRONLY || (flags & O_ACCMODE) === O_RDWR;
    if ((flags & O_TRUNC) && writes && i.file) {
      const f = i.file;
      this.#change(f, () => f.truncate(0));
      if (ctx.uid !== 0) this.#killSuidgid(i);
      this.#touch(i, { m: true, c: true });
    }
    return this.#open(i, flags);
  }

  async create(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number; flags: number }): Promise<CreateReply> {
    const p = this.#dir(parent);
    const existing = this.#child(p, name);
    if (existing) {
      // Lost a race with another creator: behave as open(2) of the existing file.
      if (opts.flags & 0o200) throw new FsError(Errno.EEXIST);
      return { entry: this.#entry(existing), open: await this.open(ctx, existing.ino, opts.flags) };
    }
    const entry = await this.mknod(ctx, parent, name, { mode: S_IFREG | (opts.mode & 0o7777), rdev: 0, umask: opts.umask });
    return { entry, open: this.#open(this.#get(entry.attr.ino), opts.flags) };
  }

  async tmpfile(ctx: RequestContext, parent: bigint, opts: { mode: number; umask: number; flags: number }): Promise<CreateReply> {
    const p = this.#dir(parent);
    const i = this.#newInode(ctx, p, S_IFREG | (opts.mode & 0o7777 & ~opts.umask), { file: new ExtentFile(), nlink: 0 });
    const entry = this.#entry(i);
    return { entry, open: this.#open(i, opts.flags) };
  }

  async read(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number }): Promise<Buffer> {
    const i = this.#get(nodeid);
    if (i.dir) throw new FsError(Errno.EISDIR);
    if (!i.file) throw new FsError(Errno.EINVAL);
    if (i.xattrs.has(SLOW_XATTR)) await this.#blockUntilInterrupted(ctx, "READ", i.ino);
    this.#touch(i, { a: true });
    if (req.offset >= BigInt(i.file.size)) return Buffer.alloc(0);
    return i.file.read(Number(req.offset), req.size);
  }

  async #blockUntilInterrupted(ctx: RequestContext, op: string, ino: bigint): Promise<void> {
    const signal = ctx.signal;
    await new Promise<never>((_resolve, reject) => {
      const timer = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        reject(new FsError(Errno.EIO, `${op} of a slow file was never interrupted`));
      }, SLOW_READ_CAP_MS);
      const onAbort = () => {
        clearTimeout(timer);
        reject(this.#interrupted(op, ino));
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  async write(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; data: Buffer; writeFlags: number }): Promise<number> {
    const i = this.#get(nodeid);
    if (!i.file) throw new FsError(i.dir ? Errno.EISDIR : Errno.EINVAL);
    const off = offsetNumber(req.offset, "offset");
    if (off + req.data.length > MAX_FILE_SIZE) throw new FsError(Errno.EFBIG);
    const f = i.file;
    this.#reserve(this.#newBytes(f, off, req.data.length));
    this.#change(f, () => f.write(off, req.data));
    if (ctx.uid !== 0 || (req.writeFlags & FUSE_WRITE_KILL_SUIDGID)) this.#killSuidgid(i);
    this.#touch(i, { m: true, c: true });
    return req.data.length;
  }

  async statfs(): Promise<StatfsReply> {
    const bsize = 4096;
    const blocks = BigInt(Math.floor(this.#capacity / bsize));
    const used = BigInt(Math.ceil(this.#usedBytes / bsize));
    const free = blocks > used ? blocks - used : 0n;
    const files = BigInt(this.#maxInodes);
    return {
      blocks, bfree: free, bavail: free, files, ffree: files - BigInt(this.#inodes.size),
      bsize, namelen: NAME_MAX, frsize: bsize,
    };
  }

  async flush(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; lockOwner: bigint }): Promise<void> {
    // close(2) of any descriptor drops the process's POSIX locks on the file: the kernel leaves
    // that to file systems that handle locks themselves.
    this.#get(nodeid).locks?.releasePosixOwner(req.lockOwner);
  }

  async release(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; flags: number; lockOwner?: bigint; flush: boolean; flockRelease: boolean }): Promise<void> {
    const h = this.#handles.get(req.fh);
    if (!h) return;
    this.#handles.delete(req.fh);
    const i = this.#inodes.get(nodeid);
    if (!i) return;
    if (req.lockOwner !== undefined) {
      if (req.flockRelease) i.locks?.releaseFlock(req.lockOwner);
      if (req.flush) i.locks?.releasePosixOwner(req.lockOwner);
    }
    i.openCount--;
    if (i.locks?.empty) delete i.locks;
    this.#maybeFree(i);
  }

  async fsync(_ctx: RequestContext, nodeid: bigint): Promise<void> {
    this.#get(nodeid);
  }

  async fsyncdir(_ctx: RequestContext, nodeid: bigint): Promise<void> {
    this.#dir(nodeid);
  }

  async syncfs(): Promise<void> {}

  // ---- xattrs ----

  #checkXattrName(name: string): void {
    if (name.length === 0 || Buffer.byteLength(name) > XATTR_NAME_MAX) throw new FsError(Errno.ERANGE, "bad xattr name length");
    if (!/^(user|trusted|security)\./.test(name)) throw new FsError(Errno.EOPNOTSUPP, `xattr namespace of "${name}" is not supported`);
  }

  async setxattr(_ctx: RequestContext, nodeid: bigint, name: string, value: Buffer, flags: number): Promise<void> {
    const i = this.#get(nodeid);
    this.#checkXattrName(name);
    if (value.length > XATTR_SIZE_MAX) throw new FsError(Errno.E2BIG);
    const has = i.xattrs.has(name);
    if ((flags & XATTR_CREATE) && has) throw new FsError(Errno.EEXIST);
    if ((flags & XATTR_REPLACE) && !has) throw new FsError(Errno.ENODATA);
    i.xattrs.set(name, value);
    this.#touch(i, { c: true });
  }

  async getxattr(_ctx: RequestContext, nodeid: bigint, name: string): Promise<Buffer> {
    const i = this.#get(nodeid);
    this.#checkXattrName(name);
    const v = i.xattrs.get(name);
    if (!v) throw new FsError(Errno.ENODATA);
    return v;
  }

  async listxattr(_ctx: RequestContext, nodeid: bigint): Promise<string[]> {
    return [...this.#get(nodeid).xattrs.keys()];
  }

  async removexattr(_ctx: RequestContext, nodeid: bigint, name: string): Promise<void> {
    const i = this.#get(nodeid);
    this.#checkXattrName(name);
    if (!i.xattrs.delete(name)) throw new FsError(Errno.ENODATA);
    this.#touch(i, { c: true });
  }

  // ---- directories ----

  async opendir(_ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply> {
    const i = this.#dir(nodeid);
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: i.ino, flags });
    i.openCount++;
    return { fh };
  }

  async readdir(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number; plus: boolean }): Promise<DirEntry[]> {
    const i = this.#dir(nodeid);
    const d = i.dir;
    const out: DirEntry[] = [];
    // Return exactly what fits in `size` bytes (fuse_dirent: 24 bytes + name, 8-aligned;
    // fuse_direntplus adds a 128-byte entry), so every READDIRPLUS entry returned is one the
    // kernel receives and holds a reference on.
    let room = req.size;
    const fits = (name: string) => {
      const rec = ((req.plus ? 152 : 24) + Buffer.byteLength(name) + 7) & ~7;
      if (rec > room) return false;
      room -= rec;
      return true;
    };
    const off = req.offset;
    if (off < 1n) {
      if (!fits(".")) return out;
      out.push({ name: ".", ino: i.ino, type: 4, offset: 1n });
    }
    if (off < 2n) {
      if (!fits("..")) return out;
      out.push({ name: "..", ino: d.parent, type: 4, offset: 2n });
    }
    // First slot with a cookie above `off` (binary search over the ascending order).
    let lo = 0;
    let hi = d.order.length;
    const after = off > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(off);
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (d.order[mid]!.cookie <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let k = lo; k < d.order.length; k++) {
      const s = d.order[k]!;
      if (s.gone) continue;
      const c = this.#inodes.get(s.ino);
      if (!c) continue;
      if (!fits(s.name)) break;
      const e: DirEntry = { name: s.name, ino: c.ino, type: (c.mode >>> 12) & 0xf, offset: BigInt(s.cookie) };
      if (req.plus) e.entry = this.#entry(c);
      out.push(e);
    }
    this.#touch(i, { a: true });
    return out;
  }

  async releasedir(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint }): Promise<void> {
    if (!this.#handles.delete(req.fh)) return;
    const i = this.#inodes.get(nodeid);
    if (!i) return;
    i.openCount--;
    this.#maybeFree(i);
  }

  // ---- locks ----

  async getlk(_ctx: RequestContext, nodeid: bigint, req: LockRequest): Promise<FileLock> {
    const i = this.#get(nodeid);
    return i.locks ? i.locks.testPosix(req.owner, req.lock) : { start: 0n, end: 0n, type: 2, pid: 0 };
  }

  async setlk(ctx: RequestContext, nodeid: bigint, req: LockRequest, wait: boolean): Promise<void> {
    const i = this.#get(nodeid);
    const table = this.#locks(i);
    try {
      if (req.flock) await table.setFlock(req.owner, req.lock.type, req.lock.pid, wait, () => ctx.signal);
      else await table.setPosix(req.owner, req.lock, wait, () => ctx.signal);
    } catch (err) {
      if (err instanceof FsError && err.errno === Errno.EINTR) throw this.#interrupted(wait ? "SETLKW" : "SETLK", i.ino);
      throw err;
    }
  }

  // ---- misc ----

  async access(ctx: RequestContext, nodeid: bigint, mask: number): Promise<void> {
    const i = this.#get(nodeid);
    if (mask === 0) return;
    if (ctx.uid === 0) {
      // Root may read and write anything, and execute what anyone may execute.
      if ((mask & 1) && !i.dir && !(i.mode & 0o111)) throw new FsError(Errno.EACCES);
      return;
    }
    let bits: number;
    if (ctx.uid === i.uid) bits = (i.mode >> 6) & 7;
    else if ((await groupsOf(ctx.pid, ctx.gid)).includes(i.gid)) bits = (i.mode >> 3) & 7;
    else bits = i.mode & 7;
    if ((bits & mask) !== mask) throw new FsError(Errno.EACCES);
  }

  async bmap(): Promise<bigint> {
    // BMAP maps file blocks to blocks of a backing block device (fuseblk); MemFs has none.
    throw new FsError(Errno.EINVAL, "no backing block device");
  }

  async poll(_ctx: RequestContext, _nodeid: bigint, req: { events: number }): Promise<number> {
    // Memory files never block: always readable and writable.
    return req.events & (0x001 | 0x004 | 0x040 | 0x100);
  }

  async fallocate(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; length: bigint; mode: number }): Promise<void> {
    const i = this.#get(nodeid);
    if (!i.file) throw new FsError(i.dir ? Errno.EISDIR : Errno.ENODEV);
    const known = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE;
    if (req.mode & ~known) throw new FsError(Errno.EOPNOTSUPP, `fallocate mode 0x${req.mode.toString(16)}`);
    if (req.length <= 0n) throw new FsError(Errno.EINVAL);
    const off = offsetNumber(req.offset, "offset");
    const end = offsetNumber(req.offset + req.length, "end");
    const len = end - off;
    const keep = (req.mode & FALLOC_FL_KEEP_SIZE) !== 0;
    const f = i.file;
    if (req.mode & FALLOC_FL_PUNCH_HOLE) {
      if (!keep || (req.mode & FALLOC_FL_ZERO_RANGE)) throw new FsError(Errno.EOPNOTSUPP, "PUNCH_HOLE needs KEEP_SIZE alone");
      this.#change(f, () => f.punch(off, len));
      this.#touch(i, { m: true, c: true });
    } else if (req.mode & FALLOC_FL_ZERO_RANGE) {
      // After it the range (up to the size with KEEP_SIZE) is allocated: reserve what is not yet.
      this.#reserve(this.#newBytes(f, off, keep ? Math.max(0, Math.min(end, f.size) - off) : len));
      this.#change(f, () => f.zeroRange(off, len, keep));
      this.#touch(i, { m: true, c: true });
    } else {
      this.#reserve(this.#newBytes(f, off, len));
      const grows = !keep && end > f.size;
      this.#change(f, () => f.allocate(off, len, keep));
      this.#touch(i, grows ? { m: true, c: true } : { c: true });
    }
    if (ctx.uid !== 0) this.#killSuidgid(i);
  }

  async lseek(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; whence: number }): Promise<bigint> {
    const i = this.#get(nodeid);
    const size = BigInt(i.file?.size ?? 0);
    switch (req.whence) {
      case 0: return req.offset;
      case 2: return size + req.offset;
      case 3: case 4: {
        if (!i.file) throw new FsError(Errno.EINVAL);
        if (req.offset < 0n) throw new FsError(Errno.ENXIO);
        if (req.offset >= size) throw new FsError(Errno.ENXIO);
        const off = Number(req.offset);
        const r = req.whence === 3 ? i.file.seekData(off) : i.file.seekHole(off);
        if (r === null) throw new FsError(Errno.ENXIO);
        return BigInt(r);
      }
      default: throw new FsError(Errno.EINVAL, `bad whence ${req.whence}`);
    }
  }

  async copyFileRange(ctx: RequestContext, nodeid: bigint, req: { fhIn: bigint; offIn: bigint; nodeidOut: bigint; fhOut: bigint; offOut: bigint; len: bigint; flags: bigint }): Promise<bigint> {
    if (req.flags !== 0n) throw new FsError(Errno.EINVAL);
    const src = this.#get(nodeid);
    const dst = this.#get(req.nodeidOut);
    this.#handle(req.fhIn, nodeid);
    this.#handle(req.fhOut, req.nodeidOut);
    if (!src.file || !dst.file) throw new FsError(src.dir || dst.dir ? Errno.EISDIR : Errno.EINVAL);
    const offIn = offsetNumber(req.offIn, "offset");
    const offOut = offsetNumber(req.offOut, "offset");
    const len = Math.max(0, Math.min(Number(req.len > 1n << 30n ? 1n << 30n : req.len), src.file.size - offIn));
    if (len === 0) return 0n;
    if (offOut + len > MAX_FILE_SIZE) throw new FsError(Errno.EFBIG);
    if (src === dst && offIn < offOut + len && offOut < offIn + len) throw new FsError(Errno.EINVAL, "overlapping copy within one file");
    const sf = src.file;
    const df = dst.file;
    // Copy data extents only: holes in the source stay holes in the destination.
    const pieces = [...sf.dataRanges(offIn, offIn + len)].map((r) => ({ at: r.off - offIn, data: sf.read(r.off, r.len) }));
    this.#reserve(pieces.reduce((a, p) => a + p.data.length, 0));
    this.#change(df, () => {
      df.punch(offOut, len);
      for (const p of pieces) df.write(offOut + p.at, p.data);
      if (df.size < offOut + len) df.truncate(offOut + len);
    });
    if (ctx.uid !== 0) this.#killSuidgid(dst);
    this.#touch(dst, { m: true, c: true });
    this.#touch(src, { a: true });
    return BigInt(len);
  }
}
