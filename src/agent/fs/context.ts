// AgentContext: the state the parts of AgentFs share (attr-cache, read-path, write-back,
// namespace-ops, inode-ops, file-handles, dir-handles), and the small helpers all of them use.
import { Errno, FsError } from "../../base/errno.js";
import type { ProxyFsRpcMethod, ReplyOf, RequestOf } from "../../proto/index.js";
import { ExtentLru } from "./extent-lru.js";
import { FileInode } from "./file-inode.js";
import { toFsError } from "./fs-errors.js";
import { LeaseTable } from "./lease-table.js";
import { OrphanDir } from "./orphan-dir.js";
import { MetaCache } from "./meta-cache.js";
import { UnsafeLog, isMutation } from "./unsafe-log.js";
import { Capability } from "../../proto/index.js";
import { silent, type AgentFsLogger, type AgentFsOptions, type AgentObjectStore, type AgentRpc, type Handle, type ResolvedAgentFsOptions } from "./ports.js";

/** What the lease table calls back into (wired by the AgentFs facade). */
export interface ContextLeaseHooks {
  /** An interrupt: flush the file's dirty data. */
  flush(ino: bigint): Promise<void>;
  /** The lease is ending (kernel: drop the kernel's attributes too) or just began. */
  dropCaches(ino: bigint, kernel: boolean): void;
}

export class AgentContext {
  readonly rpc: AgentRpc;
  readonly store: AgentObjectStore;
  /** Changes only at remounted() (proxyfsd restarted). */
  mountId: string;
  readonly log: AgentFsLogger;
  readonly o: ResolvedAgentFsOptions;
  readonly caps: ReadonlySet<string>;
  /**
   * FileInodes of regular files that are open, dirty, pumping or leased (see file-inode.ts);
   * maybeForgetFile() drops one as soon as none of that holds.
   */
  readonly files = new Map<bigint, FileInode>();
  /** Files with dirty data, oldest first (Map insertion order). */
  readonly dirty = new Map<bigint, FileInode>();
  /** Open file and directory handles by fh; each open file handle counts in its FileInode's openCount. */
  readonly handles = new Map<bigint, Handle>();
  #nextFh = 1n;
  /** Files moved into ORPHAN_DIR while open here (see orphan-dir.ts). */
  readonly orphans: OrphanDir;
  /** Counters of AgentFs.stats (this key order is the order the stats report). */
  readonly stats = {
    logSegmentPuts: 0, logSegmentPutBytes: 0, logSegmentPutFailures: 0, logSegmentReadHits: 0, wroteFailures: 0, extentMapFetches: 0,
    extentMapEvictions: 0, attrCacheHits: 0, getStatRpcs: 0,
  };
  /** Lease state of regular files; undefined = leases off. */
  readonly leases: LeaseTable | undefined;
  /** Regular files the kernel knows (learned from stats, dropped at FORGET): they get leases. */
  readonly regular = new Set<bigint>();
  /** Cached extent maps over all files (ExtentMapEntryLimit). */
  readonly extents: ExtentLru;
  /** Directory entries and children's attributes under directory leases (MetaCache capability and leases on). */
  readonly meta: MetaCache | undefined;
  /** Early-answered mutations not yet known durable (EarlyReply capability). */
  readonly unsafe: UnsafeLog | undefined;
  /** How the FUSE side drops what the kernel caches (set by the facade's setKernel* methods). */
  readonly kernel = {
    inode: (_ino: bigint): void => {},
    entry: (_parent: bigint, _name: string): void => {},
    /** Attributes only (the pages stay): this agent's own change moved them on the server. */
    attrs: (_ino: bigint): void => {},
  };

