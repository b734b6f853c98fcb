// AgentFs in-process (no FUSE, no TCP) against the REAL volume RPC handlers (in-process-server.ts)
// and an in-memory object store: data across flush, close-to-open and lease interrupts between
// two mounts, orphans (unlink/rename of open files), truncation, readdir, xattrs, and a failed
// PUT reported as EIO once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Errno, FsError } from "../../src/base/errno.js";
import type { GetOptions, PutBody, PutOptions } from "../../src/objstore/index.js";
import { RPCInterruptType } from "../../src/proto/index.js";
import { AgentFs, ORPHAN_DIR, type AgentFsOptions, type AgentObjectStore } from "../../src/agent/fs/index.js";
import { InProcessServer, type InProcessMount, type InProcessServerOptions } from "./in-process-server.js";

const ROOT = 1n;
const O_RDONLY = 0;
const O_RDWR = 2;
const O_TRUNC = 0o1000;
const caller = { uid: 0, gid: 0 };
/** A lost interrupt or a deadlock fails the test instead of hanging it. */
const T = { timeout: 10_000 };

/** The agent's view of the server's store, with a switch that makes every PUT fail. */
class FlakyStore implements AgentObjectStore {
  failPuts = false;
  puts = 0;
  constructor(readonly server: InProcessServer) {}
  getObject(c: string, o: string, opts?: GetOptions) {
    return this.server.store.getObject(c, o, opts);
  }
  async putObject(c: string, o: string, body: PutBody, opts?: PutOptions) {
    this.puts++;
    if (this.failPuts) {
      if (typeof body === "function") for await (const _ of body()) { /* consume like a real upload */ }
      throw new Error("injected PUT failure (503 after retries)");
    }
    return this.server.store.putObject(c, o, body, opts);
  }
}

interface Agent {
  fs: AgentFs;
  mount: InProcessMount;
  store: FlakyStore;
}

function agent(server: InProcessServer, opts: Partial<AgentFsOptions> = {}): Agent {
  const mount = server.mount();
  const store = new FlakyStore(server);
  const fs = new AgentFs({ rpc: mount.rpc, store, mountId: mount.mountId, capabilities: mount.capabilities, ...opts });
  mount.attach(fs);
  return { fs, mount, store };
}

async function withServer(fn: (s: InProcessServer) => Promise<void>, opts: InProcessServerOptions = {}): Promise<void> {
  const s = new InProcessServer(opts);
  try {
    await fn(s);
  } finally {
    s.close();
  }
}

function errno(n: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof FsError, `expected an FsError, got ${String(err)}`);
    assert.equal(err.errno, n, err.message);
    return true;
  };
}

async function readAll(fs: AgentFs, ino: bigint, fh: bigint, chunk = 64 * 1024): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let off = 0n; ; off += BigInt(chunk)) {
    const b = await fs.read(ino, fh, off, chunk);
    if (b.length === 0) break;
    parts.push(b);
    if (b.length < chunk) break;
  }
  return Buffer.concat(parts);
}

