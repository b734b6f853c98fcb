// One volume's namespace and metadata with POSIX semantics: the layer proxyfsd's RPC
// handlers call. Methods take domain values (bigint inode numbers, bigint ns times, the
// caller's credentials) and throw FsError with the errno a Linux file system would return, in
// the order Linux checks them (search permission on the directory, then name checks, then
// existence, then write permission, then type rules).
//
// All state is behind a VolumeStore; each mutating method runs as one store transaction
// (committed on success, undone on any throw), so a journal can record whole operations.
// Methods are synchronous: an operation is atomic with respect to every other one.
//
// Times: every timestamp an operation sets is the same `now()` value. atime is never
// updated implicitly (the server does not see reads; like mounting with noatime).

import { fsError } from "../base/index.js";
import { DirCursors, UNIQUE_LOCATION_BASE } from "./dir-cursors.js";
import type { Extent, ExtentMap } from "./extent-map.js";
import { MemoryVolumeStore } from "./memory-volume-store.js";
import { checkNameLength, checkNameSyntax, checkSymlinkTarget, isDotName, utf8Length } from "./names.js";
import { inGroup, isOwnerOrRoot, mayAccess } from "./permissions.js";
import { LockTable, type LockRange } from "./lock-table.js";
import {
  DT_DIR, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, MAX_FILE_SIZE, RENAME_EXCHANGE, RENAME_NOREPLACE,
  RENAME_WHITEOUT, ROOT_INO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK, S_ISGID,
  S_ISUID, S_ISVTX, XATTR_CREATE, XATTR_LIST_MAX, XATTR_NAME_MAX, XATTR_REPLACE, XATTR_SIZE_MAX, attrOf, dtOf,
  isDir, isReg, type Attr, type Caller, type InodeRecord,
} from "./types.js";
import type { VolumeStore, VolumeTxn } from "./volume-store.js";

export interface VolumeOptions {
  /** Where state lives; a fresh MemoryVolumeStore by default. An empty store is formatted. */
  store?: VolumeStore;
  /** Clock in ns since the epoch. */
  now?: () => bigint;
  /** Swift account of the volume, used in provisioned object paths. */
  accountName?: string;
  /** Log-segment container naming and layout (ProxyFS [PhysicalContainerLayout]). */
  containerPrefix?: string;
  containersPerPeer?: number;
  maxObjectsPerContainer?: number;
  /** Hard link limit (EMLINK); also bounds subdirectories per directory. */
  linkMax?: number;
  /** Bytes of xattr names + values per inode (ENOSPC beyond). */
  maxXattrBytes?: number;
  /** fs.protected_hardlinks=1 semantics for link() (Debian default). */
  protectedHardlinks?: boolean;
  /** Mode/owner given to the root directory when formatting (ProxyFS: 0777 root:root). */
  rootMode?: number;
  rootUid?: number;
  rootGid?: number;
  /**
   * statfs figures. Totals (and the block size) are reported as configured; free and available
   * blocks and inodes are the configured values minus what the volume uses (statfs()).
   */
  statfs?: Partial<StatFs>;
}

export interface StatFs {
  blockSize: bigint;
  fragmentSize: bigint;
  totalBlocks: bigint;
  freeBlocks: bigint;
  availBlocks: bigint;
  totalInodes: bigint;
  freeInodes: bigint;
  availInodes: bigint;
  fsid: bigint;
  mountFlags: bigint;
  maxNameLen: bigint;
}

export type TimeSpec = bigint | "now";

export interface SetAttrChanges {
  /** Permission bits; only & 0o7777 is used (the type never changes). */
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atimeNs?: TimeSpec;
  mtimeNs?: TimeSpec;
  /** Root only (EPERM otherwise): ProxyFS Setstat can set these. */
  ctimeNs?: bigint;
  crtimeNs?: bigint;
}

export interface RemoveOptions {
  /** Keep an inode whose link count reaches 0 (for a later destroy()), as ProxyFS RpcMove. */
  deferDestroy?: boolean;
}

export interface Unlinked {
  readonly ino: bigint;
  /** Link count after the operation. */
  readonly nlink: number;
  /** True when the inode was freed; false when it has links left or was deferred. */
  readonly destroyed: boolean;
}

export interface RenameResult {
  /** The inode whose entry the rename replaced (not for RENAME_EXCHANGE). */
  readonly replaced?: Unlinked;
}

export interface DirEntry {
  readonly name: string;
  readonly ino: bigint;
  /** DT_* */
  readonly type: number;
  /** Location cookie of the next entry (ProxyFS NextDirLocation). */
  readonly nextLoc: bigint;
  /** Only for readdir-plus. */
  readonly attr?: Attr;
}

export interface ProvisionedObject {
  readonly segment: bigint;
  readonly containerName: string;
  readonly objectName: string;
  /** `/v1/<account>/<container>/<object>` (ProxyFS PhysPath). */
  readonly physPath: string;
  /** True when the container is new and must be created in the object store first. */
  readonly newContainer: boolean;
}

export interface WroteExtent {
  readonly fileOffset: bigint;
  readonly objectOffset: bigint;
  readonly length: bigint;
}

export interface WroteRequest {
  readonly containerName: string;
  /** 16 hex digits: the log segment number. */
  readonly objectName: string;
  readonly extents: readonly WroteExtent[];
  /** 0n/undefined = now. */
  readonly timeNs?: bigint;
}

/** An extent as the agent sees it (ProxyFS ExtentMapEntry). */
export interface NamedExtent {
  readonly fileOffset: bigint;
  readonly length: bigint;
  readonly segmentOffset: bigint;
  readonly containerName: string;
  readonly objectName: string;
}

export interface ExtentMapChunk {
  readonly rangeStart: bigint;
  readonly rangeEnd: bigint;
  readonly fileSize: bigint;
  readonly extents: readonly NamedExtent[];
}

/** A read-plan step; zeros when objectName is "". */
export interface ReadPlanStep {
  readonly fileOffset: bigint;
  readonly length: bigint;
  readonly segmentOffset: bigint;
  readonly containerName: string;
  readonly objectName: string;
}

export interface SegmentInfo {
  readonly segment: bigint;
  readonly containerName: string;
  readonly objectName: string;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const DEFAULT_STATFS: StatFs = {
  blockSize: 65536n, fragmentSize: 65536n, totalBlocks: 1677721600n, freeBlocks: 1677721600n,
  availBlocks: 1677721600n, totalInodes: 107374182400n, freeInodes: 107374182400n, availInodes: 107374182400n,
  fsid: 1n, mountFlags: 0n, maxNameLen: 255n,
};

const NO_XATTRS: ReadonlyMap<string, Uint8Array> = new Map();

export class Volume {
  readonly #store: VolumeStore;
  readonly #now: () => bigint;
  readonly #cursors = new DirCursors();
  readonly #locks = new LockTable();
  readonly #account: string;
  readonly #containerPrefix: string;
  readonly #containersPerPeer: number;
  readonly #maxObjectsPerContainer: number;
  readonly #linkMax: number;
  readonly #maxXattrBytes: number;
  readonly #protectedHardlinks: boolean;
  readonly #statfs: StatFs;
  readonly #containers: Array<{ name: string; objects: number }> = [];
  #nextContainer = 0;

  /** Set only inside withInodeNumber: the number the next created node gets. */
  #replayIno: bigint | undefined;

