// pfsagentd's retryrpc connection under faults, on a real mount:
//  1. a TLS-terminating relay (rpc-relay-main) between the agent and proxyfsd cuts every
//     connection right after every K-th request (so proxyfsd runs it while its reply has nowhere
//     to go) during a metadata-heavy workload: every operation succeeds, none ran twice (an
//     exclusive create would see EEXIST, a rename or unlink ENOENT; proxyfsd executed no more
//     requests than distinct request ids were sent), the agent reconnected, the tree is as expected;
//  2. proxyfsd (the real binary, state persisted in the object store) killed and restarted under a
//     mounted agent: while it is down operations fail with a clear error within bounded time, never
//     hang; after the restart the agent re-mounts (new MountID) and the SAME mount keeps working,
//     an unlinked file held open survives another agent's orphan sweep (re-homed under the new
//     MountID), and SIGTERM after a further unnoticed restart exits 0;
//  3. an agent killed (SIGKILL) with an unlinked file open leaves it in .pfsagent-orphans; the
//     next mount removes it because its MountID is dead, and proxyfsd frees the inode;
//  4. in-process, no FUSE: connectProxyFs + RemountingRpc against proxyfsd's RPC front end
//     restarted in place or moved, and the double-execution resolution of re-sent calls.
// Processes: servers-main, rpc-relay-main, proxyfsd and pfsagentd are children; this process
// makes blocking fs calls on the mount (or runs python3 for syscalls Node lacks).
import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync, unlinkSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseJson } from "../../src/base/json/index.js";
import { orphanMountId, orphanName } from "../../src/agent/fs/orphan-dir.js";
import {
  canMount, cleanupSetup, isMounted, killAllChildren, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";
import { startServersBehindRelay, type Relay, type RelayedServers } from "./testing/rpc-relay.js";
import { Errno } from "../../src/base/errno.js";
import { ROOT_CALLER } from "../../src/volume/index.js";
import { RpcConnectError, RpcReplyError } from "../../src/rpc/index.js";
import { connectProxyFs, CREATION_SLACK_MS, RemountError, resolveResendFailure, type ProxyFsSession, type RemountEvent } from "../../src/agent/mount/index.js";
import { agentConfig, credentials, fixture, logger } from "./testing/proxyfs-fixture.js";

const skip = canMount && spawnSync("python3", ["-c", "1"]).status === 0 ? false : "needs root, /dev/fuse and python3";
const PROXYFSD = fileURLToPath(new URL("../../src/cmd/proxyfsd.js", import.meta.url));
const PFS = fileURLToPath(new URL("../../src/cmd/pfs.js", import.meta.url));

/** Creates (O_EXCL), writes, renames, unlinks and mkdirs; exits non-zero at the first error. */
const WORKLOAD = String.raw`
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
for i in range(n):
    a, b = os.path.join(d, "c%d" % i), os.path.join(d, "r%d" % i)
    fd = os.open(a, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    os.write(fd, (b"data %d\n" % i) * (i % 7 + 1))
    os.close(fd)
    os.rename(a, b)
    if i % 3 == 0:
        os.unlink(b)
    elif i % 3 == 1:
        os.mkdir(os.path.join(d, "dir%d" % i))
`;

function expectedTree(n: number): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (let i = 0; i < n; i++) {
    if (i % 3 !== 0) m.set(`r${i}`, `data ${i}\n`.repeat((i % 7) + 1));
    if (i % 3 === 1) m.set(`dir${i}`, null);
  }
  return m;
}

function assertTree(dir: string, want: Map<string, string | null>): void {
  assert.deepEqual(readdirSync(dir).sort(), [...want.keys()].sort(), `entries of ${dir}`);
  for (const [name, content] of want) {
    if (content === null) assert.ok(statSync(join(dir, name)).isDirectory(), `${name} is a directory`);
    else assert.equal(readFileSync(join(dir, name), "utf8"), content, `content of ${name}`);
  }
}

/** Runs a child to completion (async: the test process stays responsive), with a timeout. */
function runChild(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; signal: string | null; out: string; ms: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d: Buffer) => (out += d.toString()));
    c.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => c.kill("SIGKILL"), timeoutMs);
    c.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out, ms: Date.now() - t0 });
    });
  });
}

async function getJson(port: number, path: string): Promise<unknown> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return parseJson(await r.text());
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

