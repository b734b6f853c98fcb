// The Linux FUSE kernel ABI (include/uapi/linux/fuse.h), protocol 7.x up to 7.45: every struct
// is declared exactly once here, with the kernel's field names in camelCase. Comments note the
// protocol minor that introduced a struct or field where it matters for negotiation.
import { defineStruct } from "./layout.js";

export const FUSE_KERNEL_VERSION = 7;
/** Highest protocol minor this library speaks. */
export const FUSE_KERNEL_MINOR_VERSION = 45;
/** Lowest protocol minor this library accepts. */
export const FUSE_MIN_MINOR_VERSION = 31;
export const FUSE_ROOT_ID = 1n;
/** The kernel refuses reads into buffers smaller than this. */
export const FUSE_MIN_READ_BUFFER = 8192;

export const InHeader = defineStruct("fuse_in_header", [
  ["len", "u32"], ["opcode", "u32"], ["unique", "u64"], ["nodeid", "u64"],
  ["uid", "u32"], ["gid", "u32"], ["pid", "u32"], ["totalExtlen", "u16"], ["padding", "u16"],
] as const);

export const OutHeader = defineStruct("fuse_out_header", [
  ["len", "u32"], ["error", "i32"], ["unique", "u64"],
] as const);

export const FuseAttr = defineStruct("fuse_attr", [
  ["ino", "u64"], ["size", "u64"], ["blocks", "u64"], ["atime", "u64"], ["mtime", "u64"], ["ctime", "u64"],
  ["atimensec", "u32"], ["mtimensec", "u32"], ["ctimensec", "u32"], ["mode", "u32"], ["nlink", "u32"],
  ["uid", "u32"], ["gid", "u32"], ["rdev", "u32"], ["blksize", "u32"], ["flags", "u32"],
] as const);

export const Kstatfs = defineStruct("fuse_kstatfs", [
  ["blocks", "u64"], ["bfree", "u64"], ["bavail", "u64"], ["files", "u64"], ["ffree", "u64"],
  ["bsize", "u32"], ["namelen", "u32"], ["frsize", "u32"], ["padding", "u32"],
  ["spare0", "u32"], ["spare1", "u32"], ["spare2", "u32"], ["spare3", "u32"], ["spare4", "u32"], ["spare5", "u32"],
] as const);

export const FileLockStruct = defineStruct("fuse_file_lock", [
  ["start", "u64"], ["end", "u64"], ["type", "u32"], ["pid", "u32"],
] as const);

/** fuse_entry_out without its trailing fuse_attr (which follows it on the wire). */
export const EntryOutHead = defineStruct("fuse_entry_out", [
  ["nodeid", "u64"], ["generation", "u64"], ["entryValid", "u64"], ["attrValid", "u64"],
  ["entryValidNsec", "u32"], ["attrValidNsec", "u32"],
] as const);
export const ENTRY_OUT_SIZE = EntryOutHead.size + FuseAttr.size; // 128

export const ForgetIn = defineStruct("fuse_forget_in", [["nlookup", "u64"]] as const);
export const ForgetOne = defineStruct("fuse_forget_one", [["nodeid", "u64"], ["nlookup", "u64"]] as const);
export const BatchForgetIn = defineStruct("fuse_batch_forget_in", [["count", "u32"], ["dummy", "u32"]] as const);
export const GetattrIn = defineStruct("fuse_getattr_in", [["getattrFlags", "u32"], ["dummy", "u32"], ["fh", "u64"]] as const);

/** fuse_attr_out without its trailing fuse_attr. */
export const AttrOutHead = defineStruct("fuse_attr_out", [
  ["attrValid", "u64"], ["attrValidNsec", "u32"], ["dummy", "u32"],
] as const);
export const ATTR_OUT_SIZE = AttrOutHead.size + FuseAttr.size; // 104

export const MknodIn = defineStruct("fuse_mknod_in", [["mode", "u32"], ["rdev", "u32"], ["umask", "u32"], ["padding", "u32"]] as const);
export const MkdirIn = defineStruct("fuse_mkdir_in", [["mode", "u32"], ["umask", "u32"]] as const);
export const RenameIn = defineStruct("fuse_rename_in", [["newdir", "u64"]] as const);
export const Rename2In = defineStruct("fuse_rename2_in", [["newdir", "u64"], ["flags", "u32"], ["padding", "u32"]] as const);
export const LinkIn = defineStruct("fuse_link_in", [["oldnodeid", "u64"]] as const);

