// Harness for end-to-end agent tests: starts the server side (servers-main.js: Swift-API server
// with its PROXYFS relay, proxyfsd) and pfsagentd as child processes, and stops them.
//
// Everything the agent depends on runs outside the test process, so the test may use blocking fs
// calls on the mount. Scripts are located relative to this compiled file, so the harness works
// from any output directory.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const here = (rel: string): string => fileURLToPath(new URL(rel, import.meta.url));
export const SERVERS_MAIN = here("./servers-main.js");
export const PFSAGENTD = here("../../../src/cmd/pfsagentd.js");
export const AUTH_PLUGIN = here("../../../src/cmd/pfsagentd-swift-auth-plugin.js");

export const canMount = process.getuid?.() === 0 && existsSync("/dev/fuse");

/** Every child started here, so a failed test can still kill them all (see killAllChildren). */
const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

/** Kills (SIGKILL) every agent and server process this harness started that is still running. */
export function killAllChildren(): void {
  for (const c of children) c.kill("SIGKILL");
}

export interface Servers {
  child: ChildProcess;
  /** The Swift-API server (tempauth, object data, PROXYFS relay). */
  swiftPort: number;
  retryRpcPort: number;
  jsonRpcPort: number;
  /** With --control in extraArgs: GET http://127.0.0.1:controlPort/ gives proxyfsd's stats. */
  controlPort?: number;
  output(): string;
  stop(): Promise<number | null>;
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
    }, timeoutMs);
    child.once("exit", (code) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

export function startServers(options: { dir?: string; tokenLifetimeSec?: number; extraArgs?: string[] } = {}): Promise<Servers> {
  return new Promise((resolve, reject) => {
    const args = [SERVERS_MAIN, ...(options.dir ? ["--dir", options.dir] : []), ...(options.tokenLifetimeSec !== undefined ? ["--token-lifetime", String(options.tokenLifetimeSec)] : []), ...(options.extraArgs ?? [])];
    const child = track(spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }));
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      try {
        const ports = JSON.parse(out.slice(0, nl)) as { swiftPort: number; retryRpcPort: number; jsonRpcPort: number; controlPort?: number };
        resolve({
          child, ...ports,
          output: () => out + err,
          stop: () => {
            child.kill("SIGTERM");
            return waitExit(child, 10_000);
          },
        });
      } catch (e) {
        reject(new Error(`servers-main printed ${JSON.stringify(out)}: ${(e as Error).message}`));
      }
    });
    child.on("exit", (code) => reject(new Error(`servers-main exited ${code} before ready: ${out}${err}`)));
  });
}

export interface AgentProcess {
  child: ChildProcess;
  httpPort: number;
  /** stderr so far (the agent's log). */
  log(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface AgentSetup {
  root: string;
  mountpoint: string;
  confPath: string;
}

/** A temp dir with a mount point and a pfsagent.conf whose plug-in authenticates at `swiftPort`. */
export function writeAgentConf(swiftPort: number, extra: Record<string, string> = {}): AgentSetup {
  const root = mkdtempSync(join(tmpdir(), "pfs-e2e-agent-"));
  const mountpoint = join(root, "mnt");
  mkdirSync(mountpoint);
  const blob = `{"AuthURL":"http://127.0.0.1:${swiftPort}/auth/v1.0"\\u002C"AuthUser":"test:tester"\\u002C"AuthKey":"testing"\\u002C"Account":"AUTH_test"}`;
  const keys: Record<string, string> = {
    FUSEVolumeName: "CommonVolume",
    FUSEMountPointPath: mountpoint,
    PlugInPath: AUTH_PLUGIN,
    PlugInEnvName: "SwiftAuthBlob",
    PlugInEnvValue: blob,
    HTTPServerIPAddr: "127.0.0.1",
    HTTPServerTCPPort: "0",
    FUSEAllowOther: "false",
    SwiftRetryDelay: "50ms",
    SwiftRetryLimit: "3",
    LogFilePath: join(root, "pfsagentd.log"),
    LogToConsole: "true",
    ...extra,
  };
  const confPath = join(root, "pfsagent.conf");
  writeFileSync(confPath, `[Agent]\n${Object.entries(keys).map(([k, v]) => `${k}: ${v}`).join("\n")}\n`);
  return { root, mountpoint, confPath };
}

/** Starts pfsagentd and resolves once it logged "ready" (FUSE mounted, HTTP serving). */
export function startAgent(confPath: string, overrides: string[] = [], timeoutMs = 20_000): Promise<AgentProcess> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(process.execPath, [PFSAGENTD, confPath, ...overrides], { stdio: ["ignore", "pipe", "pipe"] }));
    let log = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`pfsagentd not ready within ${timeoutMs} ms:\n${log}`));
    }, timeoutMs);
    child.stdout!.resume();
    child.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      const m = /\]\[INFO\] ready: .* HTTP server on [^:]+:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve({
          child,
          httpPort: Number(m[1]),
          log: () => log,
          stop: (signal: NodeJS.Signals = "SIGTERM") => {
            child.kill(signal);
            return waitExit(child, 30_000);
          },
        });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`pfsagentd exited ${code} before ready:\n${log}`));
    });
  });
}

export function isMounted(mountpoint: string): boolean {
  const esc = mountpoint.replace(/[ \t\n\\]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === esc);
}

/** Best-effort cleanup after a failed test: lazy unmount and remove the temp dir. */
export function cleanupSetup(s: AgentSetup): void {
  if (isMounted(s.mountpoint)) spawnSync("umount", ["-l", s.mountpoint]);
  rmSync(s.root, { recursive: true, force: true });
}