  constructor(options: VolumeOptions = {}) {
    this.#store = options.store ?? new MemoryVolumeStore();
    this.#now = options.now ?? defaultClock();
    this.#account = options.accountName ?? "AUTH_test";
    this.#containerPrefix = options.containerPrefix ?? "Replicated3Way_";
    this.#containersPerPeer = Math.max(1, options.containersPerPeer ?? 10);
    this.#maxObjectsPerContainer = Math.max(1, options.maxObjectsPerContainer ?? 1_000_000);
    // Re-open the containers a previous run was filling (their names come from the log-segment
    // records), newest first, so restarts do not leave a trail of barely used containers.
    const counts = [...this.#store.segmentCountsByContainer()]
      .filter(([name, n]) => name.startsWith(this.#containerPrefix) && n < this.#maxObjectsPerContainer)
      .sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0));
    for (const [name, objects] of counts.slice(0, this.#containersPerPeer)) this.#containers.push({ name, objects });
    this.#linkMax = options.linkMax ?? 65000;
    this.#maxXattrBytes = options.maxXattrBytes ?? 1 << 20;
    this.#protectedHardlinks = options.protectedHardlinks ?? true;
    this.#statfs = { ...DEFAULT_STATFS, ...options.statfs };
    if (this.#store.getInode(ROOT_INO) === undefined) {
      const now = this.#now();
      this.#run("format", (tx) => {
        tx.putInode(newRecord(ROOT_INO, S_IFDIR | ((options.rootMode ?? 0o777) & 0o7777), options.rootUid ?? 0, options.rootGid ?? 0, now, ROOT_INO));
        tx.createDir(ROOT_INO);
      });
    }
  }

  /** The store (for persistence layers, admin tools and tests). */
  get store(): VolumeStore {
    return this.#store;
  }

  // ------------------------------------------------------------------ attributes

  getattr(ino: bigint): Attr {
    return attrOf(this.#inode(this.#store, ino));
  }

  /**
   * Bytes allocated to the inode (st_blocks * 512): for a regular file the bytes its extents
   * cover (written data and fallocated zero extents, holes excluded; O(1)); for any other type
   * its size (a symlink's target, kept in the inode record; 0 for directories and special files).
   */
  allocatedBytes(ino: bigint): bigint {
    const rec = this.#inode(this.#store, ino);
    return isReg(rec.mode) ? this.#store.extentMap(ino).allocatedBytes : rec.size;
  }

  /** access(2): F_OK (0) or any of R_OK 4, W_OK 2, X_OK 1. EACCES when denied. */
  access(caller: Caller, ino: bigint, mask: number): void {
    if (!Number.isInteger(mask) || mask < 0 || mask > 7) throw fsError("EINVAL", `access mask ${mask} is not 0..7`);
    const rec = this.#inode(this.#store, ino);
    if (mask !== 0 && !mayAccess(caller, rec, mask)) throw fsError("EACCES", `access ${mask} denied on inode ${ino}`);
  }

  /**
   * setattr: any combination of mode, uid, gid, size, atime, mtime (ctime/crtime root only).
   * Linux rules: size needs write permission (EACCES; EISDIR for dirs, EINVAL for other
   * non-files, EFBIG beyond the maximum); uid change needs root (EPERM) unless unchanged by the
   * owner; gid change needs root or the owner changing to a group it is in (EPERM); mode needs
   * the owner or root (EPERM) and loses S_ISGID when a non-root caller is not in the file's
   * group; explicit times need the owner or root (EPERM), "now" times the owner, root or write
   * permission (EACCES). A chown of a non-directory clears S_ISUID and S_ISGID (the latter only
   * with group-execute); a truncate by a non-root caller does the same. ctime becomes now.
   */
  setattr(caller: Caller, ino: bigint, ch: SetAttrChanges): Attr {
    validateChanges(ch);
    return this.#run("setattr", (tx) => {
      const rec = this.#inode(tx, ino);
      const now = this.#now();
      const out: Mutable<InodeRecord> = { ...rec };
      let touched = false;
      if (ch.size !== undefined) {
        if (isDir(rec.mode)) throw fsError("EISDIR", `inode ${ino} is a directory`);
        if (!isReg(rec.mode)) throw fsError("EINVAL", `inode ${ino} is not a regular file`);
        if (!mayAccess(caller, rec, 2)) throw fsError("EACCES", `no write permission on inode ${ino}`);
      }
      if (ch.uid !== undefined && !(caller.uid === 0 || (caller.uid === rec.uid && ch.uid === rec.uid))) {
        throw fsError("EPERM", `only root may change the owner of inode ${ino}`);
      }
      if (ch.gid !== undefined && !(caller.uid === 0 || (caller.uid === rec.uid && (ch.gid === rec.gid || inGroup(caller, ch.gid))))) {
        throw fsError("EPERM", `caller may not change the group of inode ${ino} to ${ch.gid}`);
      }
      if (ch.mode !== undefined && !isOwnerOrRoot(caller, rec)) throw fsError("EPERM", `only the owner may chmod inode ${ino}`);
      const explicitTime = typeof ch.atimeNs === "bigint" || typeof ch.mtimeNs === "bigint";
      if (explicitTime && !isOwnerOrRoot(caller, rec)) throw fsError("EPERM", `only the owner may set times of inode ${ino}`);
      if (!explicitTime && (ch.atimeNs === "now" || ch.mtimeNs === "now") && !isOwnerOrRoot(caller, rec) && !mayAccess(caller, rec, 2)) {
        throw fsError("EACCES", `no write permission to touch inode ${ino}`);
      }
      if ((ch.ctimeNs !== undefined || ch.crtimeNs !== undefined) && caller.uid !== 0) {
        throw fsError("EPERM", `only root may set ctime/crtime of inode ${ino}`);
      }

      if (ch.size !== undefined) {
        if (ch.size !== rec.size) {
          if (ch.size < rec.size) tx.updateExtents(ino, (m) => m.truncate(ch.size!));
          out.size = ch.size;
          out.mtimeNs = now;
          touched = true;
        }
        out.numWrites = rec.numWrites + 1n;
        if (caller.uid !== 0) touched = killPrivs(out) || touched;
      }
      if (ch.uid !== undefined || ch.gid !== undefined) {
        if (ch.uid !== undefined) out.uid = ch.uid;
        if (ch.gid !== undefined) out.gid = ch.gid;
        if (!isDir(rec.mode)) killPrivs(out);
        touched = true;
      }
      if (ch.mode !== undefined) {
        let mode = ch.mode & 0o7777;
        if (caller.uid !== 0 && !inGroup(caller, out.gid)) mode &= ~S_ISGID;
        out.mode = (rec.mode & S_IFMT) | mode;
        touched = true;
      }
      if (ch.atimeNs !== undefined) {
        out.atimeNs = ch.atimeNs === "now" ? now : ch.atimeNs;
        touched = true;
      }
      if (ch.mtimeNs !== undefined) {
        out.mtimeNs = ch.mtimeNs === "now" ? now : ch.mtimeNs;
        touched = true;
      }
      if (touched) out.ctimeNs = now;
      if (ch.ctimeNs !== undefined) out.ctimeNs = ch.ctimeNs;
      if (ch.crtimeNs !== undefined) out.crtimeNs = ch.crtimeNs;
      tx.putInode(out);
      return attrOf(out);
    });
  }

  // ------------------------------------------------------------------ namespace