export const SetattrIn = defineStruct("fuse_setattr_in", [
  ["valid", "u32"], ["padding", "u32"], ["fh", "u64"], ["size", "u64"], ["lockOwner", "u64"],
  ["atime", "u64"], ["mtime", "u64"], ["ctime", "u64"], ["atimensec", "u32"], ["mtimensec", "u32"],
  ["ctimensec", "u32"], ["mode", "u32"], ["unused4", "u32"], ["uid", "u32"], ["gid", "u32"], ["unused5", "u32"],
] as const);

export const OpenIn = defineStruct("fuse_open_in", [["flags", "u32"], ["openFlags", "u32"]] as const);
export const CreateIn = defineStruct("fuse_create_in", [["flags", "u32"], ["mode", "u32"], ["umask", "u32"], ["openFlags", "u32"]] as const);
/** `backingId` (7.40, FUSE_PASSTHROUGH) overlays the old padding field. */
export const OpenOut = defineStruct("fuse_open_out", [["fh", "u64"], ["openFlags", "u32"], ["backingId", "i32"]] as const);
export const ReleaseIn = defineStruct("fuse_release_in", [["fh", "u64"], ["flags", "u32"], ["releaseFlags", "u32"], ["lockOwner", "u64"]] as const);
export const FlushIn = defineStruct("fuse_flush_in", [["fh", "u64"], ["unused", "u32"], ["padding", "u32"], ["lockOwner", "u64"]] as const);
export const ReadIn = defineStruct("fuse_read_in", [
  ["fh", "u64"], ["offset", "u64"], ["size", "u32"], ["readFlags", "u32"], ["lockOwner", "u64"], ["flags", "u32"], ["padding", "u32"],
] as const);
export const WriteIn = defineStruct("fuse_write_in", [
  ["fh", "u64"], ["offset", "u64"], ["size", "u32"], ["writeFlags", "u32"], ["lockOwner", "u64"], ["flags", "u32"], ["padding", "u32"],
] as const);
export const WriteOut = defineStruct("fuse_write_out", [["size", "u32"], ["padding", "u32"]] as const);
export const FsyncIn = defineStruct("fuse_fsync_in", [["fh", "u64"], ["fsyncFlags", "u32"], ["padding", "u32"]] as const);
/** 16 bytes when FUSE_SETXATTR_EXT was negotiated, else the first 8 (FUSE_COMPAT_SETXATTR_IN_SIZE). */
export const SetxattrIn = defineStruct("fuse_setxattr_in", [["size", "u32"], ["flags", "u32"], ["setxattrFlags", "u32"], ["padding", "u32"]] as const);
export const SetxattrInCompat = defineStruct("fuse_setxattr_in(compat)", [["size", "u32"], ["flags", "u32"]] as const);
export const GetxattrIn = defineStruct("fuse_getxattr_in", [["size", "u32"], ["padding", "u32"]] as const);
export const GetxattrOut = defineStruct("fuse_getxattr_out", [["size", "u32"], ["padding", "u32"]] as const);

/** fuse_lk_in: fh, owner, then a fuse_file_lock, then lk_flags. Flattened. */
export const LkIn = defineStruct("fuse_lk_in", [
  ["fh", "u64"], ["owner", "u64"], ["start", "u64"], ["end", "u64"], ["type", "u32"], ["pid", "u32"], ["lkFlags", "u32"], ["padding", "u32"],
] as const);
export const AccessIn = defineStruct("fuse_access_in", [["mask", "u32"], ["padding", "u32"]] as const);

/** fuse_init_in: 64 bytes from 7.36 (flags2 and reserved words); 16 bytes before. */
export const InitIn = defineStruct("fuse_init_in", [
  ["major", "u32"], ["minor", "u32"], ["maxReadahead", "u32"], ["flags", "u32"], ["flags2", "u32"],
  ["u0", "u32"], ["u1", "u32"], ["u2", "u32"], ["u3", "u32"], ["u4", "u32"], ["u5", "u32"],
  ["u6", "u32"], ["u7", "u32"], ["u8", "u32"], ["u9", "u32"], ["u10", "u32"],
] as const);
export const InitInCompat = defineStruct("fuse_init_in(compat)", [
  ["major", "u32"], ["minor", "u32"], ["maxReadahead", "u32"], ["flags", "u32"],
] as const);
/** fuse_init_out (64 bytes); max_stack_depth 7.40, request_timeout 7.43. */
export const InitOut = defineStruct("fuse_init_out", [
  ["major", "u32"], ["minor", "u32"], ["maxReadahead", "u32"], ["flags", "u32"],
  ["maxBackground", "u16"], ["congestionThreshold", "u16"], ["maxWrite", "u32"], ["timeGran", "u32"],
  ["maxPages", "u16"], ["mapAlignment", "u16"], ["flags2", "u32"], ["maxStackDepth", "u32"],
  ["requestTimeout", "u16"], ["u0", "u16"], ["u1", "u32"], ["u2", "u32"], ["u3", "u32"], ["u4", "u32"], ["u5", "u32"],
] as const);

