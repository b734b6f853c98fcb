// Ports of AgentFs: what it needs from the outside (RPC client, object store, logger), its
// options, the shapes of its public results, and constants shared by its parts.
import type { ObjectStore } from "../../objstore/index.js";
import type { ProxyFsRpcMethod, ReplyOf, RequestOf, StatStruct } from "../../proto/index.js";
import type { LeaseOptions } from "./lease-table.js";

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
  /** MetaCacheLimit: directory entries, absent names and attributes cached under directory leases (default 100000). */
  metaCacheLimit?: number;
  /** Early-answered mutations kept unconfirmed at most before new ones wait (default 10000). */
  unsafeLimit?: number;
  /**
   * Close of a file this agent holds an Exclusive lease on does not wait for its data to be
   * stored (the lease interrupt, fsync, MaxFlushTime and DirtyFileLimit flush it). Default true.
   */
  deferCloseFlush?: boolean;
  /**
   * Files whose data stays within this many bytes share one LogSegment with other small files
   * (one PUT, and RpcWrote each); bigger ones get segments of their own. Default 1 MiB; 0 = never share.
   */
  sharedSegmentFileLimit?: number;
}

/** The tunables of AgentFsOptions with their defaults applied. */
export type ResolvedAgentFsOptions = Required<Omit<AgentFsOptions, "rpc" | "store" | "mountId" | "log" | "capabilities" | "leases" | "metaCacheLimit" | "unsafeLimit">>;

export interface Caller {
  uid: number;
  gid: number;
}

/** An inode and its attributes (StatStruct as the server sends it, Size and AllocatedBytes adjusted for local writes). */
export interface InodeStat {
  ino: bigint;
  stat: StatStruct;
  /** Covered by a lease (MetaCache): the kernel may cache entry and attributes long; the agent invalidates them. */
  leased?: boolean;
}

/** LOOKUP's answer: an inode, or a name known absent (leased: the kernel may cache the negative entry). */
export type LookupResult = (InodeStat & { found: true }) | { found: false; leased: boolean };

export interface AgentDirEntry {
  name: string;
  ino: bigint;
  /** DT_* type from the server. */
  type: number;
  /** Cookie to continue after this entry (the server's NextDirLocation). */
  offset: bigint;
  /** Only for readdir with plus. */
  stat?: StatStruct;
  /** Entry and attributes covered by the directory's lease (MetaCache). */
  leased?: boolean;
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
  /** MetaCache (directory leases): hits, misses, LRU evictions, cached directories and items. */
  metaCacheHits: number;
  metaCacheMisses: number;
  metaCacheEvictions: number;
  metaCacheDirs: number;
  metaCacheItems: number;
  /** Early replies: mutations answered early, RpcSync calls, ops re-applied after a re-mount, unconfirmed now. */
  unsafeOps: number;
  syncRpcs: number;
  replayedOps: number;
  unsafePending: number;
  dirtyFiles: number;
  inFlightLogSegments: number;
  openHandles: number;
}

/** An open file or directory (FUSE file handle). */
export interface Handle {
  ino: bigint;
  flags: number;
  dir: boolean;
  /** OPEN under a lease that already covered the kernel's pages (FOPEN_KEEP_CACHE). */
  keepCache?: boolean;
}

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const O_ACCMODE = 3;
export const O_RDONLY = 0;
export const O_WRONLY = 1;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const FALLOC_FL_KEEP_SIZE = 1;
export const FALLOC_FL_PUNCH_HOLE = 2;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const ROOT_INO = 1n;

export const silent: AgentFsLogger = { info() {}, warn() {}, error() {} };
