// The [Agent] section of a pfsagentd .conf file as a typed AgentConfig.
//
// Property names are the .conf key names verbatim (PascalCase, including the historical typo
// "FUSECongestionThreshhold") so that a key in a user's file, in pfsagent.md §2 and in this object
// are the same string, and GET /config can report them as the original did.
//
// Defaults: the Go agent had none (every key was required); we use the values of the sample
// pfsagent.conf / seed README, so the seed README example (which predates FUSEAllowOther,
// DirtyFileLimit and the RetryRPC address keys) loads unchanged. Exceptions, chosen for safety:
// HTTPServerIPAddr defaults to 127.0.0.1 (GET /config is unauthenticated), LogFilePath to "" (no
// file log). Only FUSEVolumeName and FUSEMountPointPath are required.
//
// Keys the original parsed and then ignored (FUSEUnMountRetry*, LeaseRetry*, *LeaseLimit,
// ExtentMapEntryLimit, ReaddirMaxEntries, TraceEnabled) are validated and kept here so that the
// agent can honour them. Durations are bigint nanoseconds (Go time.Duration).
import {
  type ConfLoadOptions, ConfMap, type ConfOrigin, formatOrigin, loadSection, opt, optional, type OptionSpec,
} from "../../base/conf/index.js";

export const AGENT_SECTION = "Agent";

export interface AgentConfig {
  /** fission volume name: `fsname=` mount option and 2nd field of log lines. Not sent to ProxyFS. */
  readonly FUSEVolumeName: string;
  /** Mount point directory (relative to the CWD unless absolute); must already exist. */
  readonly FUSEMountPointPath: string;
  /** Poll interval while removing a stale mount. */
  readonly FUSEUnMountRetryDelay: bigint;
  /** Maximum polls while removing a stale mount. */
  readonly FUSEUnMountRetryCap: number;
  /** Auth plug-in executable (PATH lookup if it has no "/"). */
  readonly PlugInPath: string;
  /** argv[1] of the plug-in: the name of the environment variable holding its secrets blob. */
  readonly PlugInEnvName: string;
  /** If non-empty, the plug-in's environment gets PlugInEnvName=PlugInEnvValue. Secret. */
  readonly PlugInEnvValue: string;
  /** Whole-request timeout of Swift HTTP requests. */
  readonly SwiftTimeout: bigint;
  readonly SwiftRetryLimit: number;
  readonly SwiftRetryDelay: bigint;
  /** Percent jitter on retry delays, 1..100. */
  readonly SwiftRetryDelayVariance: number;
  readonly SwiftRetryExpBackoff: number;
  readonly SwiftConnectionPoolSize: number;
  /** MaxEntriesFromFileOffset of RpcFetchExtentMapChunk (>= 1). */
  readonly FetchExtentsFromFileOffset: number;
  readonly FetchExtentsBeforeFileOffset: number;
  /** Bytes per read-cache line (= Range GET size). */
  readonly ReadCacheLineSize: number;
  readonly ReadCacheLineCount: number;
  readonly LeaseRetryLimit: number;
  readonly LeaseRetryDelay: bigint;
  readonly LeaseRetryDelayVariance: number;
  readonly LeaseRetryExpBackoff: number;
  readonly SharedLeaseLimit: number;
  readonly ExclusiveLeaseLimit: number;
  readonly ExtentMapEntryLimit: number;
  /** Our key: entries + absent names + attributes cached under directory leases (MetaCache). */
  readonly MetaCacheLimit: number;
  /** Our key: kernel entry/attr TTL for what a lease covers; the agent invalidates earlier when the lease goes. */
  readonly LeasedCacheDuration: bigint;
  /** Max LogSegment PUTs open or not yet confirmed by RpcWrote. */
  readonly DirtyLogSegmentLimit: number;
  /** Max files with dirty data before the oldest are flushed synchronously. */
  readonly DirtyFileLimit: number;
  /** A LogSegment is closed once it holds this many bytes. */
  readonly MaxFlushSize: number;
  /** A LogSegment is closed this long after it was created. */
  readonly MaxFlushTime: bigint;
  /** "" ⇒ no file logging. */
  readonly LogFilePath: string;
  readonly LogToConsole: boolean;
  readonly TraceEnabled: boolean;
  readonly HTTPServerIPAddr: string;
  readonly HTTPServerTCPPort: number;
  readonly ReadDirPlusEnabled: boolean;
  readonly XAttrEnabled: boolean;
  /** FUSE entry_valid. */
  readonly EntryDuration: bigint;
  /** FUSE attr_valid. */
  readonly AttrDuration: bigint;
  /** st_blksize and the unit of st_blocks (1.17: config key, default 65536 there; 1.19: fixed 512). */
  readonly AttrBlockSize: number;
  readonly ReaddirMaxEntries: number;
  readonly FUSEMaxBackground: number;
  readonly FUSECongestionThreshhold: number;
  readonly FUSEMaxWrite: number;
  readonly FUSEAllowOther: boolean;
  /** ProxyFS retryrpc server host (DNS name or IP). */
  readonly RetryRPCPublicIPAddr: string;
  readonly RetryRPCPort: number;
  readonly RetryRPCDeadlineIO: bigint;
  readonly RetryRPCKeepAlivePeriod: bigint;
  /** "" ⇒ plain TCP; else PEM CA certificate(s) for TLS. */
  readonly RetryRPCCACertFilePath: string;
  /** 1.17-era keys, no longer meaningful; kept if present. */
  readonly SharedFileLimit: number | undefined;
  readonly ExclusiveFileLimit: number | undefined;
}

