// Domain types of a volume: inode records, directory entries, callers, attributes, constants.

/** st_mode type bits (Linux values). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;

/** Directory entry types (d_type); DT = (mode >> 12) & 15. */
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;

/** access(2) mask bits. */
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

/** renameat2 flags. */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;
export const RENAME_WHITEOUT = 4;

/** setxattr flags. */
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

/** fallocate modes. */
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;

/** Limits (Linux values unless noted). */
export const NAME_MAX = 255;
export const PATH_MAX = 4096;
export const XATTR_NAME_MAX = 255;
export const XATTR_SIZE_MAX = 65536;
export const XATTR_LIST_MAX = 65536;
/** Largest file size and offset (off_t is signed 64-bit). */
export const MAX_FILE_SIZE = (1n << 63n) - 1n;

/** The root directory's inode number (as ProxyFS). */
export const ROOT_INO = 1n;

/** Who is asking: the credentials permission checks use. uid 0 is root (all capabilities). */
export interface Caller {
  readonly uid: number;
  readonly gid: number;
  /** Supplementary groups. */
  readonly groups?: readonly number[];
}

export const ROOT_CALLER: Caller = Object.freeze({ uid: 0, gid: 0 });

/**
 * One inode as the store keeps it. Records are treated as immutable values: the volume
 * writes a changed copy with `putInode`, never mutates a record it read.
 */
export interface InodeRecord {
  readonly ino: bigint;
  /** Full st_mode: type bits | permission bits (incl. suid/sgid/sticky). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  /** Files: byte size. Symlinks: target byte length. Others: 0. */
  readonly size: bigint;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly crtimeNs: bigint;
  /** Device number for char/block devices, else 0. */
  readonly rdev: number;
  /** Files: counts writes/truncates/Wrote extents (ProxyFS NumWrites, feeds ETags). */
  readonly numWrites: bigint;
  /** Directories: inode of "..". The root's parent is itself. */
  readonly parent: bigint;
  readonly symlinkTarget: string;
  readonly xattrs: ReadonlyMap<string, Uint8Array>;
}

/** A directory entry as stored (besides its name, which is the key). */
export interface DirEntryRecord {
  readonly ino: bigint;
  /** DT_* of the target. */
  readonly type: number;
}

/** The attributes a caller sees (stat). */
export interface Attr {
  readonly ino: bigint;
  readonly mode: number;
  readonly nlink: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: bigint;
  readonly rdev: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly crtimeNs: bigint;
  readonly numWrites: bigint;
}

export function attrOf(r: InodeRecord): Attr {
  return {
    ino: r.ino, mode: r.mode, nlink: r.nlink, uid: r.uid, gid: r.gid, size: r.size, rdev: r.rdev,
    atimeNs: r.atimeNs, mtimeNs: r.mtimeNs, ctimeNs: r.ctimeNs, crtimeNs: r.crtimeNs, numWrites: r.numWrites,
  };
}

export function dtOf(mode: number): number {
  return (mode >> 12) & 15;
}

export function isDir(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

export function isReg(mode: number): boolean {
  return (mode & S_IFMT) === S_IFREG;
}