describe("pfsagentd: retryrpc connection cut repeatedly during a workload", { skip }, () => {
  let env: RelayedServers | undefined;
  let servers: Servers | undefined;
  let relay: Relay | undefined;
  const setups: AgentSetup[] = [];

  before(async () => {
    env = await startServersBehindRelay("pfs-reconnect-tls-", ["--control"]);
    ({ relay, servers } = env);
  });

  after(async () => {
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await env?.stop();
  });

  test("every operation succeeds exactly once and the tree is complete", { timeout: 120_000 }, async (t) => {
    const setup = writeAgentConf(servers!.swiftPort);
    setups.push(setup);
    const agent = await startAgent(setup.confPath);
    const N = 150;
    try {
      await relay!.cutEvery(23);
      const r = await runChild("python3", ["-c", WORKLOAD, join(setup.mountpoint, "w"), String(N)], 100_000);
      await relay!.cutEvery(0);
      assert.equal(r.code, 0, `workload failed after ${r.ms} ms (a double execution shows as EEXIST/ENOENT):\n${r.out}`);
      assertTree(join(setup.mountpoint, "w"), expectedTree(N));
      const rs = await relay!.stats();
      assert.ok(rs.cuts >= 10, `the relay cut the connection ${rs.cuts} times`);
      assert.ok(rs.accepted > rs.cuts, `the agent reconnected (${rs.accepted} connections for ${rs.cuts} cuts)`);
      // proxyfsd ran each request id at most once: executed <= distinct ids the agent sent.
      const { frames } = await relay!.records();
      const sent = frames.filter((f) => f.dir === "c2s" && f.type === 1).map((f) => parseJson(f.body) as { myuniqueid: string; requestid: number });
      const distinct = new Set(sent.map((e) => `${e.myuniqueid}/${e.requestid}`)).size;
      const resent = sent.length - distinct;
      const st = ((await getJson(servers!.controlPort!, "/stats")) as { retryRpc: { executed: number; requests: number; repliedFromCache: number; joinedPending: number } }).retryRpc;
      t.diagnostic(`${rs.cuts} cuts, ${rs.accepted} connections, ${sent.length} requests sent (${resent} resent), proxyfsd: ${st.requests} received, ${st.executed} executed, ${st.repliedFromCache} answered from the reply cache, ${st.joinedPending} joined a running execution`);
      assert.ok(resent > 0, "some requests were resent after a cut");
      assert.ok(st.executed <= distinct, `proxyfsd executed ${st.executed} requests for ${distinct} distinct request ids`);
      assert.ok(st.repliedFromCache + st.joinedPending > 0, "retransmits were answered without running them again");
    } finally {
      await relay!.cutEvery(0);
      assert.equal(await agent.stop(), 0, `agent exits cleanly:\n${agent.log()}`);
    }
  });
});

