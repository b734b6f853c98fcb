// The four file systems bench:meta compares, each started under the run's temp dir and torn down
// by the cleanup stack (in reverse order of what was started, so an agent flushes and unmounts
// before its servers stop, and Swift containers are deleted after their writers are gone):
//   embedded  our pfsagentd over the embedded Swift-API store: `pfs up` (store, proxyfsd, agent)
//             with its own data dir and ports from --port-base (default 18480, clear of 8480);
//   swift     our pfsagentd over real Swift (the SAIO of scripts/swift-saio.sh on 127.0.0.1:8080):
//             proxyfsd persisting a fresh account, an extra Swift proxy with the pfs middleware
//             (swift-saio.sh pfs-proxy) the agent mounts through, as deploy-local.sh deploys it;
//   rclone    `rclone mount` (swift backend, --vfs-cache-mode writes) of a fresh container on the
//             same Swift, with its remote control on so settling can wait for its uploads;
//   ext4      a directory on the local file system of the temp dir.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ObjectStoreError, SwiftObjectStore, emptyAccount, tempAuth } from "../../src/objstore/index.js";
import { Cleanups, forceUnmount, isMounted, log, runCommand, startDaemon } from "./proc.js";
import type { ProxyfsdAccess } from "./workloads.js";

export type SystemKey = "embedded" | "swift" | "rclone" | "ext4";
export const SYSTEM_KEYS: readonly SystemKey[] = ["embedded", "swift", "rclone", "ext4"];
/** Column headers; the local one names the file system found under the temp dir (startLocal). */
export const SYSTEM_LABELS: Record<SystemKey, string> = {
  embedded: "ours/embedded",
  swift: "ours/Swift",
  rclone: "rclone/Swift",
  ext4: "ext4",
};

export interface System {
  key: SystemKey;
  /** Workload directories are made in here. */
  root: string;
  /** rclone's remote-control URL (settling waits for its uploads and drops its directory cache). */
  rcUrl?: string;
  /** Our mounts: proxyfsd's JSON-RPC port and the volume's account (see WorkloadJob.proxyfsd). */
  proxyfsd?: ProxyfsdAccess;
  /** One line for the report: what exactly was measured. */
  describe: string;
}

export interface StartContext {
  tmp: string;
  portBase: number;
  cleanups: Cleanups;
  repoRoot: string;
}

const SWIFT = "http://127.0.0.1:8080";
const SWIFT_AUTH = `${SWIFT}/auth/v1.0`;
const cmd = (name: string): string => fileURLToPath(new URL(`../../src/cmd/${name}`, import.meta.url));

/** Ports from the base: pfs up takes base..base+3; ours-on-Swift and rclone use the ones after. */
const ports = (base: number) => ({ jsonRpc: base + 10, retryRpc: base + 11, pfsProxy: base + 12, agentHttp: base + 13, rcloneRc: base + 20 });

export async function swiftReachable(): Promise<boolean> {
  try {
    await tempAuth({ authUrl: SWIFT_AUTH, user: "test:tester", key: "testing", timeoutMs: 3000 })();
    return true;
  } catch {
    return false;
  }
}

/** Unmounts (lazily, if its server failed to) and removes nothing: the temp dir goes last. */
function addUnmount(ctx: StartContext, mnt: string): void {
  ctx.cleanups.add(`unmount ${mnt}`, () => forceUnmount(mnt));
}

export async function startEmbedded(ctx: StartContext): Promise<System> {
  const dir = join(ctx.tmp, "embedded");
  const mnt = join(dir, "mnt");
  mkdirSync(mnt, { recursive: true });
  addUnmount(ctx, mnt);
  const up = await startDaemon({
    name: "pfs up", cmd: process.execPath,
    args: [cmd("pfs.js"), "up", mnt, "--data", join(dir, "data"), "--port-base", String(ctx.portBase)],
    logFile: join(dir, "pfs-up.log"), ready: /^pfs up: ready:/m, timeoutMs: 120_000,
  });
  // pfs up stops in order on SIGTERM: the agent flushes and unmounts, proxyfsd checkpoints, the store closes.
  ctx.cleanups.add("stop pfs up", () => up.stop(180_000));
  // pfs up: proxyfsd's JSON-RPC port is base+1, the volume lives in AUTH_pfs (src/cmd/pfs-up-conf.ts).
  return { key: "embedded", root: mnt, proxyfsd: { jsonRpcPort: ctx.portBase + 1, account: "AUTH_pfs" }, describe: `pfs up (embedded store, disk-backed, in ${dir}/data; ports ${ctx.portBase}-${ctx.portBase + 3})` };
}

