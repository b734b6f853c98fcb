// End to end, two pfsagentd mounts of one volume (real FUSE, real proxyfsd, embedded Swift-API
// server): lease-based cache coherence. A reader's lease request makes the server interrupt the
// writer, which flushes before the reader goes on; a revoked reader drops its caches, the kernel's
// included; a leased inode's attributes are served without asking the server; SharedLeaseLimit,
// ExclusiveLeaseLimit and ExtentMapEntryLimit bound what an agent keeps.
// Needs root and /dev/fuse; skipped without them.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { spawn } from "node:child_process";
import { closeSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  canMount, cleanupSetup, isMounted, killAllChildren, startAgent, startServers, writeAgentConf, type AgentProcess, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";

const skip = canMount ? false : "needs root and /dev/fuse";
const md5 = (b: Buffer): string => createHash("md5").update(b).digest("hex");

let servers: Servers | undefined;
const setups: AgentSetup[] = [];
after(async () => {
  killAllChildren();
  for (const s of setups) cleanupSetup(s);
  await servers?.stop();
});

async function metrics(agent: AgentProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  return new Map(text.split("\n").filter((l) => l.trim() !== "").map((l) => {
    const [k, v] = l.trim().split(/\s+/);
    return [k!, Number(v)];
  }));
}

type Leases = Record<string, string[]> & { MountID: string };
async function leases(agent: AgentProcess): Promise<Leases> {
  return (await (await fetch(`http://127.0.0.1:${agent.httpPort}/leases?compact=1`)).json()) as Leases;
}
const hex = (ino: number | bigint): string => BigInt(ino).toString(16).toUpperCase().padStart(16, "0");

/** Polls until check passes (voluntary releases run in the background) or the time is up. */
async function eventually<T>(get: () => Promise<T>, check: (v: T) => boolean, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (check(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

function preadAll(fd: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  let n = 0;
  while (n < len) {
    const r = readSync(fd, b, n, len - n, n);
    if (r === 0) break;
    n += r;
  }
  return b.subarray(0, n);
}

test("leases: writers flush for readers, revoked readers drop their caches, limits hold", { skip, timeout: 180_000 }, async () => {
  servers = await startServers();
  // A's LogSegments stay open for a minute unless something flushes them.
  const sa = writeAgentConf(servers.swiftPort, { MaxFlushTime: "60s" });
  // B keeps few leases and few extent entries, and fetches extents in small chunks.
  const sb = writeAgentConf(servers.swiftPort, {
    SharedLeaseLimit: "2", ExclusiveLeaseLimit: "2", ExtentMapEntryLimit: "8", FetchExtentsFromFileOffset: "4",
  });
  setups.push(sa, sb);
  const a = await startAgent(sa.confPath);
  const b = await startAgent(sb.confPath);
  const A = sa.mountpoint;
  const B = sb.mountpoint;

  // (a) A writes without closing (the data is only in A's open LogSegment); B opens and reads:
  // its lease request made the server interrupt A, which flushed first.
  const fdA = openSync(join(A, "f1"), "w");
  try {
    writeSync(fdA, Buffer.from("written by A, not closed"));
    assert.equal(readFileSync(join(B, "f1"), "utf8"), "written by A, not closed");
    const ma = await metrics(a);
    assert.ok((ma.get("LeaseInterrupts_Demote") ?? 0) + (ma.get("LeaseInterrupts_Release") ?? 0) >= 1, `A was interrupted: ${JSON.stringify([...ma])}`);
    // A writes again through the same descriptor: it takes its lease back, B sees that too.
    writeSync(fdA, Buffer.from("!"));
    assert.equal(readFileSync(join(B, "f1"), "utf8"), "written by A, not closed!");
  } finally {
    closeSync(fdA);
  }

  // (b) B has f2 open and read (kernel page cache warm); A overwrites and closes; B re-reads
  // through the SAME descriptor and sees the new bytes (its lease was revoked: caches dropped).
  writeFileSync(join(A, "f2"), "old old old old");
  const fdB = openSync(join(B, "f2"), "r");
  try {
    assert.equal(preadAll(fdB, 100).toString(), "old old old old");
    assert.equal(preadAll(fdB, 100).toString(), "old old old old");
    const fd2 = openSync(join(A, "f2"), "r+");
    writeSync(fd2, Buffer.from("NEW"), 0, 3, 4);
    closeSync(fd2);
    assert.equal(preadAll(fdB, 100).toString(), "old NEW old old");
    assert.ok(((await metrics(b)).get("LeaseInterrupts_Release") ?? 0) >= 1, "B's lease was revoked");

    // (c) Attributes of a leased inode come from B's cache, and the kernel keeps them for
    // LeasedCacheDuration (AttrDuration 0 is for what is not leased): 20 fstats make at most one
    // GETATTR and no RpcGetStat goes to the server.
    assert.equal(fstatSync(fdB).size, 15);
    const before = await metrics(b);
    for (let i = 0; i < 20; i++) assert.equal(fstatSync(fdB).size, 15);
    const afterM = await metrics(b);
    assert.ok(afterM.get("FUSE_DoGetAttr_calls")! - before.get("FUSE_DoGetAttr_calls")! <= 1, "the kernel kept B's leased attributes");
    assert.equal(afterM.get("RpcGetStatCalls"), before.get("RpcGetStatCalls"), "no RpcGetStat for a leased inode");
    // A changes the size: B's cache must not hide it (A's Exclusive lease revoked B's).
    writeFileSync(join(A, "f2"), "short");
    assert.equal(fstatSync(fdB).size, 5);
    assert.equal(preadAll(fdB, 100).toString(), "short");
  } finally {
    closeSync(fdB);
  }

  // (d) SharedLeaseLimit=2 on B: A writes 5 files (A holds them Exclusive), B reads all 5 (A is
  // demoted to Shared on each); B keeps at most 2 Shared leases, A (limit 1000) keeps all 5.
  const inos: number[] = [];
  for (let i = 0; i < 5; i++) {
    writeFileSync(join(A, `g${i}`), `file g${i}`);
    inos.push(statSync(join(A, `g${i}`)).ino);
  }
  for (let i = 0; i < 5; i++) assert.equal(readFileSync(join(B, `g${i}`), "utf8"), `file g${i}`);
  const lb = await eventually(() => leases(b), (l) => l.SharedGranted!.length <= 2);
  assert.ok(lb.SharedGranted!.length <= 2 && lb.SharedGranted!.length >= 1, `B holds ${JSON.stringify(lb)}`);
  assert.ok(lb.SharedGranted!.includes(hex(inos[4]!)), "the most recently used lease is kept");
  const la = await leases(a);
  assert.match(la.MountID, /\S/);
  for (const ino of inos) assert.ok(la.SharedGranted!.includes(hex(ino)), `A holds g-file ${hex(ino)} Shared: ${JSON.stringify(la)}`);
  // ExclusiveLeaseLimit=2 on B: B writes 4 files; it keeps at most 2 Exclusive leases and what
  // it released was flushed first (A reads it).
  for (let i = 0; i < 4; i++) writeFileSync(join(B, `h${i}`), `file h${i}`);
  const lb2 = await eventually(() => leases(b), (l) => l.ExclusiveGranted!.length <= 2);
  assert.ok(lb2.ExclusiveGranted!.length <= 2, `B holds ${JSON.stringify(lb2)}`);
  for (let i = 0; i < 4; i++) assert.equal(readFileSync(join(A, `h${i}`), "utf8"), `file h${i}`);
  assert.ok(((await metrics(b)).get("LeaseEvictions") ?? 0) >= 3);

  // (e) ExtentMapEntryLimit=8 on B: a file of 64 4 KiB pieces with holes between (64 extents on
  // the server, 127 entries with the holes) reads back right, and B's cached extent entries stay
  // within the limit.
  const piece = (i: number): Buffer => Buffer.alloc(4096, 65 + (i % 26));
  const fdF = openSync(join(A, "frag"), "w");
  for (let i = 0; i < 64; i++) writeSync(fdF, piece(i), 0, 4096, i * 8192);
  closeSync(fdF);
  const expect = Buffer.alloc(63 * 8192 + 4096);
  for (let i = 0; i < 64; i++) piece(i).copy(expect, i * 8192);
  const fetchesBefore = (await metrics(b)).get("ExtentMapFetches")!;
  assert.equal(md5(readFileSync(join(B, "frag"))), md5(expect));
  const mb = await metrics(b);
  assert.ok(mb.get("ExtentMapEntries")! <= 8, `B caches ${mb.get("ExtentMapEntries")} extent entries`);
  assert.ok(mb.get("ExtentMapEvictions")! >= 1, "maps were dropped for the limit");
  const fetches = mb.get("ExtentMapFetches")! - fetchesBefore;
  assert.ok(fetches >= 64 / 4, `the 64 extents were fetched in chunks of at most 4 (${fetches} fetches)`);

  // Clean shutdown releases everything.
  assert.equal(await b.stop(), 0, b.log());
  assert.equal(await a.stop(), 0, a.log());
  assert.equal(isMounted(A) || isMounted(B), false);
  assert.doesNotMatch(a.log() + b.log(), /unhandled rejection/);
});

test("leases with kernel attribute caching (AttrDuration 10s): a revoked reader's kernel is told", { skip, timeout: 60_000 }, async () => {
  servers ??= await startServers();
  const long = { AttrDuration: "10s", EntryDuration: "10s" };
  const sa = writeAgentConf(servers.swiftPort, long);
  const sb = writeAgentConf(servers.swiftPort, long);
  setups.push(sa, sb);
  const a = await startAgent(sa.confPath);
  const b = await startAgent(sb.confPath);
  try {
    writeFileSync(join(sa.mountpoint, "k"), "0123456789");
    const fdB = openSync(join(sb.mountpoint, "k"), "r");
    try {
      assert.equal(preadAll(fdB, 100).toString(), "0123456789");
      assert.equal(fstatSync(fdB).size, 10);
      // Longer and different: without the invalidation B's kernel would trust size 10 and its
      // pages for 10 more seconds.
      writeFileSync(join(sa.mountpoint, "k"), "abcdefghijklmnop");
      assert.equal(fstatSync(fdB).size, 16);
      assert.equal(preadAll(fdB, 100).toString(), "abcdefghijklmnop");
    } finally {
      closeSync(fdB);
    }
    // Re-opened under a lease held since the pages were cached: keep_cache, same bytes.
    assert.equal(readFileSync(join(sb.mountpoint, "k"), "utf8"), "abcdefghijklmnop");
    const readsBefore = (await metrics(b)).get("FUSE_DoRead_calls")!;
    assert.equal(readFileSync(join(sb.mountpoint, "k"), "utf8"), "abcdefghijklmnop");
    assert.equal((await metrics(b)).get("FUSE_DoRead_calls"), readsBefore, "the second open was served from the kernel's page cache");
  } finally {
    assert.equal(await b.stop(), 0, b.log());
    assert.equal(await a.stop(), 0, a.log());
  }
});

test("directory leases: another agent's change revokes them; a process working in the directory keeps getcwd and sees the change", { skip, timeout: 60_000 }, async () => {
  servers ??= await startServers();
  const sa = writeAgentConf(servers.swiftPort);
  const sb = writeAgentConf(servers.swiftPort);
  setups.push(sa, sb);
  const a = await startAgent(sa.confPath);
  const b = await startAgent(sb.confPath);
  try {
    const wd = join(sa.mountpoint, "wd");
    mkdirSync(wd);
    writeFileSync(join(wd, "old"), "x");
    // A shell-like process lives in wd on agent A: its kernel holds wd's entry under A's lease on
    // the root directory, and wd's entries under A's lease on wd.
    const script = "import os,sys\nos.chdir(sys.argv[1])\nprint(sorted(os.listdir('.')),flush=True)\nsys.stdin.readline()\n"
      + "try:\n  print(os.getcwd())\nexcept OSError as e:\n  print('getcwd failed:', e)\nprint(sorted(os.listdir('.')),flush=True)\n";
    const child = spawn("python3", ["-c", script, wd], { stdio: ["pipe", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    await eventually(async () => out, (o) => o.includes("\n"), 10_000);
    assert.equal(out.trim(), "['old']");
    const hitsBefore = (await metrics(a)).get("MetaCacheHits") ?? 0;
    // B changes both directories: the server revokes A's leases on them first.
    writeFileSync(join(sb.mountpoint, "beside"), "y");
    writeFileSync(join(sb.mountpoint, "wd", "new"), "z");
    await new Promise((r) => setTimeout(r, 300)); // A's kernel notifications are written asynchronously
    child.stdin.end("\n");
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    assert.equal(code, 0);
    assert.deepEqual(out.trim().split("\n").slice(1), [wd, "['new', 'old']"], `the process's view after B's changes:\n${out}`);
    const top = readdirSync(sa.mountpoint);
    assert.ok(top.includes("beside") && top.includes("wd"), `A lists B's new name beside wd: ${top.join(" ")}`);
    assert.ok(((await metrics(a)).get("MetaCacheHits") ?? 0) >= hitsBefore);
  } finally {
    assert.equal(await b.stop(), 0, b.log());
    assert.equal(await a.stop(), 0, a.log());
  }
});
