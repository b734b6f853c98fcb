// bench:rpc — RPC throughput and synced-mutation latency of a persistent proxyfsd over loopback TLS.
//   node dist/bench/rpc.js [--files N] [--depth D] [--sync-ops S]
// Starts the embedded Swift-API server (pfs-objserver, disk-backed) and the proxyfsd binary as
// child processes (so clients and servers do not share an event loop); proxyfsd persists the
// volume in that store (journal + checkpoints, LAYOUT.md), so every mutating reply means durable.
// Mounts over JSON-RPC and measures with 1 client (in this process) and 16 clients (4 worker
// processes x 4 clients):
//   create   RpcCreate of N files per client in its own directory
//   lookup   RpcLookupPlus (lookup + getattr in one RPC, as the agent's LOOKUP) of each file
//   unlink   RpcUnlink of each file
//   readdir  RpcReaddirByLoc of a 10,000-entry directory in chunks of 1,000 (entries/s)
// Each client keeps D calls in flight (default 4). Then:
//   sync     median round trip of S sequential RpcCreates (1 client, 1 in flight): the latency
//            of a synced mutation, on the embedded store and on real Swift (127.0.0.1:8080, the
//            SAIO of scripts/swift-saio.sh, in a fresh account; "na" when it is not reachable);
//   ckpt     16-client create rate on a proxyfsd checkpointing every 100 ms (checkpoints counted).
// Ends with
//   RESULT create_ops=<n> lookup_ops=<n> unlink_ops=<n> sync_ms_embedded=<x> sync_ms_swift=<x>
// (create/lookup/unlink: the 16-client figures with persistence on the embedded store).
import { fork, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwiftObjectStore, emptyAccount, tempAuth } from "../src/objstore/index.js";
import { mountClient, type MountedClient } from "../src/volume/server/testing/jsonrpc-call.js";

const self = fileURLToPath(import.meta.url);
const proxyfsd = fileURLToPath(new URL("../src/cmd/proxyfsd.js", import.meta.url));
const objserver = fileURLToPath(new URL("../src/cmd/pfs-objserver.js", import.meta.url));
const pfs = fileURLToPath(new URL("../src/cmd/pfs.js", import.meta.url));
const SWIFT_AUTH = "http://127.0.0.1:8080/auth/v1.0";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

type Phase = "setup" | "create" | "lookup" | "unlink" | "readdir";
interface Result { ops: number; ms: number }

/** Runs `total` calls with `depth` in flight. */
async function pump(total: number, depth: number, call: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < total) await call(next++);
  };
  await Promise.all(Array.from({ length: Math.min(depth, total) }, lane));
}

class BenchClient {
  dir = 0n;
  constructor(readonly m: MountedClient, readonly tag: string) {}