export const InterruptIn = defineStruct("fuse_interrupt_in", [["unique", "u64"]] as const);
export const BmapIn = defineStruct("fuse_bmap_in", [["block", "u64"], ["blocksize", "u32"], ["padding", "u32"]] as const);
export const BmapOut = defineStruct("fuse_bmap_out", [["block", "u64"]] as const);
export const IoctlIn = defineStruct("fuse_ioctl_in", [
  ["fh", "u64"], ["flags", "u32"], ["cmd", "u32"], ["arg", "u64"], ["inSize", "u32"], ["outSize", "u32"],
] as const);
export const IoctlOut = defineStruct("fuse_ioctl_out", [["result", "i32"], ["flags", "u32"], ["inIovs", "u32"], ["outIovs", "u32"]] as const);
export const PollIn = defineStruct("fuse_poll_in", [["fh", "u64"], ["kh", "u64"], ["flags", "u32"], ["events", "u32"]] as const);
export const PollOut = defineStruct("fuse_poll_out", [["revents", "u32"], ["padding", "u32"]] as const);
export const FallocateIn = defineStruct("fuse_fallocate_in", [
  ["fh", "u64"], ["offset", "u64"], ["length", "u64"], ["mode", "u32"], ["padding", "u32"],
] as const);
export const LseekIn = defineStruct("fuse_lseek_in", [["fh", "u64"], ["offset", "u64"], ["whence", "u32"], ["padding", "u32"]] as const);
export const LseekOut = defineStruct("fuse_lseek_out", [["offset", "u64"]] as const);
export const CopyFileRangeIn = defineStruct("fuse_copy_file_range_in", [
  ["fhIn", "u64"], ["offIn", "u64"], ["nodeidOut", "u64"], ["fhOut", "u64"], ["offOut", "u64"], ["len", "u64"], ["flags", "u64"],
] as const);
export const SyncfsIn = defineStruct("fuse_syncfs_in", [["padding", "u64"]] as const);

/** fuse_dirent header (name follows, record padded to 8 bytes). */
export const DirentHead = defineStruct("fuse_dirent", [["ino", "u64"], ["off", "u64"], ["namelen", "u32"], ["type", "u32"]] as const);

/** 7.39 STATX. */
export const StatxIn = defineStruct("fuse_statx_in", [
  ["getattrFlags", "u32"], ["reserved", "u32"], ["fh", "u64"], ["sxFlags", "u32"], ["sxMask", "u32"],
] as const);
export const StatxOutHead = defineStruct("fuse_statx_out", [
  ["attrValid", "u64"], ["attrValidNsec", "u32"], ["flags", "u32"], ["spare0", "u64"], ["spare1", "u64"],
] as const);
/** struct fuse_statx (256 bytes); the sx_time members are flattened as sec/nsec/reserved. */
export const Statx = defineStruct("fuse_statx", [
  ["mask", "u32"], ["blksize", "u32"], ["attributes", "u64"], ["nlink", "u32"], ["uid", "u32"], ["gid", "u32"],
  ["mode", "u16"], ["spare0", "u16"], ["ino", "u64"], ["size", "u64"], ["blocks", "u64"], ["attributesMask", "u64"],
  ["atimeSec", "i64"], ["atimeNsec", "u32"], ["atimeRes", "i32"],
  ["btimeSec", "i64"], ["btimeNsec", "u32"], ["btimeRes", "i32"],
  ["ctimeSec", "i64"], ["ctimeNsec", "u32"], ["ctimeRes", "i32"],
  ["mtimeSec", "i64"], ["mtimeNsec", "u32"], ["mtimeRes", "i32"],
  ["rdevMajor", "u32"], ["rdevMinor", "u32"], ["devMajor", "u32"], ["devMinor", "u32"],
  ["s0", "u64"], ["s1", "u64"], ["s2", "u64"], ["s3", "u64"], ["s4", "u64"], ["s5", "u64"], ["s6", "u64"],
  ["s7", "u64"], ["s8", "u64"], ["s9", "u64"], ["s10", "u64"], ["s11", "u64"], ["s12", "u64"], ["s13", "u64"],
] as const);

