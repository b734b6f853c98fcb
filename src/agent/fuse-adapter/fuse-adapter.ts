// AgentFuseAdapter: serves AgentFs to the kernel through our FUSE library (pfsagent.md §5.2).
// The only part of the agent that knows FUSE: it converts kernel requests into AgentFs calls and
// server StatStructs into FUSE attributes, applies the entry/attr TTLs (EntryDuration,
// AttrDuration) and packs READDIR/READDIRPLUS replies. OPEN sets FOPEN_KEEP_CACHE when AgentFs
// says the inode's lease covered the kernel's pages (see kernelInvalidator for the other half).
//
// NodeID == ProxyFS InodeNumber (root 1 on both sides).
import type {
  Attr, AttrReply, CreateReply, DirEntry, Entry, NegativeEntry, FuseHandler, OpenReply, RequestContext, SessionOptions, SetattrRequest, StatfsReply,
} from "../../fuse/index.js";
import type { StatStruct } from "../../proto/index.js";
import { Errno, FsError } from "../../base/errno.js";
import type { AgentFs, InodeStat } from "../fs/index.js";

export interface FuseAdapterOptions {
  /** EntryDuration in ms. */
  entryTtlMs: number;
  /** AttrDuration in ms. */
  attrTtlMs: number;
  /** LeasedCacheDuration in ms: entry and attr TTL of what a lease covers (AgentFs invalidates it when the lease goes). */
  leasedTtlMs?: number;
  /** st_blksize reported (AttrBlockSize). st_blocks is always in 512-byte units. */
  blockSize: number;
  /** Called for every request (metrics): FUSE op name such as "DoLookup". */
  onOp?: (op: string) => void;
}

/** INIT capabilities the agent asks for (pfsagent.md §5.2 INIT; no POSIX_LOCKS: the kernel keeps locks local). */
export function agentCapabilities(readDirPlus: boolean): NonNullable<SessionOptions["capabilities"]> {
  const caps: NonNullable<SessionOptions["capabilities"]> = ["ASYNC_READ", "ATOMIC_O_TRUNC", "BIG_WRITES", "AUTO_INVAL_DATA", "PARALLEL_DIROPS", "MAX_PAGES",
    // Directory entries of lost leases expire instead of being unhashed (kernelEntryInvalidator).
    "INIT_EXT", "HAS_EXPIRE_ONLY"];
  if (readDirPlus) caps.push("DO_READDIRPLUS", "READDIRPLUS_AUTO");
  return caps;
}

/**
 * FUSE attributes of a server stat. Sizes are reported for every type (1.17.1 reported 0 for
 * dirs/symlinks). st_blocks and st_rdev come from the StatExtended fields when the server sent
 * them (AllocatedBytes: holes use no blocks); from a 1.17.1 server, blocks follow the size and
 * rdev is 0.
 */
export function attrOf(ino: bigint, st: StatStruct, blockSize: number): Attr {
  return {
    ino,
    size: st.Size,
    blocks: ((st.AllocatedBytes ?? st.Size) + 511n) / 512n,
    atimeNs: st.ATimeNs,
    mtimeNs: st.MTimeNs,
    ctimeNs: st.CTimeNs,
    btimeNs: st.CRTimeNs,
    mode: st.FileMode,
    nlink: Number(st.NumLinks > 0xffffffffn ? 0xffffffffn : st.NumLinks),
    uid: st.UserID,
    gid: st.GroupID,
    rdev: st.Rdev ?? 0,
    blksize: blockSize,
  };
}

/** Size of one packed dirent (fuse_dirent 24 bytes, fuse_direntplus 152 bytes, + name, 8-aligned). */
function direntSize(name: string, plus: boolean): number {
  return ((plus ? 152 : 24) + Buffer.byteLength(name) + 7) & ~7;
}

export class AgentFuseAdapter implements FuseHandler {
  readonly #fs: AgentFs;
  readonly #o: FuseAdapterOptions;

