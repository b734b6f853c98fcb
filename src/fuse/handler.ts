// The FuseHandler interface: what a file system implements to be served by a FuseSession.
//
// Every method is optional: a missing method answers ENOSYS (FORGET, INTERRUPT and INIT are handled
// by the session itself). A method fails a request by throwing FsError(errno) from base/; any other
// thrown value becomes EIO and is logged. All 64-bit quantities are bigint; times are nanoseconds
// since the Unix epoch as bigint. Names are UTF-8 strings (see SEMANTICS.md).
//
// Buffers passed in (write data, xattr values) are owned by the handler after the call: the session
// never reuses them. Buffers returned are read by the session before the next request on that
// handler is answered, and never modified.

/** Attributes of one inode, as FUSE reports them. */
export interface Attr {
  ino: bigint;
  size: bigint;
  /** 512-byte blocks allocated. */
  blocks: bigint;
  atimeNs: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  /** Type and permission bits (S_IFREG | 0o644 ...). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev: number;
  blksize: number;
  /** Birth time, reported through STATX when known. */
  btimeNs?: bigint;
}

/** A positive directory entry: the kernel gains one lookup reference on `nodeid`. */
export interface Entry {
  /** Node id handed to the kernel; defaults to attr.ino. Never 0 or 1 except for the root. */
  nodeid?: bigint;
  generation?: bigint;
  attr: Attr;
  /** How long the kernel may cache the name -> nodeid binding (default: session option). */
  entryTtlMs?: number;
  /** How long the kernel may cache the attributes (default: session option). */
  attrTtlMs?: number;
}

/** A negative lookup the kernel may cache for entryTtlMs (no lookup reference is taken). */
export interface NegativeEntry {
  nodeid: 0n;
  entryTtlMs: number;
}

export interface AttrReply {
  attr: Attr;
  attrTtlMs?: number;
}

/** Per-request context. `signal` aborts when the kernel sends INTERRUPT for this request. */
export interface RequestContext {
  unique: bigint;
  nodeid: bigint;
  opcode: number;
  uid: number;
  gid: number;
  pid: number;
  signal: AbortSignal;
}

export interface SetattrRequest {
  fh?: bigint;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  /** Nanoseconds since the epoch, or "now" (UTIME_NOW). */
  atime?: bigint | "now";
  mtime?: bigint | "now";
  ctime?: bigint;
  lockOwner?: bigint;
  /** The kernel asks the file system to clear suid/sgid (HANDLE_KILLPRIV). */
  killSuidgid?: boolean;
}

export interface OpenReply {
  fh: bigint;
  directIo?: boolean;
  keepCache?: boolean;
  nonSeekable?: boolean;
  cacheDir?: boolean;
  noFlush?: boolean;
  parallelDirectWrites?: boolean;
}

export interface CreateReply {
  entry: Entry;
  open: OpenReply;
}

export interface StatfsReply {
  blocks: bigint;
  bfree: bigint;
  bavail: bigint;
  files: bigint;
  ffree: bigint;
  bsize: number;
  namelen: number;
  frsize: number;
}

/** One directory entry. `offset` is the cookie the kernel passes back to continue after it. */
export interface DirEntry {
  name: string;
  ino: bigint;
  /** DT_* type: (mode >> 12) & 0xf. */
  type: number;
  offset: bigint;
  /** READDIRPLUS only: the full entry (lookup reference taken unless name is "." or ".."). */
  entry?: Entry;
}

/** A POSIX byte-range lock (fcntl) or a whole-file flock, as the kernel describes it. */
export interface FileLock {
  start: bigint;
  /** Inclusive end; 0xffffffffffffffff for "to end of file". */
  end: bigint;
  /** F_RDLCK = 0, F_WRLCK = 1, F_UNLCK = 2. */
  type: number;
  pid: number;
}

export interface LockRequest {
  fh: bigint;
  owner: bigint;
  lock: FileLock;
  /** True for flock(2) locks (FUSE_LK_FLOCK); false for fcntl byte-range locks. */
  flock: boolean;
}

export interface InitInfo {
  major: number;
  minor: number;
  /** Capability flags the kernel offered (64-bit: flags | flags2 << 32). */
  kernelFlags: bigint;
  /** Capability flags the session enabled. */
  flags: bigint;
  maxWrite: number;
  maxReadahead: number;
}

export interface StatxReply {
  attr: Attr;
  attrTtlMs?: number;
}

export interface FuseHandler {
  /** Called once after INIT negotiation, before any other request is served. */
  init?(info: InitInfo): Promise<void> | void;
  /** Called when the session ends (DESTROY or unmount). */
  destroy?(): Promise<void> | void;
  /** The kernel dropped its last lookup reference on nodeid (counted by the session). */
  forget?(nodeid: bigint): void;

