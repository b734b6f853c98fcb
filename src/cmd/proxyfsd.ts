#!/usr/bin/env node
// proxyfsd: the volume server.
//   proxyfsd <conf file | -> [Section.Option=value ...]
// Reads the ProxyFS-style .conf (src/volume/config), serves every volume whose volume group has
// PrimaryPeer = [Cluster] WhoAmI on the JSON-RPC TCPPort and the retryrpc RetryRPCPort, and logs
// one line per event on stderr: "<ISO time> proxyfsd <level>: <message>".
// Exit status: 0 after SIGTERM/SIGINT (clean stop), 1 on a bad configuration or a start failure
// (one clear line naming file, line and option), 2 on bad usage.
import { ConfError, ConfMap, ConfProblemsError } from "../base/conf/index.js";
import type { ObjectStore } from "../objstore/index.js";
import { loadOrCreateTlsDirectory, loadProxyfsdConfig, objectStoreForAccount, startVolumeServer, type ProxyfsdConfig, type ServerLogLevel } from "../volume/index.js";

const debug = process.env.PROXYFSD_DEBUG === "1";
function log(level: ServerLogLevel, message: string): void {
  if (level === "debug" && !debug) return;
  process.stderr.write(`${new Date().toISOString()} proxyfsd ${level}: ${message}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 0 || args[0] === "-h" || args[0] === "--help") {
    process.stderr.write("usage: proxyfsd <conf file | -> [Section.Option=value ...]\n");
    process.exit(2);
  }
  let cfg: ProxyfsdConfig;
  try {
    cfg = loadProxyfsdConfig(ConfMap.fromArgs(args));
  } catch (err) {
    if (err instanceof ConfProblemsError) {
      for (const p of err.problems) log("error", `bad configuration: ${p.message}`);
      process.exit(1);
    }
    if (err instanceof ConfError) {
      log("error", `bad configuration: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }

  const stores: ObjectStore[] = [];
  let server: Awaited<ReturnType<typeof startVolumeServer>>;
  try {
    const { credentials, created } = await loadOrCreateTlsDirectory(cfg.tlsDirectory, cfg.publicIPAddr);
    log("info", `${created ? "created" : "loaded"} retryrpc CA and certificate in ${cfg.tlsDirectory}`);
    server = await startVolumeServer({
      volumes: cfg.volumes.map((v) => {
        const objectStore = objectStoreForAccount(cfg, v.accountName, "proxyfsd");
        if (objectStore) stores.push(objectStore);
        return { name: v.name, accountName: v.accountName, leaseEvictLowLimit: v.leaseEvictLowLimit, leaseEvictHighLimit: v.leaseEvictHighLimit, ...(objectStore ? { objectStore } : {}), ...(objectStore && v.persist ? { persist: v.persist } : {}) };
      }),
      publicAddress: cfg.publicIPAddr,
      retryRpcHost: cfg.retryRpcListenIPAddr,
      retryRpcPort: cfg.retryRpcPort,
      jsonRpcHost: cfg.privateIPAddr,
      jsonRpcPort: cfg.tcpPort,
      credentials,
      // OfferExtensions: false behaves as a 1.17.1 proxyfsd (no Capabilities in mount replies).
      ...(cfg.offerExtensions ? {} : { capabilities: [] }),
      retryRpc: cfg.retryRpc,
      lease: cfg.lease,
      log,
    });
  } catch (err) {
    log("error", `cannot start: ${(err as Error).message}`);
    for (const s of stores) await s.close().catch(() => {});
    process.exit(1);
  }
  // Handlers first: the "serving" line tells supervisors (and tests) that signals are handled.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log("info", `${signal}: stopping`);
    void (async () => {
      await server.close();
      for (const s of stores) await s.close().catch(() => {});
      log("info", "stopped");
      process.exit(0);
    })();
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  if (cfg.objectStore === undefined) log("warn", "no [ObjectStore] configured: log-segment containers are not created; agents need them to exist");
  log("info", `serving ${cfg.volumes.map((v) => `${v.name} (${v.accountName})`).join(", ")}; JSON-RPC on ${cfg.privateIPAddr}:${server.jsonRpcPort}, retryrpc on ${cfg.retryRpcListenIPAddr}:${server.retryRpcPort} (public ${cfg.publicIPAddr})`);

}

main().catch((err) => {
  log("error", `fatal: ${(err as Error)?.stack ?? String(err)}`);
  process.exit(1);
});