  async run(phase: Phase, n: number, depth: number, bigDir: bigint): Promise<number> {
    const { client: c, mountId: M } = this.m;
    switch (phase) {
      case "setup":
        this.dir = (await c.call("RpcMkdir", { MountID: M, InodeNumber: 1n, Basename: `bench-${this.tag}`, UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber;
        return 0;
      case "create":
        await pump(n, depth, (i) => c.call("RpcCreate", { MountID: M, InodeNumber: this.dir, Basename: `file-${i}`, UserID: 0, GroupID: 0, FileMode: 0o644 }));
        return n;
      case "lookup":
        await pump(n, depth, (i) => c.call("RpcLookupPlus", { MountID: M, InodeNumber: this.dir, Basename: `file-${i}` }));
        return n;
      case "unlink":
        await pump(n, depth, (i) => c.call("RpcUnlink", { MountID: M, InodeNumber: this.dir, Basename: `file-${i}` }));
        return n;
      case "readdir": {
        let prev = -1n;
        let entries = 0;
        for (;;) {
          const r = await c.call("RpcReaddirByLoc", { MountID: M, InodeNumber: bigDir, MaxEntries: 1000n, PrevDirEntLocation: prev });
          if (r.DirEnts.length === 0) break;
          entries += r.DirEnts.length;
          prev = r.DirEnts[r.DirEnts.length - 1]!.NextDirLocation;
        }
        return entries;
      }
    }
  }
}

// ---- worker process: K clients, phases on command ----
if (process.argv[2] === "--worker") {
  const [port, k, id, account] = [Number(process.argv[3]), Number(process.argv[4]), process.argv[5]!, process.argv[6]!];
  const clients: BenchClient[] = [];
  for (let i = 0; i < k; i++) clients.push(new BenchClient(await mountClient(port, account), `${id}-${i}`));
  process.on("message", async (msg: { phase: Phase; n: number; depth: number; bigDir: string }) => {
    const t0 = performance.now();
    const counts = await Promise.all(clients.map((c) => c.run(msg.phase, msg.n, msg.depth, BigInt(msg.bigDir))));
    process.send!({ ops: counts.reduce((a, b) => a + b, 0), ms: performance.now() - t0 });
  });
  process.send!({ ready: true });
}

/** Waits for `re` on the child's stderr (its first group), failing if it exits first. */
function waitFor(child: ChildProcess, re: RegExp, what: string, onLine?: (text: string) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    let err = "";
    let done = false;
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (d: string) => {
      err += d;
      onLine?.(d);
      const m = re.exec(err);
      if (m && !done) {
        done = true;
        resolve(m[1]!);
      }
    });
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => {
      err += d;
      const m = re.exec(err);
      if (m && !done) {
        done = true;
        resolve(m[1]!);
      }
    });
    child.on("exit", (code) => { if (!done) reject(new Error(`${what} exited ${code}: ${err}`)); });
  });
}

interface Daemon { child: ChildProcess; port: number; checkpoints: () => number }

/** proxyfsd persisting `account` in the object store at `authUrl` (formatted first with pfs mkfs). */
async function startProxyfsd(dir: string, name: string, o: { authUrl: string; user: string; key: string; account: string; checkpointInterval?: string; checkpointJournalBytes?: number }): Promise<Daemon> {
  const conf = join(dir, `${name}.conf`);
  writeFileSync(conf, [
    "[Cluster]", "WhoAmI: P", "[Peer:P]", "PublicIPAddr: 127.0.0.1", "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
    "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: P", "[Volume:V]", `AccountName: ${o.account}`,
    "AutoFormat: false", `CheckpointInterval: ${o.checkpointInterval ?? "60s"}`, `CheckpointJournalBytes: ${o.checkpointJournalBytes ?? 8 << 20}`,
    "[ObjectStore]", `AuthURL: ${o.authUrl}`, `AuthUser: ${o.user}`, `AuthKey: ${o.key}`,
    "[TLS]", `Directory: ${join(dir, "tls")}`, "",
  ].join("\n"));
  const mk = spawn(process.execPath, [pfs, "mkfs", "--conf", conf, "--force"], { stdio: ["ignore", "pipe", "pipe"] });
  let mkOut = "";
  mk.stdout!.on("data", (d) => (mkOut += d));
  mk.stderr!.on("data", (d) => (mkOut += d));
  const [code] = await new Promise<[number]>((r) => mk.on("close", (c) => r([c ?? -1])));
  if (code !== 0) throw new Error(`pfs mkfs for ${name} failed (${code}): ${mkOut}`);
  const child = spawn(process.execPath, [proxyfsd, conf], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, PROXYFSD_DEBUG: "1" } });
  let checkpoints = 0;
  const port = Number(await waitFor(child, /JSON-RPC on [^:]+:(\d+)/, `proxyfsd ${name}`, (d) => {
    checkpoints += d.match(/checkpoint epoch \d+ gen \d+ committed/g)?.length ?? 0;
  }));
  return { child, port, checkpoints: () => checkpoints };
}

async function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGTERM");
  await exited;
}

const rate = (r: Result): number => Math.round((r.ops * 1000) / r.ms);

