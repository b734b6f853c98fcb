// AgentFs: the file-system core of pfsagentd. It turns POSIX operations into ProxyFS RPCs
// (metadata, pfsagent.md §5 / protocol doc §7.3) and object GET/PUTs (file data, §6-7). It knows
// nothing about FUSE: the fuse-adapter translates kernel requests into these calls.
//
// Semantics chosen where the 1.17.1 agent had bugs (pfsagent.md §12), and why:
//  - close (flush) and fsync both wait until the file's data is PUT and RpcWrote-acknowledged
//    (close-to-open consistency; #8 lost data on close);
//  - a failed PUT or RpcWrote is never fatal: the data of that segment is dropped, and the next
//    flush/fsync of the file fails with EIO, once (#9, #14);
//  - attributes are fetched from the server on every getattr unless a lease covers them (no stale
//    cachedStat, #6); the size of a file with unreported writes includes them;
//  - a read never holds a lock across object GETs (#17); a file with size > 0 and no extents
//    reads as zeros (#15); unknown file handles are EBADF (#23);
//  - opening a file that has no dirty data and no lease drops its cached extent map, so a re-open
//    sees what other clients wrote (close-to-open);
//  - unlinking (or renaming over) the last name of a file this agent has open moves it into the
//    hidden root directory ORPHAN_DIR instead (the server would destroy the inode at once); it
//    reports nlink 0, stays readable and writable through its descriptors, and is unlinked for
//    real on the last close. ORPHAN_DIR is invisible to lookup and readdir of the root.
// Leases (with the `leases` option; lease-table.ts): regular files are read under a Shared lease
// and written under an Exclusive one. While one is held, getattr is answered from the cached stat,
// the extent map survives close/open and the kernel keeps its pages (keep_cache). An interrupt
// from the server flushes the file's dirty data and, on Release, drops all of that before the
// lease goes to the other mount. Without a lease (option off, Denied after LeaseRetry*) an inode
// is re-validated with the server every time, as above. ExtentMapEntryLimit caps the extent
// entries cached over all files: least recently read maps are dropped beyond it.
import { Errno, FsError } from "../../base/errno.js";
import type { ObjectStore } from "../../objstore/index.js";
import { Capability, SEEK_DATA, SEEK_HOLE, type ProxyFsRpcMethod, type ReplyOf, type RequestOf, type StatStruct, type StatVFS } from "../../proto/index.js";
import { ExtentMap, type ObjectRef } from "./extent-map.js";
import { FileInode, type PendingSegment } from "./file-inode.js";
import { safeNumber, toFsError } from "./fs-errors.js";
import { LeaseTable, type LeaseOptions, type LeaseState } from "./lease-table.js";
import { LogSegment } from "./log-segment.js";
import { ORPHAN_DIR, OrphanDir } from "./orphan-dir.js";
import { ReadCache } from "./read-cache.js";
import { Semaphore } from "./semaphore.js";

/** What AgentFs needs from the RPC layer (ProxyFsRpcClient fits). */
export interface AgentRpc {
  call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>>;
}

export type AgentObjectStore = Pick<ObjectStore, "getObject" | "putObject">;

export interface AgentFsLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface AgentFsOptions {
  rpc: AgentRpc;
  store: AgentObjectStore;
  mountId: string;
  log?: AgentFsLogger;
  fetchExtentsFromFileOffset?: number;
  fetchExtentsBeforeFileOffset?: number;
  readCacheLineSize?: number;
  readCacheLineCount?: number;
  dirtyLogSegmentLimit?: number;
  dirtyFileLimit?: number;
  maxFlushSize?: number;
  maxFlushTimeMs?: number;
  xattrEnabled?: boolean;
  /** Extensions agreed at mount time (mount reply Capabilities); empty for a 1.17.1 server. */
  capabilities?: ReadonlySet<string>;
  /** Use leases (RpcLease) with these settings; absent = no leases (every inode revalidated). */
  leases?: LeaseOptions;
  /** ExtentMapEntryLimit: extent entries cached over all files (default 1048576). */
  extentMapEntryLimit?: number;
}

export interface Caller {
  uid: number;
  gid: number;
}

/** An inode and its attributes (StatStruct as the server sends it, Size and AllocatedBytes adjusted for local writes). */
export interface InodeStat {
  ino: bigint;
  stat: StatStruct;
}

export interface AgentDirEntry {
  name: string;
  ino: bigint;
  /** DT_* type from the server. */
  type: number;
  /** Cookie to continue after this entry (the server's NextDirLocation). */
  offset: bigint;
  /** Only for readdir with plus. */
  stat?: StatStruct;
}

export interface SetAttrChanges {
  mode?: number;
  uid?: number;
  gid?: number;
  size?: bigint;
  atime?: bigint | "now";
  mtime?: bigint | "now";
}

export interface AgentFsStats {
  readCacheHits: number;
  readCacheMisses: number;
  logSegmentPuts: number;
  logSegmentPutBytes: number;
  logSegmentPutFailures: number;
  logSegmentReadHits: number;
  wroteFailures: number;
  extentMapFetches: number;
  /** Extent entries cached now (all files) and maps dropped for ExtentMapEntryLimit. */
  extentMapEntries: number;
  extentMapEvictions: number;
  /** GETATTRs answered from a leased inode's cached stat, and RpcGetStat calls made. */
  attrCacheHits: number;
  getStatRpcs: number;
  /** LeaseRequests_*, LeaseInterrupts_*, Leases{Shared,Exclusive} (all 0 without leases). */
  leases: Record<string, number>;
  dirtyFiles: number;
  inFlightLogSegments: number;
  openHandles: number;
}

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_TRUNC = 0o1000;
const O_APPEND = 0o2000;
const FALLOC_FL_KEEP_SIZE = 1;
const ROOT_INO = 1n;
const FALLOC_FL_PUNCH_HOLE = 2;
const FALLOC_FL_ZERO_RANGE = 0x10;

interface Handle {
  ino: bigint;
  flags: number;
  dir: boolean;
  /** OPEN under a lease that already covered the kernel's pages (FOPEN_KEEP_CACHE). */
  keepCache?: boolean;
}

