// bench:rpc — RPC throughput of proxyfsd over loopback TLS.
//   node dist/bench/rpc.js [--files N] [--depth D]
// Starts the proxyfsd binary as a child process (so client and server do not share an event
// loop), mounts over JSON-RPC, and measures with 1 client (in this process) and 16 clients
// (4 worker processes × 4 clients):
//   create   RpcCreate of N files per client in its own directory
//   lookup   RpcLookupPlus (lookup + getattr in one RPC, as the agent's LOOKUP) of each file
//   unlink   RpcUnlink of each file
//   readdir  RpcReaddirByLoc of a 10,000-entry directory in chunks of 1,000 (entries/s)
// Each client keeps D calls in flight (default 4). Ends with
//   RESULT create_ops=<n> lookup_ops=<n> unlink_ops=<n>   (the 16-client figures)
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mountClient, type MountedClient } from "../src/volume/server/testing/jsonrpc-call.js";

const self = fileURLToPath(import.meta.url);
const proxyfsd = fileURLToPath(new URL("../src/cmd/proxyfsd.js", import.meta.url));

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
  const [port, k, id] = [Number(process.argv[3]), Number(process.argv[4]), process.argv[5]!];
  const clients: BenchClient[] = [];
  for (let i = 0; i < k; i++) clients.push(new BenchClient(await mountClient(port, "AUTH_test"), `${id}-${i}`));
  process.on("message", async (msg: { phase: Phase; n: number; depth: number; bigDir: string }) => {
    const t0 = performance.now();
    const counts = await Promise.all(clients.map((c) => c.run(msg.phase, msg.n, msg.depth, BigInt(msg.bigDir))));
    process.send!({ ops: counts.reduce((a, b) => a + b, 0), ms: performance.now() - t0 });
  });
  process.send!({ ready: true });
} else {
  await main();
}

async function main(): Promise<void> {
  const n = arg("--files", 5000);
  const depth = arg("--depth", 4);
  const dir = mkdtempSync(join(tmpdir(), "bench-rpc-"));
  const conf = join(dir, "proxyfsd.conf");
  writeFileSync(conf, [
    "[Cluster]", "WhoAmI: P", "[Peer:P]", "PublicIPAddr: 127.0.0.1", "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
    "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: P", "[Volume:V]", "AccountName: AUTH_test",
    "[TLS]", `Directory: ${join(dir, "tls")}`, "",
  ].join("\n"));
  const server = spawn(process.execPath, [proxyfsd, conf], { stdio: ["ignore", "ignore", "pipe"] });
  const port = await new Promise<number>((resolve, reject) => {
    let err = "";
    server.stderr!.setEncoding("utf8");
    server.stderr!.on("data", (d: string) => {
      err += d;
      const m = /JSON-RPC on [^:]+:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", (code) => reject(new Error(`proxyfsd exited ${code}: ${err}`)));
  });
  const workers: ChildProcess[] = [];
  try {
    const rate = (r: Result) => Math.round((r.ops * 1000) / r.ms);
    // The 10,000-entry directory for the readdir figures.
    const solo = new BenchClient(await mountClient(port, "AUTH_test"), "solo");
    const bigC = new BenchClient(solo.m, "big10k");
    await bigC.run("setup", 0, depth, 0n);
    await bigC.run("create", 10_000, 16, 0n);
    const bigDir = bigC.dir;

    console.log(`proxyfsd RPC benchmark over loopback TLS: ${n} files per client, ${depth} calls in flight per client`);
    const one: Record<string, Result> = {};
    await solo.run("setup", n, depth, bigDir);
    for (const phase of ["create", "lookup", "unlink", "readdir"] as const) {
      const t0 = performance.now();
      const ops = await solo.run(phase, n, depth, bigDir);
      one[phase] = { ops, ms: performance.now() - t0 };
    }
    console.log(`1 client:   create ${rate(one.create!)}/s  lookup+getattr ${rate(one.lookup!)}/s  unlink ${rate(one.unlink!)}/s  readdir ${rate(one.readdir!)} entries/s`);
    await solo.m.rpc.close();

    const W = 4;
    const K = 4;
    const ready: Array<Promise<void>> = [];
    for (let w = 0; w < W; w++) {
      const child = fork(self, ["--worker", String(port), String(K), `w${w}`], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      workers.push(child);
      ready.push(new Promise((r) => child.once("message", () => r())));
    }
    await Promise.all(ready);
    const runAll = async (phase: Phase): Promise<Result> => {
      const t0 = performance.now();
      const rs = await Promise.all(workers.map((c) => new Promise<Result>((r) => {
        c.once("message", (m) => r(m as Result));
        c.send({ phase, n, depth, bigDir: bigDir.toString() });
      })));
      return { ops: rs.reduce((a, r) => a + r.ops, 0), ms: performance.now() - t0 };
    };
    await runAll("setup");
    const many: Record<string, Result> = {};
    for (const phase of ["create", "lookup", "unlink", "readdir"] as const) many[phase] = await runAll(phase);
    console.log(`16 clients: create ${rate(many.create!)}/s  lookup+getattr ${rate(many.lookup!)}/s  unlink ${rate(many.unlink!)}/s  readdir ${rate(many.readdir!)} entries/s (${W} processes x ${K} clients)`);
    console.log(`RESULT create_ops=${rate(many.create!)} lookup_ops=${rate(many.lookup!)} unlink_ops=${rate(many.unlink!)}`);
  } finally {
    for (const w of workers) w.kill();
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
    rmSync(dir, { recursive: true, force: true });
  }
}