/** A store client acting on `account` with the SAIO's reseller admin (it may use any account). */
function adminStore(account: string): SwiftObjectStore {
  return new SwiftObjectStore({
    authenticate: tempAuth({ authUrl: SWIFT_AUTH, user: "admin:admin", key: "admin", transformStorageUrl: (u) => u.replace(/\/v1\/[^/]+$/, `/v1/${account}`) }),
    retry: { limit: 3, delayMs: 200 },
  });
}

function proxyfsdConf(account: string, p: ReturnType<typeof ports>, tlsDir: string): string {
  return [
    "[Cluster]", "WhoAmI: Peer0",
    "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "PrivateIPAddr: 127.0.0.1",
    "[JSONRPCServer]", `TCPPort: ${p.jsonRpc}`, `RetryRPCPort: ${p.retryRpc}`,
    "[FSGlobals]", "VolumeGroupList: BenchGroup",
    "[VolumeGroup:BenchGroup]", "VolumeList: CommonVolume", "PrimaryPeer: Peer0",
    "[Volume:CommonVolume]", `AccountName: ${account}`, "Persistence: objectstore", "AutoFormat: true",
    "[ObjectStore]", `AuthURL: ${SWIFT_AUTH}`, "AuthUser: admin:admin", "AuthKey: admin",
    "[TLS]", `Directory: ${tlsDir}`, "",
  ].join("\n");
}

function agentConf(account: string, p: ReturnType<typeof ports>, mnt: string, logFile: string): string {
  // The plug-in blob is one .conf value: commas are written as \u002C.
  const blob = JSON.stringify({ AuthURL: `http://127.0.0.1:${p.pfsProxy}/auth/v1.0`, AuthUser: "admin:admin", AuthKey: "admin", Account: account }).replaceAll(",", "\\u002C");
  const keys: Array<[string, string]> = [
    ["FUSEVolumeName", "CommonVolume"], ["FUSEMountPointPath", mnt], ["FUSEAllowOther", "false"],
    ["PlugInPath", cmd("pfsagentd-swift-auth-plugin.js")], ["PlugInEnvName", "SwiftAuthBlob"], ["PlugInEnvValue", blob],
    ["HTTPServerIPAddr", "127.0.0.1"], ["HTTPServerTCPPort", String(p.agentHttp)],
    ["LogFilePath", logFile], ["LogToConsole", "true"],
    // What README's deployment section recommends beyond the seed's keys (and pfs up writes).
    ["ReadDirPlusEnabled", "true"], ["SharedLeaseLimit", "100000"], ["ExclusiveLeaseLimit", "10000"], ["DirtyFileLimit", "1000"],
  ];
  return `[Agent]\n${keys.map(([k, v]) => `${k}: ${v}`).join("\n")}\n`;
}

/**
 * Ours on real Swift, in a fresh account (AUTH_pfsbench<random>) so no other volume, test or run
 * is touched; the SAIO's reseller admin owns it, which the pfs middleware requires for PROXYFS.
 */
export async function startSwift(ctx: StartContext): Promise<System> {
  const dir = join(ctx.tmp, "swift");
  const mnt = join(dir, "mnt");
  mkdirSync(mnt, { recursive: true });
  const p = ports(ctx.portBase);
  const account = `AUTH_pfsbench${randomBytes(5).toString("hex")}`;
  ctx.cleanups.add(`delete the containers of ${account}`, async () => {
    const store = adminStore(account);
    try {
      await emptyAccount(store);
    } catch (err) {
      // No account: proxyfsd never got as far as formatting the volume.
      if (!ObjectStoreError.is(err, "NotFound")) throw err;
    } finally {
      await store.close();
    }
  });
  writeFileSync(join(dir, "proxyfsd.conf"), proxyfsdConf(account, p, join(dir, "tls")));
  const proxyfsd = await startDaemon({
    name: "proxyfsd (Swift)", cmd: process.execPath, args: [cmd("proxyfsd.js"), join(dir, "proxyfsd.conf")],
    logFile: join(dir, "proxyfsd.log"), ready: / proxyfsd info: serving /, timeoutMs: 120_000,
  });
  ctx.cleanups.add("stop proxyfsd (Swift)", () => proxyfsd.stop(120_000));
  const saio = join(ctx.repoRoot, "scripts", "swift-saio.sh");
  ctx.cleanups.add(`stop the pfs proxy on :${p.pfsProxy}`, async () => void (await runCommand("bash", [saio, "pfs-proxy-stop", String(p.pfsProxy)], 60_000)));
  await runCommand("bash", [saio, "pfs-proxy", String(p.pfsProxy), "read-write", `127.0.0.1:${p.jsonRpc}`], 180_000);
  writeFileSync(join(dir, "pfsagentd.conf"), agentConf(account, p, mnt, join(dir, "pfsagentd.log")));
  addUnmount(ctx, mnt);
  const agent = await startDaemon({
    name: "pfsagentd (Swift)", cmd: process.execPath, args: [cmd("pfsagentd.js"), join(dir, "pfsagentd.conf")],
    logFile: join(dir, "pfsagentd.out"), ready: /\]\[INFO\] ready: /, timeoutMs: 60_000,
  });
  ctx.cleanups.add("stop pfsagentd (Swift)", () => agent.stop(180_000));
  return { key: "swift", root: mnt, proxyfsd: { jsonRpcPort: p.jsonRpc, account }, describe: `pfsagentd via the pfs middleware proxy :${p.pfsProxy} on real Swift ${SWIFT}, proxyfsd persisting ${account}` };
}

