// Starts rpc-relay-main.js (a recording, cuttable TLS relay between pfsagentd and proxyfsd, plus an
// optional recording HTTP relay in front of the Swift-API server) and talks to its control port.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServers, type Servers } from "./agent-harness.js";
import type { RelayedFrame } from "./rpc-relay-main.js";

export type { RelayedFrame };
export const RPC_RELAY_MAIN = fileURLToPath(new URL("./rpc-relay-main.js", import.meta.url));

export interface Relay {
  child: ChildProcess;
  /** retryrpc port on 127.0.0.1 (proxyfsd must listen on 127.0.0.2 at the same port). */
  port: number;
  /** Recording HTTP relay port (to the Swift-API server, see setHttpTarget). */
  httpPort: number;
  /** Where the HTTP relay forwards to (127.0.0.1:port). */
  setHttpTarget(port: number): Promise<void>;
  records(): Promise<{ frames: RelayedFrame[]; http: Array<{ conn: number; request: string }> }>;
  reset(): Promise<void>;
  cut(): Promise<number>;
  /** Cut every relayed connection after each n-th request (0 stops). */
  cutEvery(n: number): Promise<void>;
  stats(): Promise<{ accepted: number; live: number; cuts: number }>;
  stop(): Promise<void>;
}

export function startRelay(options: { tlsDir: string; httpTargetPort?: number }): Promise<Relay> {
  return new Promise((resolve, reject) => {
    const args = [RPC_RELAY_MAIN, "--tls-dir", options.tlsDir, ...(options.httpTargetPort !== undefined ? ["--http-target-port", String(options.httpTargetPort)] : [])];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    child.on("exit", (code) => reject(new Error(`rpc-relay-main exited ${code} before ready: ${out}${err}`)));
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      const { port, httpPort, controlPort } = JSON.parse(out.slice(0, nl)) as { port: number; httpPort: number; controlPort: number };
      const control = async (method: "GET" | "POST", path: string): Promise<unknown> => {
        const r = await fetch(`http://127.0.0.1:${controlPort}${path}`, { method });
        if (!r.ok) throw new Error(`relay control ${method} ${path}: HTTP ${r.status} ${await r.text()}`);
        return r.json();
      };
      resolve({
        child, port, httpPort,
        records: async () => (await control("GET", "/records")) as Awaited<ReturnType<Relay["records"]>>,
        reset: async () => void (await control("POST", "/reset")),
        setHttpTarget: async (p) => void (await control("POST", `/http-target?port=${p}`)),
        cut: async () => ((await control("POST", "/cut")) as { cut: number }).cut,
        cutEvery: async (n) => void (await control("POST", `/cut-every?n=${n}`)),
        stats: async () => (await control("GET", "/stats")) as Awaited<ReturnType<Relay["stats"]>>,
        stop: () => new Promise<void>((res) => {
          if (child.exitCode !== null || child.signalCode !== null) return res();
          child.once("exit", () => res());
          child.kill("SIGTERM");
        }),
      });
    });
  });
}

export interface RelayedServers {
  relay: Relay;
  servers: Servers;
  /** Stops the servers and the relay and removes the TLS directory. */
  stop(): Promise<void>;
}

/**
 * servers-main behind a relay: the relay owns 127.0.0.1:P and terminates TLS with the servers'
 * credentials (a fresh TLS directory named after `tmpPrefix`); proxyfsd listens on 127.0.0.2:P
 * and advertises 127.0.0.1:P, so every agent's retryrpc connection goes through the relay.
 */
export async function startServersBehindRelay(tmpPrefix: string, extraArgs: string[] = []): Promise<RelayedServers> {
  const tlsDir = mkdtempSync(join(tmpdir(), tmpPrefix));
  let relay: Relay | undefined;
  try {
    relay = await startRelay({ tlsDir });
    const servers = await startServers({ extraArgs: ["--tls-dir", tlsDir, "--retry-host", "127.0.0.2", "--retry-port", String(relay.port), ...extraArgs] });
    const r = relay;
    return {
      relay: r, servers,
      async stop() {
        await r.stop();
        await servers.stop();
        rmSync(tlsDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await relay?.stop();
    rmSync(tlsDir, { recursive: true, force: true });
    throw err;
  }
}