test("create, write, read back before and after flush; another mount reads the same bytes", T, () => withServer(async (s) => {
  const A = agent(s);
  const { ino, fh, stat } = await A.fs.create(caller, ROOT, "a.bin", 0o644, O_RDWR);
  assert.equal(stat.Size, 0n);
  const expected = randomBytes(300_000);
  assert.equal(await A.fs.write(ino, fh, 0n, expected.subarray(0, 200_000)), 200_000);
  assert.equal(await A.fs.write(ino, fh, 200_000n, expected.subarray(200_000)), 100_000);
  const patch = Buffer.alloc(1000, 0x58);
  await A.fs.write(ino, fh, 100_000n, patch);
  patch.copy(expected, 100_000);
  // Before any flush: read-your-writes from the in-flight LogSegment, size includes them.
  assert.equal((await A.fs.getattr(ino)).stat.Size, 300_000n);
  assert.deepEqual(await readAll(A.fs, ino, fh), expected);
  assert.ok(A.fs.stats.logSegmentReadHits > 0);
  await A.fs.flush(ino, fh);
  assert.equal(A.fs.stats.dirtyFiles, 0);
  assert.equal(A.fs.stats.inFlightLogSegments, 0);
  assert.ok(A.store.puts >= 1);
  assert.ok((A.mount.rpc.calls.get("RpcWrote") ?? 0) >= 1);
  assert.equal(s.volume.getattr(ino).size, 300_000n, "the server knows the size after flush");
  assert.deepEqual(await readAll(A.fs, ino, fh), expected);
  await assert.rejects(A.fs.read(ino, 999n, 0n, 10), errno(Errno.EBADF), "unknown handle");
  await A.fs.release(ino, fh);
  assert.equal(A.fs.stats.openHandles, 0);

  const B = agent(s);
  const found = await B.fs.lookup(ROOT, "a.bin");
  assert.equal(found.ino, ino);
  assert.equal(found.stat.Size, 300_000n);
  const fhB = await B.fs.open(ino, O_RDONLY);
  assert.deepEqual(await readAll(B.fs, ino, fhB, 50_000), expected);
  assert.deepEqual(await B.fs.read(ino, fhB, 299_990n, 100), expected.subarray(299_990));
  await assert.rejects(B.fs.write(ino, fhB, 0n, Buffer.from("x")), errno(Errno.EBADF), "read-only handle");
  await B.fs.release(ino, fhB);
}));

test("small files share one LogSegment PUT (each reports its own extents); a big file gets segments of its own", T, () => withServer(async (s) => {
  const A = agent(s, { leases: { retryDelayMs: 5 }, maxFlushTimeMs: 60_000 });
  const files = new Map<bigint, Buffer>();
  for (let i = 0; i < 30; i++) {
    const r = await A.fs.create(caller, ROOT, `small-${i}`, 0o644, O_RDWR);
    const data = randomBytes(1000 + i * 97);
    await A.fs.write(r.ino, r.fh, 0n, data.subarray(0, 500));
    await A.fs.write(r.ino, r.fh, 500n, data.subarray(500));
    await A.fs.flush(r.ino, r.fh); // close under an Exclusive lease: stays buffered
    await A.fs.release(r.ino, r.fh);
    files.set(r.ino, data);
  }
  assert.equal(A.fs.stats.dirtyFiles, 30, "closes did not flush");
  assert.equal(A.store.puts, 1, "one streaming PUT carries all of them");
  const big = await A.fs.create(caller, ROOT, "big", 0o644, O_RDWR);
  const bigData = randomBytes(3 << 20);
  for (let off = 0; off < bigData.length; off += 1 << 20) await A.fs.write(big.ino, big.fh, BigInt(off), bigData.subarray(off, off + (1 << 20)));
  await A.fs.fsync(big.ino, big.fh);
  await A.fs.release(big.ino, big.fh);
  files.set(big.ino, bigData);
  await A.fs.flushAll();
  // One PUT for the 30 small files and the big file's first MiB, then the big file's own segment.
  assert.equal(A.store.puts, 2, "30 small files and the big one's rest went out in two PUTs");
  assert.equal(A.mount.rpc.calls.get("RpcWrote"), 32, "every file reported its own extents");
  // The server counts every referenced byte of the shared segment once per file range.
  let refs = 0n;
  for (const [ino] of files) for (const [, bytes] of s.volume.store.extentMap(ino).segmentBytes) refs += bytes;
  assert.equal(refs, BigInt([...files.values()].reduce((n, b) => n + b.length, 0)));
  const B = agent(s);
  for (const [ino, data] of files) {
    const fh = await B.fs.open(ino, O_RDONLY);
    assert.deepEqual(await readAll(B.fs, ino, fh), data, `inode ${ino} from the other mount`);
    await B.fs.release(ino, fh);
  }
  // Reference counts stay exact: the shared segment lives while any file uses it, and is up
  // for collection once the last one is gone.
  const store = s.volume.store;
  const shared = [...store.extentMap([...files.keys()][0]!).segmentBytes.keys()][0]!;
  const refs0 = store.segmentRefBytes(shared);
  let i = 0;
  for (const [ino, data] of files) {
    const before = store.segmentRefBytes(shared);
    const inShared = store.extentMap(ino).segmentBytes.get(shared) ?? 0n;
    await B.fs.unlink(ROOT, i < 30 ? `small-${i}` : "big");
    i++;
    assert.equal(store.segmentRefBytes(shared), before - inShared, `unlinking a ${data.length}-byte file drops its bytes of the shared segment`);
  }
  assert.ok(refs0 > 0n);
  assert.equal(store.segmentRefBytes(shared), 0n);
  assert.ok(store.unreferencedSegments().includes(shared), "the shared segment is up for collection");
}));

