#!/usr/bin/env node
// pfsagentd <conf|-> [Section.Option=value ...]
// pfsagentd --check-config <conf|-> [Section.Option=value ...]
//
// The PFSAgent FUSE daemon (pfsagent.md §1, 1.17.1 mount path): load the [Agent] config → start
// the auth plug-in → PROXYFS-mount the account's volume → retryrpc to proxyfsd → mount FUSE at
// FUSEMountPointPath → serve the HTTP server (GET /version answering = ready) → run until
// SIGTERM/SIGINT/SIGHUP, mounting again (same FUSE mount) whenever proxyfsd restarts.
// Shutdown: stop the HTTP server, unmount FUSE (no new work), flush every
// dirty file (PUT + RpcWrote), PROXYFS Server.RpcUnmount, stop the plug-in, exit 0.
// Any start-up failure is logged and exits 1 after undoing what was done.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AuthPlugin } from "../agent/auth/index.js";
import { agentConfigToJson, checkConfig, loadAgentConfigFromArgs, type AgentConfig } from "../agent/config/index.js";
import { AgentFs } from "../agent/fs/index.js";
import { AgentFuseAdapter, agentCapabilities, kernelEntryInvalidator, kernelInvalidator } from "../agent/fuse-adapter/index.js";
import { AgentHttpServer } from "../agent/http/index.js";
import { AgentLogger } from "../agent/log/index.js";
import { connectProxyFs, type ProxyFsSession } from "../agent/mount/index.js";
import { mountFuse, type FuseMount } from "../fuse/index.js";

const USAGE = "usage: pfsagentd <file.conf|-> [Section.Option=value ...]\n       pfsagentd --check-config <file.conf|-> [Section.Option=value ...]\n";

/** The proxyfs version from the nearest package.json (as the auth plug-in does). */
function version(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "proxyfs" && typeof pkg.version === "string") return pkg.version;
    } catch { /* keep looking */ }
    if (dirname(dir) === dir) return "0.0.0";
    dir = dirname(dir);
  }
}