/** 4 worker processes x 4 clients on `port`; runAll(phase) runs a phase on all 16 at once. */
async function startWorkers(port: number, account: string, tag: string): Promise<{ runAll: (phase: Phase, n: number, depth: number, bigDir: bigint) => Promise<Result>; close: () => void }> {
  const W = 4;
  const K = 4;
  const workers: ChildProcess[] = [];
  const ready: Array<Promise<void>> = [];
  for (let w = 0; w < W; w++) {
    const child = fork(self, ["--worker", String(port), String(K), `${tag}${w}`, account], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    workers.push(child);
    ready.push(new Promise((r) => child.once("message", () => r())));
  }
  await Promise.all(ready);
  const runAll = async (phase: Phase, n: number, depth: number, bigDir: bigint): Promise<Result> => {
    const t0 = performance.now();
    const rs = await Promise.all(workers.map((c) => new Promise<Result>((r) => {
      c.once("message", (m) => r(m as Result));
      c.send({ phase, n, depth, bigDir: bigDir.toString() });
    })));
    return { ops: rs.reduce((a, r) => a + r.ops, 0), ms: performance.now() - t0 };
  };
  return { runAll, close: () => { for (const w of workers) w.kill(); } };
}

/** Median round trip (ms) of `count` sequential RpcCreates: each reply waits for its journal PUT. */
async function syncLatency(port: number, account: string, count: number): Promise<{ median: number; p90: number }> {
  const m = await mountClient(port, account);
  try {
    const { client: c, mountId: M } = m;
    const dir = (await c.call("RpcMkdir", { MountID: M, InodeNumber: 1n, Basename: `sync-${randomBytes(4).toString("hex")}`, UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber;
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await c.call("RpcCreate", { MountID: M, InodeNumber: dir, Basename: `s${i}`, UserID: 0, GroupID: 0, FileMode: 0o644 });
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    return { median: lat[Math.floor(lat.length / 2)]!, p90: lat[Math.floor(lat.length * 0.9)]! };
  } finally {
    await m.rpc.close();
  }
}

async function swiftReachable(): Promise<boolean> {
  try {
    const r = await fetch("http://127.0.0.1:8080/info", { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const n = arg("--files", 5000);
  const depth = arg("--depth", 4);
  const syncOps = arg("--sync-ops", 500);
  const dir = mkdtempSync(join(tmpdir(), "bench-rpc-"));
  const children: ChildProcess[] = [];
  const closers: Array<() => void> = [];
  const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(2) : "na");
  try {
    const os = spawn(process.execPath, [objserver, "--dir", join(dir, "store"), "--port", "0", "--user", "test:tester:testing", "--user", "test2:tester2:testing2"], { stdio: ["ignore", "pipe", "pipe"] });
    children.push(os);
    const authUrl = await waitFor(os, /\(auth (http:\/\/\S+)[,)]/, "pfs-objserver");
    const server = await startProxyfsd(dir, "embedded", { authUrl, user: "test:tester", key: "testing", account: "AUTH_test" });
    children.push(server.child);
    const port = server.port;

    // The 10,000-entry directory for the readdir figures.
    const solo = new BenchClient(await mountClient(port, "AUTH_test"), "solo");
    const bigC = new BenchClient(solo.m, "big10k");
    await bigC.run("setup", 0, depth, 0n);
    await bigC.run("create", 10_000, 16, 0n);
    const bigDir = bigC.dir;

    console.log(`proxyfsd RPC benchmark over loopback TLS, persistence on (embedded disk-backed store): ${n} files per client, ${depth} calls in flight per client`);
    const one: Record<string, Result> = {};
    await solo.run("setup", n, depth, bigDir);
    for (const phase of ["create", "lookup", "unlink", "readdir"] as const) {
      const t0 = performance.now();
      const ops = await solo.run(phase, n, depth, bigDir);
      one[phase] = { ops, ms: performance.now() - t0 };
    }
    console.log(`1 client:   create ${rate(one.create!)}/s  lookup+getattr ${rate(one.lookup!)}/s  unlink ${rate(one.unlink!)}/s  readdir ${rate(one.readdir!)} entries/s`);
    await solo.m.rpc.close();

    const ws = await startWorkers(port, "AUTH_test", "w");
    closers.push(ws.close);
    await ws.runAll("setup", n, depth, bigDir);
    const many: Record<string, Result> = {};
    for (const phase of ["create", "lookup", "unlink", "readdir"] as const) many[phase] = await ws.runAll(phase, n, depth, bigDir);
    console.log(`16 clients: create ${rate(many.create!)}/s  lookup+getattr ${rate(many.lookup!)}/s  unlink ${rate(many.unlink!)}/s  readdir ${rate(many.readdir!)} entries/s (4 processes x 4 clients)`);
    ws.close();

    const se = await syncLatency(port, "AUTH_test", syncOps);
    console.log(`synced mutation (sequential RpcCreate, 1 client, 1 in flight), embedded store: median ${fmt(se.median)} ms, p90 ${fmt(se.p90)} ms over ${syncOps}`);
    await stopChild(server.child);

    // Create rate while checkpoints run (a second volume, checkpointing every 100 ms).
    const ck = await startProxyfsd(dir, "ckpt", { authUrl, user: "test2:tester2", key: "testing2", account: "AUTH_test2", checkpointInterval: "100ms", checkpointJournalBytes: 65536 });
    children.push(ck.child);
    const wc = await startWorkers(ck.port, "AUTH_test2", "c");
    closers.push(wc.close);
    await wc.runAll("setup", n, depth, 0n);
    const ck0 = ck.checkpoints();
    const cr = await wc.runAll("create", n, depth, 0n);
    const ckN = ck.checkpoints() - ck0;
    console.log(`16 clients, checkpoint every 100 ms: create ${rate(cr)}/s (${ckN} checkpoints committed during the ${(cr.ms / 1000).toFixed(1)} s run)`);
    wc.close();
    await stopChild(ck.child);

    let swiftMs = NaN;
    if (await swiftReachable()) {
      // A fresh account per run (the SAIO's reseller admin may use any), wiped afterwards.
      const account = `AUTH_bench${randomBytes(5).toString("hex")}`;
      const sw = await startProxyfsd(dir, "swift", { authUrl: SWIFT_AUTH, user: "admin:admin", key: "admin", account });
      children.push(sw.child);
      try {
        const ss = await syncLatency(sw.port, account, Math.min(syncOps, 200));
        swiftMs = ss.median;
        console.log(`synced mutation (sequential RpcCreate, 1 client, 1 in flight), real Swift: median ${fmt(ss.median)} ms, p90 ${fmt(ss.p90)} ms over ${Math.min(syncOps, 200)}`);
      } finally {
        await stopChild(sw.child);
        await wipeAccount(account).catch((err) => console.log(`(cleanup of ${account} failed: ${(err as Error).message})`));
      }
    } else {
      console.log("real Swift not reachable at 127.0.0.1:8080 (scripts/swift-saio.sh start): sync_ms_swift=na");
    }
    console.log(`RESULT create_ops=${rate(many.create!)} lookup_ops=${rate(many.lookup!)} unlink_ops=${rate(many.unlink!)} sync_ms_embedded=${fmt(se.median)} sync_ms_swift=${fmt(swiftMs)}`);
  } finally {
    for (const c of closers) c();
    for (const c of children.reverse()) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Deletes every object and container of `account` on the SAIO (the bench's own account). */
async function wipeAccount(account: string): Promise<void> {
  const store = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: SWIFT_AUTH, user: "admin:admin", key: "admin", transformStorageUrl: (u) => u.replace(/\/v1\/[^/]+$/, `/v1/${account}`) }) });
  try {
    await emptyAccount(store);
  } finally {
    await store.close();
  }
}

// Last, so every module-level constant above is initialized before main() runs.
if (process.argv[2] !== "--worker") await main();