test("chmod/chown/utimensat of a file with data in flight: no flush, stat shows the times, the server gets them after the data; a later write moves mtime again", T, () => withServer(async (s) => {
  const A = agent(s, { leases: { retryDelayMs: 5 }, maxFlushTimeMs: 60_000 });
  const r = await A.fs.create(caller, ROOT, "t", 0o644, O_RDWR);
  await A.fs.write(r.ino, r.fh, 0n, Buffer.from("data"));
  await A.fs.flush(r.ino, r.fh);
  await A.fs.release(r.ino, r.fh);
  const when = 1_000_000_000_123_456_789n;
  const st = await A.fs.setattr(r.ino, { atime: when - 5n, mtime: when });
  assert.equal(st.stat.MTimeNs, when);
  assert.equal(st.stat.ATimeNs, when - 5n);
  assert.equal(st.stat.Size, 4n);
  assert.equal(A.fs.stats.dirtyFiles, 1, "the utimensat did not flush the file");
  assert.equal((await A.fs.getattr(r.ino)).stat.MTimeNs, when);
  const rpcs = (): number => [...A.mount.rpc.calls.values()].reduce((a, b) => a + b, 0);
  const before = rpcs();
  const chmodded = await A.fs.setattr(r.ino, { mode: 0o600, uid: 7, gid: 8 });
  assert.equal(rpcs(), before, "chmod+chown of a file with data in flight are deferred (no RPC)");
  assert.equal(chmodded.stat.FileMode & 0o7777, 0o600);
  assert.equal(chmodded.stat.UserID, 7);
  assert.equal(chmodded.stat.GroupID, 8);
  assert.equal(chmodded.stat.MTimeNs, when, "the earlier explicit mtime still shows");
  assert.equal(A.fs.stats.dirtyFiles, 1, "nor did the chmod");
  await A.fs.flushAll();
  assert.equal(A.store.puts, 1, "one PUT: the segment was not ended early for the utimensat");
  const server = s.volume.getattr(r.ino);
  assert.equal(server.mtimeNs, when, "the server has the explicit mtime, set after RpcWrote");
  assert.equal(server.size, 4n);
  assert.equal(server.mode & 0o7777, 0o600);
  assert.equal(server.uid, 7);
  assert.equal(server.gid, 8);
  // Times, then a write: the write's mtime wins (on this agent at once, on the server after it).
  await A.fs.setattr(r.ino, { mtime: when });
  const fh = await A.fs.open(r.ino, O_RDWR);
  await A.fs.setattr(r.ino, { mtime: when + 1n });
  await A.fs.write(r.ino, fh, 4n, Buffer.from("more"));
  assert.ok((await A.fs.getattr(r.ino)).stat.MTimeNs > when + 1n, "a write after the utimensat sets mtime to now");
  await A.fs.fsync(r.ino, fh);
  await A.fs.release(r.ino, fh);
  assert.ok(s.volume.getattr(r.ino).mtimeNs > when + 1n);
  assert.equal(s.volume.getattr(r.ino).size, 8n);
}));