  /** Looks `name` up in `dir` (search permission needed); "." and ".." included. */
  lookup(caller: Caller, dir: bigint, name: string): Attr {
    checkNameSyntax(name);
    const d = this.#dir(this.#store, dir);
    this.#checkSearch(caller, d);
    if (name === ".") return attrOf(d);
    if (name === "..") return attrOf(this.#inode(this.#store, d.parent));
    checkNameLength(name);
    const e = this.#store.getDirEntry(dir, name);
    if (e === undefined) throw fsError("ENOENT", `no entry ${JSON.stringify(name)} in directory ${dir}`);
    return attrOf(this.#inode(this.#store, e.ino));
  }

  /**
   * Runs `fn` (one create/mkdir/mknod/symlink) so that the node it creates gets inode number `ino`
   * instead of a new one: RpcReplay re-creates, after a restart, a node whose number an agent was
   * told before the crash lost it. `ino` must be below the nonce sequence (handed out before:
   * recovery resumes above every number ever revealed) and not in use, else EINVAL/EEXIST.
   */
  withInodeNumber<T>(ino: bigint, fn: () => T): T {
    if (ino <= 1n || ino >= this.#store.peekNonce()) throw fsError("EINVAL", `inode number ${ino} was never handed out`);
    if (this.#store.getInode(ino) !== undefined) throw fsError("EEXIST", `inode ${ino} exists`);
    this.#replayIno = ino;
    try {
      return fn();
    } finally {
      this.#replayIno = undefined;
    }
  }

  /** Creates a regular file; `mode` permission bits (& 0o7777, umask already applied). */
  create(caller: Caller, dir: bigint, name: string, mode: number): Attr {
    return this.#makeNode("create", caller, dir, name, S_IFREG | (mode & 0o7777), 0, "");
  }

  mkdir(caller: Caller, dir: bigint, name: string, mode: number): Attr {
    return this.#makeNode("mkdir", caller, dir, name, S_IFDIR | (mode & 0o7777), 0, "");
  }

  /**
   * mknod: `mode` includes the type (S_IFREG or 0, S_IFIFO, S_IFSOCK, S_IFCHR, S_IFBLK);
   * S_IFDIR/S_IFLNK/unknown types are EINVAL; devices need root (EPERM).
   */
  mknod(caller: Caller, dir: bigint, name: string, mode: number, rdev = 0): Attr {
    if (!Number.isInteger(mode) || mode < 0) throw fsError("EINVAL", `mknod mode ${mode} is not a valid mode`);
    let type = mode & S_IFMT;
    if (type === 0) type = S_IFREG;
    if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK && type !== S_IFCHR && type !== S_IFBLK) {
      throw fsError("EINVAL", `mknod cannot create file type 0o${type.toString(8)}`);
    }
    if (!Number.isInteger(rdev) || rdev < 0 || rdev > 0xffffffff) throw fsError("EINVAL", `rdev ${rdev} is not a 32-bit device number`);
    const isDev = type === S_IFCHR || type === S_IFBLK;
    return this.#makeNode("mknod", caller, dir, name, type | (mode & 0o7777), isDev ? rdev : 0, "");
  }

  symlink(caller: Caller, dir: bigint, name: string, target: string): Attr {
    checkSymlinkTarget(target);
    return this.#makeNode("symlink", caller, dir, name, S_IFLNK | 0o777, 0, target);
  }

  /** The target of a symlink; EINVAL for other types. */
  readlink(ino: bigint): string {
    const rec = this.#inode(this.#store, ino);
    if ((rec.mode & S_IFMT) !== S_IFLNK) throw fsError("EINVAL", `inode ${ino} is not a symlink`);
    return rec.symlinkTarget;
  }

  /**
   * Adds entry `name` in `dir` for existing inode `ino`. EPERM for directories (and for
   * protected_hardlinks violations), ENOENT for an inode with no links left, EMLINK at linkMax.
   */
  link(caller: Caller, ino: bigint, dir: bigint, name: string): Attr {
    checkNameSyntax(name);
    return this.#run("link", (tx) => {
      const rec = this.#inode(tx, ino);
      const d = this.#dir(tx, dir);
      this.#checkSearch(caller, d);
      if (isDotName(name)) throw fsError("EEXIST", `${JSON.stringify(name)} exists`);
      checkNameLength(name);
      if (tx.getDirEntry(dir, name) !== undefined) throw fsError("EEXIST", `entry ${JSON.stringify(name)} exists in directory ${dir}`);
      if (this.#protectedHardlinks && !isOwnerOrRoot(caller, rec) && !safeHardlinkSource(caller, rec)) {
        throw fsError("EPERM", `protected_hardlinks: caller may not link inode ${ino}`);
      }
      this.#checkModifyDir(caller, d);
      if (isDir(rec.mode)) throw fsError("EPERM", `inode ${ino} is a directory`);
      if (rec.nlink === 0) throw fsError("ENOENT", `inode ${ino} has no links left`);
      if (rec.nlink >= this.#linkMax) throw fsError("EMLINK", `inode ${ino} has ${rec.nlink} links`);
      const now = this.#now();
      const out = { ...rec, nlink: rec.nlink + 1, ctimeNs: now };
      tx.putInode(out);
      tx.putDirEntry(dir, name, { ino, type: dtOf(rec.mode) });
      tx.putInode({ ...d, mtimeNs: now, ctimeNs: now });
      return attrOf(out);
    });
  }

  /** Removes a non-directory entry. EISDIR for directories, EPERM for the sticky rule. */
  unlink(caller: Caller, dir: bigint, name: string, options: RemoveOptions = {}): Unlinked {
    checkNameSyntax(name);
    return this.#run("unlink", (tx) => {
      const d = this.#dir(tx, dir);
      this.#checkSearch(caller, d);
      if (isDotName(name)) throw fsError("EISDIR", `cannot unlink ${JSON.stringify(name)}`);
      checkNameLength(name);
      const e = tx.getDirEntry(dir, name);
      if (e === undefined) throw fsError("ENOENT", `no entry ${JSON.stringify(name)} in directory ${dir}`);
      const victim = this.#inode(tx, e.ino);
      this.#checkDelete(caller, d, victim, false);
      const now = this.#now();
      tx.deleteDirEntry(dir, name);
      tx.putInode({ ...d, mtimeNs: now, ctimeNs: now });
      return this.#dropLink(tx, victim, now, options.deferDestroy === true);
    });
  }