  lookup?(ctx: RequestContext, parent: bigint, name: string): Promise<Entry | NegativeEntry>;
  getattr?(ctx: RequestContext, nodeid: bigint, fh?: bigint): Promise<AttrReply>;
  setattr?(ctx: RequestContext, nodeid: bigint, changes: SetattrRequest): Promise<AttrReply>;
  readlink?(ctx: RequestContext, nodeid: bigint): Promise<string>;
  symlink?(ctx: RequestContext, parent: bigint, name: string, target: string): Promise<Entry>;
  mknod?(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; rdev: number; umask: number }): Promise<Entry>;
  mkdir?(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number }): Promise<Entry>;
  unlink?(ctx: RequestContext, parent: bigint, name: string): Promise<void>;
  rmdir?(ctx: RequestContext, parent: bigint, name: string): Promise<void>;
  /** flags: RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4. */
  rename?(ctx: RequestContext, from: { parent: bigint; name: string }, to: { parent: bigint; name: string }, flags: number): Promise<void>;
  link?(ctx: RequestContext, nodeid: bigint, to: { parent: bigint; name: string }): Promise<Entry>;
  open?(ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply>;
  read?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number; flags: number }): Promise<Buffer>;
  /** Returns the number of bytes written. */
  write?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; data: Buffer; flags: number; writeFlags: number }): Promise<number>;
  statfs?(ctx: RequestContext, nodeid: bigint): Promise<StatfsReply>;
  release?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; flags: number; lockOwner?: bigint; flush: boolean; flockRelease: boolean }): Promise<void>;
  fsync?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; datasync: boolean }): Promise<void>;
  /** flags: XATTR_CREATE = 1, XATTR_REPLACE = 2. */
  setxattr?(ctx: RequestContext, nodeid: bigint, name: string, value: Buffer, flags: number): Promise<void>;
  /** Returns the whole value; the session handles size probes and ERANGE. */
  getxattr?(ctx: RequestContext, nodeid: bigint, name: string): Promise<Buffer>;
  /** Returns every name; the session handles size probes and ERANGE. */
  listxattr?(ctx: RequestContext, nodeid: bigint): Promise<string[]>;
  removexattr?(ctx: RequestContext, nodeid: bigint, name: string): Promise<void>;
  flush?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; lockOwner: bigint }): Promise<void>;
  opendir?(ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply>;
  /**
   * Entries after cookie `offset` (0 = from the start), in a stable order. The session packs as
   * many as fit in `size` bytes and drops the rest; `plus` asks for `entry` on each (READDIRPLUS).
   */
  readdir?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number; plus: boolean }): Promise<DirEntry[]>;
  releasedir?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; flags: number }): Promise<void>;
  fsyncdir?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; datasync: boolean }): Promise<void>;
  /** Returns the first conflicting lock, or a lock of type F_UNLCK when there is none. */
  getlk?(ctx: RequestContext, nodeid: bigint, req: LockRequest): Promise<FileLock>;
  /** `wait` is SETLKW: block until granted or ctx.signal aborts (then throw EINTR). */
  setlk?(ctx: RequestContext, nodeid: bigint, req: LockRequest, wait: boolean): Promise<void>;
  access?(ctx: RequestContext, nodeid: bigint, mask: number): Promise<void>;
  create?(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number; flags: number }): Promise<CreateReply>;
  bmap?(ctx: RequestContext, nodeid: bigint, req: { block: bigint; blocksize: number }): Promise<bigint>;
  ioctl?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; flags: number; cmd: number; arg: bigint; input: Buffer; outSize: number }): Promise<{ result: number; output: Buffer }>;
  poll?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; kh: bigint; flags: number; events: number }): Promise<number>;
  /** mode: FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_ZERO_RANGE = 16 ... */
  fallocate?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; length: bigint; mode: number }): Promise<void>;
  /** whence: SEEK_SET 0, SEEK_CUR 1, SEEK_END 2, SEEK_DATA 3, SEEK_HOLE 4. Returns the new offset. */
  lseek?(ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; whence: number }): Promise<bigint>;
  copyFileRange?(ctx: RequestContext, nodeid: bigint, req: { fhIn: bigint; offIn: bigint; nodeidOut: bigint; fhOut: bigint; offOut: bigint; len: bigint; flags: bigint }): Promise<bigint>;
  syncfs?(ctx: RequestContext, nodeid: bigint): Promise<void>;
  tmpfile?(ctx: RequestContext, parent: bigint, opts: { mode: number; umask: number; flags: number }): Promise<CreateReply>;
  /** When absent, STATX is answered from getattr. */
  statx?(ctx: RequestContext, nodeid: bigint, req: { fh?: bigint; flags: number; mask: number }): Promise<StatxReply>;
}

/** DT_* directory entry type of a mode. */
export function direntType(mode: number): number {
  return (mode >>> 12) & 0xf;
}
