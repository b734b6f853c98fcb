// MetaCache between two AgentFs on one in-process server, with Plus, EarlyReply and MetaCache
// agreed: negative and positive lookups answered from the cache under a directory lease, the
// server's fences revoking that lease when the other mount changes the directory or a covered
// child, a seeded random race of namespace changes whose end state both agents must see exactly
// as the server has it, and the kernel entry-invalidation hook.
import { mulberry32 } from "../../src/base/testing/prng.js";
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno, FsError } from "../../src/base/errno.js";
import { Capability } from "../../src/proto/index.js";
import { ROOT_CALLER } from "../../src/volume/types.js";
import { AgentFs, type AgentFsOptions } from "../../src/agent/fs/index.js";
import { ALL_CAPABILITIES, InProcessServer, type InProcessMount } from "./in-process-server.js";

const ROOT = 1n;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const S_IFMT = 0o170000;
const caller = { uid: 0, gid: 0 };
const T = { timeout: 60_000 };
/** Short lease timings: directory leases change hands often here. */
const LEASE = { minLeaseDurationMs: 5, leaseInterruptIntervalMs: 20 };

interface Agent {
  fs: AgentFs;
  mount: InProcessMount;
  /** RPCs this agent sent so far (every method, RpcLease included). */
  rpcs(): number;
}

function agent(s: InProcessServer, opts: Partial<AgentFsOptions> = {}): Agent {
  const mount = s.mount(ALL_CAPABILITIES);
  for (const c of [Capability.Plus, Capability.EarlyReply, Capability.MetaCache]) assert.ok(mount.capabilities.has(c), c);
  const fs = new AgentFs({
    rpc: mount.rpc, store: s.store, mountId: mount.mountId, capabilities: mount.capabilities, leases: { retryDelayMs: 5 }, ...opts,
  });
  mount.attach(fs);
  return { fs, mount, rpcs: () => [...mount.rpc.calls.values()].reduce((a, b) => a + b, 0) };
}

async function withServer(fn: (s: InProcessServer) => Promise<void>): Promise<void> {
  const s = new InProcessServer({ lease: LEASE });
  try {
    await fn(s);
  } finally {
    s.close();
  }
}

async function createClosed(a: Agent, dir: bigint, name: string): Promise<bigint> {
  const r = await a.fs.create(caller, dir, name, 0o644, O_RDWR);
  await a.fs.release(r.ino, r.fh);
  return r.ino;
}

test("negative lookup cached under the directory lease; B's create revokes it and A finds the name", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const D = (await B.fs.mkdir(caller, ROOT, "D", 0o755)).ino;
  const first = await A.fs.lookupEntry(D, "x");
  assert.deepEqual(first, { found: false, leased: true });
  const before = A.rpcs();
  const second = await A.fs.lookupEntry(D, "x");
  assert.deepEqual(second, { found: false, leased: true });
  assert.equal(A.rpcs(), before, "the second negative lookup must be answered from the MetaCache");
  assert.ok(A.fs.stats.metaCacheHits >= 1);
  const x = await createClosed(B, D, "x");
  await s.idle();
  const third = await A.fs.lookupEntry(D, "x");
  assert.equal(third.found, true, "A still answers the stale negative entry after B's create");
  assert.equal(third.found && third.ino, x);
  assert.ok(s.interrupts.some((i) => i.mountId === A.mount.mountId && i.ino === D), "A's lease on D was revoked");
}));

test("A's cached attributes of a child (readdir plus and lookup) are refreshed after B chmods it", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const D = (await B.fs.mkdir(caller, ROOT, "D", 0o755)).ino;
  const f = await createClosed(B, D, "f");
  const g = await createClosed(B, D, "g");
  // readdir plus under A's lease on D: f's attributes are cached.
  const fh = await A.fs.opendir(D, 0);
  const ents = await A.fs.readdir(D, fh, 0n, 100, true);
  A.fs.releasedir(D, fh);
  const ef = ents.find((e) => e.name === "f");
  assert.ok(ef?.leased, "readdir plus entry leased");
  assert.equal(ef.stat!.FileMode & 0o7777, 0o644);
  const before = A.rpcs();
  assert.equal((await A.fs.lookup(D, "f")).stat.FileMode & 0o7777, 0o644);
  assert.equal(A.rpcs(), before, "lookup after readdir plus answered from the cache");
  await B.fs.setattr(f, { mode: 0o600 });
  await s.idle();
  assert.equal((await A.fs.lookup(D, "f")).stat.FileMode & 0o7777, 0o600, "lookup after B's chmod (readdir-plus attrs)");
  assert.equal((await A.fs.getattr(f)).stat.FileMode & 0o7777, 0o600, "getattr after B's chmod");
  // The same through a lookup-learned child.
  assert.equal((await A.fs.lookup(D, "g")).stat.FileMode & 0o7777, 0o644);
  const b2 = A.rpcs();
  assert.equal((await A.fs.lookup(D, "g")).stat.FileMode & 0o7777, 0o644);
  assert.equal(A.rpcs(), b2, "second lookup of g from the cache");
  await B.fs.setattr(g, { mode: 0o640 });
  await s.idle();
  assert.equal((await A.fs.lookup(D, "g")).stat.FileMode & 0o7777, 0o640, "lookup after B's chmod (lookup attrs)");
}));