  constructor(fs: AgentFs, options: FuseAdapterOptions) {
    this.#fs = fs;
    this.#o = options;
  }

  #entry(r: InodeStat): Entry {
    const long = r.leased === true && this.#o.leasedTtlMs !== undefined;
    return {
      nodeid: r.ino, attr: attrOf(r.ino, r.stat, this.#o.blockSize),
      entryTtlMs: long ? this.#o.leasedTtlMs! : this.#o.entryTtlMs, attrTtlMs: long ? this.#o.leasedTtlMs! : this.#o.attrTtlMs,
    };
  }

  #attr(r: InodeStat): AttrReply {
    const long = r.leased === true && this.#o.leasedTtlMs !== undefined;
    return { attr: attrOf(r.ino, r.stat, this.#o.blockSize), attrTtlMs: long ? this.#o.leasedTtlMs! : this.#o.attrTtlMs };
  }

  #op(name: string): void {
    this.#o.onOp?.(name);
  }

  forget(nodeid: bigint): void {
    this.#op("DoForget");
    this.#fs.forget(nodeid);
  }

  async lookup(_ctx: RequestContext, parent: bigint, name: string): Promise<Entry | NegativeEntry> {
    this.#op("DoLookup");
    const r = await this.#fs.lookupEntry(parent, name);
    if (r.found) return this.#entry(r);
    // A leased directory: the kernel may keep the negative entry (AgentFs invalidates it).
    if (r.leased && this.#o.leasedTtlMs !== undefined) return { nodeid: 0n, entryTtlMs: this.#o.leasedTtlMs };
    throw new FsError(Errno.ENOENT, `no entry ${JSON.stringify(name)} in directory ${parent}`);
  }

  async getattr(_ctx: RequestContext, nodeid: bigint): Promise<AttrReply> {
    this.#op("DoGetAttr");
    return this.#attr(await this.#fs.getattr(nodeid));
  }

  async setattr(_ctx: RequestContext, nodeid: bigint, ch: SetattrRequest): Promise<AttrReply> {
    this.#op("DoSetAttr");
    return this.#attr(await this.#fs.setattr(nodeid, {
      ...(ch.mode !== undefined ? { mode: ch.mode } : {}),
      ...(ch.uid !== undefined ? { uid: ch.uid } : {}),
      ...(ch.gid !== undefined ? { gid: ch.gid } : {}),
      ...(ch.size !== undefined ? { size: ch.size } : {}),
      ...(ch.atime !== undefined ? { atime: ch.atime } : {}),
      ...(ch.mtime !== undefined ? { mtime: ch.mtime } : {}),
    }));
  }

  async readlink(_ctx: RequestContext, nodeid: bigint): Promise<string> {
    this.#op("DoReadLink");
    return this.#fs.readlink(nodeid);
  }

  async symlink(ctx: RequestContext, parent: bigint, name: string, target: string): Promise<Entry> {
    this.#op("DoSymLink");
    return this.#entry(await this.#fs.symlink(ctx, parent, name, target));
  }

  async mkdir(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number }): Promise<Entry> {
    this.#op("DoMkDir");
    return this.#entry(await this.#fs.mkdir(ctx, parent, name, opts.mode & ~opts.umask & 0o7777));
  }

  async mknod(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; rdev: number; umask: number }): Promise<Entry> {
    this.#op("DoMkNod");
    return this.#entry(await this.#fs.mknod(ctx, parent, name, (opts.mode & ~0o7777) | (opts.mode & ~opts.umask & 0o7777), opts.rdev));
  }

  async unlink(_ctx: RequestContext, parent: bigint, name: string): Promise<void> {
    this.#op("DoUnlink");
    await this.#fs.unlink(parent, name);
  }

  async rmdir(_ctx: RequestContext, parent: bigint, name: string): Promise<void> {
    this.#op("DoRmDir");
    await this.#fs.rmdir(parent, name);
  }

  async rename(_ctx: RequestContext, from: { parent: bigint; name: string }, to: { parent: bigint; name: string }, flags: number): Promise<void> {
    this.#op(flags === 0 ? "DoRename" : "DoRename2");
    await this.#fs.rename(from.parent, from.name, to.parent, to.name, flags);
  }

  async fallocate(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; length: bigint; mode: number }): Promise<void> {
    this.#op("DoFAllocate");
    await this.#fs.fallocate(nodeid, req.fh, req.mode, req.offset, req.length);
  }

  async lseek(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; whence: number }): Promise<bigint> {
    this.#op("DoLSeek");
    return this.#fs.seek(nodeid, req.fh, req.offset, req.whence);
  }

  async link(_ctx: RequestContext, nodeid: bigint, to: { parent: bigint; name: string }): Promise<Entry> {
    this.#op("DoLink");
    return this.#entry(await this.#fs.link(nodeid, to.parent, to.name));
  }

  async open(_ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply> {
    this.#op("DoOpen");
    const fh = await this.#fs.open(nodeid, flags);
    // Under a lease held since the kernel cached the file's pages, they are still right.
    return this.#fs.keepCache(fh) ? { fh, keepCache: true } : { fh };
  }

  async create(ctx: RequestContext, parent: bigint, name: string, opts: { mode: number; umask: number; flags: number }): Promise<CreateReply> {
    this.#op("DoCreate");
    const r = await this.#fs.create(ctx, parent, name, opts.mode & ~opts.umask & 0o7777, opts.flags);
    return { entry: this.#entry(r), open: { fh: r.fh } };
  }

  async read(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number }): Promise<Buffer> {
    this.#op("DoRead");
    return this.#fs.read(nodeid, req.fh, req.offset, req.size);
  }

  async write(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; data: Buffer }): Promise<number> {
    this.#op("DoWrite");
    return this.#fs.write(nodeid, req.fh, req.offset, req.data);
  }

  async statfs(): Promise<StatfsReply> {
    this.#op("DoStatFS");
    const s = await this.#fs.statfs();
    return {
      blocks: s.TotalBlocks, bfree: s.FreeBlocks, bavail: s.AvailBlocks, files: s.TotalInodes, ffree: s.FreeInodes,
      bsize: Number(s.BlockSize), namelen: Number(s.MaxFilenameLen), frsize: Number(s.FragmentSize),
    };
  }

  async flush(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint }): Promise<void> {
    this.#op("DoFlush");
    await this.#fs.flush(nodeid, req.fh);
  }

  async release(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint }): Promise<void> {
    this.#op("DoRelease");
    await this.#fs.release(nodeid, req.fh);
  }

  async fsync(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint }): Promise<void> {
    this.#op("DoFSync");
    await this.#fs.fsync(nodeid, req.fh);
  }

  async setxattr(_ctx: RequestContext, nodeid: bigint, name: string, value: Buffer, flags: number): Promise<void> {
    this.#op("DoSetXAttr");
    await this.#fs.setxattr(nodeid, name, value, flags);
  }

  async getxattr(_ctx: RequestContext, nodeid: bigint, name: string): Promise<Buffer> {
    this.#op("DoGetXAttr");
    return this.#fs.getxattr(nodeid, name);
  }

  async listxattr(_ctx: RequestContext, nodeid: bigint): Promise<string[]> {
    this.#op("DoListXAttr");
    return this.#fs.listxattr(nodeid);
  }

  async removexattr(_ctx: RequestContext, nodeid: bigint, name: string): Promise<void> {
    this.#op("DoRemoveXAttr");
    await this.#fs.removexattr(nodeid, name);
  }

  async opendir(_ctx: RequestContext, nodeid: bigint, flags: number): Promise<OpenReply> {
    this.#op("DoOpenDir");
    return { fh: await this.#fs.opendir(nodeid, flags) };
  }

  async readdir(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint; offset: bigint; size: number; plus: boolean }): Promise<DirEntry[]> {
    this.#op(req.plus ? "DoReadDirPlus" : "DoReadDir");
    const fixed = req.plus ? 152 : 24;
    const max = Math.floor((req.size + fixed) / (fixed + 1));
    const ents = await this.#fs.readdir(nodeid, req.fh, req.offset, max, req.plus);
    // Return exactly what fits: each READDIRPLUS entry returned gives the kernel a lookup reference.
    const out: DirEntry[] = [];
    let room = req.size;
    for (const e of ents) {
      const need = direntSize(e.name, req.plus);
      if (need > room) break;
      room -= need;
      const d: DirEntry = { name: e.name, ino: e.ino, type: e.type, offset: e.offset };
      if (req.plus && e.stat) d.entry = this.#entry({ ino: e.ino, stat: e.stat, ...(e.leased ? { leased: true } : {}) });
      out.push(d);
    }
    return out;
  }

  async releasedir(_ctx: RequestContext, nodeid: bigint, req: { fh: bigint }): Promise<void> {
    this.#op("DoReleaseDir");
    this.#fs.releasedir(nodeid, req.fh);
  }

  async fsyncdir(): Promise<void> {
    this.#op("DoFSyncDir");
    await this.#fs.syncMeta();
  }

  async access(ctx: RequestContext, nodeid: bigint, mask: number): Promise<void> {
    this.#op("DoAccess");
    await this.#fs.access(ctx, nodeid, mask);
  }
}

