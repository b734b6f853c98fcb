// Shared parts of the crash tests of persistent proxyfsd (crash.test.ts, crash-swift.test.ts,
// fault-checkpoint.test.ts): the real proxyfsd and pfs binaries as child processes, a mixed
// metadata+data workload over retryrpc that records every acknowledged mutation, and the
// kill -9 / restart / verify loop.
//
// Model invariant: an acknowledged mutating RPC is a synced one (LAYOUT.md §3), so after any
// crash every name whose last operation was acknowledged must look exactly as the model says;
// names with an operation in flight at the kill are "uncertain" and are re-read after the restart.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ObjectStore } from "../../../objstore/index.js";
import { mountClient, type MountedClient } from "../../server/testing/jsonrpc-call.js";
import { Prng } from "../../../base/testing/prng.js";

const proxyfsdBin = fileURLToPath(new URL("../../../cmd/proxyfsd.js", import.meta.url));
const pfsBin = fileURLToPath(new URL("../../../cmd/pfs.js", import.meta.url));

export interface ConfOptions {
  authUrl: string;
  user: string;
  key: string;
  account: string;
  tlsDir: string;
  checkpointInterval?: string;
  checkpointJournalBytes?: number;
  metadataContainerPrefix?: string;
  /** Extra [ObjectStore] lines (e.g. "SwiftRetryDelay: 50ms"). */
  objectStoreLines?: string[];
}

/** Writes a one-volume proxyfsd.conf persisting in `account` (ports chosen by the kernel). */
export function writeProxyfsdConf(path: string, o: ConfOptions): void {
  writeFileSync(path, [
    "[Cluster]", "WhoAmI: Peer0", "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "PrivateIPAddr: 127.0.0.1",
    "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
    "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: Peer0",
    "[Volume:V]", `AccountName: ${o.account}`, "AutoFormat: false",
    `CheckpointInterval: ${o.checkpointInterval ?? "250ms"}`, `CheckpointJournalBytes: ${o.checkpointJournalBytes ?? 65536}`,
    ...(o.metadataContainerPrefix ? [`MetadataContainerPrefix: ${o.metadataContainerPrefix}`] : []),
    "[ObjectStore]", `AuthURL: ${o.authUrl}`, `AuthUser: ${o.user}`, `AuthKey: ${o.key}`, ...(o.objectStoreLines ?? []),
    "[TLS]", `Directory: ${o.tlsDir}`, "",
  ].join("\n"));
}

export interface PfsResult {
  code: number;
  out: string;
  err: string;
}