test("CreateLease: a new file is written, closed and chmodded with no RpcLease and no RpcGetStat; another mount still gets it", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  assert.ok(A.mount.capabilities.has(Capability.CreateLease));
  const D = (await A.fs.mkdir(caller, ROOT, "D", 0o755)).ino;
  await A.fs.lookupEntry(D, "warm"); // D leased and listed
  const calls = (m: string): number => A.mount.rpc.calls.get(m) ?? 0;
  const leases = calls("RpcLease");
  const stats = calls("RpcGetStat");
  const r = await A.fs.create(caller, D, "new", 0o644, O_RDWR);
  await A.fs.write(r.ino, r.fh, 0n, Buffer.from("fresh bytes"));
  await A.fs.flush(r.ino, r.fh);
  await A.fs.release(r.ino, r.fh);
  await A.fs.setattr(r.ino, { mode: 0o600 });
  assert.equal((await A.fs.getattr(r.ino)).stat.Size, 11n);
  assert.equal(calls("RpcLease"), leases, "the create's reply carried the Exclusive lease");
  assert.equal(calls("RpcGetStat"), stats, "the new file's state was known");
  assert.equal(A.fs.stats.dirtyFiles, 1, "closed without a flush under the adopted lease");
  // B's open interrupts A's adopted lease: A flushes first.
  const fh = await B.fs.open(r.ino, 0);
  assert.equal((await B.fs.read(r.ino, fh, 0n, 100)).toString(), "fresh bytes");
  assert.equal((await B.fs.getattr(r.ino)).stat.FileMode & 0o7777, 0o600);
  await B.fs.release(r.ino, fh);
}));

test("O_TRUNC rewrite of a cached child, closed without flushing (Exclusive lease): size and bytes are the new ones", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const D = (await A.fs.mkdir(caller, ROOT, "D", 0o755)).ino;
  const r = await A.fs.create(caller, D, "f", 0o644, O_RDWR);
  await A.fs.write(r.ino, r.fh, 0n, Buffer.from("x".repeat(1057)));
  await A.fs.fsync(r.ino, r.fh);
  await A.fs.release(r.ino, r.fh);
  // The stored size is cached under A's lease on D (as after git's first commit).
  assert.equal((await A.fs.lookup(D, "f")).stat.Size, 1057n);
  const hits = A.fs.stats.metaCacheHits;
  assert.equal((await A.fs.lookup(D, "f")).stat.Size, 1057n);
  assert.equal(A.fs.stats.metaCacheHits, hits + 1, "f's attributes are cached");
  // git's pattern: rewrite with O_TRUNC, close, stat, then read the whole file.
  const fh = await A.fs.open(r.ino, O_RDWR | O_TRUNC);
  await A.fs.write(r.ino, fh, 0n, Buffer.from("changed\n"));
  await A.fs.flush(r.ino, fh);
  await A.fs.release(r.ino, fh);
  assert.equal((await A.fs.lookup(D, "f")).stat.Size, 8n, "lookup after the O_TRUNC rewrite");
  assert.equal((await A.fs.getattr(r.ino)).stat.Size, 8n, "getattr after the O_TRUNC rewrite");
  const rh = await A.fs.open(r.ino, 0);
  assert.equal((await A.fs.read(r.ino, rh, 0n, 4096)).toString(), "changed\n");
  await A.fs.release(r.ino, rh);
  // Another mount's open interrupts A's Exclusive lease: A flushes first, B sees the bytes.
  const bh = await B.fs.open(r.ino, 0);
  assert.equal((await B.fs.read(r.ino, bh, 0n, 4096)).toString(), "changed\n");
  await B.fs.release(r.ino, bh);
}));


/** Errors a random mix legitimately runs into (the name's kind or presence changed under it). */
const EXPECTED = new Set<number>([Errno.EEXIST, Errno.ENOENT, Errno.ENOTEMPTY, Errno.EISDIR, Errno.ENOTDIR, Errno.EPERM]);

