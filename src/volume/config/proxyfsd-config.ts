// proxyfsd's configuration, read from the same INI format as ProxyFS (src/base/conf), with the
// sections and keys of ProxyFS's proxyfsd.conf where they exist (proxyfs-server.md §1.1, §8):
//
//   [Cluster]          WhoAmI                       which [Peer:X] this process is
//   [Peer:<WhoAmI>]    PublicIPAddr                 retryrpc address handed to agents (RetryRPCPublicIPAddr)
//                      PrivateIPAddr                JSON-RPC listen address
//   [JSONRPCServer]    TCPPort, RetryRPCPort, RetryRPCTTLCompleted, RetryRPCAckTrim, RetryRPCDeadlineIO,
//                      RetryRPCKeepAlivePeriod, MinLeaseDuration, LeaseInterruptInterval, LeaseInterruptLimit
//                      (ours) RetryRPCListenIPAddr  retryrpc listen address (default PublicIPAddr)
//                      (ours) OfferExtensions       false: grant agents no protocol extension, i.e.
//                                                   behave as a 1.17.1 proxyfsd (default true)
//   [FSGlobals]        VolumeGroupList
//   [VolumeGroup:G]    VolumeList, PrimaryPeer      volumes of groups whose PrimaryPeer is WhoAmI are served
//   [Volume:V]         AccountName, ActiveLeaseEvictLowLimit, ActiveLeaseEvictHighLimit
//   (ours) [Volume:V]  Persistence: objectstore | memory (default objectstore when [ObjectStore]
//                      is configured), MetadataContainerPrefix (default "proxyfs_": state lives
//                      in container <prefix>meta of the volume's account), CheckpointInterval
//                      (default 60s), CheckpointJournalBytes (default 8388608),
//                      CheckpointPageBytes (target B+tree page size, default 65536),
//                      UnreferencedSegmentGrace (default 10m: provisioned, never referenced
//                      log segments are deleted after it), AutoFormat
//                      (default true: an empty container is formatted at start)
//   (ours) [ObjectStore]  AuthURL + AuthUser + AuthKey (tempauth), or StorageURL + AuthToken
//   (ours) [TLS]          Directory: CA + server certificate, created when missing, loaded when present
//
// Every problem is reported as ConfError naming file, line and "[Section] Option".

import { ConfError, type ConfMap, loadSection, opt, optional } from "../../base/conf/index.js";

export interface ProxyfsdVolumeConfig {
  name: string;
  accountName: string;
  leaseEvictLowLimit: number;
  leaseEvictHighLimit: number;
  /** Where the state lives: undefined = memory only. */
  persist?: { containerPrefix: string; checkpointIntervalMs: number; checkpointJournalBytes: number; pageBytes: number; unreferencedSegmentGraceMs: number; autoFormat: boolean };
}

/**
 * [ObjectStore] request policy of proxyfsd's own Swift client (checkpoints, journal, GC). Same key
 * names as pfsagentd's [Agent] Swift* keys; the default timeout is short (1 minute, not the agent's
 * 10) because every metadata object is small and a hung journal PUT holds back every reply.
 */
export interface ObjectStoreClientConfig {
  timeoutMs: number;
  retry: { limit: number; delayMs: number; variancePercent: number; expBackoff: number };
  connectionPoolSize: number;
}

export interface ProxyfsdConfig {
  whoAmI: string;
  publicIPAddr: string;
  privateIPAddr: string;
  retryRpcListenIPAddr: string;
  tcpPort: number;
  retryRpcPort: number;
  /** [JSONRPCServer] OfferExtensions: when false, mounts get no extension capability (1.17.1 behaviour). */
  offerExtensions: boolean;
  retryRpc: { ttlCompletedMs: number; ackTrimMs: number; deadlineIoMs: number; keepAlivePeriodMs: number };
  lease: { minLeaseDurationMs: number; leaseInterruptIntervalMs: number; leaseInterruptLimit: number };
  volumes: ProxyfsdVolumeConfig[];
  objectStore: (({ authUrl: string; authUser: string; authKey: string } | { storageUrl: string; authToken: string }) & { client: ObjectStoreClientConfig }) | undefined;
  tlsDirectory: string;
}

const ms = (ns: bigint): number => Number(ns / 1_000_000n);
const ipLike = (v: string): string | undefined => (/^[A-Za-z0-9.:-]+$/.test(v) ? undefined : "expected an IP address or host name");