/** What kernelInvalidator and kernelEntryInvalidator need of a FuseSession. */
export interface KernelNotifier {
  notifyInvalInodeAsync(nodeid: bigint, offset?: bigint, length?: bigint): Promise<unknown>;
  notifyInvalEntryAsync(parent: bigint, name: string, opts?: { expireOnly?: boolean }): Promise<unknown>;
}

/** Where invalidation failures go (not logged when omitted: the kernel then revalidates by its TTLs). */
export interface InvalidatorLogger {
  warn(msg: string): void;
}

/**
 * What AgentFs calls when an inode's lease ends: drops the kernel's cached attributes and pages of
 * it (FUSE_NOTIFY_INVAL_INODE with offset 0, length 0: attributes and every page). Fire and forget:
 * the notification is written off the event loop (FuseSession.notifyInvalInodeAsync), so a kernel
 * that holds it until a READ queued to this process is answered cannot deadlock us; nothing cached
 * and not mounted are not failures. `pages: false` drops the attributes only (offset -1).
 */
export function kernelInvalidator(
  session: Pick<KernelNotifier, "notifyInvalInodeAsync">, opts: { pages?: boolean; log?: InvalidatorLogger } = {},
): (ino: bigint) => void {
  const offset = opts.pages === false ? -1n : 0n;
  return (ino) => {
    session.notifyInvalInodeAsync(ino, offset, 0n).catch((err: Error) => {
      opts.log?.warn(`invalidating the kernel's cache of inode ${ino}: ${err.message}`);
    });
  };
}

/**
 * Times out the kernel's cached directory entry `name` in `parent` (FUSE_NOTIFY_INVAL_ENTRY with
 * FUSE_EXPIRE_ONLY where the kernel has it), for a directory whose lease ends. Fire and forget, written off the event loop like kernelInvalidator:
 * the kernel takes the directory's lock for it, which a LOOKUP queued to this process may hold.
 */
export function kernelEntryInvalidator(
  session: Pick<KernelNotifier, "notifyInvalEntryAsync">, opts: { log?: InvalidatorLogger } = {},
): (parent: bigint, name: string) => void {
  return (parent, name) => {
    // Expire only: the kernel revalidates the name with LOOKUP on its next use, and a directory
    // some process is in stays its working directory (getcwd keeps working).
    session.notifyInvalEntryAsync(parent, name, { expireOnly: true }).catch((err: Error) => {
      opts.log?.warn(`invalidating the kernel's entry ${JSON.stringify(name)} in directory ${parent}: ${err.message}`);
    });
  };
}