test("statfs counts written data not yet reported (closes do not wait for it), as st_blocks does", T, () => withServer(async (s) => {
  const A = agent(s, { leases: { retryDelayMs: 5 }, maxFlushTimeMs: 60_000 });
  const s0 = await A.fs.statfs();
  const r = await A.fs.create(caller, ROOT, "big", 0o644, O_RDWR);
  await A.fs.write(r.ino, r.fh, 0n, Buffer.alloc(3 << 20, 1));
  await A.fs.flush(r.ino, r.fh);
  await A.fs.release(r.ino, r.fh);
  assert.equal(A.fs.stats.dirtyFiles, 1, "the close left the data buffered");
  const used = (v: typeof s0): bigint => (s0.FreeBlocks - v.FreeBlocks) * v.FragmentSize;
  assert.ok(used(await A.fs.statfs()) >= BigInt(3 << 20), "buffered bytes are accounted");
  await A.fs.flushAll();
  assert.ok(used(await A.fs.statfs()) >= BigInt(3 << 20), "stored bytes are accounted");
}));

test("close-to-open without leases: a re-open sees what another mount wrote and closed", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const { ino, fh } = await A.fs.create(caller, ROOT, "c2o", 0o644, O_RDWR);
  await A.fs.write(ino, fh, 0n, Buffer.from("first version"));
  await A.fs.flush(ino, fh);
  await A.fs.release(ino, fh);

  // B keeps a descriptor open throughout, so its FileInode (and extent map) lives on.
  const fhB = await B.fs.open((await B.fs.lookup(ROOT, "c2o")).ino, O_RDONLY);
  assert.equal((await B.fs.read(ino, fhB, 0n, 100)).toString(), "first version");

  const fhA = await A.fs.open(ino, O_RDWR);
  await A.fs.write(ino, fhA, 0n, Buffer.from("SECOND"));
  await A.fs.flush(ino, fhA);
  await A.fs.release(ino, fhA);

  // The re-open forgets the extents B learned before: it reads A's new object.
  const fhB2 = await B.fs.open(ino, O_RDONLY);
  assert.equal((await B.fs.read(ino, fhB2, 0n, 100)).toString(), "SECONDversion");
  assert.equal((await B.fs.getattr(ino)).stat.Size, 13n);
  await B.fs.release(ino, fhB2);
  await B.fs.release(ino, fhB);
}));

test("leases: B opens a file A is still writing (not closed) and reads A's bytes after the interrupt", T, () => withServer(async (s) => {
  const leases = { retryDelayMs: 5 };
  const A = agent(s, { leases });
  const B = agent(s, { leases });
  const { ino, fh } = await A.fs.create(caller, ROOT, "shared.bin", 0o644, O_RDWR);
  const first = randomBytes(5000);
  await A.fs.write(ino, fh, 0n, first);
  assert.equal(A.fs.stats.dirtyFiles, 1, "A's data is only buffered");
  assert.deepEqual(A.fs.leaseReport()?.ExclusiveGranted.filter((i) => i !== ROOT), [ino], "(the root directory is leased too: MetaCache)");
  assert.equal(s.volume.getattr(ino).size, 0n);

  assert.equal((await B.fs.lookup(ROOT, "shared.bin")).ino, ino);
  const fhB = await B.fs.open(ino, O_RDONLY);
  assert.ok(s.interrupts.some((i) => i.mountId === A.mount.mountId && i.ino === ino), "A was interrupted");
  await s.idle();
  assert.equal(A.fs.stats.dirtyFiles, 0, "the interrupt flushed A's data");
  assert.equal((await B.fs.getattr(ino)).stat.Size, 5000n);
  assert.deepEqual(await B.fs.read(ino, fhB, 0n, 10_000), first);
  assert.ok((A.fs.stats.leases["LeaseInterrupts_Release"] ?? 0) + (A.fs.stats.leases["LeaseInterrupts_Demote"] ?? 0) >= 1, JSON.stringify(A.fs.stats.leases));

  // A writes again through its open handle (Exclusive again: B's Shared lease is revoked), and
  // B's next read on its old handle fetches A's new bytes (A flushes on the interrupt).
  const second = randomBytes(3000);
  await A.fs.write(ino, fh, 5000n, second);
  assert.ok(s.interrupts.some((i) => i.mountId === B.mount.mountId && i.ino === ino && i.type === RPCInterruptType.Release), "B was told to release");
  assert.deepEqual(await B.fs.read(ino, fhB, 0n, 10_000), Buffer.concat([first, second]));
  await s.idle();

  await A.fs.release(ino, fh);
  await B.fs.release(ino, fhB);
  await A.fs.releaseAllLeases();
  await B.fs.releaseAllLeases();
  assert.deepEqual(A.fs.leaseReport()?.ExclusiveGranted.filter((i) => i !== ROOT), []);
}, { lease: { minLeaseDurationMs: 5, leaseInterruptIntervalMs: 20 } }));