describe("pfsagentd: proxyfsd killed and restarted under a mount", { skip }, () => {
  let dir = "";
  let servers: Servers | undefined;
  let proxyfsd: ChildProcess | undefined;
  let confPath = "";
  const setups: AgentSetup[] = [];
  let log = "";

  const startProxyfsd = (): Promise<void> => new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [PROXYFSD, confPath], { stdio: ["ignore", "ignore", "pipe"] });
    proxyfsd = c;
    const timer = setTimeout(() => reject(new Error(`proxyfsd not serving within 20 s:\n${log}`)), 20_000);
    c.stderr!.on("data", (d: Buffer) => {
      log += d.toString();
      if (/proxyfsd info: serving /.test(log.slice(-2000))) {
        clearTimeout(timer);
        resolve();
      }
    });
    c.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`proxyfsd exited ${code}:\n${log}`));
    });
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "pfs-restart-"));
    const tcpPort = await freePort();
    const retryPort = await freePort();
    servers = await startServers({ extraArgs: ["--proxyfs-port", String(tcpPort)] });
    confPath = join(dir, "proxyfsd.conf");
    writeFileSync(confPath, [
      "[Cluster]", "WhoAmI: Peer0", "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "PrivateIPAddr: 127.0.0.1",
      "[JSONRPCServer]", `TCPPort: ${tcpPort}`, `RetryRPCPort: ${retryPort}`,
      "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: CommonVolume", "PrimaryPeer: Peer0",
      "[Volume:CommonVolume]", "AccountName: AUTH_test", "CheckpointInterval: 1s",
      "[ObjectStore]", `AuthURL: http://127.0.0.1:${servers.swiftPort}/auth/v1.0`, "AuthUser: test:tester", "AuthKey: testing",
      "[TLS]", `Directory: ${join(dir, "tls")}`, "",
    ].join("\n"));
    await startProxyfsd();
  });

  after(async () => {
    killAllChildren();
    proxyfsd?.kill("SIGKILL");
    for (const s of setups) cleanupSetup(s);
    await servers?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("operations fail cleanly while proxyfsd is down; after its restart the same mount keeps working (re-mount), an unlinked open file survives another agent's sweep, SIGTERM exits 0", { timeout: 150_000 }, async (t) => {
    const setup = writeAgentConf(servers!.swiftPort, { RetryRPCDeadlineIO: "5s" });
    setups.push(setup);
    const agent = await startAgent(setup.confPath);
    const m = setup.mountpoint;
    let holder: LineChild | undefined;
    let stopped = false;
    try {
      writeFileSync(join(m, "before"), "persisted\n");
      assert.equal(readFileSync(join(m, "before"), "utf8"), "persisted\n");
      // A child holds a file it unlinked: the agent keeps it in .pfsagent-orphans under its MountID.
      holder = spawnLines("python3", ["-c", HOLDER, join(m, "held")]);
      assert.equal(await holder.next(), "ok");
      const oldId = mountIdOf(agent.log());

      proxyfsd!.kill("SIGKILL");
      await new Promise((r) => proxyfsd!.once("exit", r));
      // While proxyfsd is down: a metadata operation returns an error (after the client's
      // redial schedule) instead of hanging.
      const down = await runChild("stat", [join(m, "nothere")], 60_000);
      t.diagnostic(`stat with proxyfsd down: exit ${down.code} after ${down.ms} ms: ${down.out.trim()}`);
      assert.equal(down.signal, null, "stat did not hang");
      assert.notEqual(down.code, 0);
      await startProxyfsd();

      // The new proxyfsd does not know the old MountID; the agent mounts again and the same FUSE
      // mount goes on: old files read, new ones are made, names resolve (inode numbers persist).
      const after = await runChild("sh", ["-c", `set -e; cat ${m}/before; echo new > ${m}/after; cat ${m}/after; ls ${m}`], 60_000);
      t.diagnostic(`cat + create + ls after the restart: exit ${after.code} after ${after.ms} ms`);
      assert.equal(after.code, 0, `${after.out}\n${agent.log()}`);
      assert.equal(after.out, "persisted\nnew\nafter\nbefore\n", agent.log());
      const re = /re-mounted as MountID (\S+) \(was (\S+)\)/.exec(agent.log());
      assert.ok(re, `the agent re-mounted:\n${agent.log()}`);
      assert.equal(re[2], oldId);
      assert.notEqual(re[1], oldId);

      // Another agent mounting now removes the orphans of dead MountIDs (the old one is dead): the
      // held file was renamed under the new MountID, so it stays and its holder can still use it.
      const setup2 = writeAgentConf(servers!.swiftPort);
      setups.push(setup2);
      const agent2 = await startAgent(setup2.confPath);
      try {
        await new Promise((r) => setTimeout(r, 1500)); // its sweep runs in the background
        holder.send("check");
        assert.equal(await holder.next(), "data 15 b'held data\\nmore\\n'", agent.log());
        assert.doesNotMatch(agent2.log(), /removed \d+ unlinked file/);
        assert.equal(readFileSync(join(setup2.mountpoint, "after"), "utf8"), "new\n");
      } finally {
        assert.equal(await agent2.stop(), 0, agent2.log());
      }
      holder.send("close");
      assert.equal(await holder.next(), "closed");

      // Written while proxyfsd is down: the file's RpcProvisionObject/RpcWrote wait in the retryrpc
      // queue, are refused by the restarted proxyfsd and re-sent under the next MountID (fsync
      // waits for them).
      const writer = spawnLines("python3", ["-c", WRITER, join(m, "dirty")]);
      assert.equal(await writer.next(), "ok");
      proxyfsd!.kill("SIGKILL");
      await new Promise((r) => proxyfsd!.once("exit", r));
      const resentBefore = await metric(agent.httpPort, "RemountResentCalls");
      writer.send("write");
      await new Promise((r) => setTimeout(r, 1000));
      await startProxyfsd();
      assert.equal(await writer.next(), "closed", agent.log());
      const resent = (await metric(agent.httpPort, "RemountResentCalls")) - resentBefore;
      t.diagnostic(`calls re-sent under the new MountID after the write during the outage: ${resent}`);
      assert.ok(resent >= 1, "the write's RPCs were re-sent under the new MountID");
      assert.equal(readFileSync(join(m, "dirty"), "utf8"), "dirty data\n".repeat(1000));
      assert.equal(agent.log().match(/re-mounted as MountID/g)?.length, 2, agent.log());

      // Restarted again and SIGTERM before the agent noticed: unmount must not fail.
      proxyfsd!.kill("SIGKILL");
      await new Promise((r) => proxyfsd!.once("exit", r));
      await startProxyfsd();
      stopped = true;
      const code = await agent.stop();
      assert.equal(code, 0, agent.log());
      assert.ok(!isMounted(m));
    } finally {
      holder?.child.kill("SIGKILL");
      if (!stopped) t.diagnostic(`agent exit code: ${await agent.stop()}`);
    }
    // A fresh mount sees what was acknowledged before and after the kill.
    const setup3 = writeAgentConf(servers!.swiftPort);
    setups.push(setup3);
    const agent3 = await startAgent(setup3.confPath);
    try {
      assert.equal(readFileSync(join(setup3.mountpoint, "before"), "utf8"), "persisted\n");
      assert.equal(readFileSync(join(setup3.mountpoint, "after"), "utf8"), "new\n");
      assert.equal(readFileSync(join(setup3.mountpoint, "dirty"), "utf8"), "dirty data\n".repeat(1000));
    } finally {
      assert.equal(await agent3.stop(), 0, agent3.log());
    }
  });

  test("kill -9 of proxyfsd during an untar-like workload while a second agent lists: every file whose close returned is there with its bytes; fsck is clean", { timeout: 150_000 }, async (t) => {
    const sa = writeAgentConf(servers!.swiftPort);
    const sb = writeAgentConf(servers!.swiftPort);
    setups.push(sa, sb);
    const a = await startAgent(sa.confPath);
    const b = await startAgent(sb.confPath);
    const root = join(sa.mountpoint, "untar");
    const lister = { stop: false, listings: 0, errors: 0 };
    const listing = (async () => {
      while (!lister.stop) {
        const r = await runChild("find", [join(sb.mountpoint, "untar")], 20_000);
        if (r.code === 0) lister.listings++;
        else lister.errors++;
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    try {
      const work = runChild("python3", ["-c", UNTAR_LIKE, root, "800"], 90_000);
      await new Promise((res) => setTimeout(res, 1500));
      proxyfsd!.kill("SIGKILL");
      await new Promise((res) => proxyfsd!.once("exit", res));
      await new Promise((res) => setTimeout(res, 500));
      await startProxyfsd();
      const r = await work;
      lister.stop = true;
      await listing;
      const lines = r.out.split("\n").filter((l) => l.startsWith("ok "));
      const failed = r.out.split("\n").filter((l) => l.startsWith("error "));
      t.diagnostic(`workload: ${lines.length} files closed, ${failed.length} failed during the outage; B listed ${lister.listings} times (${lister.errors} failed)`);
      assert.equal(r.code, 0, r.out.slice(-2000));
      assert.match(a.log(), /re-mounted as MountID/, "the kill happened under the workload");
      assert.ok(lines.length >= 500, `most files were written: ${lines.length}\n${r.out.slice(-1000)}`);
      assert.ok(lister.listings >= 1, "the second agent listed the tree");
      // Every file whose close returned, with its bytes (every 20th also through B, whose reads
      // take A's leases one by one).
      lines.forEach((l, i) => {
        const [, rel, size] = l.split(" ");
        const want = Buffer.alloc(Number(size), rel!);
        assert.deepEqual(readFileSync(join(sa.mountpoint, "untar", rel!)), want, `${rel} on A`);
        if (i % 20 === 0) assert.deepEqual(readFileSync(join(sb.mountpoint, "untar", rel!)), want, `${rel} on B`);
      });
    } finally {
      lister.stop = true;
      assert.equal(await b.stop(), 0, b.log());
      assert.equal(await a.stop(), 0, a.log());
    }
    // The volume is consistent: proxyfsd stopped cleanly (checkpoint), then fsck.
    proxyfsd!.kill("SIGTERM");
    await new Promise((res) => proxyfsd!.once("exit", res));
    const fsck = spawnSync(process.execPath, [PFS, "fsck", "--auth-url", `http://127.0.0.1:${servers!.swiftPort}/auth/v1.0`, "--user", "test:tester", "--key", "testing", "--account", "AUTH_test", "--quiet"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(fsck.status, 0, `${fsck.stdout}${fsck.stderr}`);
    assert.match(fsck.stdout, /^clean: /m);
    await startProxyfsd();
  });
});

/** Holds a file open after unlinking it; on "check" appends, fsyncs, fstats and reads it back. */
const HOLDER = String.raw`
import os, sys
p = sys.argv[1]
fd = os.open(p, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"held data\n")
os.fsync(fd)
os.unlink(p)
print("ok", flush=True)
for line in sys.stdin:
    cmd = line.strip()
    if cmd == "check":
        try:
            os.write(fd, b"more\n")
            os.fsync(fd)
            st = os.fstat(fd)
            print("data %d %r" % (st.st_size, os.pread(fd, 100, 0)), flush=True)
        except OSError as e:
            print("error %s" % e, flush=True)
    elif cmd == "close":
        os.close(fd)
        print("closed", flush=True)
        break
`;

/** One counter of the agent's GET /metrics ("name value" lines). */
async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name}\\s+(\\d+)\\s*$`, "m").exec(text);
  assert.ok(m, `no ${name} in /metrics:\n${text}`);
  return Number(m[1]);
}

/** Opens (creates) a file; on a line from stdin writes 11000 bytes and closes it. */
/**
 * Writes argv[2] files of 1-20 KiB into 20 directories under argv[1], as tar does (create, write,
 * close, chmod, utime), every 10th also fsync'd; prints "ok <relative path> <size>" once a file's
 * close returned, "error <path> <message>" when an operation failed (proxyfsd down), then goes on.
 */
const UNTAR_LIKE = String.raw`
import os, sys, time
root, n = sys.argv[1], int(sys.argv[2])
os.makedirs(root, exist_ok=True)
for d in range(20):
    for attempt in range(100):
        try:
            os.makedirs(os.path.join(root, "d%d" % d), exist_ok=True)
            break
        except OSError:
            time.sleep(0.1)
for i in range(n):
    rel = "d%d/f%d" % (i % 20, i)
    size = 1024 + (i * 997) % (19 * 1024)
    p = os.path.join(root, rel)
    try:
        fd = os.open(p, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        data = (rel.encode() * (size // len(rel) + 1))[:size]
        os.write(fd, data)
        if i % 10 == 0:
            os.fsync(fd)
        os.close(fd)
        os.chmod(p, 0o644)
        os.utime(p, (1600000000, 1600000000 + i))
        print("ok %s %d" % (rel, size), flush=True)
    except OSError as e:
        print("error %s %s" % (rel, e), flush=True)
`;

const WRITER = String.raw`
import os, sys
fd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
print("ok", flush=True)
sys.stdin.readline()
try:
    os.write(fd, b"dirty data\n" * 1000)
    os.fsync(fd)  # a close under the Exclusive lease would not wait for the data path
    os.close(fd)
    print("closed", flush=True)
except OSError as e:
    print("error %s" % e, flush=True)
`;

interface LineChild {
  child: ChildProcess;
  /** The next line of stdout (rejects after 60 s or when the child exits first). */
  next(): Promise<string>;
  send(line: string): void;
}

function spawnLines(cmd: string, args: string[]): LineChild {
  const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  const lines: string[] = [];
  let buf = "";
  let err = "";
  let wake: (() => void) | undefined;
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
    wake?.();
  });
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  child.on("close", () => wake?.());
  return {
    child,
    send: (line) => child.stdin!.write(`${line}\n`),
    next: async () => {
      const deadline = Date.now() + 60_000;
      while (lines.length === 0) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${cmd} exited (${child.exitCode ?? child.signalCode}): ${err}`);
        if (Date.now() > deadline) throw new Error(`${cmd}: no line within 60 s: ${err}`);
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 500);
        });
      }
      return lines.shift()!;
    },
  };
}