/** @throws ConfError (or ConfProblemsError) naming file, line and option of the first problems. */
export function loadProxyfsdConfig(conf: ConfMap): ProxyfsdConfig {
  const cluster = loadSection(conf, "Cluster", { WhoAmI: opt.string({ doc: "the [Peer:X] section of this process" }) }).values;
  const peerSection = `Peer:${cluster.WhoAmI}`;
  const peer = loadSection(conf, peerSection, {
    PublicIPAddr: opt.string({ check: ipLike }),
    PrivateIPAddr: opt.string({ default: "127.0.0.1", check: ipLike }),
  }).values;
  const j = loadSection(conf, "JSONRPCServer", {
    TCPPort: opt.uint({ bits: 16, default: 12345 }),
    RetryRPCPort: opt.uint({ bits: 16, default: 32356 }),
    RetryRPCListenIPAddr: optional(opt.string({ check: ipLike })),
    RetryRPCTTLCompleted: opt.duration({ default: "10m", min: "1ms" }),
    RetryRPCAckTrim: opt.duration({ default: "100ms", min: "1ms" }),
    RetryRPCDeadlineIO: opt.duration({ default: "60s", min: "1ms" }),
    RetryRPCKeepAlivePeriod: opt.duration({ default: "60s", min: "1ms" }),
    MinLeaseDuration: opt.duration({ default: "250ms" }),
    LeaseInterruptInterval: opt.duration({ default: "250ms", min: "1ms" }),
    LeaseInterruptLimit: opt.uint({ bits: 32, default: 20, min: 1 }),
    OfferExtensions: opt.bool({ default: true }),
  }).values;
  const groups = loadSection(conf, "FSGlobals", { VolumeGroupList: opt.list() }).values.VolumeGroupList;
  const volumes: ProxyfsdVolumeConfig[] = [];
  const seen = new Set<string>();
  const explicit = new Map<string, string>();
  for (const g of groups) {
    const group = loadSection(conf, `VolumeGroup:${g}`, { VolumeList: opt.list(), PrimaryPeer: opt.string() }).values;
    if (group.PrimaryPeer !== cluster.WhoAmI) continue;
    for (const v of group.VolumeList) {
      if (seen.has(v)) throw conf.valueError(`VolumeGroup:${g}`, "VolumeList", `volume ${JSON.stringify(v)} is listed twice`);
      seen.add(v);
      const vol = loadSection(conf, `Volume:${v}`, {
        AccountName: opt.string(),
        ActiveLeaseEvictLowLimit: opt.safeUint({ default: 500_000, min: 1 }),
        ActiveLeaseEvictHighLimit: opt.safeUint({ default: 500_010, min: 1 }),
        Persistence: optional(opt.string({ check: (x) => (x === "objectstore" || x === "memory" ? undefined : 'expected "objectstore" or "memory"') })),
        MetadataContainerPrefix: opt.string({ default: "proxyfs_", check: (x) => (/^[A-Za-z0-9_.-]{1,200}$/.test(x) ? undefined : "expected 1-200 characters of A-Z a-z 0-9 _ . -") }),
        CheckpointInterval: opt.duration({ default: "60s", min: "10ms" }),
        CheckpointJournalBytes: opt.safeUint({ default: 8 << 20, min: 4096 }),
        CheckpointPageBytes: opt.safeUint({ default: 65536, min: 512, max: 64 << 20, doc: "target size of a checkpoint B+tree page" }),
        UnreferencedSegmentGrace: opt.duration({ default: "10m", min: "1s", doc: "age after which a provisioned log segment no file references is deleted" }),
        AutoFormat: opt.bool({ default: true }),
      }).values;
      if (vol.ActiveLeaseEvictHighLimit < vol.ActiveLeaseEvictLowLimit) {
        throw conf.valueError(`Volume:${v}`, "ActiveLeaseEvictHighLimit", `expected a value >= ActiveLeaseEvictLowLimit (${vol.ActiveLeaseEvictLowLimit}), got ${JSON.stringify(String(vol.ActiveLeaseEvictHighLimit))}`);
      }
      const persist = { containerPrefix: vol.MetadataContainerPrefix, checkpointIntervalMs: ms(vol.CheckpointInterval), checkpointJournalBytes: vol.CheckpointJournalBytes, pageBytes: vol.CheckpointPageBytes, unreferencedSegmentGraceMs: ms(vol.UnreferencedSegmentGrace), autoFormat: vol.AutoFormat };
      volumes.push({ name: v, accountName: vol.AccountName, leaseEvictLowLimit: vol.ActiveLeaseEvictLowLimit, leaseEvictHighLimit: vol.ActiveLeaseEvictHighLimit, ...(vol.Persistence !== "memory" ? { persist } : {}) });
      if (vol.Persistence !== undefined) explicit.set(v, vol.Persistence);
    }
  }
  if (volumes.length === 0) {
    throw new ConfError("CONF_VALUE", `${conf.sourceDescription}: [FSGlobals] VolumeGroupList: no volume group has PrimaryPeer ${cluster.WhoAmI}, so there is nothing to serve`, { section: "FSGlobals", option: "VolumeGroupList" });
  }
  const accounts = new Set<string>();
  for (const v of volumes) {
    if (accounts.has(v.accountName)) throw conf.valueError(`Volume:${v.name}`, "AccountName", `account ${JSON.stringify(v.accountName)} is used by two volumes`);
    accounts.add(v.accountName);
  }

  let objectStore: ProxyfsdConfig["objectStore"];
  if (conf.sectionNames().includes("ObjectStore")) {
    const o = loadSection(conf, "ObjectStore", {
      AuthURL: opt.optionalString(), AuthUser: opt.optionalString(), AuthKey: opt.optionalString({ secret: true }),
      StorageURL: opt.optionalString(), AuthToken: opt.optionalString({ secret: true }),
      SwiftTimeout: opt.duration({ default: "1m", min: "1ms", doc: "per-attempt timeout of proxyfsd's Swift requests" }),
      SwiftRetryLimit: opt.safeUint({ default: 10, doc: "retries of a failed Swift request" }),
      SwiftRetryDelay: opt.duration({ default: "1s", doc: "first retry delay" }),
      SwiftRetryDelayVariance: opt.uint({ bits: 8, min: 1, max: 100, default: 25, doc: "percent jitter of retry delays" }),
      SwiftRetryExpBackoff: opt.float({ default: 1.4, min: 1, doc: "retry delay multiplier" }),
      SwiftConnectionPoolSize: opt.safeUint({ default: 64, min: 1, doc: "max HTTP connections to Swift" }),
    }).values;
    const client: ObjectStoreClientConfig = {
      timeoutMs: Number(o.SwiftTimeout / 1_000_000n) || 1,
      retry: { limit: o.SwiftRetryLimit, delayMs: Number(o.SwiftRetryDelay / 1_000_000n), variancePercent: o.SwiftRetryDelayVariance, expBackoff: o.SwiftRetryExpBackoff },
      connectionPoolSize: o.SwiftConnectionPoolSize,
    };
    if (o.AuthURL !== "") {
      if (o.AuthUser === "") throw conf.missingError("ObjectStore", "AuthUser", "a single value (with AuthURL)");
      if (o.AuthKey === "") throw conf.missingError("ObjectStore", "AuthKey", "a single value (with AuthURL)");
      checkUrl(conf, "AuthURL", o.AuthURL);
      objectStore = { authUrl: o.AuthURL, authUser: o.AuthUser, authKey: o.AuthKey, client };
    } else if (o.StorageURL !== "") {
      if (o.AuthToken === "") throw conf.missingError("ObjectStore", "AuthToken", "a single value (with StorageURL)");
      checkUrl(conf, "StorageURL", o.StorageURL);
      objectStore = { storageUrl: o.StorageURL, authToken: o.AuthToken, client };
    } else {
      throw conf.missingError("ObjectStore", "AuthURL", "AuthURL (+AuthUser, AuthKey) or StorageURL (+AuthToken)");
    }
  }
  for (const v of volumes) {
    if (objectStore !== undefined || v.persist === undefined) continue;
    if (explicit.get(v.name) === "objectstore") throw conf.valueError(`Volume:${v.name}`, "Persistence", "objectstore needs an [ObjectStore] section");
    delete v.persist; // default: persistent only when an object store is configured
  }
  const tls = loadSection(conf, "TLS", { Directory: opt.string() }).values;

  return {
    whoAmI: cluster.WhoAmI,
    publicIPAddr: peer.PublicIPAddr,
    privateIPAddr: peer.PrivateIPAddr,
    retryRpcListenIPAddr: j.RetryRPCListenIPAddr ?? peer.PublicIPAddr,
    tcpPort: j.TCPPort,
    retryRpcPort: j.RetryRPCPort,
    offerExtensions: j.OfferExtensions,
    retryRpc: { ttlCompletedMs: ms(j.RetryRPCTTLCompleted), ackTrimMs: ms(j.RetryRPCAckTrim), deadlineIoMs: ms(j.RetryRPCDeadlineIO), keepAlivePeriodMs: ms(j.RetryRPCKeepAlivePeriod) },
    lease: { minLeaseDurationMs: ms(j.MinLeaseDuration), leaseInterruptIntervalMs: ms(j.LeaseInterruptInterval), leaseInterruptLimit: j.LeaseInterruptLimit },
    volumes,
    objectStore,
    tlsDirectory: tls.Directory,
  };
}

function checkUrl(conf: ConfMap, option: string, v: string): void {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw conf.valueError("ObjectStore", option, `expected an http:// or https:// URL, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw conf.valueError("ObjectStore", option, `expected an http:// or https:// URL, got ${JSON.stringify(v)}`);
}