test("unlink of an open file: nlink 0, still readable and writable, gone after the last release", T, () => withServer(async (s) => {
  const A = agent(s);
  const B = agent(s);
  const { ino, fh } = await A.fs.create(caller, ROOT, "victim", 0o644, O_RDWR);
  await A.fs.write(ino, fh, 0n, Buffer.from("hello"));
  const fh2 = await A.fs.open(ino, O_RDONLY);
  await A.fs.unlink(ROOT, "victim");
  await assert.rejects(A.fs.lookup(ROOT, "victim"), errno(Errno.ENOENT));
  await assert.rejects(B.fs.lookup(ROOT, "victim"), errno(Errno.ENOENT));
  assert.equal((await A.fs.getattr(ino)).stat.NumLinks, 0n);
  assert.equal((await A.fs.read(ino, fh, 0n, 100)).toString(), "hello");
  await A.fs.write(ino, fh, 5n, Buffer.from(", orphan"));
  await A.fs.fsync(ino, fh);
  assert.equal((await A.fs.read(ino, fh2, 0n, 100)).toString(), "hello, orphan");
  // ORPHAN_DIR is invisible to lookup and readdir of the root, on both mounts.
  await assert.rejects(A.fs.lookup(ROOT, ORPHAN_DIR), errno(Errno.ENOENT));
  for (const fs of [A.fs, B.fs]) {
    const dh = await fs.opendir(ROOT, 0);
    const names = (await fs.readdir(ROOT, dh, 0n, 100, false)).map((e) => e.name);
    assert.deepEqual(names.sort(), [".", ".."]);
    fs.releasedir(ROOT, dh);
  }
  await A.fs.release(ino, fh);
  assert.equal((await A.fs.read(ino, fh2, 0n, 100)).toString(), "hello, orphan", "one descriptor is still open");
  await A.fs.release(ino, fh2);
  await assert.rejects(A.fs.getattr(ino), errno(Errno.ENOENT), "the inode is destroyed at the last close");
  const orphanDir = s.volume.lookup({ uid: 0, gid: 0 }, ROOT, ORPHAN_DIR).ino;
  const dh = await A.fs.opendir(orphanDir, 0);
  assert.deepEqual((await A.fs.readdir(orphanDir, dh, 0n, 100, false)).map((e) => e.name).sort(), [".", ".."]);
  A.fs.releasedir(orphanDir, dh);
}));