// Notifications (server -> kernel, unique = 0, error = notify code).
export const NotifyInvalInodeOut = defineStruct("fuse_notify_inval_inode_out", [["ino", "u64"], ["off", "i64"], ["len", "i64"]] as const);
/** fuse_notify_inval_entry_out.flags: only time the entry out, do not unhash it (protocol 7.38, HAS_EXPIRE_ONLY). */
export const FUSE_EXPIRE_ONLY = 1;
export const NotifyInvalEntryOut = defineStruct("fuse_notify_inval_entry_out", [["parent", "u64"], ["namelen", "u32"], ["flags", "u32"]] as const);
export const NotifyDeleteOut = defineStruct("fuse_notify_delete_out", [["parent", "u64"], ["child", "u64"], ["namelen", "u32"], ["padding", "u32"]] as const);
export const NotifyStoreOut = defineStruct("fuse_notify_store_out", [["nodeid", "u64"], ["offset", "u64"], ["size", "u32"], ["padding", "u32"]] as const);
export const NotifyPollWakeupOut = defineStruct("fuse_notify_poll_wakeup_out", [["kh", "u64"]] as const);

export const Opcode = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8, MKDIR: 9,
  UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
  RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23, REMOVEXATTR: 24, FLUSH: 25,
  INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29, FSYNCDIR: 30, GETLK: 31, SETLK: 32,
  SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36, BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40,
  NOTIFY_REPLY: 41, BATCH_FORGET: 42, /** 7.19 */ FALLOCATE: 43, /** 7.21 */ READDIRPLUS: 44,
  /** 7.23 */ RENAME2: 45, /** 7.24 */ LSEEK: 46, /** 7.28 */ COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48, REMOVEMAPPING: 49, /** 7.34 */ SYNCFS: 50, /** 7.37 */ TMPFILE: 51, /** 7.39 */ STATX: 52,
} as const;

export const opcodeName: Record<number, string> = Object.fromEntries(
  Object.entries(Opcode).map(([k, v]) => [v, k]),
);

export const NotifyCode = {
  POLL: 1, INVAL_INODE: 2, INVAL_ENTRY: 3, STORE: 4, RETRIEVE: 5, DELETE: 6, RESEND: 7, INC_EPOCH: 8,
} as const;

/** INIT capability flags (64-bit: bits 32..63 travel in flags2). */
export const InitFlag = {
  ASYNC_READ: 1n << 0n, POSIX_LOCKS: 1n << 1n, FILE_OPS: 1n << 2n, ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n, BIG_WRITES: 1n << 5n, DONT_MASK: 1n << 6n, SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n, SPLICE_READ: 1n << 9n, FLOCK_LOCKS: 1n << 10n, HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n, DO_READDIRPLUS: 1n << 13n, READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n, WRITEBACK_CACHE: 1n << 16n, NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n, HANDLE_KILLPRIV: 1n << 19n, POSIX_ACL: 1n << 20n, ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n, CACHE_SYMLINKS: 1n << 23n, NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n, MAP_ALIGNMENT: 1n << 26n, SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n, SETXATTR_EXT: 1n << 29n, INIT_EXT: 1n << 30n, INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n, HAS_INODE_DAX: 1n << 33n, CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n, DIRECT_IO_ALLOW_MMAP: 1n << 36n, PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n, HAS_RESEND: 1n << 39n, ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n, REQUEST_TIMEOUT: 1n << 42n,
} as const;
export type InitFlagName = keyof typeof InitFlag;

export const FATTR = {
  MODE: 1 << 0, UID: 1 << 1, GID: 1 << 2, SIZE: 1 << 3, ATIME: 1 << 4, MTIME: 1 << 5, FH: 1 << 6,
  ATIME_NOW: 1 << 7, MTIME_NOW: 1 << 8, LOCKOWNER: 1 << 9, CTIME: 1 << 10, KILL_SUIDGID: 1 << 11,
} as const;

export const FOPEN = {
  DIRECT_IO: 1 << 0, KEEP_CACHE: 1 << 1, NONSEEKABLE: 1 << 2, CACHE_DIR: 1 << 3, STREAM: 1 << 4,
  NOFLUSH: 1 << 5, PARALLEL_DIRECT_WRITES: 1 << 6, PASSTHROUGH: 1 << 7,
} as const;

export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
export const FUSE_GETATTR_FH = 1 << 0;
export const FUSE_LK_FLOCK = 1 << 0;
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
export const FUSE_READ_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