  /** Removes an empty directory. "." is EINVAL, ".." ENOTEMPTY, the root EBUSY. */
  rmdir(caller: Caller, dir: bigint, name: string): void {
    checkNameSyntax(name);
    this.#run("rmdir", (tx) => {
      const d = this.#dir(tx, dir);
      this.#checkSearch(caller, d);
      if (name === ".") throw fsError("EINVAL", "cannot rmdir \".\"");
      if (name === "..") throw fsError("ENOTEMPTY", "cannot rmdir \"..\"");
      checkNameLength(name);
      const e = tx.getDirEntry(dir, name);
      if (e === undefined) throw fsError("ENOENT", `no entry ${JSON.stringify(name)} in directory ${dir}`);
      const victim = this.#inode(tx, e.ino);
      this.#checkDelete(caller, d, victim, true);
      if (tx.dirSize(victim.ino) !== 0) throw fsError("ENOTEMPTY", `directory ${JSON.stringify(name)} is not empty`);
      const now = this.#now();
      tx.deleteDirEntry(dir, name);
      tx.putInode({ ...d, nlink: d.nlink - 1, mtimeNs: now, ctimeNs: now });
      this.#destroy(tx, victim);
    });
  }

  /**
   * rename/renameat2 with RENAME_NOREPLACE (EEXIST if the target exists) or RENAME_EXCHANGE
   * (swap two existing entries). Renaming an entry onto a link of the same inode is a no-op.
   * A directory cannot move into its own subtree (EINVAL); a target that is an ancestor of the
   * source is ENOTEMPTY; dir over non-dir is ENOTDIR, non-dir over dir EISDIR, a non-empty
   * target directory ENOTEMPTY; "." or ".." is EBUSY. The moved inode gets a new ctime, both
   * parents new mtime and ctime; a replaced inode loses a link (destroyed at 0 unless deferred).
   */
  rename(caller: Caller, srcDir: bigint, srcName: string, dstDir: bigint, dstName: string, flags = 0, options: RemoveOptions = {}): RenameResult {
    if (!Number.isInteger(flags) || (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) !== 0) {
      throw fsError("EINVAL", `unknown rename flags ${flags}`);
    }
    if ((flags & RENAME_EXCHANGE) !== 0 && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) !== 0) {
      throw fsError("EINVAL", "RENAME_EXCHANGE cannot be combined with RENAME_NOREPLACE or RENAME_WHITEOUT");
    }
    if ((flags & RENAME_WHITEOUT) !== 0) throw fsError("EINVAL", "RENAME_WHITEOUT is not supported");
    const exchange = (flags & RENAME_EXCHANGE) !== 0;
    const noReplace = (flags & RENAME_NOREPLACE) !== 0;
    checkNameSyntax(srcName, "source name");
    checkNameSyntax(dstName, "target name");
    return this.#run("rename", (tx) => {
      const sd = this.#dir(tx, srcDir);
      this.#checkSearch(caller, sd);
      const dd = srcDir === dstDir ? sd : this.#dir(tx, dstDir);
      this.#checkSearch(caller, dd);
      if (isDotName(srcName)) throw fsError("EBUSY", `cannot rename ${JSON.stringify(srcName)}`);
      if (isDotName(dstName)) throw noReplace ? fsError("EEXIST", `${JSON.stringify(dstName)} exists`) : fsError("EBUSY", `cannot rename onto ${JSON.stringify(dstName)}`);
      checkNameLength(srcName, "source name");
      checkNameLength(dstName, "target name");
      const se = tx.getDirEntry(srcDir, srcName);
      if (se === undefined) throw fsError("ENOENT", `no entry ${JSON.stringify(srcName)} in directory ${srcDir}`);
      const de = tx.getDirEntry(dstDir, dstName);
      if (noReplace && de !== undefined) throw fsError("EEXIST", `entry ${JSON.stringify(dstName)} exists in directory ${dstDir}`);
      if (exchange && de === undefined) throw fsError("ENOENT", `no entry ${JSON.stringify(dstName)} in directory ${dstDir}`);
      const src = this.#inode(tx, se.ino);
      const dst = de === undefined ? undefined : this.#inode(tx, de.ino);
      const srcIsDir = isDir(src.mode);
      const dstIsDir = dst !== undefined && isDir(dst.mode);
      if (srcDir !== dstDir) {
        // lock_rename's "trap": the child of the common ancestor on the path between the parents.
        if (srcIsDir && this.#isAncestorOrSelf(tx, src.ino, dstDir)) {
          throw fsError("EINVAL", `cannot move directory ${src.ino} into its own subtree`);
        }
        if (dstIsDir && this.#isAncestorOrSelf(tx, dst!.ino, srcDir)) {
          throw exchange ? fsError("EINVAL", `cannot exchange with an ancestor of the source`) : fsError("ENOTEMPTY", `target ${JSON.stringify(dstName)} is an ancestor of the source`);
        }
      }
      if (dst !== undefined && dst.ino === src.ino) return {};
      this.#checkDelete(caller, sd, src, srcIsDir);
      if (dst !== undefined) this.#checkDelete(caller, dd, dst, exchange ? dstIsDir : srcIsDir);
      else this.#checkModifyDir(caller, dd);
      if (srcDir !== dstDir) {
        if (srcIsDir && !mayAccess(caller, src, 2)) throw fsError("EACCES", `no write permission on moved directory ${src.ino}`);
        if (exchange && dstIsDir && !mayAccess(caller, dst!, 2)) throw fsError("EACCES", `no write permission on directory ${dst!.ino}`);
        if (srcIsDir && !dstIsDir && dd.nlink >= this.#linkMax) throw fsError("EMLINK", `directory ${dstDir} has ${dd.nlink} links`);
        if (exchange && !srcIsDir && dstIsDir && sd.nlink >= this.#linkMax) throw fsError("EMLINK", `directory ${srcDir} has ${sd.nlink} links`);
      }
      if (!exchange && dstIsDir && tx.dirSize(dst!.ino) !== 0) throw fsError("ENOTEMPTY", `directory ${JSON.stringify(dstName)} is not empty`);

      const now = this.#now();
      const dirs = new Map<bigint, Mutable<InodeRecord>>();
      const dirOf = (r: InodeRecord): Mutable<InodeRecord> => {
        let m = dirs.get(r.ino);
        if (m === undefined) dirs.set(r.ino, (m = { ...r, mtimeNs: now, ctimeNs: now }));
        return m;
      };
      const sdm = dirOf(sd);
      const ddm = dirOf(dd);
      let result: RenameResult = {};
      if (exchange) {
        tx.putDirEntry(srcDir, srcName, { ino: dst!.ino, type: dtOf(dst!.mode) });
        tx.putDirEntry(dstDir, dstName, { ino: src.ino, type: dtOf(src.mode) });
        tx.putInode({ ...src, ctimeNs: now, parent: srcIsDir ? dstDir : src.parent });
        tx.putInode({ ...dst!, ctimeNs: now, parent: dstIsDir ? srcDir : dst!.parent });
        if (srcDir !== dstDir && srcIsDir !== dstIsDir) {
          if (srcIsDir) { sdm.nlink--; ddm.nlink++; } else { ddm.nlink--; sdm.nlink++; }
        }
      } else {
        if (dst !== undefined) {
          if (dstIsDir) {
            ddm.nlink--;
            this.#destroy(tx, dst);
            result = { replaced: { ino: dst.ino, nlink: 0, destroyed: true } };
          } else {
            result = { replaced: this.#dropLink(tx, dst, now, options.deferDestroy === true) };
          }
        }
        tx.deleteDirEntry(srcDir, srcName);
        tx.putDirEntry(dstDir, dstName, { ino: src.ino, type: dtOf(src.mode) });
        tx.putInode({ ...src, ctimeNs: now, parent: srcIsDir ? dstDir : src.parent });
        if (srcIsDir && srcDir !== dstDir) { sdm.nlink--; ddm.nlink++; }
      }
      for (const m of dirs.values()) tx.putInode(m);
      return result;
    });
  }

  /** Frees an inode whose link count is 0 (after unlink/rename with deferDestroy). */
  destroy(ino: bigint): void {
    this.#run("destroy", (tx) => {
      const rec = this.#inode(tx, ino);
      if (rec.nlink !== 0) throw fsError("EBUSY", `inode ${ino} still has ${rec.nlink} links`);
      this.#destroy(tx, rec);
    });
  }

  /**
   * Directory listing by name: "." and ".." first, then entries in code point order,
   * starting after `after` (undefined = from the start). Stable under concurrent changes:
   * continuing after a name never repeats or skips an entry that existed throughout.
   */
  readdir(caller: Caller, dir: bigint, after: string | undefined, maxEntries: number, plus = false): DirEntry[] {
    const d = this.#dir(this.#store, dir);
    if (!mayAccess(caller, d, 4)) throw fsError("EACCES", `no read permission on directory ${dir}`);
    if (after === undefined) return this.#list(d, { index: 0 }, maxEntries, plus);
    return this.#list(d, { after }, maxEntries, plus);
  }

  /**
   * Directory listing by location (ProxyFS ReaddirByLoc): entries start at location
   * prevLoc + 1; prevLoc < 0 starts at ".". Entry i of an unchanged directory has
   * nextLoc = i + 1 exactly as ProxyFS; continuation stays stable across changes (DirCursors).
   */
  readdirByLoc(caller: Caller, dir: bigint, prevLoc: bigint, maxEntries: number, plus = false): DirEntry[] {
    const d = this.#dir(this.#store, dir);
    if (!mayAccess(caller, d, 4)) throw fsError("EACCES", `no read permission on directory ${dir}`);
    if (prevLoc < 0n) return this.#list(d, { index: 0 }, maxEntries, plus);
    const loc = prevLoc + 1n;
    if (loc <= 2n) return this.#list(d, { index: Number(loc) }, maxEntries, plus);
    const name = this.#cursors.resolve(dir, loc);
    if (name !== undefined) return this.#list(d, { after: name }, maxEntries, plus);
    if (loc >= UNIQUE_LOCATION_BASE) return [];
    return this.#list(d, { index: Number(loc) }, maxEntries, plus);
  }

  // ------------------------------------------------------------------ xattrs

  getxattr(caller: Caller, ino: bigint, name: string, size = 0): Uint8Array {
    checkXattrName(name);
    const rec = this.#inode(this.#store, ino);
    const ns = xattrNamespace(name);
    if (ns === "system") throw fsError("ENODATA", `no attribute ${JSON.stringify(name)}`);
    this.#checkXattrAccess(caller, rec, ns, false);
    const v = rec.xattrs.get(name);
    if (v === undefined) throw fsError("ENODATA", `no attribute ${JSON.stringify(name)} on inode ${ino}`);
    if (size > 0 && v.length > size) throw fsError("ERANGE", `attribute is ${v.length} bytes, buffer ${size}`);
    return v.slice();
  }

  /** flags: 0, XATTR_CREATE (EEXIST if present) or XATTR_REPLACE (ENODATA if absent). */
  setxattr(caller: Caller, ino: bigint, name: string, value: Uint8Array, flags = 0): void {
    checkXattrName(name);
    if (!(value instanceof Uint8Array)) throw fsError("EINVAL", "xattr value must be bytes");
    if (value.length > XATTR_SIZE_MAX) throw fsError("E2BIG", `xattr value is ${value.length} bytes, max ${XATTR_SIZE_MAX}`);
    if (!Number.isInteger(flags) || (flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0) throw fsError("EINVAL", `unknown xattr flags ${flags}`);
    this.#run("setxattr", (tx) => {
      const rec = this.#inode(tx, ino);
      const ns = xattrNamespace(name);
      if (ns === "system") throw fsError("EOPNOTSUPP", `${JSON.stringify(name)}: POSIX ACLs are not supported`);
      this.#checkXattrAccess(caller, rec, ns, true);
      const old = rec.xattrs.get(name);
      if ((flags & XATTR_CREATE) !== 0 && old !== undefined) throw fsError("EEXIST", `attribute ${JSON.stringify(name)} exists`);
      if ((flags & XATTR_REPLACE) !== 0 && old === undefined) throw fsError("ENODATA", `no attribute ${JSON.stringify(name)}`);
      const xattrs = new Map(rec.xattrs);
      xattrs.set(name, value.slice());
      let total = 0;
      for (const [k, v] of xattrs) total += utf8Length(k) + v.length;
      if (total > this.#maxXattrBytes) throw fsError("ENOSPC", `xattrs of inode ${ino} would take ${total} bytes, max ${this.#maxXattrBytes}`);
      tx.putInode({ ...rec, xattrs, ctimeNs: this.#now() });
    });
  }

  /** Names visible to the caller (trusted.* only for root), sorted. ERANGE if size > 0 is short. */
  listxattr(caller: Caller, ino: bigint, size = 0): string[] {
    const rec = this.#inode(this.#store, ino);
    const names = [...rec.xattrs.keys()].filter((n) => caller.uid === 0 || !n.startsWith("trusted.")).sort();
    let total = 0;
    for (const n of names) total += utf8Length(n) + 1;
    if (size > 0 && total > size) throw size >= XATTR_LIST_MAX ? fsError("E2BIG", "xattr list too long") : fsError("ERANGE", `xattr list is ${total} bytes, buffer ${size}`);
    return names;
  }

  removexattr(caller: Caller, ino: bigint, name: string): void {
    checkXattrName(name);
    this.#run("removexattr", (tx) => {
      const rec = this.#inode(tx, ino);
      const ns = xattrNamespace(name);
      if (ns === "system") throw fsError("EOPNOTSUPP", `${JSON.stringify(name)}: POSIX ACLs are not supported`);
      this.#checkXattrAccess(caller, rec, ns, true);
      if (!rec.xattrs.has(name)) throw fsError("ENODATA", `no attribute ${JSON.stringify(name)} on inode ${ino}`);
      const xattrs = new Map(rec.xattrs);
      xattrs.delete(name);
      tx.putInode({ ...rec, xattrs, ctimeNs: this.#now() });
    });
  }

  // ------------------------------------------------------------------ paths and locks

  /**
   * Resolves a slash-separated path from the root (the ProxyFS …Path RPCs). Symlinks in the
   * middle are followed (relative to their directory, or from the root when absolute); the
   * last one too unless followLast is false. More than 40 symlinks is ELOOP.
   */
  resolvePath(caller: Caller, path: string, followLast = true): Attr {
    if (typeof path !== "string") throw fsError("EINVAL", "path must be a string");
    let todo = path.split("/").filter((c) => c.length > 0);
    let cur = this.#inode(this.#store, ROOT_INO);
    let links = 0;
    while (todo.length > 0) {
      const name = todo.shift()!;
      const next = this.#inode(this.#store, this.lookup(caller, cur.ino, name).ino);
      if ((next.mode & S_IFMT) === S_IFLNK && (todo.length > 0 || followLast)) {
        if (++links > 40) throw fsError("ELOOP", `too many symlinks in ${JSON.stringify(path)}`);
        const target = next.symlinkTarget;
        if (target.startsWith("/")) cur = this.#inode(this.#store, ROOT_INO);
        todo = [...target.split("/").filter((c) => c.length > 0), ...todo];
        continue;
      }
      cur = next;
    }
    return attrOf(cur);
  }

  /**
   * RpcFlock: cmd F_GETLK (5) returns the conflicting lock or F_UNLCK; F_SETLK (6) takes or
   * releases a range (EAGAIN on conflict); F_SETLKW (7) is EOPNOTSUPP (a server cannot block).
   * `owner` identifies the lock holder (e.g. mount id + pid); start is absolute.
   */
  flock(ino: bigint, owner: string, cmd: number, lock: LockRange): LockRange {
    this.#inode(this.#store, ino);
    if (cmd === 5) return this.#locks.test(ino, owner, lock);
    if (cmd === 6) {
      this.#locks.set(ino, owner, lock);
      return lock;
    }
    if (cmd === 7) throw fsError("EOPNOTSUPP", "F_SETLKW is not supported");
    throw fsError("EINVAL", `unknown lock command ${cmd}`);
  }

  /** Releases every lock held by `owner` (unmount). */
  releaseLocks(owner: string): void {
    this.#locks.releaseOwner(owner);
  }

  // ------------------------------------------------------------------ data path

  /** ProvisionObject: a never-reused log segment number and the container to PUT it in. */
  provisionObject(): ProvisionedObject {
    return this.#run("provisionObject", (tx) => {
      const segment = tx.allocateNonce();
      let newContainer = false;
      let slot: { name: string; objects: number };
      if (this.#containers.length < this.#containersPerPeer) {
        slot = { name: this.#containerPrefix + hex16(tx.allocateNonce()), objects: 0 };
        this.#containers.push(slot);
        newContainer = true;
      } else {
        const i = this.#nextContainer++ % this.#containers.length;
        slot = this.#containers[i]!;
        if (slot.objects >= this.#maxObjectsPerContainer) {
          slot = { name: this.#containerPrefix + hex16(tx.allocateNonce()), objects: 0 };
          this.#containers[i] = slot;
          newContainer = true;
        }
      }
      slot.objects++;
      tx.putSegment(segment, slot.name);
      const objectName = hex16(segment);
      return { segment, containerName: slot.name, objectName, physPath: `/v1/${this.#account}/${slot.name}/${objectName}`, newContainer };
    });
  }

  /**
   * Wrote: the client stored file bytes in a log segment. All extents are applied atomically
   * (later ones win where they overlap), the size grows to cover them, mtime = ctime = timeNs
   * (or now), numWrites grows per non-empty extent. A non-root caller needs write permission and
   * loses S_ISUID/S_ISGID as with write(2).
   */
  wrote(caller: Caller, ino: bigint, req: WroteRequest): Attr {
    const segment = parseObjectName(req.objectName);
    if (typeof req.containerName !== "string" || req.containerName.length === 0 || req.containerName.includes("/")) {
      throw fsError("EINVAL", `bad container name ${JSON.stringify(req.containerName)}`);
    }
    if (!Array.isArray(req.extents)) throw fsError("EINVAL", "extents must be an array");
    let newEnd = 0n;
    let nonEmpty = 0n;
    for (const [i, x] of req.extents.entries()) {
      if (typeof x.fileOffset !== "bigint" || typeof x.objectOffset !== "bigint" || typeof x.length !== "bigint" || x.fileOffset < 0n || x.objectOffset < 0n || x.length < 0n) {
        throw fsError("EINVAL", `extent ${i} has a negative or non-bigint field`);
      }
      if (x.fileOffset + x.length > MAX_FILE_SIZE) throw fsError("EFBIG", `extent ${i} ends beyond the maximum file size`);
      if (x.length > 0n) nonEmpty++;
      if (x.fileOffset + x.length > newEnd) newEnd = x.fileOffset + x.length;
    }
    if (req.timeNs !== undefined && (typeof req.timeNs !== "bigint" || req.timeNs < 0n)) throw fsError("EINVAL", "timeNs must be a non-negative bigint");
    return this.#run("wrote", (tx) => {
      const rec = this.#file(tx, ino);
      if (caller.uid !== 0 && !mayAccess(caller, rec, 2)) throw fsError("EACCES", `no write permission on inode ${ino}`);
      if (nonEmpty > 0n) {
        tx.updateExtents(ino, (m) => {
          const removed: Extent[] = [];
          const added: Extent[] = [];
          for (const x of req.extents) {
            const d = m.write(x.fileOffset, x.length, segment, x.objectOffset);
            removed.push(...d.removed);
            added.push(...d.added);
          }
          return collapse(removed, added);
        });
      }
      tx.putSegment(segment, req.containerName);
      const t = req.timeNs !== undefined && req.timeNs > 0n ? req.timeNs : this.#now();
      const out: Mutable<InodeRecord> = { ...rec, mtimeNs: t, ctimeNs: t, numWrites: rec.numWrites + nonEmpty };
      if (newEnd > rec.size) out.size = newEnd;
      if (caller.uid !== 0) killPrivs(out);
      tx.putInode(out);
      return attrOf(out);
    });
  }

  /**
   * FetchExtentMapChunk: data extents around `fileOffset` (maxFrom >= 1 from it, maxBefore >= 0
   * before it) with the range they describe; gaps in the range read as zeros.
   */
  fetchExtentMapChunk(ino: bigint, fileOffset: bigint, maxFrom: number, maxBefore: number): ExtentMapChunk {
    if (!Number.isInteger(maxFrom) || maxFrom < 1) throw fsError("EINVAL", `maxEntriesFromFileOffset must be >= 1, got ${maxFrom}`);
    if (!Number.isInteger(maxBefore) || maxBefore < 0) throw fsError("EINVAL", `maxEntriesBeforeFileOffset must be >= 0, got ${maxBefore}`);
    if (fileOffset < 0n) throw fsError("EINVAL", "fileOffset is negative");
    const rec = this.#file(this.#store, ino);
    const chunk = this.#store.extentMap(ino).fetchChunk(fileOffset, maxFrom, maxBefore, rec.size);
    return {
      rangeStart: chunk.rangeStart, rangeEnd: chunk.rangeEnd, fileSize: rec.size,
      extents: chunk.extents.map((e) => ({ fileOffset: e.fileOffset, length: e.length, segmentOffset: e.segmentOffset, ...this.#names(e.segment) })),
    };
  }

  /** Where the bytes of [offset, +length) are, clipped to the file size; zeros have objectName "". */
  readPlan(ino: bigint, offset: bigint, length: bigint): ReadPlanStep[] {
    if (offset < 0n || length < 0n) throw fsError("EINVAL", "negative offset or length");
    const rec = this.#file(this.#store, ino);
    return this.#store.extentMap(ino).readPlan(offset, length, rec.size).map((s) => ({
      fileOffset: s.fileOffset, length: s.length, segmentOffset: s.segmentOffset,
      ...(s.segment === 0n ? { containerName: "", objectName: "" } : this.#names(s.segment)),
    }));
  }

  /** lseek SEEK_DATA / SEEK_HOLE; ENXIO at or past EOF (or no data after offset). */
  seek(ino: bigint, offset: bigint, whence: "data" | "hole"): bigint {
    const rec = this.#file(this.#store, ino);
    if (offset < 0n) throw fsError("ENXIO", "negative offset");
    const m = this.#store.extentMap(ino);
    const r = whence === "data" ? m.seekData(offset, rec.size) : m.seekHole(offset, rec.size);
    if (r === undefined) throw fsError("ENXIO", `no ${whence} at or after ${offset} (size ${rec.size})`);
    return r;
  }

  /**
   * fallocate: mode 0 allocates zero extents over the holes of the range and grows the size;
   * FALLOC_FL_KEEP_SIZE allocates without changing the size; FALLOC_FL_PUNCH_HOLE |
   * FALLOC_FL_KEEP_SIZE deallocates (reads as zeros). Needs write permission.
   */
  fallocate(caller: Caller, ino: bigint, mode: number, offset: bigint, length: bigint): Attr {
    if (!Number.isInteger(mode) || (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) throw fsError("EOPNOTSUPP", `fallocate mode ${mode} is not supported`);
    if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0) throw fsError("EOPNOTSUPP", "PUNCH_HOLE needs KEEP_SIZE");
    if (offset < 0n || length <= 0n) throw fsError("EINVAL", `bad fallocate range ${offset}+${length}`);
    if (offset + length > MAX_FILE_SIZE) throw fsError("EFBIG", "fallocate range beyond the maximum file size");
    return this.#run("fallocate", (tx) => {
      const rec = this.#inode(tx, ino);
      if (isDir(rec.mode)) throw fsError("EISDIR", `inode ${ino} is a directory`);
      if (!isReg(rec.mode)) throw fsError("ENODEV", `inode ${ino} is not a regular file`);
      if (!mayAccess(caller, rec, 2)) throw fsError("EACCES", `no write permission on inode ${ino}`);
      const now = this.#now();
      const out: Mutable<InodeRecord> = { ...rec, mtimeNs: now, ctimeNs: now, numWrites: rec.numWrites + 1n };
      if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
        tx.updateExtents(ino, (m) => m.punch(offset, length));
      } else {
        tx.updateExtents(ino, (m) => m.allocate(offset, length));
        if ((mode & FALLOC_FL_KEEP_SIZE) === 0 && offset + length > rec.size) out.size = offset + length;
      }
      if (caller.uid !== 0) killPrivs(out);
      tx.putInode(out);
      return attrOf(out);
    });
  }

  /** Segments no file references any more; their records are removed (GC deletes the objects). */
  collectUnreferencedSegments(): SegmentInfo[] {
    if (this.#store.unreferencedSegments().length === 0) return [];
    return this.#run("collectSegments", (tx) => {
      const out: SegmentInfo[] = [];
      for (const segment of tx.unreferencedSegments()) {
        out.push({ segment, containerName: tx.getSegment(segment) ?? "", objectName: hex16(segment) });
        tx.deleteSegment(segment);
      }
      return out;
    });
  }

  /** Flush: checks the inode exists. (Durability belongs to the store.) */
  flush(ino: bigint): void {
    this.#inode(this.#store, ino);
  }

  /**
   * statfs(2): totals as configured; free/avail blocks drop by the bytes all extents cover
   * (rounded up to fragments), free/avail inodes by the inode count (never below 0). Both
   * figures are O(1) running counts of the store, so calling this often costs nothing.
   */
  statfs(): StatFs {
    const s = this.#statfs;
    const frag = s.fragmentSize > 0n ? s.fragmentSize : 1n;
    const usedBlocks = (this.#store.allocatedBytes() + frag - 1n) / frag;
    const usedInodes = BigInt(this.#store.inodeCount());
    const less = (n: bigint, used: bigint): bigint => (n > used ? n - used : 0n);
    return {
      ...s,
      freeBlocks: less(s.freeBlocks, usedBlocks), availBlocks: less(s.availBlocks, usedBlocks),
      freeInodes: less(s.freeInodes, usedInodes), availInodes: less(s.availInodes, usedInodes),
    };
  }

  // ------------------------------------------------------------------ internals

  #run<T>(op: string, fn: (tx: VolumeTxn) => T): T {
    const tx = this.#store.begin(op);
    let result: T;
    try {
      result = fn(tx);
    } catch (err) {
      tx.abort();
      throw err;
    }
    tx.commit();
    return result;
  }

  #inode(s: { getInode(ino: bigint): InodeRecord | undefined }, ino: bigint): InodeRecord {
    if (typeof ino !== "bigint") throw fsError("EINVAL", `inode number must be a bigint, got ${typeof ino}`);
    const rec = s.getInode(ino);
    if (rec === undefined) throw fsError("ENOENT", `no inode ${ino}`);
    return rec;
  }

  #dir(s: { getInode(ino: bigint): InodeRecord | undefined }, ino: bigint): InodeRecord {
    const rec = this.#inode(s, ino);
    if (!isDir(rec.mode)) throw fsError("ENOTDIR", `inode ${ino} is not a directory`);
    return rec;
  }

  #file(s: { getInode(ino: bigint): InodeRecord | undefined }, ino: bigint): InodeRecord {
    const rec = this.#inode(s, ino);
    if (isDir(rec.mode)) throw fsError("EISDIR", `inode ${ino} is a directory`);
    if (!isReg(rec.mode)) throw fsError("EINVAL", `inode ${ino} is not a regular file`);
    return rec;
  }

  #checkSearch(caller: Caller, d: InodeRecord): void {
    if (!mayAccess(caller, d, 1)) throw fsError("EACCES", `no search permission on directory ${d.ino}`);
  }

  #checkModifyDir(caller: Caller, d: InodeRecord): void {
    if (!mayAccess(caller, d, 3)) throw fsError("EACCES", `no write permission on directory ${d.ino}`);
  }

  // may_delete: write+search on the directory, the sticky rule, then the type rule.
  #checkDelete(caller: Caller, d: InodeRecord, victim: InodeRecord, wantDir: boolean): void {
    this.#checkModifyDir(caller, d);
    if ((d.mode & S_ISVTX) !== 0 && caller.uid !== 0 && caller.uid !== victim.uid && caller.uid !== d.uid) {
      throw fsError("EPERM", `sticky directory ${d.ino}: only the owner of ${victim.ino} or of the directory may remove it`);
    }
    if (wantDir) {
      if (!isDir(victim.mode)) throw fsError("ENOTDIR", `inode ${victim.ino} is not a directory`);
      if (victim.ino === ROOT_INO) throw fsError("EBUSY", "the root directory cannot be removed");
    } else if (isDir(victim.mode)) {
      throw fsError("EISDIR", `inode ${victim.ino} is a directory`);
    }
  }

  // Whether `a` is `b` or one of b's ancestors (walks ".." from b up to the root).
  #isAncestorOrSelf(tx: VolumeTxn, a: bigint, b: bigint): boolean {
    let cur = b;
    for (let depth = 0; depth < 1_000_000; depth++) {
      if (cur === a) return true;
      if (cur === ROOT_INO) return false;
      const r = tx.getInode(cur);
      if (r === undefined) return false;
      cur = r.parent;
    }
    throw fsError("ELOOP", "directory parent chain does not reach the root");
  }

  #makeNode(op: string, caller: Caller, dir: bigint, name: string, mode: number, rdev: number, target: string): Attr {
    checkNameSyntax(name);
    return this.#run(op, (tx) => {
      const d = this.#dir(tx, dir);
      this.#checkSearch(caller, d);
      if (isDotName(name)) throw fsError("EEXIST", `${JSON.stringify(name)} exists`);
      checkNameLength(name);
      if (tx.getDirEntry(dir, name) !== undefined) throw fsError("EEXIST", `entry ${JSON.stringify(name)} exists in directory ${dir}`);
      this.#checkModifyDir(caller, d);
      const type = mode & S_IFMT;
      if ((type === S_IFCHR || type === S_IFBLK) && caller.uid !== 0) throw fsError("EPERM", "only root may create device nodes");
      const newIsDir = type === S_IFDIR;
      if (newIsDir && d.nlink >= this.#linkMax) throw fsError("EMLINK", `directory ${dir} has ${d.nlink} links`);
      const setgidDir = (d.mode & S_ISGID) !== 0;
      const gid = setgidDir ? d.gid : caller.gid;
      let m = mode;
      if (newIsDir && setgidDir) m |= S_ISGID;
      // inode_init_owner / mode_strip_sgid: a non-member cannot create a setgid-executable file.
      if (!newIsDir && (m & S_ISGID) !== 0 && (m & 0o010) !== 0 && caller.uid !== 0 && !inGroup(caller, gid)) m &= ~S_ISGID;
      const now = this.#now();
      const ino = this.#replayIno ?? tx.allocateNonce();
      this.#replayIno = undefined;
      const rec: Mutable<InodeRecord> = newRecord(ino, m, caller.uid, gid, now, newIsDir ? dir : 0n);
      if (type === S_IFLNK) {
        rec.symlinkTarget = target;
        rec.size = BigInt(Buffer.byteLength(target, "utf8"));
      }
      rec.rdev = rdev;
      tx.putInode(rec);
      if (newIsDir) tx.createDir(ino);
      tx.putDirEntry(dir, name, { ino, type: dtOf(m) });
      tx.putInode({ ...d, nlink: newIsDir ? d.nlink + 1 : d.nlink, mtimeNs: now, ctimeNs: now });
      return attrOf(rec);
    });
  }

  // Takes one link from a non-directory; frees it at 0 unless deferred.
  #dropLink(tx: VolumeTxn, rec: InodeRecord, now: bigint, defer: boolean): Unlinked {
    const nlink = rec.nlink - 1;
    if (nlink <= 0 && !defer) {
      this.#destroy(tx, rec);
      return { ino: rec.ino, nlink: 0, destroyed: true };
    }
    tx.putInode({ ...rec, nlink: Math.max(0, nlink), ctimeNs: now });
    return { ino: rec.ino, nlink: Math.max(0, nlink), destroyed: false };
  }

  #destroy(tx: VolumeTxn, rec: InodeRecord): void {
    if (isDir(rec.mode)) {
      tx.deleteDir(rec.ino);
      this.#cursors.drop(rec.ino);
    } else if (isReg(rec.mode)) {
      tx.deleteExtentMap(rec.ino);
    }
    tx.deleteInode(rec.ino);
    this.#locks.dropInode(rec.ino);
  }

  #checkXattrAccess(caller: Caller, rec: InodeRecord, ns: XattrNamespace, write: boolean): void {
    if (ns === "trusted") {
      if (caller.uid !== 0) throw write ? fsError("EPERM", "trusted.* needs root") : fsError("ENODATA", "trusted.* is hidden from non-root callers");
      return;
    }
    if (ns === "security") {
      if (write && caller.uid !== 0) throw fsError("EPERM", "security.* needs root to change");
      return;
    }
    // user.*: only regular files and directories; sticky directories only by their owner.
    if (!isReg(rec.mode) && !isDir(rec.mode)) throw write ? fsError("EPERM", "user.* xattrs only on files and directories") : fsError("ENODATA", "no user.* xattrs on this file type");
    if (write && isDir(rec.mode) && (rec.mode & S_ISVTX) !== 0 && !isOwnerOrRoot(caller, rec)) throw fsError("EPERM", "sticky directory: only the owner may change user.* xattrs");
    if (!mayAccess(caller, rec, write ? 2 : 4)) throw fsError("EACCES", `no ${write ? "write" : "read"} permission on inode ${rec.ino}`);
  }

  #list(d: InodeRecord, start: { index: number } | { after: string }, maxEntries: number, plus: boolean): DirEntry[] {
    const out: DirEntry[] = [];
    const max = Math.max(0, Math.min(maxEntries, Number.MAX_SAFE_INTEGER));
    let index: number;
    if ("index" in start) index = start.index;
    else if (start.after === ".") index = 1;
    else if (start.after === "..") index = 2;
    else {
      const r = this.#store.dirRank(d.ino, start.after);
      index = 2 + r + (this.#store.getDirEntry(d.ino, start.after) !== undefined ? 1 : 0);
    }
    const attrFor = (ino: bigint): Attr | undefined => {
      if (!plus) return undefined;
      const r = this.#store.getInode(ino);
      return r === undefined ? undefined : attrOf(r);
    };
    if (index === 0 && out.length < max) {
      out.push(entry(".", d.ino, DT_DIR, 1n, attrFor(d.ino)));
      index = 1;
    }
    if (index === 1 && out.length < max) {
      out.push(entry("..", d.parent, DT_DIR, 2n, attrFor(d.parent)));
      index = 2;
    }
    if (index >= 2 && out.length < max) {
      const rows = this.#store.dirList(d.ino, { from: index - 2 }, max - out.length);
      for (const [name, e] of rows) {
        const loc = this.#cursors.assign(d.ino, BigInt(index + 1), name);
        out.push(entry(name, e.ino, e.type, loc, attrFor(e.ino)));
        index++;
      }
    }
    return out;
  }

  #names(segment: bigint): { containerName: string; objectName: string } {
    return { containerName: this.#store.getSegment(segment) ?? "", objectName: hex16(segment) };
  }
}