test("seeded race: A and B mutate two directories concurrently; both agents' views equal the server's", T, () => withServer(async (s) => {
  const seed = Number(process.env.PFS_RACE_SEED ?? 20261207);
  const rnd = mulberry32(seed);
  const A = agent(s);
  const B = agent(s);
  const dirs = [(await A.fs.mkdir(caller, ROOT, "D1", 0o755)).ino, (await A.fs.mkdir(caller, ROOT, "D2", 0o755)).ino];
  const names = ["a", "b", "c", "d", "e"];
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!;
  const unexpected: string[] = [];
  const step = async (ag: Agent, who: string): Promise<void> => {
    const d = pick(dirs);
    const n = pick(names);
    const op = pick(["create", "mkdir", "rename", "rename", "unlink", "rmdir", "lookup"] as const);
    try {
      switch (op) {
        case "create": await createClosed(ag, d, n); break;
        case "mkdir": await ag.fs.mkdir(caller, d, n, 0o755); break;
        case "rename": await ag.fs.rename(d, n, pick(dirs), pick(names)); break;
        case "unlink": await ag.fs.unlink(d, n); break;
        case "rmdir": await ag.fs.rmdir(d, n); break;
        case "lookup": await ag.fs.lookupEntry(d, n); break;
      }
    } catch (err) {
      if (!(err instanceof FsError) || !EXPECTED.has(err.errno)) unexpected.push(`${who} ${op} ${d}/${n}: ${String(err)}`);
    }
  };
  const run = async (ag: Agent, who: string, k: number): Promise<void> => {
    for (let i = 0; i < k; i++) await step(ag, who);
  };
  const view = async (ag: Agent): Promise<string[]> => {
    const out: string[] = [];
    for (const d of dirs) {
      const fh = await ag.fs.opendir(d, 0);
      const ents = (await ag.fs.readdir(d, fh, 0n, 1000, true)).filter((e) => e.name !== "." && e.name !== "..");
      ag.fs.releasedir(d, fh);
      out.push(`${d} readdir ${ents.map((e) => `${e.name}=${e.ino}`).sort().join(",")}`);
      for (const n of names) {
        const r = await ag.fs.lookupEntry(d, n);
        out.push(r.found ? `${d}/${n} ${r.ino} 0o${(r.stat.FileMode & S_IFMT).toString(8)}` : `${d}/${n} absent`);
      }
    }
    return out;
  };
  const truth = (): string[] => {
    const out: string[] = [];
    for (const d of dirs) {
      const ents = s.volume.readdirByLoc(ROOT_CALLER, d, -1n, 1000).filter((e) => e.name !== "." && e.name !== "..");
      out.push(`${d} readdir ${ents.map((e) => `${e.name}=${e.ino}`).sort().join(",")}`);
      for (const n of names) {
        let line: string;
        try {
          const a = s.volume.lookup(ROOT_CALLER, d, n);
          line = `${d}/${n} ${a.ino} 0o${(a.mode & S_IFMT).toString(8)}`;
        } catch {
          line = `${d}/${n} absent`;
        }
        out.push(line);
      }
    }
    return out;
  };
  for (let round = 0; round < 30; round++) {
    // Both views first (fills both caches and the server's coverage), then the concurrent mix.
    await Promise.all([view(A), view(B)]);
    await Promise.all([run(A, "A", 6), run(B, "B", 6)]);
    await s.idle();
    const want = truth();
    assert.deepEqual(await view(A), want, `round ${round} (seed ${seed}): A's view`);
    assert.deepEqual(await view(B), want, `round ${round} (seed ${seed}): B's view`);
  }
  assert.deepEqual(unexpected, [], "unexpected errors");
  assert.ok(A.fs.stats.metaCacheHits > 0 && B.fs.stats.metaCacheHits > 0, "the caches were used at all");
}));

test("kernel entry invalidation: B's create of a name A looked up as absent reaches A's invalidator", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const seen: Array<[bigint, string]> = [];
  A.fs.setKernelEntryInvalidator((parent, name) => seen.push([parent, name]));
  const D = (await B.fs.mkdir(caller, ROOT, "D", 0o755)).ino;
  assert.deepEqual(await A.fs.lookupEntry(D, "y"), { found: false, leased: true });
  assert.equal(seen.length, 0, "nothing invalidated before B's change");
  await createClosed(B, D, "y");
  await s.idle();
  assert.ok(seen.some(([p, n]) => p === D && n === "y"), `A's invalidator saw ${JSON.stringify(seen.map(([p, n]) => `${p}/${n}`))}`);
}));
