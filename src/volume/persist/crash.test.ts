// Crash test: the real proxyfsd binary, its state in a disk-backed embedded Swift server, formatted
// by `pfs mkfs`. Four clients drive a mixed workload (create, Wrote of real segment objects,
// truncate, unlink, rename) over retryrpc; proxyfsd is killed with SIGKILL at random moments and
// restarted. After every restart each acknowledged mutation must be present (an acknowledged
// mutating RPC is a synced one); at the end `pfs fsck` must find the volume clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../objstore/index.js";
import { mountClient, type MountedClient } from "../server/testing/jsonrpc-call.js";
import { Prng, testSeed } from "../testing/prng.js";

const proxyfsd = fileURLToPath(new URL("../../cmd/proxyfsd.js", import.meta.url));
const pfs = fileURLToPath(new URL("../../cmd/pfs.js", import.meta.url));
const KILLS = Number(process.env.PROXYFS_CRASH_KILLS ?? 12);

async function runPfs(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = spawn(process.execPath, [pfs, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  c.stdout!.on("data", (d) => (out += d));
  c.stderr!.on("data", (d) => (err += d));
  const [code] = await once(c, "exit");
  return { code: code as number, out, err };
}

async function startProxyfsd(conf: string): Promise<{ child: ChildProcess; port: number; log: () => string }> {
  const child = spawn(process.execPath, [proxyfsd, conf], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.setEncoding("utf8");
  const port = await new Promise<number>((resolve, reject) => {
    child.stderr!.on("data", (d: string) => {
      err += d;
      const m = /JSON-RPC on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`proxyfsd exited ${code}: ${err}`)));
  });
  return { child, port, log: () => err };
}

type Known = { size: bigint } | null; // null = absent
const errnoOf = (e: unknown): number | undefined => (e as { errno?: number }).errno;

test(`crash: ${KILLS} x kill -9 of proxyfsd under load loses no synced mutation; fsck clean`, { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "persist-crash-"));
  const swift = await SwiftApiServer.start({ dir: join(dir, "swift"), users: [{ account: "test", user: "tester", key: "testing" }] });
  const segStore = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing" }) });
  const conf = join(dir, "proxyfsd.conf");
  writeFileSync(conf, [
    "[Cluster]", "WhoAmI: Peer0", "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "PrivateIPAddr: 127.0.0.1",
    "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
    "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: Peer0",
    "[Volume:V]", "AccountName: AUTH_test", "AutoFormat: false", "CheckpointInterval: 250ms", "CheckpointJournalBytes: 65536",
    "[ObjectStore]", `AuthURL: ${swift.authUrl}`, "AuthUser: test:tester", "AuthKey: testing",
    "[TLS]", `Directory: ${join(dir, "tls")}`, "",
  ].join("\n"));
  const seed = testSeed(Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PROXYFS_TEST_SEED reproduces the workload, not the kill timing)`);
  const prng = new Prng(seed);
  const rnd = (): number => prng.next();
  let p: Awaited<ReturnType<typeof startProxyfsd>> | undefined;
  let m: MountedClient | undefined;
  try {
    const mk = await runPfs(["mkfs", "--auth-url", swift.authUrl, "--user", "test:tester", "--key", "testing", "--account", "AUTH_test"]);
    assert.equal(mk.code, 0, mk.err);
    assert.match(mk.out, /formatted AUTH_test container proxyfs_meta/);
    const again = await runPfs(["mkfs", "--conf", conf]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds a volume.*--force/);

    p = await startProxyfsd(conf);
    m = await mountClient(p.port, "AUTH_test");
    const W = 4;
    const NAMES = 12;
    const dirs: bigint[] = [];
    for (let w = 0; w < W; w++) {
      dirs.push((await m.client.call("RpcMkdir", { MountID: m.mountId, InodeNumber: 1n, Basename: `w${w}`, UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber);
    }
    // model[w][name]: what an acknowledged RPC left; names with an unacknowledged op in flight are
    // "uncertain" until re-read after the restart.
    const model: Array<Map<string, Known>> = dirs.map(() => new Map());
    const inflight: Array<Set<string>> = dirs.map(() => new Set());
    const createLatencies: number[] = [];
    let acked = 0;
    let stop = false;

    const worker = async (w: number, mc: MountedClient): Promise<void> => {
      const c = mc.client;
      const M = mc.mountId;
      const d = dirs[w]!;
      while (!stop) {
        const name = `f${Math.floor(rnd() * NAMES)}`;
        const cur = model[w]!.get(name) ?? null;
        const r = rnd();
        try {
          if (cur === null) {
            inflight[w]!.add(name);
            const t0 = performance.now();
            await c.call("RpcCreate", { MountID: M, InodeNumber: d, Basename: name, UserID: 0, GroupID: 0, FileMode: 0o644 });
            createLatencies.push(performance.now() - t0);
            model[w]!.set(name, { size: 0n });
          } else if (r < 0.45) {
            const ino = (await c.call("RpcLookup", { MountID: M, InodeNumber: d, Basename: name })).InodeNumber;
            const { PhysPath } = await c.call("RpcProvisionObject", { MountID: M });
            const [, , , container, object] = PhysPath.split("/");
            const len = 1 + Math.floor(rnd() * 4000);
            await segStore.putObject(container!, object!, Buffer.alloc(len, w));
            inflight[w]!.add(name);
            await c.call("RpcWrote", { MountID: M, InodeNumber: ino, ContainerName: container!, ObjectName: object!, FileOffset: [0n], ObjectOffset: [0n], Length: [BigInt(len)] });
            model[w]!.set(name, { size: cur.size > BigInt(len) ? cur.size : BigInt(len) });
          } else if (r < 0.6) {
            const ino = (await c.call("RpcLookup", { MountID: M, InodeNumber: d, Basename: name })).InodeNumber;
            inflight[w]!.add(name);
            await c.call("RpcResize", { MountID: M, InodeNumber: ino, NewSize: 0n });
            model[w]!.set(name, { size: 0n });
          } else if (r < 0.8) {
            inflight[w]!.add(name);
            await c.call("RpcUnlink", { MountID: M, InodeNumber: d, Basename: name });
            model[w]!.set(name, null);
          } else {
            const to = `f${Math.floor(rnd() * NAMES)}`;
            if (to === name) continue;
            inflight[w]!.add(name).add(to);
            await c.call("RpcRename", { MountID: M, SrcDirInodeNumber: d, SrcBasename: name, DstDirInodeNumber: d, DstBasename: to });
            model[w]!.set(to, cur);
            model[w]!.set(name, null);
          }
          acked++;
          inflight[w]!.clear();
        } catch (err) {
          if (stop) return; // killed mid-call: the names in `inflight` are uncertain
          throw err;
        }
      }
    };

    const verify = async (mc: MountedClient): Promise<number> => {
      let checked = 0;
      for (let w = 0; w < W; w++) {
        for (let i = 0; i < NAMES; i++) {
          const name = `f${i}`;
          let actual: Known;
          try {
            actual = { size: (await mc.client.call("RpcLookupPlus", { MountID: mc.mountId, InodeNumber: dirs[w]!, Basename: name })).Size };
          } catch (err) {
            if (errnoOf(err) !== 2) throw err;
            actual = null;
          }
          if (inflight[w]!.has(name)) {
            model[w]!.set(name, actual); // outcome of the interrupted call, now known
            continue;
          }
          const want = model[w]!.get(name) ?? null;
          assert.deepEqual(actual, want, `worker ${w} ${name} after restart (acknowledged state lost)`);
          checked++;
        }
        inflight[w]!.clear();
      }
      return checked;
    };

    let verified = 0;
    for (let k = 0; k < KILLS; k++) {
      stop = false;
      const work = Array.from({ length: W }, (_, w) => worker(w, m!));
      await new Promise((r) => setTimeout(r, 150 + rnd() * 500));
      stop = true;
      p.child.kill("SIGKILL");
      await once(p.child, "exit");
      await m.rpc.close();
      await Promise.all(work);
      p = await startProxyfsd(conf);
      m = await mountClient(p.port, "AUTH_test");
      verified += await verify(m);
    }
    // A last clean stop, then an offline fsck.
    p.child.kill("SIGTERM");
    assert.equal((await once(p.child, "exit"))[0], 0, p.log());
    await m.rpc.close();
    const fsck = await runPfs(["fsck", "--conf", conf]);
    assert.equal(fsck.code, 0, fsck.out + fsck.err);
    assert.match(fsck.out, /^clean: /m);
    assert.match(fsck.err, /fsck: checked \d+ inodes/);
    createLatencies.sort((a, b) => a - b);
    const median = createLatencies[Math.floor(createLatencies.length / 2)] ?? NaN;
    t.diagnostic(`${KILLS} kills, ${acked} acknowledged mutations, ${verified} names verified; synced Create median ${median.toFixed(2)} ms over ${createLatencies.length}`);
    assert.ok(acked > KILLS * 10, `workload made progress (${acked} acknowledged mutations)`);
  } finally {
    if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await m?.rpc.close().catch(() => {});
    await segStore.close();
    await swift.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
