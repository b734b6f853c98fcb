// AgentFs: the file-system core of pfsagentd. It turns POSIX operations into ProxyFS RPCs
// (metadata, pfsagent.md §5 / protocol doc §7.3) and object GET/PUTs (file data, §6-7). It knows
// nothing about FUSE: the fuse-adapter translates kernel requests into these calls.
//
// This class is a facade: the work is done by its parts, which share one AgentContext
// (context.ts) and each document the semantics they implement:
//  - attr-cache.ts     getattr, leased stats, local-size adjustment, lease-end cache drops;
//  - read-path.ts      read, extent maps (extent-lru.ts: ExtentMapEntryLimit), the read cache;
//  - write-back.ts     write, LogSegments, PUT + RpcWrote in order, flush, DirtyFile/LogSegment limits;
//  - file-handles.ts   open/flush/fsync/release (close-to-open);
//  - dir-handles.ts    opendir/readdir/releasedir;
//  - namespace-ops.ts  lookup, create, mkdir, symlink, mknod, link, unlink, rmdir, rename, orphans;
//  - inode-ops.ts      setattr, readlink, fallocate, seek, xattrs, access, statfs.
// Leases (with the `leases` option; lease-table.ts): regular files are read under a Shared lease
// and written under an Exclusive one. While one is held, getattr is answered from the cached stat,
// the extent map survives close/open and the kernel keeps its pages (keep_cache). An interrupt
// from the server flushes the file's dirty data and, on Release, drops all of that before the
// lease goes to the other mount. Without a lease (option off, Denied after LeaseRetry*) an inode
// is re-validated with the server every time.
import { Capability, type StatVFS } from "../../proto/index.js";
import { AttrCache } from "./attr-cache.js";
import { AgentContext } from "./context.js";
import { DirHandles } from "./dir-handles.js";
import { FileHandles } from "./file-handles.js";
import { InodeOps } from "./inode-ops.js";
import type { LeaseState } from "./lease-table.js";
import { NamespaceOps } from "./namespace-ops.js";
import type { AgentDirEntry, AgentFsOptions, AgentFsStats, Caller, InodeStat, LookupResult, SetAttrChanges } from "./ports.js";
import { ReadPath } from "./read-path.js";
import { WriteBack } from "./write-back.js";

export { S_IFDIR, S_IFMT, S_IFREG, type AgentDirEntry, type AgentFsLogger, type AgentFsOptions, type AgentFsStats, type AgentObjectStore, type AgentRpc, type Caller, type InodeStat, type LookupResult, type SetAttrChanges } from "./ports.js";
export { parsePhysPath } from "./write-back.js";

export class AgentFs {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;
  readonly #wb: WriteBack;
  readonly #reads: ReadPath;
  readonly #files: FileHandles;
  readonly #dirs: DirHandles;
  readonly #ns: NamespaceOps;
  readonly #inodes: InodeOps;

  constructor(options: AgentFsOptions) {
    // The lease table calls back into parts built below (only later, on interrupts).
    const ctx = new AgentContext(options, {
      flush: async (ino) => {
        const f = ctx.files.get(ino);
        if (f) await this.#wb.flushFile(f, false);
      },
      dropCaches: (ino, kernel) => this.#attrs.dropCaches(ino, kernel),
    });
    this.#ctx = ctx;
    this.#attrs = new AttrCache(ctx);
    this.#wb = new WriteBack(ctx, this.#attrs);
    this.#reads = new ReadPath(ctx, this.#attrs);
    this.#files = new FileHandles(ctx, this.#attrs, this.#wb);
    this.#dirs = new DirHandles(ctx, this.#attrs);
    this.#ns = new NamespaceOps(ctx, this.#attrs, this.#wb, this.#files);
    this.#inodes = new InodeOps(ctx, this.#attrs, this.#wb);
    // Orphans of dead mounts (SEMANTICS.md): swept in the background, once per mount.
    this.orphanSweep = ctx.caps.has(Capability.MountsAlive) ? ctx.orphans.sweep() : Promise.resolve(0);
  }

  /** Resolves with the number of stale orphans removed at mount (0 without the MountsAlive extension). */
  readonly orphanSweep: Promise<number>;

  get mountId(): string {
    return this.#ctx.mountId;
  }