const silent: AgentFsLogger = { info() {}, warn() {}, error() {} };

export class AgentFs {
  readonly #rpc: AgentRpc;
  readonly #store: AgentObjectStore;
  /** Changes only at remounted() (proxyfsd restarted). */
  #mountId: string;
  readonly #log: AgentFsLogger;
  readonly #o: Required<Omit<AgentFsOptions, "rpc" | "store" | "mountId" | "log" | "capabilities" | "leases">>;
  readonly #caps: ReadonlySet<string>;
  readonly #cache: ReadCache;
  readonly #tokens: Semaphore;
  readonly #files = new Map<bigint, FileInode>();
  /** Files with dirty data, oldest first (Map insertion order). */
  readonly #dirty = new Map<bigint, FileInode>();
  readonly #handles = new Map<bigint, Handle>();
  #nextFh = 1n;
  /** Files moved into ORPHAN_DIR while open here (see orphan-dir.ts). */
  readonly #orphans: OrphanDir;
  #nextSegmentId = 1;
  #stats = {
    logSegmentPuts: 0, logSegmentPutBytes: 0, logSegmentPutFailures: 0, logSegmentReadHits: 0, wroteFailures: 0, extentMapFetches: 0,
    extentMapEvictions: 0, attrCacheHits: 0, getStatRpcs: 0,
  };
  /** Lease state of regular files; undefined = leases off. */
  readonly #leases: LeaseTable | undefined;
  /** Regular files the kernel knows (learned from stats, dropped at FORGET): they get leases. */
  readonly #regular = new Set<bigint>();
  /** Files with a cached extent map, least recently read first (ExtentMapEntryLimit). */
  readonly #extentLru = new Map<bigint, FileInode>();
  /** Reads populating an extent map now, per inode: such maps are not evicted. */
  readonly #populating = new Map<bigint, number>();
  /** Drops the kernel's cached attributes of an inode (set by the FUSE side). */
  #invalidateKernel: (ino: bigint) => void = () => {};

  constructor(options: AgentFsOptions) {
    this.#rpc = options.rpc;
    this.#store = options.store;
    this.#mountId = options.mountId;
    this.#log = options.log ?? silent;
    this.#caps = options.capabilities ?? new Set();
    this.#o = {
      fetchExtentsFromFileOffset: options.fetchExtentsFromFileOffset ?? 32,
      fetchExtentsBeforeFileOffset: options.fetchExtentsBeforeFileOffset ?? 0,
      readCacheLineSize: options.readCacheLineSize ?? 1 << 20,
      readCacheLineCount: options.readCacheLineCount ?? 1000,
      dirtyLogSegmentLimit: options.dirtyLogSegmentLimit ?? 50,
      dirtyFileLimit: options.dirtyFileLimit ?? 50,
      maxFlushSize: options.maxFlushSize ?? 10 * 1024 * 1024,
      maxFlushTimeMs: options.maxFlushTimeMs ?? 200,
      xattrEnabled: options.xattrEnabled ?? false,
      extentMapEntryLimit: options.extentMapEntryLimit ?? 1048576,
    };
    if (!(this.#o.extentMapEntryLimit >= 1)) throw new RangeError("ExtentMapEntryLimit must be at least 1");
    this.#leases = options.leases === undefined ? undefined : new LeaseTable(
      async (ino, type) => (await this.#rpc.call("RpcLease", { ...this.#h(ino), LeaseRequestType: type })).LeaseReplyType,
      {
        flush: async (ino) => {
          const f = this.#files.get(ino);
          if (f) await this.#flushFile(f, false);
        },
        dropCaches: (ino, kernel) => this.#dropCaches(ino, kernel),
        warn: (m) => this.#log.warn(m),
      },
      options.leases,
    );
    if (this.#o.fetchExtentsFromFileOffset < 1) throw new RangeError("FetchExtentsFromFileOffset must be at least 1");
    this.#tokens = new Semaphore(this.#o.dirtyLogSegmentLimit);
    this.#cache = new ReadCache({
      lineSize: this.#o.readCacheLineSize,
      lineCount: this.#o.readCacheLineCount,
      fetch: (container, object, start, length) => this.#fetchLine(container, object, start, length),
    });
    this.#orphans = new OrphanDir({ call: (method, request) => this.#rpc.call(method, request), mountId: () => this.#mountId, log: this.#log });
    // Orphans of dead mounts (SEMANTICS.md): swept in the background, once per mount.
    this.orphanSweep = this.#caps.has(Capability.MountsAlive) ? this.#orphans.sweep() : Promise.resolve(0);
  }

  /** Resolves with the number of stale orphans removed at mount (0 without the MountsAlive extension). */
  readonly orphanSweep: Promise<number>;

  get mountId(): string {
    return this.#mountId;
  }

  /**
   * pfsagentd re-mounted as `mountId` because proxyfsd forgot the old MountID (restart); inode
   * numbers are persistent, so nothing else changes. Runs before failed calls are re-sent. The old
   * mount's leases are gone on the server: dropped here without RPCs. Open orphans get names under
   * the new MountID, or the next agent to mount would remove them (the old MountID is dead).
   */
  async remounted(mountId: string): Promise<void> {
    this.#mountId = mountId;
    // RPCInterruptType.Unmount (0): the table drops every lease locally and sends nothing.
    if (this.#leases !== undefined) await this.#leases.interrupt(0, 0n);
    await this.#orphans.rehome();
  }

  get stats(): AgentFsStats {
    let inFlight = 0;
    for (const f of this.#dirty.values()) inFlight += f.segments.length;
    return {
      readCacheHits: this.#cache.stats.hits,
      readCacheMisses: this.#cache.stats.misses,
      ...this.#stats,
      extentMapEntries: this.#extentEntries(),
      leases: { ...(this.#leases?.stats ?? {}) },
      dirtyFiles: this.#dirty.size,
      inFlightLogSegments: inFlight,
      openHandles: this.#handles.size,
    };
  }

  // ---- RPC helpers ----

  async #call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>, defaultErrno: number = Errno.EIO): Promise<ReplyOf<M>> {
    try {
      return await this.#rpc.call(method, request);
    } catch (err) {
      throw toFsError(err, defaultErrno, method);
    }
  }

  #h(ino: bigint): { MountID: string; InodeNumber: bigint } {
    return { MountID: this.#mountId, InodeNumber: ino };
  }

  async #getStat(ino: bigint): Promise<StatStruct> {
    this.#stats.getStatRpcs++;
    const st = await this.#call("RpcGetStat", this.#h(ino));
    return this.#noteStat(ino, st);
  }

  /**
   * The inode's attributes under a Shared lease when it is a regular file (taken if needed):
   * from the cache while the lease lasts, else fetched and cached. Others: RpcGetStat.
   */
  async #leasedStat(ino: bigint): Promise<StatStruct> {
    const L = this.#leases;
    if (L === undefined || !this.#regular.has(ino)) return this.#getStat(ino);
    const hit = L.cachedStat(ino);
    if (hit !== undefined) {
      this.#stats.attrCacheHits++;
      return this.#noteStat(ino, hit);
    }
    const t = await L.acquire(ino, "shared");
    const mark = L.statMark(ino);
    this.#stats.getStatRpcs++;
    const st = await this.#call("RpcGetStat", this.#h(ino));
    if (t !== undefined) L.cacheStat(t, mark, st);
    return this.#noteStat(ino, st);
  }

  /** The lease of `ino` is ending (kernel: drop the kernel's attributes too) or just began. */
  #dropCaches(ino: bigint, kernel: boolean): void {
    const f = this.#files.get(ino);
    if (f) {
      f.extentMap = undefined;
      if (!f.dirty) f.serverSize = undefined;
      this.#extentLru.delete(ino);
      this.#maybeForgetFile(f);
    }
    if (!kernel) return;
    try {
      this.#invalidateKernel(ino);
    } catch (err) {
      this.#log.warn(`invalidating the kernel's cache of inode ${ino}: ${(err as Error).message}`);
    }
  }

  /** How the FUSE side drops the kernel's cached attributes and pages of an inode (lease lost). */
  setKernelInvalidator(fn: (ino: bigint) => void): void {
    this.#invalidateKernel = fn;
  }

  /** Upcall RPCInterrupt from the server (Unmount 0, Demote 1, Release 2). Never throws. */
  async leaseInterrupt(type: number, ino: bigint): Promise<void> {
    if (this.#leases === undefined) {
      this.#log.warn(`lease interrupt ${type} for inode ${ino} ignored (leases are off)`);
      return;
    }
    await this.#leases.interrupt(type, ino);
  }

  /** Inode numbers per client lease state (the /leases page); all empty without leases. */
  leaseReport(): Record<LeaseState, bigint[]> | undefined {
    return this.#leases?.report();
  }

  /** Unmount: gives every lease back (Exclusive ones flushed first). */
  async releaseAllLeases(): Promise<void> {
    await this.#leases?.releaseAll();
  }

  /** Whether OPEN of handle fh may keep the kernel's page cache (FOPEN_KEEP_CACHE). */
  keepCache(fh: bigint): boolean {
    return this.#handles.get(fh)?.keepCache ?? false;
  }

  #extentEntries(): number {
    let n = 0;
    for (const f of this.#extentLru.values()) n += f.extentMap?.size ?? 0;
    return n;
  }

  /** ExtentMapEntryLimit: drops least recently read extent maps (not those being populated). */
  #enforceExtentLimit(): void {
    let total = this.#extentEntries();
    if (total <= this.#o.extentMapEntryLimit) return;
    for (const [ino, f] of this.#extentLru) {
      if (total <= this.#o.extentMapEntryLimit) break;
      if (this.#populating.has(ino)) continue;
      total -= f.extentMap?.size ?? 0;
      f.extentMap = undefined;
      this.#extentLru.delete(ino);
      this.#stats.extentMapEvictions++;
    }
  }

  /** Marks f's extent map as just used (LRU for ExtentMapEntryLimit). */
  #touchExtents(f: FileInode): void {
    this.#extentLru.delete(f.ino);
    if (f.extentMap) this.#extentLru.set(f.ino, f);
  }

  /** Records what a fresh stat says about a file we track, and adjusts its size for local writes. */
  #noteStat(ino: bigint, st: StatStruct): StatStruct {
    // The ORPHAN_DIR entry is not a name the user sees.
    if (this.#orphans.has(ino) && st.NumLinks > 0n) st = { ...st, NumLinks: st.NumLinks - 1n };
    if ((st.FileMode & S_IFMT) === S_IFREG) this.#regular.add(ino);
    const f = this.#files.get(ino);
    if (!f || (st.FileMode & S_IFMT) !== S_IFREG) return st;
    const size = safeNumber(st.Size, `size of inode ${ino}`);
    f.serverSize = size;
    const eff = f.effectiveSize(size);
    // StatExtended: our unreported writes are allocated space the server does not count yet.
    const dirty = st.AllocatedBytes !== undefined ? f.dirtyBytes : 0;
    if (eff === size && dirty === 0) return st;
    const adjusted = { ...st, Size: BigInt(eff) };
    if (dirty > 0) adjusted.AllocatedBytes = st.AllocatedBytes! + BigInt(dirty);
    return adjusted;
  }

  #file(ino: bigint): FileInode {
    let f = this.#files.get(ino);
    if (!f) {
      f = new FileInode(ino);
      this.#files.set(ino, f);
    }
    return f;
  }

  /** Drops a FileInode nobody needs any more (no handle, no dirty data, no lease keeping its extents). */
  #maybeForgetFile(f: FileInode): void {
    if (f.openCount === 0 && !f.dirty && !f.pumping && this.#files.get(f.ino) === f && this.#leases?.held(f.ino) === undefined) {
      this.#files.delete(f.ino);
      this.#extentLru.delete(f.ino);
    }
  }

  #handle(fh: bigint, ino: bigint, dir: boolean): Handle {
    const h = this.#handles.get(fh);
    if (!h || h.ino !== ino || h.dir !== dir) throw new FsError(Errno.EBADF, `file handle ${fh} is not an open ${dir ? "directory" : "file"} of inode ${ino}`);
    return h;
  }

  // ---- metadata ----

  async lookup(parent: bigint, name: string): Promise<InodeStat> {
    if (parent === ROOT_INO && name === ORPHAN_DIR) throw new FsError(Errno.ENOENT, `${ORPHAN_DIR} is reserved by the agent`);
    const r = await this.#call("RpcLookupPlus", { ...this.#h(parent), Basename: name }, Errno.ENOENT);
    const { InodeNumber, ...stat } = r;
    return { ino: InodeNumber, stat: this.#noteStat(InodeNumber, stat) };
  }

  async getattr(ino: bigint): Promise<InodeStat> {
    return { ino, stat: await this.#leasedStat(ino) };
  }

  /** Before changing a regular file's attributes: an Exclusive lease (others drop theirs), then no cached stat. */
  async #changing(ino: bigint): Promise<void> {
    if (this.#leases !== undefined && this.#regular.has(ino)) await this.#leases.acquire(ino, "exclusive");
    this.#leases?.forgetStat(ino);
  }

  async setattr(ino: bigint, ch: SetAttrChanges): Promise<InodeStat> {
    await this.#changing(ino);
    const f = this.#files.get(ino);
    if (f) await this.#flushFile(f, false);
    if (ch.mode !== undefined) await this.#call("RpcChmod", { ...this.#h(ino), FileMode: ch.mode & 0o7777 });
    if (ch.uid !== undefined || ch.gid !== undefined) {
      await this.#call("RpcChown", { ...this.#h(ino), UserID: ch.uid ?? -1, GroupID: ch.gid ?? -1 });
    }
    if (ch.size !== undefined) {
      const size = safeNumber(ch.size, "new size", Errno.EFBIG);
      await this.#call("RpcResize", { ...this.#h(ino), NewSize: ch.size });
      const g = this.#files.get(ino);
      if (g) {
        g.serverSize = size;
        g.extentMap?.truncate(size);
      }
    }
    if (ch.atime !== undefined || ch.mtime !== undefined) {
      const now = BigInt(Date.now()) * 1_000_000n;
      const t = (v: bigint | "now" | undefined): bigint => (v === undefined ? 0n : v === "now" ? now : v);
      await this.#call("RpcSetTime", {
        ...this.#h(ino), CTimeNs: 0n, CRTimeNs: 0n, MTimeNs: t(ch.mtime), ATimeNs: t(ch.atime), Size: 0n, NumLinks: 0n,
        StatInodeNumber: 0n, FileMode: 0, UserID: 0, GroupID: 0,
      });
    }
    this.#leases?.forgetStat(ino);
    return this.getattr(ino);
  }

  async readlink(ino: bigint): Promise<string> {
    return (await this.#call("RpcReadSymlink", this.#h(ino))).Target;
  }

  async symlink(caller: Caller, parent: bigint, name: string, target: string): Promise<InodeStat> {
    const r = await this.#call("RpcSymlink", { ...this.#h(parent), Basename: name, Target: target, UserID: caller.uid, GroupID: caller.gid });
    return this.getattr(r.InodeNumber);
  }

  async mkdir(caller: Caller, parent: bigint, name: string, mode: number): Promise<InodeStat> {
    const r = await this.#call("RpcMkdir", { ...this.#h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
    return this.getattr(r.InodeNumber);
  }

  /**
   * mknod(2). A regular file (type S_IFREG or 0) is an RpcCreate, as on any 1.17.1 server; fifos,
   * sockets and device nodes need the Mknod extension (the server keeps mode and rdev). Without
   * it they fail with EPERM, as on NFS servers that cannot store special files (never ENOSYS,
   * which would make the kernel refuse every later MKNOD, regular files included).
   */
  async mknod(caller: Caller, parent: bigint, name: string, mode: number, rdev: number): Promise<InodeStat> {
    const type = mode & S_IFMT;
    if (type === 0 || type === S_IFREG) {
      const r = await this.#call("RpcCreate", { ...this.#h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
      return this.getattr(r.InodeNumber);
    }
    if (!this.#caps.has(Capability.Mknod)) throw new FsError(Errno.EPERM, `mknod of type 0o${type.toString(8)} needs the ${Capability.Mknod} extension`);
    const r = await this.#call("RpcMknod", { ...this.#h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode, Rdev: rdev >>> 0 });
    return this.getattr(r.InodeNumber);
  }

  /** Creates and opens a regular file. */
  async create(caller: Caller, parent: bigint, name: string, mode: number, flags: number): Promise<InodeStat & { fh: bigint }> {
    const r = await this.#call("RpcCreate", { ...this.#h(parent), Basename: name, UserID: caller.uid, GroupID: caller.gid, FileMode: mode & 0o7777 });
    const f = this.#file(r.InodeNumber);
    f.openCount++;
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino: r.InodeNumber, flags, dir: false });
    try {
      return { ...(await this.getattr(r.InodeNumber)), fh };
    } catch (err) {
      this.#closeHandle(fh);
      throw err;
    }
  }

  /** Flushes the dirty data of `name` in `dir` before it may be destroyed by unlink/rename. */
  async #flushVictim(dir: bigint, name: string): Promise<void> {
    if (this.#dirty.size === 0) return;
    let ino: bigint;
    try {
      ino = (await this.#rpc.call("RpcLookup", { ...this.#h(dir), Basename: name })).InodeNumber;
    } catch {
      return; // absent: nothing to flush; the real operation reports the error
    }
    const f = this.#dirty.get(ino);
    if (f) await this.#flushFile(f, false);
  }

  async unlink(parent: bigint, name: string): Promise<void> {
    try {
      if (await this.#orphanIfOpen(parent, name)) return;
      await this.#flushVictim(parent, name);
      await this.#call("RpcUnlink", { ...this.#h(parent), Basename: name });
    } finally {
      this.#leases?.forgetAllStats(); // the victim's link count and ctime changed
    }
  }

  /**
   * If `name` in `dir` is the last link of a regular file open here, moves it into ORPHAN_DIR
   * (so the server keeps the inode) and returns true; the last close unlinks it (OrphanDir.reap).
   */
  async #orphanIfOpen(dir: bigint, name: string): Promise<boolean> {
    if (this.#handles.size === 0) return false;
    let r: ReplyOf<"RpcLookupPlus">;
    try {
      r = await this.#rpc.call("RpcLookupPlus", { ...this.#h(dir), Basename: name });
    } catch {
      return false; // absent: the real operation reports the error
    }
    const f = this.#files.get(r.InodeNumber);
    if (!f || f.openCount === 0 || (r.FileMode & S_IFMT) !== S_IFREG || r.NumLinks !== 1n || this.#orphans.has(r.InodeNumber)) return false;
    await this.#orphans.hide(dir, name, r.InodeNumber);
    return true;
  }

  async rmdir(parent: bigint, name: string): Promise<void> {
    await this.#call("RpcRmdir", { ...this.#h(parent), Basename: name });
  }

  /** flags: renameat2's RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2), only with the Rename2 extension. */
  async rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags = 0): Promise<void> {
    try {
      await this.#rename(srcParent, srcName, dstParent, dstName, flags);
    } finally {
      this.#leases?.forgetAllStats(); // a replaced file's link count changed, the moved one's ctime
    }
  }

  async #rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags: number): Promise<void> {
    const names = { MountID: this.#mountId, SrcDirInodeNumber: srcParent, SrcBasename: srcName, DstDirInodeNumber: dstParent, DstBasename: dstName };
    if (flags !== 0) {
      // 1.17.1 ignored the flags (pfsagent.md §12 #19); without the extension we refuse instead.
      if (!this.#caps.has(Capability.Rename2)) throw new FsError(Errno.EINVAL, `rename flags ${flags} need the ${Capability.Rename2} extension`);
      if (flags & 2) await this.#flushVictim(srcParent, srcName);
      await this.#flushVictim(dstParent, dstName);
      await this.#call("RpcRename2", { ...names, Flags: flags });
      return;
    }
    if (!(await this.#orphanIfOpen(dstParent, dstName))) await this.#flushVictim(dstParent, dstName);
    await this.#call("RpcRename", names);
  }

  /**
   * fallocate(2): mode 0, KEEP_SIZE (1), PUNCH_HOLE|KEEP_SIZE (3) go to the server as they are;
   * ZERO_RANGE (0x10, optionally |KEEP_SIZE) is done here as a punch (the range then reads as
   * zeros) plus, without KEEP_SIZE, a resize when the range ends past EOF. Needs the Fallocate extension.
   */
  async fallocate(ino: bigint, fh: bigint, mode: number, offset: bigint, length: bigint): Promise<void> {
    this.#handle(fh, ino, false);
    if (!this.#caps.has(Capability.Fallocate)) throw new FsError(Errno.EOPNOTSUPP, `fallocate needs the ${Capability.Fallocate} extension`);
    // The server takes ranges up to 2^63-1, but this agent handles sizes as numbers (2^53-1, as
    // write and truncate check): a file grown past that would fail every later stat with EIO.
    if (offset + length > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FsError(Errno.EFBIG, `fallocate of ${length} bytes at ${offset} ends beyond the largest supported file size`);
    }
    await this.#changing(ino);
    const f = this.#file(ino);
    await this.#flushFile(f, false);
    if ((mode & ~FALLOC_FL_KEEP_SIZE) === FALLOC_FL_ZERO_RANGE) {
      await this.#call("RpcFallocate", { MountID: this.#mountId, InodeNumber: ino, Mode: FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, Offset: offset, Length: length });
      if ((mode & FALLOC_FL_KEEP_SIZE) === 0) {
        const st = await this.#getStat(ino);
        if (offset + length > st.Size) await this.#call("RpcResize", { ...this.#h(ino), NewSize: offset + length });
      }
    } else {
      await this.#call("RpcFallocate", { MountID: this.#mountId, InodeNumber: ino, Mode: mode, Offset: offset, Length: length });
    }
    // The server changed the extent map (holes) and maybe the size: learn both afresh.
    f.extentMap = undefined;
    this.#leases?.forgetStat(ino);
    await this.#getStat(ino);
  }

  /** lseek(2) SEEK_DATA / SEEK_HOLE from the server's extent map (after flushing); needs the SeekDataHole extension. */
  async seek(ino: bigint, fh: bigint, offset: bigint, whence: number): Promise<bigint> {
    this.#handle(fh, ino, false);
    if ((whence !== SEEK_DATA && whence !== SEEK_HOLE) || !this.#caps.has(Capability.SeekDataHole)) {
      throw new FsError(Errno.ENOSYS, `lseek whence ${whence} is not served by this agent`);
    }
    const f = this.#files.get(ino);
    if (f) await this.#flushFile(f, false);
    return (await this.#call("RpcSeek", { MountID: this.#mountId, InodeNumber: ino, Offset: offset, Whence: whence })).Offset;
  }

  async link(ino: bigint, parent: bigint, name: string): Promise<InodeStat> {
    await this.#changing(ino);
    const f = this.#files.get(ino);
    if (f) await this.#flushFile(f, false);
    try {
      await this.#call("RpcLink", { ...this.#h(parent), Basename: name, TargetInodeNumber: ino });
    } finally {
      this.#leases?.forgetStat(ino);
    }
    return this.getattr(ino);
  }

  async statfs(): Promise<StatVFS> {
    return this.#call("RpcStatVFS", { MountID: this.#mountId });
  }

  async access(caller: Caller, ino: bigint, mask: number): Promise<void> {
    await this.#call("RpcAccess", { ...this.#h(ino), UserID: caller.uid, GroupID: caller.gid, AccessMode: mask });
  }

  #xattrCheck(): void {
    if (!this.#o.xattrEnabled) throw new FsError(Errno.ENOSYS, "extended attributes are disabled (XAttrEnabled=false)");
  }

  async setxattr(ino: bigint, name: string, value: Buffer, flags: number): Promise<void> {
    this.#xattrCheck();
    await this.#changing(ino);
    try {
      await this.#call("RpcSetXAttr", { ...this.#h(ino), AttrName: name, AttrValue: value, AttrFlags: flags });
    } finally {
      this.#leases?.forgetStat(ino); // ctime
    }
  }

  async getxattr(ino: bigint, name: string): Promise<Buffer> {
    this.#xattrCheck();
    return (await this.#call("RpcGetXAttr", { ...this.#h(ino), AttrName: name }, Errno.ENODATA)).AttrValue;
  }

  async listxattr(ino: bigint): Promise<string[]> {
    this.#xattrCheck();
    return (await this.#call("RpcListXAttr", this.#h(ino))).AttrNames ?? [];
  }

  async removexattr(ino: bigint, name: string): Promise<void> {
    this.#xattrCheck();
    await this.#changing(ino);
    try {
      await this.#call("RpcRemoveXAttr", { ...this.#h(ino), AttrName: name }, Errno.ENODATA);
    } finally {
      this.#leases?.forgetStat(ino); // ctime
    }
  }

  // ---- directories ----

  async opendir(ino: bigint, flags: number): Promise<bigint> {
    const st = await this.#getStat(ino);
    if ((st.FileMode & S_IFMT) !== S_IFDIR) throw new FsError(Errno.ENOTDIR, `inode ${ino} is not a directory`);
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino, flags, dir: true });
    return fh;
  }

  /**
   * Up to `maxEntries` entries after cookie `offset` (0 = from the start, "." and ".." first).
   * The server's locations are the cookies: entry i has NextDirLocation i+1.
   */
  async readdir(ino: bigint, fh: bigint, offset: bigint, maxEntries: number, plus: boolean): Promise<AgentDirEntry[]> {
    for (;;) {
      const ents = await this.#readdirRaw(ino, fh, offset, maxEntries, plus);
      if (ino !== ROOT_INO) return ents;
      const shown = ents.filter((e) => e.name !== ORPHAN_DIR);
      // An empty reply means end of directory: never return one while entries follow.
      if (shown.length > 0 || ents.length === 0) return shown;
      offset = ents[ents.length - 1]!.offset;
    }
  }

  async #readdirRaw(ino: bigint, fh: bigint, offset: bigint, maxEntries: number, plus: boolean): Promise<AgentDirEntry[]> {
    this.#handle(fh, ino, true);
    const req = { ...this.#h(ino), MaxEntries: BigInt(Math.max(1, maxEntries)), PrevDirEntLocation: offset - 1n };
    if (!plus) {
      const r = await this.#call("RpcReaddirByLoc", req);
      return (r.DirEnts ?? []).map((d) => ({ name: d.Basename, ino: d.InodeNumber, type: d.FileType, offset: d.NextDirLocation }));
    }
    const r = await this.#call("RpcReaddirPlusByLoc", req);
    const dirs = r.DirEnts ?? [];
    const stats = r.StatEnts ?? [];
    if (dirs.length !== stats.length) {
      throw new FsError(Errno.EIO, `RpcReaddirPlusByLoc of inode ${ino} returned ${dirs.length} entries but ${stats.length} stats`);
    }
    return dirs.map((d, i) => ({
      name: d.Basename, ino: d.InodeNumber, type: d.FileType, offset: d.NextDirLocation, stat: this.#noteStat(d.InodeNumber, stats[i]!),
    }));
  }

  releasedir(ino: bigint, fh: bigint): void {
    this.#handle(fh, ino, true);
    this.#handles.delete(fh);
  }

  // ---- files ----

  async open(ino: bigint, flags: number): Promise<bigint> {
    const f = this.#file(ino);
    f.openCount++;
    const trunc = (flags & O_TRUNC) !== 0 && (flags & O_ACCMODE) !== O_RDONLY;
    let keepCache = false;
    try {
      // A Shared lease (Exclusive to truncate) makes a writer elsewhere flush first.
      const t = this.#leases !== undefined && this.#regular.has(ino) ? await this.#leases.acquire(ino, trunc ? "exclusive" : "shared") : undefined;
      if (flags & O_TRUNC) await this.#flushFile(f, false);
      const st = t !== undefined ? await this.#leasedStat(ino) : await this.#getStat(ino);
      if ((st.FileMode & S_IFMT) !== S_IFREG) throw new FsError(Errno.EINVAL, `inode ${ino} is not a regular file`);
      if (trunc) {
        await this.#call("RpcResize", { ...this.#h(ino), NewSize: 0n });
        this.#leases?.forgetStat(ino);
        f.serverSize = 0;
        f.extentMap = undefined;
      } else if (!f.dirty && t === undefined) {
        // Close-to-open: forget extents learned before, in case another client changed the file.
        // (Under a lease they are still right: it would have been revoked first.)
        f.extentMap = undefined;
      }
      keepCache = !trunc && this.#leases !== undefined && this.#leases.openKeepCache(t);
    } catch (err) {
      f.openCount--;
      this.#maybeForgetFile(f);
      throw err;
    }
    const fh = this.#nextFh++;
    this.#handles.set(fh, { ino, flags, dir: false, keepCache });
    return fh;
  }

  #closeHandle(fh: bigint): void {
    const h = this.#handles.get(fh);
    if (!h) return;
    this.#handles.delete(fh);
    const f = this.#files.get(h.ino);
    if (f) {
      f.openCount--;
      this.#maybeForgetFile(f);
    }
  }

  /** close(2) of one descriptor: makes the file's data durable (close-to-open). */
  async flush(ino: bigint, fh: bigint): Promise<void> {
    this.#handle(fh, ino, false);
    const f = this.#files.get(ino);
    if (f) await this.#flushFile(f, true);
  }

  async fsync(ino: bigint, fh: bigint): Promise<void> {
    this.#handle(fh, ino, false);
    const f = this.#files.get(ino);
    if (f) await this.#flushFile(f, true);
  }

  async release(ino: bigint, fh: bigint): Promise<void> {
    this.#handle(fh, ino, false);
    // The kernel sends FLUSH before RELEASE for every close(2); anything still dirty here
    // completes in the background (the FileInode lives on while it is dirty).
    const f = this.#files.get(ino); // before #closeHandle, which may forget it
    this.#closeHandle(fh);
    if (f && f.openCount === 0 && this.#orphans.has(ino)) await this.#orphans.reap(ino, () => this.#flushFile(f, false));
  }

  async write(ino: bigint, fh: bigint, offset: bigint, data: Buffer): Promise<number> {
    const h = this.#handle(fh, ino, false);
    if ((h.flags & O_ACCMODE) === O_RDONLY) throw new FsError(Errno.EBADF, `file handle ${fh} is open read-only`);
    if (offset < 0n || offset + BigInt(data.length) > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new FsError(Errno.EFBIG, `write at ${offset} of ${data.length} bytes is beyond the largest supported file size`);
    }
    if (data.length === 0) return 0;
    const f = this.#file(ino);
    let seg: LogSegment | undefined;
    for (;;) {
      // Written data is only buffered under an Exclusive lease: an interrupt flushes it before
      // anyone else may read. The lease must still be held when the append happens.
      const t = this.#leases !== undefined ? await this.#leases.acquire(ino, "exclusive") : undefined;
      if (f.serverSize === undefined) await this.#getStat(ino);
      seg = f.openSegment();
      if (!seg) {
        if (!f.dirty) await this.#makeRoomForDirtyFile(f);
        await this.#tokens.acquire();
        seg = f.openSegment();
        if (seg) this.#tokens.release();
        else seg = this.#newSegment(f);
      }
      if (t === undefined || this.#leases!.ticketValid(t, "exclusive")) break;
    }
    // From here to the append nothing awaits: the segment is still open.
    f.localSize ??= f.serverSize ?? 0;
    const off = h.flags & O_APPEND ? f.localSize : Number(offset);
    seg.append(off, data);
    f.localSize = Math.max(f.localSize, off + data.length);
    return data.length;
  }

  /** DirtyFileLimit: before one more file becomes dirty, flush the oldest dirty files. */
  async #makeRoomForDirtyFile(f: FileInode): Promise<void> {
    while (this.#dirty.size >= this.#o.dirtyFileLimit) {
      const oldest = this.#dirty.values().next().value as FileInode;
      if (oldest === f) return;
      await this.#flushFile(oldest, false);
    }
  }

  #newSegment(f: FileInode): LogSegment {
    const seg = new LogSegment(this.#nextSegmentId++, {
      provision: async () => {
        const r = await this.#rpc.call("RpcProvisionObject", { MountID: this.#mountId });
        return parsePhysPath(r.PhysPath);
      },
      put: async (ref, body) => {
        await this.#store.putObject(ref.container, ref.object, body);
      },
    }, { maxFlushSize: this.#o.maxFlushSize, maxFlushTimeMs: this.#o.maxFlushTimeMs });
    this.#stats.logSegmentPuts++;
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const pending: PendingSegment = { seg, done, resolveDone };
    f.segments.push(pending);
    this.#dirty.delete(f.ino);
    this.#dirty.set(f.ino, f);
    if (!f.pumping) this.#pump(f).catch((err: unknown) => this.#log.error(`completing LogSegments of inode ${f.ino}: ${(err as Error)?.stack ?? String(err)}`));
    return seg;
  }

  /** Completes f's segments strictly in order: wait for the PUT, then RpcWrote, then merge extents. */
  async #pump(f: FileInode): Promise<void> {
    f.pumping = true;
    try {
      while (f.segments.length > 0) {
        const p = f.segments[0]!;
        const seg = p.seg;
        let uploaded = true;
        try {
          await seg.uploaded;
        } catch (err) {
          uploaded = false;
          this.#stats.logSegmentPutFailures++;
          f.writeError = err instanceof Error ? err : new Error(String(err));
          this.#log.error(`LogSegment PUT for inode ${f.ino} failed; ${seg.length} bytes of written data are lost: ${f.writeError.message}`);
        }
        if (uploaded) {
          const ref = seg.ref!;
          const ext = seg.extents.extents();
          try {
            await this.#rpc.call("RpcWrote", {
              ...this.#h(f.ino), ContainerName: ref.container, ObjectName: ref.object,
              FileOffset: ext.map((e) => BigInt(e.off)), ObjectOffset: ext.map((e) => BigInt(e.objOff)), Length: ext.map((e) => BigInt(e.len)),
            });
            this.#stats.logSegmentPutBytes += seg.length;
            f.extentMap ??= new ExtentMap();
            for (const e of ext) f.extentMap.set(e.off, e.len, ref, e.objOff);
            if (f.serverSize !== undefined) f.serverSize = Math.max(f.serverSize, seg.extents.end);
            this.#leases?.forgetStat(f.ino); // the server's mtime and size moved
            this.#touchExtents(f);
            this.#enforceExtentLimit();
          } catch (err) {
            this.#stats.wroteFailures++;
            f.writeError = err instanceof Error ? err : new Error(String(err));
            f.extentMap = undefined;
            this.#log.error(`RpcWrote for inode ${f.ino} (${ref.container}/${ref.object}) failed; the server does not know ${seg.length} written bytes: ${f.writeError.message}`);
          }
        }
        f.segments.shift();
        this.#tokens.release();
        p.resolveDone();
      }
    } finally {
      f.pumping = false;
      f.localSize = undefined;
      if (this.#dirty.get(f.ino) === f) this.#dirty.delete(f.ino);
      this.#maybeForgetFile(f);
    }
  }

  /**
   * Closes f's open segment and waits until every segment that exists now is reported.
   * With `report`, a write failure since the last report is thrown (once) as EIO.
   */
  async #flushFile(f: FileInode, report: boolean): Promise<void> {
    const last = f.segments[f.segments.length - 1];
    if (last) {
      last.seg.close();
      await last.done;
    }
    if (report && f.writeError) {
      const err = f.writeError;
      f.writeError = undefined;
      throw new FsError(Errno.EIO, `writing inode ${f.ino} failed: ${err.message}`, { cause: err });
    }
  }

  /** Shutdown: flushes every dirty file and waits for all LogSegments to be reported. */
  async flushAll(): Promise<void> {
    while (this.#dirty.size > 0) {
      await Promise.all([...this.#dirty.values()].map((f) => this.#flushFile(f, false)));
    }
  }

  async read(ino: bigint, fh: bigint, offset: bigint, size: number): Promise<Buffer> {
    const h = this.#handle(fh, ino, false);
    if ((h.flags & O_ACCMODE) === O_WRONLY) throw new FsError(Errno.EBADF, `file handle ${fh} is open write-only`);
    const f = this.#file(ino);
    // A Shared lease makes a writer elsewhere flush first (it may have been revoked since OPEN).
    const t = this.#leases !== undefined ? await this.#leases.acquire(ino, "shared") : undefined;
    if (f.serverSize === undefined && !f.dirty) await (t !== undefined ? this.#leasedStat(ino) : this.#getStat(ino));
    const fileSize = f.effectiveSize(f.serverSize ?? 0);
    if (offset >= BigInt(fileSize) || size <= 0) return Buffer.alloc(0);
    const start = Number(offset);
    const end = Math.min(start + size, fileSize);
    this.#populating.set(ino, (this.#populating.get(ino) ?? 0) + 1);
    try {
      await this.#populateExtentMap(f, start, end);
    } finally {
      const n = this.#populating.get(ino)! - 1;
      if (n > 0) this.#populating.set(ino, n);
      else this.#populating.delete(ino);
    }
    // Snapshot synchronously: persisted extents, then in-flight segments oldest first (later
    // ones override earlier ones and all override persisted data). Segments keep their buffers.
    const out = Buffer.alloc(end - start);
    const pieces = f.extentMap ? f.extentMap.pieces(start, end) : [];
    const overlays: Array<() => void> = [];
    for (const p of f.segments) {
      for (const piece of p.seg.extents.pieces(start, end)) {
        if (piece.ref === undefined) continue;
        const seg = p.seg;
        overlays.push(() => seg.copyOut(piece.objOff!, piece.len, out, piece.off - start));
      }
    }
    if (overlays.length > 0) this.#stats.logSegmentReadHits++;
    this.#touchExtents(f);
    this.#enforceExtentLimit(); // after the snapshot: this read needs the map no more
    const gets: Promise<void>[] = [];
    for (const p of pieces) {
      if (!p.ref) continue; // hole or gap: zeros
      gets.push(this.#cache.read(p.ref.container, p.ref.object, p.objOff!, p.len, out, p.off - start));
    }
    try {
      await Promise.all(gets);
    } catch (err) {
      throw toFsError(err, Errno.EIO, `reading inode ${ino}`);
    }
    for (const o of overlays) o();
    return out;
  }

  /** Learns the persisted extents covering [start, end) with RpcFetchExtentMapChunk (§6.2). */
  async #populateExtentMap(f: FileInode, start: number, end: number): Promise<void> {
    f.extentMap ??= new ExtentMap();
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const map: ExtentMap = f.extentMap ?? (f.extentMap = new ExtentMap());
      const gap = map.firstGap(start, end);
      if (gap === undefined) return;
      if (f.serverSize !== undefined && gap >= f.serverSize) {
        // Past the server's EOF only our own unreported writes (overlaid by read) can exist.
        map.fillGaps(gap, end - gap, null, 0);
        continue;
      }
      this.#stats.extentMapFetches++;
      const r = await this.#call("RpcFetchExtentMapChunk", {
        ...this.#h(f.ino), FileOffset: BigInt(gap),
        MaxEntriesFromFileOffset: BigInt(this.#o.fetchExtentsFromFileOffset), MaxEntriesBeforeFileOffset: BigInt(this.#o.fetchExtentsBeforeFileOffset),
      });
      const m: ExtentMap = f.extentMap ?? (f.extentMap = new ExtentMap());
      // Fetched extents only fill unknown ranges: what we already know (our own completed
      // writes) is at least as new as the server's answer.
      let pos = safeNumber(r.FileOffsetRangeStart, "FileOffsetRangeStart");
      const rangeEnd = safeNumber(r.FileOffsetRangeEnd, "FileOffsetRangeEnd");
      for (const e of r.ExtentMapEntry ?? []) {
        const eOff = safeNumber(e.FileOffset, "extent FileOffset");
        const eLen = safeNumber(e.Length, "extent Length");
        if (eOff > pos) m.fillGaps(pos, eOff - pos, null, 0);
        if (eLen > 0) m.fillGaps(eOff, eLen, { container: e.ContainerName, object: e.ObjectName }, safeNumber(e.LogSegmentOffset, "extent LogSegmentOffset"));
        pos = Math.max(pos, eOff + eLen);
      }
      if (rangeEnd > pos) m.fillGaps(pos, rangeEnd - pos, null, 0);
      // Nothing known at `gap` (past the server's EOF, or a file with no extents): zeros.
      if (m.firstGap(gap, gap + 1) !== undefined) {
        const next = m.pieces(gap, end).find((p) => p.ref !== undefined);
        m.fillGaps(gap, (next ? next.off : end) - gap, null, 0);
      }
    }
    throw new FsError(Errno.EIO, `extent map of inode ${f.ino} did not converge`);
  }

  async #fetchLine(container: string, object: string, start: number, length: number): Promise<Buffer> {
    const r = await this.#store.getObject(container, object, { range: { offset: start, length } });
    return r.body;
  }

  /** The kernel forgot the inode: drop what we cache about it unless it is in use. */
  forget(ino: bigint): void {
    this.#regular.delete(ino);
    const f = this.#files.get(ino);
    if (f) this.#maybeForgetFile(f);
  }
}

/**
 * "/v1/<account>/<container>/<object>" → container and object (protocol doc §7.2: the account
 * part is ignored; the StorageURL's account is used).
 */
export function parsePhysPath(physPath: string): ObjectRef {
  const parts = physPath.split("/");
  if (parts.length !== 5 || parts[0] !== "" || parts[3] === "" || parts[4] === "") {
    throw new Error(`RpcProvisionObject returned PhysPath ${JSON.stringify(physPath)}, not /v1/<account>/<container>/<object>`);
  }
  return { container: parts[3]!, object: parts[4]! };
}