function entry(name: string, ino: bigint, type: number, nextLoc: bigint, attr: Attr | undefined): DirEntry {
  return attr === undefined ? { name, ino, type, nextLoc } : { name, ino, type, nextLoc, attr };
}

function newRecord(ino: bigint, mode: number, uid: number, gid: number, now: bigint, parent: bigint): Mutable<InodeRecord> {
  return {
    ino, mode, uid, gid, nlink: isDir(mode) ? 2 : 1, size: 0n, atimeNs: now, mtimeNs: now, ctimeNs: now, crtimeNs: now,
    rdev: 0, numWrites: 0n, parent, symlinkTarget: "", xattrs: NO_XATTRS,
  };
}

// Clears S_ISUID, and S_ISGID when group-execute is set (S_ISGID alone marks mandatory locking).
function killPrivs(r: Mutable<InodeRecord>): boolean {
  let mode = r.mode;
  if ((mode & S_ISUID) !== 0) mode &= ~S_ISUID;
  if ((mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) mode &= ~S_ISGID;
  if (mode === r.mode) return false;
  r.mode = mode;
  return true;
}

// may_linkat's safe_hardlink_source: a plain regular file the caller can read and write.
function safeHardlinkSource(caller: Caller, rec: InodeRecord): boolean {
  if (!isReg(rec.mode)) return false;
  if ((rec.mode & S_ISUID) !== 0) return false;
  if ((rec.mode & (S_ISGID | 0o010)) === (S_ISGID | 0o010)) return false;
  return mayAccess(caller, rec, 6);
}

function validateChanges(ch: SetAttrChanges): void {
  const id = (v: number | undefined, what: string): void => {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 0xfffffffe)) throw fsError("EINVAL", `${what} ${v} is not a valid id`);
  };
  id(ch.uid, "uid");
  id(ch.gid, "gid");
  if (ch.mode !== undefined && (!Number.isInteger(ch.mode) || ch.mode < 0)) throw fsError("EINVAL", `mode ${ch.mode} is not valid`);
  if (ch.size !== undefined) {
    if (typeof ch.size !== "bigint" || ch.size < 0n) throw fsError("EINVAL", "size must be a non-negative bigint");
    if (ch.size > MAX_FILE_SIZE) throw fsError("EFBIG", `size ${ch.size} exceeds the maximum file size`);
  }
  for (const [k, v] of [["atimeNs", ch.atimeNs], ["mtimeNs", ch.mtimeNs], ["ctimeNs", ch.ctimeNs], ["crtimeNs", ch.crtimeNs]] as const) {
    if (v !== undefined && v !== "now" && (typeof v !== "bigint" || v < 0n)) throw fsError("EINVAL", `${k} must be a non-negative bigint or "now"`);
  }
}