test("rename over an open file keeps the replaced file readable until its last close", T, () => withServer(async (s) => {
  const A = agent(s);
  const old = await A.fs.create(caller, ROOT, "target", 0o644, O_RDWR);
  await A.fs.write(old.ino, old.fh, 0n, Buffer.from("old data"));
  const src = await A.fs.create(caller, ROOT, "src", 0o644, O_RDWR);
  await A.fs.write(src.ino, src.fh, 0n, Buffer.from("new data, longer"));
  await A.fs.rename(ROOT, "src", ROOT, "target");
  assert.equal((await A.fs.lookup(ROOT, "target")).ino, src.ino);
  await assert.rejects(A.fs.lookup(ROOT, "src"), errno(Errno.ENOENT));
  assert.equal((await A.fs.getattr(old.ino)).stat.NumLinks, 0n);
  assert.equal((await A.fs.read(old.ino, old.fh, 0n, 100)).toString(), "old data");
  assert.equal((await A.fs.getattr(src.ino)).stat.NumLinks, 1n);
  assert.equal((await A.fs.read(src.ino, src.fh, 0n, 100)).toString(), "new data, longer", "the moved file keeps its open handle");
  await A.fs.release(old.ino, old.fh);
  await assert.rejects(A.fs.getattr(old.ino), errno(Errno.ENOENT));
  await A.fs.flush(src.ino, src.fh);
  await A.fs.release(src.ino, src.fh);
  const B = agent(s);
  const fhB = await B.fs.open(src.ino, O_RDONLY);
  assert.equal((await B.fs.read(src.ino, fhB, 0n, 100)).toString(), "new data, longer");
  await B.fs.release(src.ino, fhB);
}));

test("setattr size truncates (dirty data flushed first) and extends with zeros; O_TRUNC empties", T, () => withServer(async (s) => {
  const A = agent(s);
  const { ino, fh } = await A.fs.create(caller, ROOT, "t", 0o644, O_RDWR);
  const data = randomBytes(10_000);
  await A.fs.write(ino, fh, 0n, data);
  await A.fs.flush(ino, fh);
  assert.equal((await A.fs.setattr(ino, { size: 100n })).stat.Size, 100n);
  assert.deepEqual(await A.fs.read(ino, fh, 0n, 10_000), data.subarray(0, 100));
  assert.equal((await A.fs.setattr(ino, { size: 300n })).stat.Size, 300n);
  assert.deepEqual(await A.fs.read(ino, fh, 0n, 10_000), Buffer.concat([data.subarray(0, 100), Buffer.alloc(200)]));
  // Unflushed data is flushed before the resize: the result is the same as for a flushed file.
  await A.fs.write(ino, fh, 0n, Buffer.from("abcdef"));
  await A.fs.setattr(ino, { size: 3n, mode: 0o600 });
  const st = (await A.fs.getattr(ino)).stat;
  assert.equal(st.Size, 3n);
  assert.equal(st.FileMode & 0o7777, 0o600);
  assert.equal((await A.fs.read(ino, fh, 0n, 100)).toString(), "abc");
  const B = agent(s);
  const fhB = await B.fs.open(ino, O_RDONLY);
  assert.equal((await B.fs.read(ino, fhB, 0n, 100)).toString(), "abc");
  await B.fs.release(ino, fhB);
  await A.fs.release(ino, fh);
  const fhT = await A.fs.open(ino, O_RDWR | O_TRUNC);
  assert.equal((await A.fs.getattr(ino)).stat.Size, 0n);
  assert.equal((await A.fs.read(ino, fhT, 0n, 100)).length, 0);
  await A.fs.release(ino, fhT);
}));