export async function runPfs(args: string[]): Promise<PfsResult> {
  const c = spawn(process.execPath, [pfsBin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  c.stdout!.on("data", (d) => (out += d));
  c.stderr!.on("data", (d) => (err += d));
  const [code] = await once(c, "close");
  return { code: code as number, out, err };
}

/** `pfs fsck --conf`; with `allowOrphans` (a crashed, not yet recovered state) only problems fail it. */
export async function fsckConf(conf: string, allowOrphans: boolean, context: string): Promise<PfsResult> {
  const r = await runPfs(["fsck", "--conf", conf]);
  const problems = r.out.split("\n").filter((l) => l.startsWith("problem:"));
  assert.deepEqual(problems, [], `${context}: fsck found problems:\n${r.out}${r.err}`);
  if (!allowOrphans) {
    assert.equal(r.code, 0, `${context}: fsck not clean:\n${r.out}${r.err}`);
    assert.match(r.out, /^clean: /m, context);
  } else {
    assert.match(r.out, /clean: \d+ inodes/, `${context}: fsck did not run:\n${r.out}${r.err}`);
  }
  return r;
}

export interface Proxyfsd {
  child: ChildProcess;
  port: number;
  log(): string;
  alive(): boolean;
  /** SIGKILL and wait for the exit. */
  kill9(): Promise<void>;
  /** SIGTERM (clean stop: final checkpoint); resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts proxyfsd on `conf`; fails (killing it) when it is not serving within `timeoutMs`. */
export async function startProxyfsd(conf: string, timeoutMs = 60_000): Promise<Proxyfsd> {
  const child = spawn(process.execPath, [proxyfsdBin, conf], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PROXYFSD_DEBUG: "1" } });
  let err = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (d: string) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on("data", () => {
      const m = /JSON-RPC on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code, signal) => reject(new Error(`proxyfsd exited (${code ?? signal}) before serving: ${err}`)));
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`proxyfsd not serving after ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    child.stderr!.on("data", () => { if (/JSON-RPC on/.test(err)) clearTimeout(t); });
    child.on("exit", () => clearTimeout(t));
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  return {
    child, port, alive, log: () => err,
    async kill9() {
      if (!alive()) return;
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    },
    async stop() {
      if (!alive()) return child.exitCode;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      return (await exited)[0] as number | null;
    },
  };
}

type Known = { size: bigint } | null; // null = absent
const errnoOf = (e: unknown): number | undefined => (e as { errno?: number }).errno;

export interface WorkloadOptions {
  seed: number;
  /** Object store the workload PUTs its log-segment objects into (the volume's account). */
  segStore: ObjectStore;
  workers?: number;
  names?: number;
}

/**
 * W workers, each in its own directory with `names` file names, doing create / write (a real
 * segment object + RpcWrote) / truncate / unlink / rename. Each worker draws from its own PRNG
 * seeded from `seed`, so the sequence of operations each worker attempts is reproducible.
 */
export class CrashWorkload {
  readonly W: number;
  readonly NAMES: number;
  readonly #segStore: ObjectStore;
  readonly #prngs: Prng[];
  dirs: bigint[] = [];
  readonly #model: Array<Map<string, Known>>;
  readonly #inflight: Array<Set<string>>;
  readonly createLatencies: number[] = [];
  acked = 0;
  verified = 0;
  #stop = false;
  #running: Array<Promise<void>> = [];

  constructor(o: WorkloadOptions) {
    this.W = o.workers ?? 4;
    this.NAMES = o.names ?? 12;
    this.#segStore = o.segStore;
    this.#prngs = Array.from({ length: this.W }, (_, w) => new Prng((o.seed * 7919 + w * 104_729) >>> 0));
    this.#model = Array.from({ length: this.W }, () => new Map());
    this.#inflight = Array.from({ length: this.W }, () => new Set());
  }

  async setup(m: MountedClient, tag = ""): Promise<void> {
    for (let w = 0; w < this.W; w++) {
      this.dirs.push((await m.client.call("RpcMkdir", { MountID: m.mountId, InodeNumber: 1n, Basename: `${tag}w${w}`, UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber);
    }
  }

  /** Starts the workers on `m`; halt() stops them (call it right before killing proxyfsd). */
  start(m: MountedClient): void {
    this.#stop = false;
    this.#running = Array.from({ length: this.W }, (_, w) => this.#worker(w, m));
  }

  /** Marks the workers stopping; their calls failing from now on are the kill's doing. */
  halt(): void {
    this.#stop = true;
  }

  /** Waits for the workers (after halt() and closing their client). */
  async join(): Promise<void> {
    await Promise.all(this.#running);
    this.#running = [];
  }

  async #worker(w: number, mc: MountedClient): Promise<void> {
    const c = mc.client;
    const M = mc.mountId;
    const d = this.dirs[w]!;
    const prng = this.#prngs[w]!;
    const model = this.#model[w]!;
    const inflight = this.#inflight[w]!;
    while (!this.#stop) {
      const name = `f${prng.int(this.NAMES)}`;
      const cur = model.get(name) ?? null;
      const r = prng.next();
      try {
        if (cur === null) {
          inflight.add(name);
          const t0 = performance.now();
          await c.call("RpcCreate", { MountID: M, InodeNumber: d, Basename: name, UserID: 0, GroupID: 0, FileMode: 0o644 });
          this.createLatencies.push(performance.now() - t0);
          model.set(name, { size: 0n });
        } else if (r < 0.45) {
          const len = 1 + prng.int(4000);
          const ino = (await c.call("RpcLookup", { MountID: M, InodeNumber: d, Basename: name })).InodeNumber;
          const { PhysPath } = await c.call("RpcProvisionObject", { MountID: M });
          const [, , , container, object] = PhysPath.split("/");
          await this.#segStore.putObject(container!, object!, Buffer.alloc(len, w));
          inflight.add(name);
          await c.call("RpcWrote", { MountID: M, InodeNumber: ino, ContainerName: container!, ObjectName: object!, FileOffset: [0n], ObjectOffset: [0n], Length: [BigInt(len)] });
          model.set(name, { size: cur.size > BigInt(len) ? cur.size : BigInt(len) });
        } else if (r < 0.6) {
          const ino = (await c.call("RpcLookup", { MountID: M, InodeNumber: d, Basename: name })).InodeNumber;
          inflight.add(name);
          await c.call("RpcResize", { MountID: M, InodeNumber: ino, NewSize: 0n });
          model.set(name, { size: 0n });
        } else if (r < 0.8) {
          inflight.add(name);
          await c.call("RpcUnlink", { MountID: M, InodeNumber: d, Basename: name });
          model.set(name, null);
        } else {
          const to = `f${prng.int(this.NAMES)}`;
          if (to === name) continue;
          inflight.add(name).add(to);
          await c.call("RpcRename", { MountID: M, SrcDirInodeNumber: d, SrcBasename: name, DstDirInodeNumber: d, DstBasename: to });
          model.set(to, cur);
          model.set(name, null);
        }
        this.acked++;
        inflight.clear();
      } catch (err) {
        if (this.#stop) return; // killed mid-call: the names in `inflight` are uncertain
        throw err;
      }
    }
  }

  /** Re-reads every name: acknowledged state must be exact; uncertain names adopt what is there. */
  async verify(mc: MountedClient, context: string): Promise<number> {
    let checked = 0;
    for (let w = 0; w < this.W; w++) {
      const inflight = this.#inflight[w]!;
      for (let i = 0; i < this.NAMES; i++) {
        const name = `f${i}`;
        let actual: Known;
        try {
          actual = { size: (await mc.client.call("RpcLookupPlus", { MountID: mc.mountId, InodeNumber: this.dirs[w]!, Basename: name })).Size };
        } catch (err) {
          if (errnoOf(err) !== 2) throw err;
          actual = null;
        }
        if (inflight.has(name)) {
          this.#model[w]!.set(name, actual); // outcome of the interrupted call, now known
          continue;
        }
        assert.deepEqual(actual, this.#model[w]!.get(name) ?? null, `${context}: worker ${w} ${name}: acknowledged state lost`);
        checked++;
      }
      inflight.clear();
    }
    this.verified += checked;
    return checked;
  }

  medianCreateMs(): number {
    const s = [...this.createLatencies].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)] ?? NaN;
  }
}

export interface CycleOptions {
  conf: string;
  /** The volume's account (to remount after each restart). */
  account: string;
  kills: number;
  /** Kill delays are drawn from this (seeded) PRNG: uniform in [minMs, maxMs]. */
  prng: Prng;
  minMs?: number;
  maxMs?: number;
  /** Run `pfs fsck` on the crashed state (before the restart) every N kills (0 = never). */
  fsckEvery?: number;
  context: string;
  /** Called with each new proxyfsd (so the caller can clean it up on failure). */
  onStart?: (p: Proxyfsd, m: MountedClient) => void;
}

/**
 * `kills` times: run the workload for a random moment, kill -9 proxyfsd, (sometimes fsck the
 * crashed state), restart it, remount and verify every acknowledged mutation. Returns the
 * running proxyfsd and its mount.
 */
export async function crashCycles(wl: CrashWorkload, p: Proxyfsd, m: MountedClient, o: CycleOptions): Promise<{ p: Proxyfsd; m: MountedClient; fscks: number }> {
  const lo = o.minMs ?? 20;
  const hi = o.maxMs ?? 400;
  let fscks = 0;
  for (let k = 1; k <= o.kills; k++) {
    wl.start(m);
    await new Promise((r) => setTimeout(r, lo + o.prng.next() * (hi - lo)));
    wl.halt();
    assert.ok(p.alive(), `${o.context}: proxyfsd died on its own before kill ${k}:\n${p.log()}`);
    await p.kill9();
    await m.rpc.close();
    await wl.join();
    if (o.fsckEvery && k % o.fsckEvery === 0) {
      await fsckConf(o.conf, true, `${o.context}, crashed state after kill ${k}`);
      fscks++;
    }
    p = await startProxyfsd(o.conf);
    m = await mountClient(p.port, o.account);
    o.onStart?.(p, m);
    await wl.verify(m, `${o.context}, after kill ${k}`);
  }
  return { p, m, fscks };
}
