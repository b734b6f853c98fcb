// The files `pfs up` keeps in its data directory: where everything lives, the ports, and the
// proxyfsd.conf / pfsagentd.conf it runs with. The .conf files are rewritten on every run (so a
// changed --port-base or a moved build stays consistent); the Swift key is made once and kept,
// because the object store's users and both .conf files must agree across runs.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Defaults: uncommon ports on 127.0.0.1, so the written pfsagentd.conf stays valid across runs. */
export const DEFAULT_PORT_BASE = 8480;
export const VOLUME_NAME = "CommonVolume";
export const SWIFT_ACCOUNT = "pfs";
export const SWIFT_USER = "admin";
export const ACCOUNT_NAME = `AUTH_${SWIFT_ACCOUNT}`;
export const HOST = "127.0.0.1";

export interface UpPorts {
  store: number;
  jsonRpc: number;
  retryRpc: number;
  agentHttp: number;
}

/** base, base+1, base+2, base+3: store, proxyfsd JSON-RPC, proxyfsd retryrpc, agent HTTP. */
export function portsFrom(base: number): UpPorts {
  return { store: base, jsonRpc: base + 1, retryRpc: base + 2, agentHttp: base + 3 };
}

export interface UpLayout {
  data: string;
  objects: string;
  logs: string;
  tls: string;
  proxyfsdConf: string;
  agentConf: string;
  keyFile: string;
}

export function layoutOf(data: string): UpLayout {
  return {
    data,
    objects: join(data, "objects"),
    logs: join(data, "logs"),
    tls: join(data, "tls"),
    proxyfsdConf: join(data, "proxyfsd.conf"),
    agentConf: join(data, "pfsagentd.conf"),
    keyFile: join(data, "swift-key"),
  };
}

/** Creates the data directory tree; returns the Swift key (made on first run, mode 0600). */
export function prepareDataDir(l: UpLayout): string {
  for (const d of [l.data, l.objects, l.logs]) mkdirSync(d, { recursive: true });
  if (existsSync(l.keyFile)) {
    const key = readFileSync(l.keyFile, "utf8").trim();
    if (!/^[A-Za-z0-9]{8,}$/.test(key)) throw new Error(`${l.keyFile} does not hold a key (8+ letters and digits); delete it only if the data directory is new`);
    return key;
  }
  const key = randomBytes(16).toString("hex");
  writeFileSync(l.keyFile, `${key}\n`, { mode: 0o600 });
  return key;
}

export const authUrl = (p: UpPorts): string => `http://${HOST}:${p.store}/auth/v1.0`;

export function writeProxyfsdConf(l: UpLayout, p: UpPorts, key: string): void {
  const lines = [
    "# Written by `pfs up` on every start; edits are overwritten.",
    "[Cluster]", "WhoAmI: Peer0",
    "[Peer:Peer0]", `PublicIPAddr: ${HOST}`, `PrivateIPAddr: ${HOST}`,
    "[JSONRPCServer]", `TCPPort: ${p.jsonRpc}`, `RetryRPCPort: ${p.retryRpc}`,
    "[FSGlobals]", "VolumeGroupList: PfsUpGroup",
    "[VolumeGroup:PfsUpGroup]", `VolumeList: ${VOLUME_NAME}`, "PrimaryPeer: Peer0",
    `[Volume:${VOLUME_NAME}]`, `AccountName: ${ACCOUNT_NAME}`, "Persistence: objectstore", "AutoFormat: true",
    "[ObjectStore]", `AuthURL: ${authUrl(p)}`, `AuthUser: ${SWIFT_ACCOUNT}:${SWIFT_USER}`, `AuthKey: ${key}`,
    "[TLS]", `Directory: ${l.tls}`,
    "",
  ];
  writeFileSync(l.proxyfsdConf, lines.join("\n"), { mode: 0o600 });
}

export const AUTH_PLUGIN = fileURLToPath(new URL("./pfsagentd-swift-auth-plugin.js", import.meta.url));
export const PFSAGENTD = fileURLToPath(new URL("./pfsagentd.js", import.meta.url));
export const PROXYFSD = fileURLToPath(new URL("./proxyfsd.js", import.meta.url));

/**
 * The agent's .conf: complete, so a second agent needs only
 *   pfsagentd <data>/pfsagentd.conf Agent.FUSEMountPointPath=<dir2> Agent.HTTPServerTCPPort=<port2>
 */
export function writeAgentConf(l: UpLayout, p: UpPorts, key: string, mountpoint: string): void {
  // The plug-in blob is one .conf value: commas are written as \u002C (pfsagent.md §2).
  const blob = JSON.stringify({ AuthURL: authUrl(p), AuthUser: `${SWIFT_ACCOUNT}:${SWIFT_USER}`, AuthKey: key, Account: ACCOUNT_NAME }).replaceAll(",", "\\u002C");
  const keys: [string, string][] = [
    ["FUSEVolumeName", VOLUME_NAME],
    ["FUSEMountPointPath", mountpoint],
    ["FUSEAllowOther", "false"],
    ["PlugInPath", AUTH_PLUGIN],
    ["PlugInEnvName", "SwiftAuthBlob"],
    ["PlugInEnvValue", blob],
    ["RetryRPCPublicIPAddr", HOST],
    ["RetryRPCPort", String(p.retryRpc)],
    ["HTTPServerIPAddr", HOST],
    ["HTTPServerTCPPort", String(p.agentHttp)],
    ["LogFilePath", join(l.logs, "pfsagentd.log")],
    ["LogToConsole", "true"],
    // One READDIRPLUS reply carries names and attributes (ls -l: no LOOKUP per entry).
    ["ReadDirPlusEnabled", "true"],
    // Leases are what the agent caches under (directory entries, attributes, deferred closes):
    // the seed's 1000 / 100 would make an untar give back leases (and flush) every few files.
    ["SharedLeaseLimit", "100000"],
    ["ExclusiveLeaseLimit", "10000"],
    // Closed small files stay buffered (under their leases) and share log segments: the seed's
    // 50 would flush (and end the shared segment) every 50 files.
    ["DirtyFileLimit", "1000"],
  ];
  const text = `# Written by \`pfs up\` on every start; edits are overwritten.\n[Agent]\n${keys.map(([k, v]) => `${k}: ${v}`).join("\n")}\n`;
  writeFileSync(l.agentConf, text, { mode: 0o600 });
}

/**
 * Claims the data directory for this process (DIR/pfs-up.pid): two stores on one objects/ tree
 * would corrupt it. A pid file left by a process that is gone is taken over. Returns the release.
 */
export function lockDataDir(l: UpLayout): () => void {
  const pidFile = join(l.data, "pfs-up.pid");
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(pidFile, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const pid = Number(readFileSync(pidFile, "utf8").trim());
      let alive = false;
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === "EPERM";
        }
      }
      if (alive) throw new Error(`the data directory ${l.data} is in use by another \`pfs up\` (pid ${pid}, see ${pidFile})`);
      rmSync(pidFile, { force: true });
    }
  }
  return () => rmSync(pidFile, { force: true });
}