  /**
   * pfsagentd re-mounted as `mountId` because proxyfsd forgot the old MountID (restart); inode
   * numbers are persistent, so nothing else changes. Runs before failed calls are re-sent. The old
   * mount's leases are gone on the server: dropped here without RPCs. Open orphans get names under
   * the new MountID, or the next agent to mount would remove them (the old MountID is dead).
   */
  async remounted(mountId: string): Promise<void> {
    const c = this.#ctx;
    c.mountId = mountId;
    // RPCInterruptType.Unmount (0): the table drops every lease locally and sends nothing.
    if (c.leases !== undefined) await c.leases.interrupt(0, 0n);
    c.meta?.dropAll();
    // Early-answered changes the restarted proxyfsd may have lost: applied again, once each
    // (before failed calls are re-sent and before the orphans are renamed).
    await c.unsafe?.replay();
    await c.orphans.rehome();
  }

  get stats(): AgentFsStats {
    const c = this.#ctx;
    return {
      readCacheHits: this.#reads.cache.stats.hits,
      readCacheMisses: this.#reads.cache.stats.misses,
      ...c.stats,
      extentMapEntries: c.extents.entries(),
      leases: { ...(c.leases?.stats ?? {}) },
      ...(c.meta?.stats ?? { metaCacheHits: 0, metaCacheMisses: 0, metaCacheEvictions: 0, metaCacheDirs: 0, metaCacheItems: 0 }),
      ...(c.unsafe?.stats ?? { unsafeOps: 0, syncRpcs: 0, replayedOps: 0 }),
      unsafePending: c.unsafe?.pending ?? 0,
      dirtyFiles: c.dirty.size,
      inFlightLogSegments: this.#wb.inFlightSegments(),
      openHandles: c.handles.size,
    };
  }

  // ---- leases and the kernel ----

  /** How the FUSE side drops the kernel's cached attributes of an inode (lease lost). */
  setKernelInvalidator(fn: (ino: bigint) => void): void {
    this.#attrs.setKernelInvalidator(fn);
    this.#ctx.kernel.inode = fn;
  }

  /** How the FUSE side drops the kernel's dentry of a name (directory lease lost). Must not block. */
  /** How the FUSE side drops the kernel's cached attributes (not pages) of an inode. */
  setKernelAttrInvalidator(fn: (ino: bigint) => void): void {
    this.#ctx.kernel.attrs = fn;
  }

  setKernelEntryInvalidator(fn: (parent: bigint, name: string) => void): void {
    this.#ctx.kernel.entry = fn;
  }

  /** FSYNCDIR and syncfs-like callers: every change answered so far is durable when this resolves. */
  syncMeta(): Promise<void> {
    return this.#ctx.syncMeta();
  }

  /** Upcall RPCInterrupt from the server (Unmount 0, Demote 1, Release 2). Never throws. */
  async leaseInterrupt(type: number, ino: bigint): Promise<void> {
    const c = this.#ctx;
    if (c.leases === undefined) {
      c.log.warn(`lease interrupt ${type} for inode ${ino} ignored (leases are off)`);
      return;
    }
    await c.leases.interrupt(type, ino);
  }

  /** Inode numbers per client lease state (the /leases page); all empty without leases. */
  leaseReport(): Record<LeaseState, bigint[]> | undefined {
    return this.#ctx.leases?.report();
  }

  /** Unmount: gives every lease back (Exclusive ones flushed first). */
  async releaseAllLeases(): Promise<void> {
    await this.#ctx.leases?.releaseAll();
  }

  /** Whether OPEN of handle fh may keep the kernel's page cache (FOPEN_KEEP_CACHE). */
  keepCache(fh: bigint): boolean {
    return this.#files.keepCache(fh);
  }

  /** The kernel forgot the inode: drop what we cache about it unless it is in use. */
  forget(ino: bigint): void {
    const c = this.#ctx;
    c.regular.delete(ino);
    const f = c.files.get(ino);
    if (f) c.maybeForgetFile(f);
  }

  // ---- metadata (namespace-ops.ts, inode-ops.ts) ----

  lookup(parent: bigint, name: string): Promise<InodeStat> {
    return this.#ns.lookup(parent, name);
  }

  /** LOOKUP that reports an absent name instead of throwing (leased: the kernel may cache it). */
  lookupEntry(parent: bigint, name: string): Promise<LookupResult> {
    return this.#ns.lookupEntry(parent, name);
  }

  getattr(ino: bigint): Promise<InodeStat> {
    return this.#attrs.getattr(ino);
  }

  setattr(ino: bigint, ch: SetAttrChanges): Promise<InodeStat> {
    return this.#inodes.setattr(ino, ch);
  }

  readlink(ino: bigint): Promise<string> {
    return this.#inodes.readlink(ino);
  }

  symlink(caller: Caller, parent: bigint, name: string, target: string): Promise<InodeStat> {
    return this.#ns.symlink(caller, parent, name, target);
  }