describe("pfsagentd: unlinked-but-open files of a killed agent are removed at the next mount", { skip }, () => {
  let servers: Servers | undefined;
  const setups: AgentSetup[] = [];

  before(async () => {
    servers = await startServers({ extraArgs: ["--control"] });
  });

  after(async () => {
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await servers?.stop();
  });

  test("kill -9 with an orphan, remount: the orphan is gone and its inode freed; a live agent's orphan stays", { timeout: 60_000 }, async () => {
    const id = "ab/c+d/efghijklmnopqrs==";
    assert.equal(orphanMountId(orphanName(id, 77n)), id, "orphanMountId inverts orphanName");
    assert.equal(orphanMountId("not-an-orphan"), undefined);
    const orphans = async () => (await getJson(servers!.controlPort!, "/orphans")) as Array<{ name: string; ino: string; exists: boolean }>;

    // A live agent B with an orphan of its own: must survive the sweep.
    const setupB = writeAgentConf(servers!.swiftPort);
    setups.push(setupB);
    const b = await startAgent(setupB.confPath);
    const fdB = openSync(join(setupB.mountpoint, "b-open"), "w+");
    writeSync(fdB, "b's data");
    unlinkSync(join(setupB.mountpoint, "b-open"));

    // Agent A: a file unlinked while open, then SIGKILL (no last close, no unmount).
    const setupA = writeAgentConf(servers!.swiftPort);
    setups.push(setupA);
    const a = await startAgent(setupA.confPath);
    // The open is held by a child process: this process must not hold files on a mount whose
    // agent gets killed (a later close could block).
    const holder = spawn("python3", ["-c", "import os,sys,time\nf=open(sys.argv[1],'w+'); f.write('x'*100000); f.flush(); os.unlink(sys.argv[1]); print('ok', flush=True); time.sleep(60)", join(setupA.mountpoint, "a-open")], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise<void>((resolve, reject) => {
      holder.stdout!.on("data", (d: Buffer) => (d.toString().includes("ok") ? resolve() : undefined));
      holder.once("exit", (c) => reject(new Error(`holder exited ${c}`)));
    });
    let before = await orphans();
    assert.equal(before.length, 2, `two orphans, one per agent: ${JSON.stringify(before)}`);
    a.child.kill("SIGKILL");
    await new Promise((r) => a.child.once("exit", r));
    holder.kill("SIGKILL");
    spawnSync("umount", ["-l", setupA.mountpoint]);
    before = await orphans();
    assert.equal(before.length, 2, "the killed agent's orphan stays until someone sweeps");

    // Agent C mounts: A's MountID is still mounted on the server (A never unmounted), so its
    // orphan must stay too. (proxyfsd forgets a mount on unmount or when its leases expire.)
    // Remove A's mount the way an operator or lease expiry would: unmount it through JSON-RPC.
    const aMountId = orphanMountId(before.find((o) => !o.name.startsWith(mountIdOf(b.log()).replace(/\//g, "_").replace(/\+/g, "-")))!.name)!;
    const um = await fetch(`http://127.0.0.1:${servers!.swiftPort}/proxyfs/AUTH_test`, {
      method: "PROXYFS",
      headers: { "X-Auth-Token": await token(servers!.swiftPort), "Content-Type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", method: "Server.RpcUnmount", id: 9, params: [{ MountID: aMountId }] }),
    });
    assert.equal(um.status, 200, await um.text());

    const setupC = writeAgentConf(servers!.swiftPort);
    setups.push(setupC);
    const c = await startAgent(setupC.confPath);
    try {
      let after: Awaited<ReturnType<typeof orphans>> = [];
      for (let i = 0; i < 50; i++) {
        after = await orphans();
        if (after.length === 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(after.length, 1, `only the live agent's orphan is left: ${JSON.stringify(after)}`);
      assert.equal(orphanMountId(after[0]!.name), mountIdOf(b.log()), "B's orphan stays");
      const gone = before.find((o) => o.name !== after[0]!.name)!;
      const still = await orphans();
      assert.ok(!still.some((o) => o.ino === gone.ino), "A's orphan name is gone");
      assert.deepEqual(await getJson(servers!.controlPort!, `/inode/${gone.ino}`), { exists: false }, "its inode (and extents) were freed");
      assert.deepEqual(await getJson(servers!.controlPort!, `/inode/${after[0]!.ino}`), { exists: true });
      assert.match(c.log(), /removed 1 unlinked file\(s\) left open by dead mounts/);
      // B still reads its unlinked file; its last close removes it.
      const buf = Buffer.alloc(8);
      assert.equal(readSync(fdB, buf, 0, 8, 0), 8);
      assert.equal(buf.toString(), "b's data");
      closeSync(fdB);
    } finally {
      assert.equal(await c.stop(), 0, c.log());
      assert.equal(await b.stop(), 0, b.log());
    }
    assert.equal(existsSync(setupA.mountpoint) && isMounted(setupA.mountpoint), false);
  });
});

function mountIdOf(agentLog: string): string {
  const m = /as MountID (\S+);/.exec(agentLog);
  assert.ok(m, `no MountID in the agent log:\n${agentLog}`);
  return m[1]!;
}

async function token(swiftPort: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${swiftPort}/auth/v1.0`, { headers: { "X-Auth-User": "test:tester", "X-Auth-Key": "testing" } });
  return r.headers.get("x-auth-token") ?? "";
}

// In-process (no FUSE): connectProxyFs + RemountingRpc with proxyfsd's RPC front end restarted in
// place or "moved" (another retryrpc port and CA) under a session (testing/proxyfs-fixture.ts).
describe("connectProxyFs: proxyfsd restarted under a session", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  });

  test("re-mounts, re-sends the refused call under the new MountID, runs listeners first, unmounts the new MountID", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { lines, log } = logger();
    const session = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test" });
    cleanups.push(() => session.disconnect());
    const id1 = session.mountId;
    const ino = (await session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "a", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;

    const events: Array<RemountEvent & { lookedUp: bigint }> = [];
    session.onRemount(async (e) => {
      // A listener may call the server (AgentFs renames its orphans here) without deadlocking.
      const r = await session.rpc.call("RpcLookup", { MountID: e.mountId, InodeNumber: 1n, Basename: "a" });
      events.push({ ...e, lookedUp: r.InodeNumber });
    });
    const s2 = await f.restart();
    // The request still names the old MountID: RemountingRpc rewrites it.
    const got = await session.rpc.call("RpcLookup", { MountID: id1, InodeNumber: 1n, Basename: "a" });
    assert.equal(got.InodeNumber, ino, "the inode number survived the restart");
    assert.notEqual(session.mountId, id1);
    assert.deepEqual(s2.mountIds(), [session.mountId], "the new proxyfsd knows exactly the new MountID");
    assert.equal(events.length, 1);
    assert.equal(events[0]!.previousMountId, id1);
    assert.equal(events[0]!.mountId, session.mountId);
    assert.equal(events[0]!.lookedUp, ino);
    assert.deepEqual({ ...session.rpc.stats }, { remounts: 1, remountFailures: 0, resent: 1, resolvedDoubleExecutions: 0 });
    assert.ok(lines.some((l) => /^info re-mounted as MountID \S+ \(was /.test(l)), lines.join("\n"));

    // Many calls refused at once: one remount for all of them.
    await f.restart();
    const all = await Promise.all(Array.from({ length: 8 }, () => session.rpc.call("RpcGetStat", { MountID: id1, InodeNumber: ino })));
    assert.ok(all.every((st) => st.StatInodeNumber === ino));
    assert.equal(session.rpc.stats.remounts, 2, "one remount for eight refused calls");
    assert.equal(events.length, 2);

    cleanups.pop();
    await session.disconnect();
    assert.deepEqual(f.server.mountIds(), [], "disconnect unmounted the current MountID");
  });

  test("proxyfsd moved (new retryrpc port and CA): the unreachable call fails, the agent re-mounts in the background and goes on there", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { lines, log } = logger();
    const session = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test", redial: { connectRetryLimit: 2, connectRetryDelayMs: 50 } });
    cleanups.push(() => session.disconnect());
    const id1 = session.mountId;
    const ino = (await session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "m", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    const oldPort = f.server.retryRpcPort;
    const s2 = await f.restart({ moved: true });
    assert.notEqual(s2.retryRpcPort, oldPort);
    await assert.rejects(session.rpc.call("RpcGetStat", { MountID: id1, InodeNumber: ino }), RpcConnectError);
    for (let i = 0; i < 50 && session.mountId === id1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(session.mountId, id1, `re-mounted in the background:\n${lines.join("\n")}`);
    assert.equal(session.reply.RetryRPCPort, s2.retryRpcPort, "the new retryrpc address came from the mount reply");
    assert.equal((await session.rpc.call("RpcGetStat", { MountID: id1, InodeNumber: ino })).StatInodeNumber, ino);
    assert.deepEqual(s2.mountIds(), [session.mountId]);
    assert.ok(lines.some((l) => l.includes("unreachable over retryrpc")), lines.join("\n"));
  });

  test("disconnect after a restart nobody noticed succeeds (the MountID is already gone)", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { lines, log } = logger();
    const session = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test" });
    await session.rpc.call("RpcGetStat", { MountID: session.mountId, InodeNumber: 1n });
    await f.restart();
    await session.disconnect();
    assert.ok(lines.some((l) => l.includes("was already unknown to proxyfsd")), lines.join("\n"));
    assert.equal(session.rpc.stats.remounts, 0, "shutting down does not mount again");
  });

  test("a failed re-mount fails the waiting calls with RemountError; the next attempt waits for the retry delay; then it recovers", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { lines, log } = logger();
    const session = await connectProxyFs(agentConfig("SwiftRetryDelay: 400ms\nSwiftRetryLimit: 0"), credentials(f.swift), { log, userAgent: "test" });
    cleanups.push(() => session.disconnect());
    // proxyfsd back on its retryrpc port, but its JSON-RPC port is not where the proxy relays.
    await f.restart({ jsonRpcPort: 0 });
    const t0 = Date.now();
    await assert.rejects(session.rpc.call("RpcGetStat", { MountID: session.mountId, InodeNumber: 1n }), (err: unknown) => {
      assert.ok(err instanceof RemountError, String(err));
      assert.equal(err.code, "ERR_REMOUNT");
      assert.match(err.message, /re-mounting after proxyfsd forgot MountID .* failed \(attempt 1\): PROXYFS Server\.RpcMountByAccountName/);
      return true;
    });
    const t1 = Date.now();
    await assert.rejects(session.rpc.call("RpcGetStat", { MountID: session.mountId, InodeNumber: 1n }), RemountError);
    const t2 = Date.now();
    assert.ok(t2 - t1 >= 250, `the second attempt waited for the retry delay (${t2 - t1} ms; first took ${t1 - t0} ms)`);
    assert.equal(session.rpc.stats.remountFailures, 2);
    assert.equal(lines.filter((l) => l.includes("mounting again")).length, 2);

    // proxyfsd fully back: the next call re-mounts and succeeds.
    await f.restart();
    const st = await session.rpc.call("RpcGetStat", { MountID: session.mountId, InodeNumber: 1n });
    assert.equal(st.StatInodeNumber, 1n);
    assert.equal(session.rpc.stats.remounts, 1);
  });

  test("the idle probe re-mounts without any caller", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { log } = logger();
    const session: ProxyFsSession = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test", probeIntervalMs: 200 });
    cleanups.push(() => session.disconnect());
    const id1 = session.mountId;
    await f.restart();
    for (let i = 0; i < 50 && session.mountId === id1; i++) await new Promise((r) => setTimeout(r, 100));
    assert.notEqual(session.mountId, id1, "re-mounted by the probe");
    assert.deepEqual(f.server.mountIds(), [session.mountId]);
  });

  test("a non-idempotent call that ran on the old incarnation is resolved, a genuine conflict is not", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { lines, log } = logger();
    const session = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test" });
    cleanups.push(() => session.disconnect());
    const id1 = session.mountId;
    // The first transmission ran (here: on the old server, before its "crash"), the reply was lost.
    await session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "twice", UserID: 0, GroupID: 0, FileMode: 0o640 });
    await session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "theirs", UserID: 0, GroupID: 0, FileMode: 0o640 });
    await f.restart();
    // Re-sent after the restart: EEXIST from the second execution is recognised as ours.
    const again = await session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "twice", UserID: 0, GroupID: 0, FileMode: 0o640 });
    assert.equal(again.InodeNumber, f.volume.lookup(ROOT_CALLER, 1n, "twice").ino);
    assert.equal(session.rpc.stats.resolvedDoubleExecutions, 1);
    assert.ok(lines.some((l) => /RpcCreate re-sent under MountID .* had already run on the previous proxyfsd/.test(l)), lines.join("\n"));
    // A file someone else made (other permissions) is a real EEXIST, re-sent or not.
    await f.restart();
    await assert.rejects(
      session.rpc.call("RpcCreate", { MountID: id1, InodeNumber: 1n, Basename: "theirs", UserID: 0, GroupID: 0, FileMode: 0o600 }),
      (err: unknown) => err instanceof RpcReplyError && err.errno === Errno.EEXIST,
    );
    assert.equal(session.rpc.stats.remounts, 2);
    assert.equal(session.rpc.stats.resolvedDoubleExecutions, 1);
  });

  test("resolveResendFailure: the double-execution errors it explains, and those it leaves standing", async () => {
    const f = await fixture();
    cleanups.push(() => f.close());
    const { log } = logger();
    const session = await connectProxyFs(agentConfig(), credentials(f.swift), { log, userAgent: "test" });
    cleanups.push(() => session.disconnect());
    const id = session.mountId;
    const rpc = session.rpc.current.rpc;
    const err = (method: string, errno: number) => new RpcReplyError(method, `errno: ${errno}`);
    const t0 = Date.now() - 100;
    const resolve = (method: string, req: object, errno: number, issuedAt = t0) => resolveResendFailure(rpc, id, method, { MountID: id, ...req }, err(method, errno), issuedAt);

    const mk = { InodeNumber: 1n, Basename: "d", UserID: 0, GroupID: 0, FileMode: 0o755 };
    const d = (await rpc.call("RpcMkdir", { MountID: id, ...mk })).InodeNumber;
    assert.deepEqual((await resolve("RpcMkdir", mk, Errno.EEXIST))?.reply, { InodeNumber: d });
    assert.equal(await resolve("RpcMkdir", { ...mk, FileMode: 0o700 }, Errno.EEXIST), undefined, "other permissions: not ours");
    assert.equal(await resolve("RpcMkdir", mk, Errno.EEXIST, Date.now() + CREATION_SLACK_MS + 5000), undefined, "older than the call: not ours");
    assert.equal(await resolve("RpcMkdir", mk, Errno.EACCES), undefined, "not a double-execution errno");

    const sl = { InodeNumber: 1n, Basename: "s", Target: "tgt", UserID: 0, GroupID: 0 };
    const s1 = (await rpc.call("RpcSymlink", { MountID: id, ...sl })).InodeNumber;
    assert.deepEqual((await resolve("RpcSymlink", sl, Errno.EEXIST))?.reply, { InodeNumber: s1 });
    assert.equal(await resolve("RpcSymlink", { ...sl, Target: "other" }, Errno.EEXIST), undefined);

    const cr = { InodeNumber: 1n, Basename: "f", UserID: 0, GroupID: 0, FileMode: 0o644 };
    const fi = (await rpc.call("RpcCreate", { MountID: id, ...cr })).InodeNumber;
    assert.deepEqual((await resolve("RpcCreate", cr, Errno.EEXIST))?.reply, { InodeNumber: fi });
    assert.equal(await resolve("RpcCreate", { ...cr, UserID: 1000 }, Errno.EEXIST), undefined, "other owner: not ours");

    await rpc.call("RpcLink", { MountID: id, InodeNumber: 1n, Basename: "f2", TargetInodeNumber: fi });
    assert.ok(await resolve("RpcLink", { InodeNumber: 1n, Basename: "f2", TargetInodeNumber: fi }, Errno.EEXIST));
    assert.equal(await resolve("RpcLink", { InodeNumber: 1n, Basename: "f2", TargetInodeNumber: d }, Errno.EEXIST), undefined);
    assert.equal(await resolve("RpcCreate", cr, Errno.EEXIST), undefined, "a file with two links is not a fresh create");

    assert.ok(await resolve("RpcUnlink", { InodeNumber: 1n, Basename: "gone" }, Errno.ENOENT));
    assert.equal(await resolve("RpcUnlink", { InodeNumber: 1n, Basename: "gone" }, Errno.EACCES), undefined);

    const rn = { SrcDirInodeNumber: 1n, SrcBasename: "moved-away", DstDirInodeNumber: 1n, DstBasename: "f" };
    assert.ok(await resolve("RpcRename", rn, Errno.ENOENT), "source gone, destination there");
    assert.equal(await resolve("RpcRename", { ...rn, SrcBasename: "f2" }, Errno.ENOENT), undefined, "source still there");
    assert.equal(await resolve("RpcRename", { ...rn, DstBasename: "nothere" }, Errno.ENOENT), undefined, "destination missing");
    assert.ok(await resolve("RpcRename2", { ...rn, Flags: 1 }, Errno.EEXIST), "RENAME_NOREPLACE run twice");
    assert.equal(await resolve("RpcRename2", { ...rn, Flags: 2 }, Errno.ENOENT), undefined, "RENAME_EXCHANGE is never resolved");
  });
});