export function haveRclone(): boolean {
  return spawnSync("rclone", ["version"], { stdio: "ignore" }).status === 0;
}

/** rclone on the same Swift as user test:tester, in a fresh container that is purged at the end. */
export async function startRclone(ctx: StartContext): Promise<System> {
  const dir = join(ctx.tmp, "rclone");
  const mnt = join(dir, "mnt");
  mkdirSync(mnt, { recursive: true });
  const p = ports(ctx.portBase);
  const conf = join(dir, "rclone.conf");
  writeFileSync(conf, `[pfsbench]\ntype = swift\nauth = ${SWIFT_AUTH}\nuser = test:tester\nkey = testing\n`, { mode: 0o600 });
  const remote = `pfsbench:pfsbench-${randomBytes(5).toString("hex")}`;
  await runCommand("rclone", ["--config", conf, "mkdir", remote], 60_000);
  // Deletes run 32 at a time: the container holds tens of thousands of objects after a full run.
  ctx.cleanups.add(`purge ${remote}`, async () => void (await runCommand("rclone", ["--config", conf, "purge", "--transfers", "32", "--checkers", "32", remote], 1_800_000)));
  addUnmount(ctx, mnt);
  const rcAddr = `127.0.0.1:${p.rcloneRc}`;
  const rclone = await startDaemon({
    name: "rclone mount", cmd: "rclone",
    args: ["--config", conf, "mount", remote, mnt, "--vfs-cache-mode", "writes", "--cache-dir", join(dir, "cache"), "--rc", "--rc-addr", rcAddr, "--rc-no-auth"],
    logFile: join(dir, "rclone.log"), ready: () => isMounted(mnt), timeoutMs: 60_000,
  });
  // rclone unmounts on SIGTERM (settling already waited for its uploads).
  ctx.cleanups.add("stop rclone mount", () => rclone.stop(60_000));
  const version = spawnSync("rclone", ["version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "rclone";
  return { key: "rclone", root: mnt, rcUrl: `http://${rcAddr}`, describe: `${version} mount ${remote} --vfs-cache-mode writes (cache in ${dir}/cache)` };
}

export function startLocal(ctx: StartContext): System {
  const root = join(ctx.tmp, "local");
  mkdirSync(root);
  const [type, source] = spawnSync("findmnt", ["-n", "-o", "FSTYPE,SOURCE", "--target", root], { encoding: "utf8" }).stdout.trim().split(/\s+/);
  if (type) SYSTEM_LABELS.ext4 = type;
  return { key: "ext4", root, describe: `a directory on the local file system (${type ?? "unknown"} on ${source ?? "?"})` };
}

/** Warns (and returns false) when `key` cannot run here, so its column is NA rather than a failure. */
export async function available(key: SystemKey): Promise<boolean> {
  if ((key === "swift" || key === "rclone") && !(await swiftReachable())) {
    log(`real Swift is not reachable at ${SWIFT} (start it with: bash scripts/swift-saio.sh start): ${SYSTEM_LABELS[key]} is skipped, its figures are NA`);
    return false;
  }
  if (key === "rclone" && !haveRclone()) {
    log("rclone is not installed (apt-get install rclone, or scripts/install-deps.sh): rclone/Swift is skipped, its figures are NA");
    return false;
  }
  return true;
}

export async function startSystem(key: SystemKey, ctx: StartContext): Promise<System> {
  switch (key) {
    case "embedded": return startEmbedded(ctx);
    case "swift": return startSwift(ctx);
    case "rclone": return startRclone(ctx);
    case "ext4": return startLocal(ctx);
  }
}