  mkdir(caller: Caller, parent: bigint, name: string, mode: number): Promise<InodeStat> {
    return this.#ns.mkdir(caller, parent, name, mode);
  }

  /** mknod(2): regular files always; fifos, sockets and devices need the Mknod extension (else EPERM). */
  mknod(caller: Caller, parent: bigint, name: string, mode: number, rdev: number): Promise<InodeStat> {
    return this.#ns.mknod(caller, parent, name, mode, rdev);
  }

  /** Creates and opens a regular file. */
  create(caller: Caller, parent: bigint, name: string, mode: number, flags: number): Promise<InodeStat & { fh: bigint }> {
    return this.#ns.create(caller, parent, name, mode, flags);
  }

  unlink(parent: bigint, name: string): Promise<void> {
    return this.#ns.unlink(parent, name);
  }

  rmdir(parent: bigint, name: string): Promise<void> {
    return this.#ns.rmdir(parent, name);
  }

  /** flags: renameat2's RENAME_NOREPLACE (1) / RENAME_EXCHANGE (2), only with the Rename2 extension. */
  rename(srcParent: bigint, srcName: string, dstParent: bigint, dstName: string, flags = 0): Promise<void> {
    return this.#ns.rename(srcParent, srcName, dstParent, dstName, flags);
  }

  /** fallocate(2) (needs the Fallocate extension); ZERO_RANGE is done as a punch plus resize. */
  fallocate(ino: bigint, fh: bigint, mode: number, offset: bigint, length: bigint): Promise<void> {
    return this.#inodes.fallocate(ino, fh, mode, offset, length);
  }

  /** lseek(2) SEEK_DATA / SEEK_HOLE from the server's extent map (after flushing); needs the SeekDataHole extension. */
  seek(ino: bigint, fh: bigint, offset: bigint, whence: number): Promise<bigint> {
    return this.#inodes.seek(ino, fh, offset, whence);
  }

  link(ino: bigint, parent: bigint, name: string): Promise<InodeStat> {
    return this.#ns.link(ino, parent, name);
  }

  statfs(): Promise<StatVFS> {
    return this.#inodes.statfs();
  }

  access(caller: Caller, ino: bigint, mask: number): Promise<void> {
    return this.#inodes.access(caller, ino, mask);
  }

  setxattr(ino: bigint, name: string, value: Buffer, flags: number): Promise<void> {
    return this.#inodes.setxattr(ino, name, value, flags);
  }

  getxattr(ino: bigint, name: string): Promise<Buffer> {
    return this.#inodes.getxattr(ino, name);
  }

  listxattr(ino: bigint): Promise<string[]> {
    return this.#inodes.listxattr(ino);
  }

  removexattr(ino: bigint, name: string): Promise<void> {
    return this.#inodes.removexattr(ino, name);
  }

  // ---- directories (dir-handles.ts) ----

  opendir(ino: bigint, flags: number): Promise<bigint> {
    return this.#dirs.opendir(ino, flags);
  }

  /** Up to `maxEntries` entries after cookie `offset` (0 = from the start, "." and ".." first). */
  readdir(ino: bigint, fh: bigint, offset: bigint, maxEntries: number, plus: boolean): Promise<AgentDirEntry[]> {
    return this.#dirs.readdir(ino, fh, offset, maxEntries, plus);
  }

  releasedir(ino: bigint, fh: bigint): void {
    this.#dirs.releasedir(ino, fh);
  }

  // ---- files (file-handles.ts, read-path.ts, write-back.ts) ----

  open(ino: bigint, flags: number): Promise<bigint> {
    return this.#files.open(ino, flags);
  }

  /** close(2) of one descriptor: makes the file's data durable (close-to-open). */
  flush(ino: bigint, fh: bigint): Promise<void> {
    return this.#files.flush(ino, fh);
  }

  fsync(ino: bigint, fh: bigint): Promise<void> {
    return this.#files.fsync(ino, fh);
  }

  release(ino: bigint, fh: bigint): Promise<void> {
    return this.#files.release(ino, fh);
  }

  write(ino: bigint, fh: bigint, offset: bigint, data: Buffer): Promise<number> {
    return this.#wb.write(ino, fh, offset, data);
  }

  /** Shutdown: flushes every dirty file and waits for all LogSegments to be reported. */
  async flushAll(): Promise<void> {
    await this.#wb.flushAll();
    await this.#ctx.syncMeta();
  }

  read(ino: bigint, fh: bigint, offset: bigint, size: number): Promise<Buffer> {
    return this.#reads.read(ino, fh, offset, size);
  }
}