type XattrNamespace = "user" | "trusted" | "security" | "system";

function checkXattrName(name: string): void {
  if (typeof name !== "string") throw fsError("EINVAL", "xattr name must be a string");
  const n = utf8Length(name);
  if (n === 0 || n > XATTR_NAME_MAX) throw fsError("ERANGE", `xattr name is ${n} bytes (1..${XATTR_NAME_MAX})`);
  if (name.includes("\0")) throw fsError("EINVAL", "xattr name contains NUL");
}

function xattrNamespace(name: string): XattrNamespace {
  const dot = name.indexOf(".");
  const ns = dot < 0 ? "" : name.slice(0, dot);
  if (ns !== "user" && ns !== "trusted" && ns !== "security" && ns !== "system") {
    throw fsError("EOPNOTSUPP", `xattr namespace of ${JSON.stringify(name)} is not supported`);
  }
  if (dot === name.length - 1) throw fsError("EINVAL", `xattr name ${JSON.stringify(name)} has no name after the namespace`);
  return ns;
}

/** %016X, as ProxyFS names objects and containers. */
export function hex16(n: bigint): string {
  return n.toString(16).toUpperCase().padStart(16, "0");
}

function parseObjectName(name: string): bigint {
  if (typeof name !== "string" || !/^[0-9A-Fa-f]{1,16}$/.test(name)) throw fsError("EINVAL", `object name ${JSON.stringify(name)} is not 1..16 hex digits`);
  const n = BigInt("0x" + name);
  if (n === 0n) throw fsError("EINVAL", "object name 0 is not a log segment");
  return n;
}

// Merges the deltas of several writes into one (pieces added then removed cancel out).
function collapse(removed: Extent[], added: Extent[]): { removed: Extent[]; added: Extent[] } {
  const addedSet = new Set(added);
  const gone = new Set<Extent>();
  for (const e of removed) if (addedSet.has(e)) gone.add(e);
  if (gone.size === 0) return { removed, added };
  return { removed: removed.filter((e) => !gone.has(e)), added: added.filter((e) => !gone.has(e)) };
}

function defaultClock(): () => bigint {
  const base = BigInt(Date.now()) * 1_000_000n;
  const hr0 = process.hrtime.bigint();
  return () => base + (process.hrtime.bigint() - hr0);
}

export type { ExtentMap };