const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n);
/** RpcPing after this long without an RPC (see connectProxyFs probeIntervalMs). */
const REMOUNT_PROBE_INTERVAL_MS = 10_000;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--check-config") {
    const r = checkConfig(argv.slice(1));
    process.stdout.write(r.output);
    return r.exitCode;
  }
  if (argv[0] === "--version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (argv.length === 0 || argv[0] === "" || argv[0] === "--help" || argv[0] === "-h") {
    process.stderr.write(`pfsagentd: no .conf file specified\n${USAGE}`);
    return 2;
  }

  let cfg: AgentConfig;
  let warnings: readonly string[];
  try {
    const loaded = loadAgentConfigFromArgs(argv);
    cfg = loaded.config;
    warnings = loaded.warnings;
  } catch (err) {
    process.stderr.write(`pfsagentd: ${(err as Error).message}\n`);
    return 1;
  }

  const log = new AgentLogger({ volumeName: cfg.FUSEVolumeName, toConsole: cfg.LogToConsole, filePath: cfg.LogFilePath, trace: cfg.TraceEnabled });
  const ver = version();
  for (const w of warnings) log.warn(w);
  log.info(`pfsagentd ${ver} starting; config: ${agentConfigToJson(cfg)}`);

  // A stray rejected promise is a bug, but dying would leave a dead mount and lose dirty data.
  process.on("unhandledRejection", (reason) => {
    log.error(`unhandled rejection (bug): ${reason instanceof Error ? reason.stack ?? reason.message : String(reason)}`);
  });

  // Signals: during start-up they abort it; afterwards they begin the graceful shutdown.
  let signalled: string | undefined;
  let onSignal: ((sig: string) => void) | undefined;
  for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    process.on(sig, () => {
      if (signalled) {
        log.warn(`${sig} received again while shutting down; still waiting for dirty data to be flushed`);
        return;
      }
      signalled = sig;
      log.info(`${sig} received: shutting down`);
      onSignal?.(sig);
    });
  }

  const plugin = new AuthPlugin({
    path: cfg.PlugInPath,
    envName: cfg.PlugInEnvName,
    envValue: cfg.PlugInEnvValue,
    // A plug-in given as a .js file (as our build produces) runs under this node.
    ...(cfg.PlugInPath.endsWith(".js") ? { launcher: [process.execPath] } : {}),
    logger: { info: (m) => log.info(`auth plug-in: ${m}`), warn: (m) => log.warn(`auth plug-in: ${m}`) },
  });
  let session: ProxyFsSession | undefined;
  let fs: AgentFs | undefined;
  let mount: FuseMount | undefined;
  let http: AgentHttpServer | undefined;
  const mountpoint = resolve(cfg.FUSEMountPointPath);
  let exitCode = 0;

  const cleanup = async (): Promise<void> => {
    if (http) await http.close().catch((err: Error) => log.warn(`closing HTTP server: ${err.message}`));
    if (mount) {
      try {
        await mount.unmount();
      } catch (err) {
        log.warn(`unmount of ${mountpoint} failed (${(err as Error).message}); detaching it lazily`);
        await mount.unmount({ lazy: true }).catch((e: Error) => log.error(`lazy unmount of ${mountpoint} failed: ${e.message}`));
        // Open files keep the session alive after a lazy unmount; give them a moment.
        await Promise.race([mount.closed, new Promise((r) => setTimeout(r, 10_000).unref())]);
      }
      log.info(`FUSE unmounted from ${mountpoint}`);
    }
    if (fs) {
      const s = fs.stats;
      if (s.dirtyFiles > 0) log.info(`flushing ${s.dirtyFiles} dirty file(s), ${s.inFlightLogSegments} LogSegment(s)`);
      await fs.flushAll();
      // The server drops them at Unmount too; giving them back first lets waiters go at once.
      await fs.releaseAllLeases().catch((err: Error) => log.warn(`releasing leases: ${err.message}`));
    }
    if (session) await session.disconnect().catch((err: Error) => { log.error(`Server.RpcUnmount failed: ${err.message}`); exitCode = 1; });
    await plugin.stop();
  };

  try {
    const abort = (): void => { throw new Error(`start-up aborted by ${signalled}`); };
    await plugin.start();
    if (signalled) abort();
    // Lease interrupts can arrive as soon as we hold a lease; fs exists by then.
    session = await connectProxyFs(cfg, plugin, {
      log, userAgent: `PFSAgent ${ver}`,
      // Notices a proxyfsd restart while idle, so open orphans soon carry a live MountID again.
      probeIntervalMs: REMOUNT_PROBE_INTERVAL_MS,
      onInterrupt: (i) => {
        if (fs) void fs.leaseInterrupt(i.RPCInterruptType, i.InodeNumber);
        else log.warn(`lease interrupt ${i.RPCInterruptType} for inode ${i.InodeNumber} before the file system is up: ignored`);
      },
    });
    if (signalled) abort();
    const counters = new Map<string, number>();
    fs = new AgentFs({
      rpc: session.rpc,
      store: session.store,
      mountId: session.mountId,
      log,
      fetchExtentsFromFileOffset: cfg.FetchExtentsFromFileOffset,
      fetchExtentsBeforeFileOffset: cfg.FetchExtentsBeforeFileOffset,
      readCacheLineSize: cfg.ReadCacheLineSize,
      readCacheLineCount: cfg.ReadCacheLineCount,
      dirtyLogSegmentLimit: cfg.DirtyLogSegmentLimit,
      dirtyFileLimit: cfg.DirtyFileLimit,
      maxFlushSize: cfg.MaxFlushSize,
      maxFlushTimeMs: Math.max(1, nsToMs(cfg.MaxFlushTime)),
      xattrEnabled: cfg.XAttrEnabled,
      capabilities: session.capabilities,
      leases: {
        sharedLimit: cfg.SharedLeaseLimit,
        exclusiveLimit: cfg.ExclusiveLeaseLimit,
        retryLimit: cfg.LeaseRetryLimit,
        retryDelayMs: Number(cfg.LeaseRetryDelay) / 1e6,
        retryVariancePercent: cfg.LeaseRetryDelayVariance,
        retryExpBackoff: cfg.LeaseRetryExpBackoff,
      },
      extentMapEntryLimit: cfg.ExtentMapEntryLimit,
      metaCacheLimit: cfg.MetaCacheLimit,
    });
    // proxyfsd restarted and forgot our MountID: the session re-mounted; AgentFs follows.
    const remountedFs = fs;
    session.onRemount((e) => remountedFs.remounted(e.mountId));
    const adapter = new AgentFuseAdapter(fs, {
      entryTtlMs: nsToMs(cfg.EntryDuration),
      attrTtlMs: nsToMs(cfg.AttrDuration),
      leasedTtlMs: nsToMs(cfg.LeasedCacheDuration),
      blockSize: cfg.AttrBlockSize,
      onOp: (op) => {
        const k = `FUSE_${op}_calls`;
        counters.set(k, (counters.get(k) ?? 0) + 1);
      },
    });
    mount = await mountFuse(adapter, {
      mountpoint,
      fsname: cfg.FUSEVolumeName,
      subtype: "PFSAgent",
      allowOther: cfg.FUSEAllowOther,
      defaultPermissions: true,
      maxWrite: cfg.FUSEMaxWrite,
      maxBackground: cfg.FUSEMaxBackground,
      congestionThreshold: cfg.FUSECongestionThreshhold,
      capabilities: agentCapabilities(cfg.ReadDirPlusEnabled),
      entryTtlMs: nsToMs(cfg.EntryDuration),
      attrTtlMs: nsToMs(cfg.AttrDuration),
      staleMount: { retryDelayMs: Math.max(1, nsToMs(cfg.FUSEUnMountRetryDelay)), retryCap: cfg.FUSEUnMountRetryCap },
      logger: { info: (m) => log.info(`fuse: ${m}`), warn: (m) => log.warn(`fuse: ${m}`), error: (m) => log.error(`fuse: ${m}`) },
    });
    fs.setKernelInvalidator(kernelInvalidator(mount.session, { log }));
    fs.setKernelEntryInvalidator(kernelEntryInvalidator(mount.session, { log }));
    fs.setKernelAttrInvalidator(kernelInvalidator(mount.session, { pages: false, log }));
    await mount.ready;
    if (signalled) abort();
    const agentFs = fs;
    const liveSession = session;
    http = new AgentHttpServer({
      version: ver,
      mountId: () => liveSession.mountId,
      config: (compact) => agentConfigToJson(cfg, compact ? {} : { indent: 4 }),
      leases: () => agentFs.leaseReport(),
      metrics: () => {
        const s = agentFs.stats;
        const mem = process.memoryUsage();
        return {
          ...Object.fromEntries(counters),
          ReadCacheHits: s.readCacheHits,
          ReadCacheMisses: s.readCacheMisses,
          LogSegmentPUTs: s.logSegmentPuts,
          LogSegmentPUTReadHits: s.logSegmentReadHits,
          LogSegmentPutBytes: s.logSegmentPutBytes,
          LogSegmentPUTFailures: s.logSegmentPutFailures,
          RpcWroteFailures: s.wroteFailures,
          ExtentMapFetches: s.extentMapFetches,
          ExtentMapEntries: s.extentMapEntries,
          ExtentMapEvictions: s.extentMapEvictions,
          AttrCacheHits: s.attrCacheHits,
          RpcGetStatCalls: s.getStatRpcs,
          MetaCacheHits: s.metaCacheHits,
          MetaCacheMisses: s.metaCacheMisses,
          MetaCacheHitRatePercent: s.metaCacheHits + s.metaCacheMisses === 0 ? 0 : Math.round((100 * s.metaCacheHits) / (s.metaCacheHits + s.metaCacheMisses)),
          MetaCacheEvictions: s.metaCacheEvictions,
          MetaCacheDirs: s.metaCacheDirs,
          MetaCacheItems: s.metaCacheItems,
          EarlyRepliedOps: s.unsafeOps,
          EarlyRepliedOpsUnconfirmed: s.unsafePending,
          RpcSyncCalls: s.syncRpcs,
          ReplayedOps: s.replayedOps,
          ...s.leases,
          Remounts: liveSession.rpc.stats.remounts,
          RemountFailures: liveSession.rpc.stats.remountFailures,
          RemountResentCalls: liveSession.rpc.stats.resent,
          RemountResolvedDoubleExecutions: liveSession.rpc.stats.resolvedDoubleExecutions,
          DirtyFiles: s.dirtyFiles,
          InFlightLogSegments: s.inFlightLogSegments,
          OpenHandles: s.openHandles,
          node_process_memory_rss: mem.rss,
          node_process_memory_heapUsed: mem.heapUsed,
        };
      },
    });
    const port = await http.listen(cfg.HTTPServerIPAddr, cfg.HTTPServerTCPPort);
    log.info(`ready: ${cfg.FUSEVolumeName} mounted at ${mountpoint}; HTTP server on ${cfg.HTTPServerIPAddr}:${port}`);
  } catch (err) {
    log.log("FATAL", `start-up failed: ${(err as Error).message}`);
    await cleanup().catch((e: Error) => log.error(`cleanup after failed start-up: ${e.message}`));
    await log.close();
    return 1;
  }

  // Run until a signal, or until the mount disappears underneath us.
  const why = await new Promise<string>((resolveWhy) => {
    if (signalled) resolveWhy(signalled);
    onSignal = resolveWhy;
    void mount!.closed.then((c) => resolveWhy(`fuse session ended (${c.reason}${c.error ? `: ${c.error.message}` : ""})`));
  });
  if (!signalled) {
    log.error(`${why} without a signal: flushing and exiting`);
    exitCode = 1;
  }
  try {
    await cleanup();
  } catch (err) {
    log.error(`shutdown: ${(err as Error).message}`);
    exitCode = 1;
  }
  log.info(`pfsagentd exiting with status ${exitCode}`);
  await log.close();
  return exitCode;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`pfsagentd: fatal: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exit(1);
  },
);