  constructor(options: AgentFsOptions, hooks: ContextLeaseHooks) {
    this.rpc = options.rpc;
    this.store = options.store;
    this.mountId = options.mountId;
    this.log = options.log ?? silent;
    this.caps = options.capabilities ?? new Set();
    this.o = {
      fetchExtentsFromFileOffset: options.fetchExtentsFromFileOffset ?? 32,
      fetchExtentsBeforeFileOffset: options.fetchExtentsBeforeFileOffset ?? 0,
      readCacheLineSize: options.readCacheLineSize ?? 1 << 20,
      readCacheLineCount: options.readCacheLineCount ?? 1000,
      dirtyLogSegmentLimit: options.dirtyLogSegmentLimit ?? 50,
      dirtyFileLimit: options.dirtyFileLimit ?? 50,
      maxFlushSize: options.maxFlushSize ?? 10 * 1024 * 1024,
      maxFlushTimeMs: options.maxFlushTimeMs ?? 200,
      xattrEnabled: options.xattrEnabled ?? false,
      deferCloseFlush: options.deferCloseFlush ?? true,
      sharedSegmentFileLimit: options.sharedSegmentFileLimit ?? 1024 * 1024,
      extentMapEntryLimit: options.extentMapEntryLimit ?? 1048576,
    };
    if (!(this.o.extentMapEntryLimit >= 1)) throw new RangeError("ExtentMapEntryLimit must be at least 1");
    this.extents = new ExtentLru(this.o.extentMapEntryLimit, this.stats);
    this.leases = options.leases === undefined ? undefined : new LeaseTable(
      async (ino, type) => (await this.rpc.call("RpcLease", { ...this.h(ino), LeaseRequestType: type })).LeaseReplyType,
      {
        flush: (ino) => hooks.flush(ino),
        dropCaches: (ino, kernel) => hooks.dropCaches(ino, kernel),
        warn: (m) => this.log.warn(m),
      },
      options.leases,
    );
    if (this.o.fetchExtentsFromFileOffset < 1) throw new RangeError("FetchExtentsFromFileOffset must be at least 1");
    this.unsafe = this.caps.has(Capability.EarlyReply)
      ? new UnsafeLog({ rpc: this.rpc, mountId: () => this.mountId, log: this.log, ...(options.unsafeLimit !== undefined ? { limit: options.unsafeLimit } : {}) })
      : undefined;
    const leases = this.leases;
    this.meta = leases !== undefined && this.caps.has(Capability.MetaCache) ? new MetaCache(options.metaCacheLimit ?? 100_000, {
      valid: (t) => leases.ticketValid(t, "shared"),
      invalidateEntry: (parent, name) => this.#kernelSafely(() => this.kernel.entry(parent, name), `entry ${JSON.stringify(name)} of ${parent}`),
      invalidateInode: (ino) => this.#kernelSafely(() => this.kernel.inode(ino), `attributes of ${ino}`),
    }) : undefined;
    this.orphans = new OrphanDir({ call: (method, request, ino) => this.send(method, request, ino), mountId: () => this.mountId, log: this.log });
  }

  #kernelSafely(fn: () => void, what: string): void {
    try {
      fn();
    } catch (err) {
      this.log.warn(`invalidating the kernel's ${what}: ${(err as Error).message}`);
    }
  }

  /**
   * Sends an RPC; a mutation goes through the unsafe log when replies are early. `ino`: for
   * removes and renames, the inode the name holds (what a replay checks; 0 = unknown).
   */
  send<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>, ino?: bigint): Promise<ReplyOf<M>> {
    if (this.unsafe !== undefined && isMutation(method)) return this.unsafe.call(method, request, ino);
    return this.rpc.call(method, request);
  }

  /** Waits until every change this agent was answered for is durable (fsync, FSYNCDIR, unmount). */
  async syncMeta(): Promise<void> {
    try {
      await this.unsafe?.sync();
    } catch (err) {
      throw toFsError(err, Errno.EIO, "RpcSync");
    }
  }

  /** An RPC whose failure becomes an FsError (defaultErrno when the server's error has none). */
  async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>, defaultErrno: number = Errno.EIO, ino?: bigint): Promise<ReplyOf<M>> {
    try {
      return await this.send(method, request, ino);
    } catch (err) {
      throw toFsError(err, defaultErrno, method);
    }
  }

  /** The MountID + InodeNumber header of most requests. */
  h(ino: bigint): { MountID: string; InodeNumber: bigint } {
    return { MountID: this.mountId, InodeNumber: ino };
  }

  newFh(): bigint {
    return this.#nextFh++;
  }

  /** The FileInode of ino, created (and tracked) if needed. */
  file(ino: bigint): FileInode {
    let f = this.files.get(ino);
    if (!f) {
      f = new FileInode(ino);
      this.files.set(ino, f);
    }
    return f;
  }

  /** Drops a FileInode nobody needs any more (no handle, no dirty data, no lease keeping its extents). */
  maybeForgetFile(f: FileInode): void {
    if (f.openCount === 0 && !f.dirty && !f.pumping && this.files.get(f.ino) === f && this.leases?.held(f.ino) === undefined) {
      this.files.delete(f.ino);
      this.extents.delete(f.ino);
    }
  }

  /** The open handle fh of ino (a directory or not); unknown handles are EBADF (#23). */
  handle(fh: bigint, ino: bigint, dir: boolean): Handle {
    const h = this.handles.get(fh);
    if (!h || h.ino !== ino || h.dir !== dir) throw new FsError(Errno.EBADF, `file handle ${fh} is not an open ${dir ? "directory" : "file"} of inode ${ino}`);
    return h;
  }
}