test("readdir with and without plus, paged by cookies", T, () => withServer(async (s) => {
  const A = agent(s);
  const d = await A.fs.mkdir(caller, ROOT, "d", 0o755);
  const names = ["f0", "f1", "f2", "f3", "f4"];
  for (const [i, n] of names.entries()) {
    const { ino, fh } = await A.fs.create(caller, d.ino, n, 0o644, O_RDWR);
    await A.fs.write(ino, fh, 0n, Buffer.alloc(i + 1, 0x61));
    await A.fs.flush(ino, fh);
    await A.fs.release(ino, fh);
  }
  await A.fs.mkdir(caller, d.ino, "sub", 0o755);
  await assert.rejects(A.fs.opendir((await A.fs.lookup(d.ino, "f0")).ino, 0), errno(Errno.ENOTDIR));
  const dh = await A.fs.opendir(d.ino, 0);
  const plain = await A.fs.readdir(d.ino, dh, 0n, 100, false);
  assert.deepEqual(plain.map((e) => e.name).sort(), [".", "..", ...names, "sub"]);
  assert.ok(plain.every((e) => e.stat === undefined));
  const plus = await A.fs.readdir(d.ino, dh, 0n, 100, true);
  assert.deepEqual(plus.map((e) => e.name), plain.map((e) => e.name));
  for (const e of plus) {
    assert.ok(e.stat !== undefined, e.name);
    assert.equal(e.stat.StatInodeNumber, e.ino);
    const i = names.indexOf(e.name);
    if (i >= 0) assert.equal(e.stat.Size, BigInt(i + 1), e.name);
  }
  // Paging: each reply continues after the last cookie; an empty reply ends the directory.
  const paged: string[] = [];
  for (let off = 0n; ;) {
    const page = await A.fs.readdir(d.ino, dh, off, 2, paged.length % 2 === 0);
    if (page.length === 0) break;
    assert.ok(page.length <= 2);
    paged.push(...page.map((e) => e.name));
    off = page[page.length - 1]!.offset;
  }
  assert.deepEqual(paged, plain.map((e) => e.name));
  A.fs.releasedir(d.ino, dh);
  await assert.rejects(A.fs.readdir(d.ino, dh, 0n, 100, false), errno(Errno.EBADF));
  await assert.rejects(A.fs.rmdir(ROOT, "d"), errno(Errno.ENOTEMPTY));
}));

test("xattrs: set, get, list, remove when enabled; ENOSYS when disabled", T, () => withServer(async (s) => {
  const A = agent(s, { xattrEnabled: true });
  const { ino, fh } = await A.fs.create(caller, ROOT, "x", 0o644, O_RDWR);
  await A.fs.release(ino, fh);
  await A.fs.setxattr(ino, "user.color", Buffer.from("blue"), 0);
  await A.fs.setxattr(ino, "user.size", Buffer.from([1, 2, 3]), 0);
  assert.equal((await A.fs.getxattr(ino, "user.color")).toString(), "blue");
  assert.deepEqual([...(await A.fs.getxattr(ino, "user.size"))], [1, 2, 3]);
  assert.deepEqual((await A.fs.listxattr(ino)).sort(), ["user.color", "user.size"]);
  await A.fs.removexattr(ino, "user.color");
  await assert.rejects(A.fs.getxattr(ino, "user.color"), errno(Errno.ENODATA));
  assert.deepEqual(await A.fs.listxattr(ino), ["user.size"]);
  const off = agent(s);
  await assert.rejects(off.fs.getxattr(ino, "user.size"), errno(Errno.ENOSYS));
  await assert.rejects(off.fs.setxattr(ino, "user.a", Buffer.from("v"), 0), errno(Errno.ENOSYS));
}));

test("a failed PUT: the next flush fails with EIO, once; later writes work", T, () => withServer(async (s) => {
  const A = agent(s);
  const { ino, fh } = await A.fs.create(caller, ROOT, "lost", 0o644, O_RDWR);
  A.store.failPuts = true;
  await A.fs.write(ino, fh, 0n, Buffer.from("doomed bytes"));
  await assert.rejects(A.fs.flush(ino, fh), errno(Errno.EIO));
  await A.fs.flush(ino, fh); // reported once only
  await A.fs.fsync(ino, fh);
  assert.equal(A.fs.stats.logSegmentPutFailures, 1);
  assert.equal(A.fs.stats.dirtyFiles, 0);
  assert.equal(s.volume.getattr(ino).size, 0n, "the server never heard of the lost bytes");
  A.store.failPuts = false;
  await A.fs.write(ino, fh, 0n, Buffer.from("saved"));
  await A.fs.fsync(ino, fh);
  assert.equal((await A.fs.read(ino, fh, 0n, 100)).toString(), "saved");
  await A.fs.release(ino, fh);
  await A.fs.flushAll();
}));