const ENV_NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

const notEmpty = (v: string): string | undefined => (v === "" ? "expected a non-empty value" : undefined);

/** Every [Agent] key: type, default, range and documentation. */
export const AGENT_SCHEMA: { readonly [K in keyof AgentConfig]: OptionSpec<AgentConfig[K]> } = {
  FUSEVolumeName: opt.string({
    doc: "fsname= of the mount and the volume label in logs",
    check: (v) => (v === "" ? "expected a non-empty value" : v.includes(",") ? "expected a name without commas (it becomes the fsname= mount option)" : undefined),
  }),
  FUSEMountPointPath: opt.string({ doc: "existing mount point directory", check: notEmpty }),
  FUSEUnMountRetryDelay: opt.duration({ default: "100ms", doc: "poll interval while removing a stale mount" }),
  FUSEUnMountRetryCap: opt.safeUint({ default: 100, doc: "maximum polls while removing a stale mount" }),
  PlugInPath: opt.string({ default: "pfsagentd-swift-auth-plugin", check: notEmpty, doc: "auth plug-in executable" }),
  PlugInEnvName: opt.string({
    default: "SwiftAuthBlob",
    check: (v) => (ENV_NAME_RE.test(v) ? undefined : "expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*)"),
    doc: "argv[1] of the plug-in: the environment variable holding its secrets",
  }),
  PlugInEnvValue: opt.optionalString({ secret: true, doc: "secrets blob put in the plug-in's environment (write commas as \\u002C)" }),
  SwiftTimeout: opt.duration({ default: "10m", min: 1n, doc: "whole-request timeout of Swift HTTP requests" }),
  SwiftRetryLimit: opt.safeUint({ default: 10, doc: "retries of a failed Swift request" }),
  SwiftRetryDelay: opt.duration({ default: "1s", doc: "first retry delay" }),
  SwiftRetryDelayVariance: opt.uint({ bits: 8, min: 1, max: 100, default: 25, doc: "percent jitter of retry delays" }),
  SwiftRetryExpBackoff: opt.float({ default: 1.4, min: 1, doc: "retry delay multiplier" }),
  SwiftConnectionPoolSize: opt.safeUint({ default: 200, min: 1, doc: "max HTTP connections to Swift" }),
  FetchExtentsFromFileOffset: opt.safeUint({ default: 32, min: 1, doc: "extents fetched from the requested offset on" }),
  FetchExtentsBeforeFileOffset: opt.safeUint({ default: 0, doc: "extents fetched before the requested offset" }),
  ReadCacheLineSize: opt.safeUint({ default: 1048576, min: 1, max: 1 << 30, doc: "bytes per read-cache line" }),
  ReadCacheLineCount: opt.safeUint({ default: 1000, min: 1, doc: "read-cache lines" }),
  LeaseRetryLimit: opt.safeUint({ default: 10 }),
  LeaseRetryDelay: opt.duration({ default: "1s" }),
  LeaseRetryDelayVariance: opt.uint({ bits: 8, min: 1, max: 100, default: 25 }),
  LeaseRetryExpBackoff: opt.float({ default: 1.4, min: 1 }),
  SharedLeaseLimit: opt.safeUint({ default: 1000, min: 1, doc: "cap on shared-leased inodes" }),
  ExclusiveLeaseLimit: opt.safeUint({ default: 100, min: 1, doc: "cap on exclusive-leased inodes" }),
  ExtentMapEntryLimit: opt.safeUint({ default: 1048576, min: 1, doc: "cap on cached extent-map entries" }),
  MetaCacheLimit: opt.safeUint({ default: 100000, min: 1, doc: "cap on directory entries, absent names and attributes cached under directory leases" }),
  LeasedCacheDuration: opt.duration({ default: "60s", doc: "FUSE entry_valid/attr_valid for what a lease covers (invalidated when it goes)" }),
  DirtyLogSegmentLimit: opt.safeUint({ default: 50, min: 1, doc: "LogSegment PUTs in flight (0 would block every write)" }),
  DirtyFileLimit: opt.safeUint({ default: 50, min: 1, doc: "files with dirty data before synchronous flushes" }),
  MaxFlushSize: opt.safeUint({ default: 10485760, min: 1, doc: "LogSegment size that triggers a flush" }),
  MaxFlushTime: opt.duration({ default: "200ms", min: 1n, doc: "LogSegment age that triggers a flush" }),
  LogFilePath: opt.optionalString({ doc: "log file (empty: none)" }),
  LogToConsole: opt.bool({ default: true }),
  TraceEnabled: opt.bool({ default: false }),
  HTTPServerIPAddr: opt.string({ default: "127.0.0.1", check: notEmpty, doc: "embedded HTTP server address" }),
  HTTPServerTCPPort: opt.uint({ bits: 16, default: 9090, doc: "embedded HTTP server port (0: any free port)" }),
  ReadDirPlusEnabled: opt.bool({ default: false }),
  XAttrEnabled: opt.bool({ default: false }),
  EntryDuration: opt.duration({ default: "0s", doc: "FUSE entry_valid" }),
  AttrDuration: opt.duration({ default: "0s", doc: "FUSE attr_valid" }),
  AttrBlockSize: opt.safeUint({
    default: 512, min: 1,
    check: (v) => ((v & (v - 1)) === 0 && v <= 1 << 30 ? undefined : "expected a power of two"),
    doc: "st_blksize and st_blocks unit",
  }),
  ReaddirMaxEntries: opt.safeUint({ default: 1024, min: 1 }),
  FUSEMaxBackground: opt.uint({ bits: 16, default: 100, doc: "init_out.max_background (0: kernel default)" }),
  FUSECongestionThreshhold: opt.uint({ bits: 16, default: 0, doc: "init_out.congestion_threshold (0: kernel default)" }),
  FUSEMaxWrite: opt.uint({ bits: 32, min: 4096, default: 131072, doc: "init_out.max_write" }),
  FUSEAllowOther: opt.bool({ default: true, doc: "add the allow_other mount option" }),
  RetryRPCPublicIPAddr: opt.string({ default: "127.0.0.1", check: notEmpty, doc: "ProxyFS retryrpc host" }),
  RetryRPCPort: opt.uint({ bits: 16, min: 1, default: 32356, doc: "ProxyFS retryrpc port" }),
  RetryRPCDeadlineIO: opt.duration({ default: "60s", min: 1n, doc: "per-I/O deadline on the retryrpc socket" }),
  RetryRPCKeepAlivePeriod: opt.duration({ default: "60s", doc: "TCP keepalive of the retryrpc socket" }),
  RetryRPCCACertFilePath: opt.optionalString({ doc: "PEM CA for TLS to retryrpc (empty: plain TCP)" }),
  SharedFileLimit: optional(opt.safeUint({ doc: "1.17-era key, no effect" })),
  ExclusiveFileLimit: optional(opt.safeUint({ doc: "1.17-era key, no effect" })),
};

export interface LoadedAgentConfig {
  readonly config: AgentConfig;
  /** Where each value came from ("default" for defaults). */
  readonly origins: { readonly [K in keyof AgentConfig]: ConfOrigin };
  /** Non-fatal findings: unknown keys (likely typos), suspicious combinations. */
  readonly warnings: readonly string[];
}

/** Levenshtein distance, for "did you mean" on unknown keys. */
function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(up + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

function suggest(option: string): string {
  const lower = option.toLowerCase();
  let best: string | undefined;
  let bestD = 3;
  for (const key of Object.keys(AGENT_SCHEMA)) {
    const d = editDistance(lower, key.toLowerCase());
    if (d < bestD) [best, bestD] = [key, d];
  }
  return best ? ` (did you mean ${best}?)` : "";
}

/**
 * Reads and validates the [Agent] section.
 * @throws ConfProblemsError listing every missing or invalid key with file:line.
 */
export function loadAgentConfig(conf: ConfMap): LoadedAgentConfig {
  const { values, origins, unknown } = loadSection(conf, AGENT_SECTION, AGENT_SCHEMA);
  const config = values as AgentConfig;
  const warnings: string[] = [];
  for (const u of unknown) {
    warnings.push(`${formatOrigin(u.origin)}: [${AGENT_SECTION}] ${u.option}: unknown option, ignored${suggest(u.option)}`);
  }
  if (config.SwiftTimeout <= config.MaxFlushTime) {
    const o = origins.SwiftTimeout;
    warnings.push(`${formatOrigin(o)}: [${AGENT_SECTION}] SwiftTimeout: should exceed MaxFlushTime plus the time to finish a LogSegment PUT`);
  }
  if (config.ReadCacheLineSize * config.ReadCacheLineCount > 16 * 2 ** 30) {
    warnings.push(`${formatOrigin(origins.ReadCacheLineCount)}: [${AGENT_SECTION}] ReadCacheLineCount: ReadCacheLineSize x ReadCacheLineCount exceeds 16 GiB of read cache`);
  }
  return { config: Object.freeze(config), origins: origins as LoadedAgentConfig["origins"], warnings };
}


/**
 * pfsagentd's command line: args[0] is the .conf path ("-" = stdin), the rest are overrides
 * ("Agent.Option=value"). @throws ConfError / ConfProblemsError
 */
export function loadAgentConfigFromArgs(args: readonly string[], options: ConfLoadOptions = {}): LoadedAgentConfig {
  return loadAgentConfig(ConfMap.fromArgs(args, options));
}
