// AgentFs (the agent's FS core, no FUSE) against a real in-process proxyfsd (startVolumeServer
// over retryrpc/TLS) and an in-memory object store: the write path (LogSegments, RpcWrote order,
// back-pressure, fsync/close semantics), the read path (extent-map chunks, read cache single
// flight, read-your-writes) and failure handling (EIO for one request, never a crash).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Errno, FsError } from "../../src/base/errno.js";
import { MemoryObjectStore, type GetOptions, type PutBody, type PutOptions } from "../../src/objstore/index.js";
import { startVolumeServer, type VolumeServer } from "../../src/volume/server/index.js";
import { mountClient, type MountedClient } from "../../src/volume/server/testing/jsonrpc-call.js";
import { AgentFs, type AgentFsOptions, type AgentObjectStore } from "../../src/agent/fs/index.js";

const ROOT = 1n;
const O_RDWR = 2;
const caller = { uid: 0, gid: 0 };

/** The server's store, seen by the agent through counters and failure switches. */
class InstrumentedStore implements AgentObjectStore {
  readonly inner: MemoryObjectStore;
  gets = 0;
  puts = 0;
  putsInFlight = 0;
  maxPutsInFlight = 0;
  failPuts = false;
  constructor(inner: MemoryObjectStore) {
    this.inner = inner;
  }
  async getObject(c: string, o: string, opts?: GetOptions) {
    this.gets++;
    return this.inner.getObject(c, o, opts);
  }
  async putObject(c: string, o: string, body: PutBody, opts?: PutOptions) {
    this.puts++;
    this.putsInFlight++;
    this.maxPutsInFlight = Math.max(this.maxPutsInFlight, this.putsInFlight);
    try {
      if (this.failPuts) {
        for await (const _ of (body as () => AsyncIterable<Uint8Array>)()) { /* consume like a real upload */ }
        throw new Error("injected PUT failure (503 after retries)");
      }
      return await this.inner.putObject(c, o, body, opts);
    } finally {
      this.putsInFlight--;
    }
  }
}

let server: VolumeServer;
let backing: MemoryObjectStore;
const mounts: MountedClient[] = [];

before(async () => {
  backing = new MemoryObjectStore();
  server = await startVolumeServer({ volumes: [{ name: "v", accountName: "AUTH_test", objectStore: backing }], log: () => {} });
});
after(async () => {
  for (const m of mounts) await m.rpc.close();
  await server.close();
});

async function agent(opts: Partial<AgentFsOptions> = {}): Promise<{ fs: AgentFs; store: InstrumentedStore }> {
  const m = await mountClient(server.jsonRpcPort, "AUTH_test");
  mounts.push(m);
  const store = new InstrumentedStore(backing);
  const fs = new AgentFs({ rpc: m.client, store, mountId: m.mountId, maxFlushTimeMs: 50, ...opts });
  return { fs, store };
}

let nameSeq = 0;
const fresh = (p: string): string => `${p}-${++nameSeq}`;

test("writes are readable before they are flushed, durable after fsync, and read back from the store", async () => {
  const { fs, store } = await agent({ readCacheLineSize: 4096 });
  const c = await fs.create(caller, ROOT, fresh("f"), 0o644, O_RDWR);
  const data = randomBytes(20_000);
  await fs.write(c.ino, c.fh, 0n, data.subarray(0, 7000));
  await fs.write(c.ino, c.fh, 7000n, data.subarray(7000));
  await fs.write(c.ino, c.fh, 100n, Buffer.from("OVERWRITE"));
  data.write("OVERWRITE", 100);
  assert.deepEqual(await fs.read(c.ino, c.fh, 0n, 30_000), data, "read-your-writes from the in-flight LogSegment");
  assert.equal((await fs.getattr(c.ino)).stat.Size, 20_000n, "size includes unflushed writes");
  await fs.fsync(c.ino, c.fh);
  assert.equal(fs.stats.dirtyFiles, 0);
  assert.ok(store.puts >= 1);
  // A second agent (empty caches) sees the data through RpcFetchExtentMapChunk + ranged GETs.
  const b = await agent({ readCacheLineSize: 4096 });
  const fh = await b.fs.open(c.ino, 0);
  const gets0 = b.store.gets;
  assert.deepEqual(await b.fs.read(c.ino, fh, 0n, 30_000), data);
  const lines = b.store.gets - gets0;
  assert.ok(lines >= Math.ceil(20_000 / 4096), `one GET per cache line (${lines})`);
  // Re-reading hits the cache: no more GETs.
  assert.deepEqual(await b.fs.read(c.ino, fh, 5000n, 100), data.subarray(5000, 5100));
  assert.equal(b.store.gets - gets0, lines);
  await b.fs.release(c.ino, fh);
});

test("concurrent readers of one missing cache line cause one GET", async () => {
  const a = await agent({ readCacheLineSize: 65536 });
  const c = await a.fs.create(caller, ROOT, fresh("shared"), 0o644, O_RDWR);
  const data = randomBytes(50_000);
  await a.fs.write(c.ino, c.fh, 0n, data);
  await a.fs.flush(c.ino, c.fh);
  const b = await agent({ readCacheLineSize: 65536 });
  const fh = await b.fs.open(c.ino, 0);
  const reads = await Promise.all(Array.from({ length: 16 }, (_, i) => b.fs.read(c.ino, fh, BigInt(i * 1000), 1000)));
  reads.forEach((r, i) => assert.deepEqual(r, data.subarray(i * 1000, i * 1000 + 1000)));
  assert.equal(b.store.gets, 1);
  assert.equal(b.fs.stats.readCacheMisses, 1);
});

test("the extent map is fetched in chunks of FetchExtentsFromFileOffset entries", async () => {
  const a = await agent();
  const c = await a.fs.create(caller, ROOT, fresh("extents"), 0o644, O_RDWR);
  const expect = Buffer.alloc(10 * 1000);
  // Ten LogSegments, written backwards so no two extents merge.
  for (let i = 9; i >= 0; i--) {
    const piece = Buffer.alloc(1000, 65 + i);
    piece.copy(expect, i * 1000);
    await a.fs.write(c.ino, c.fh, BigInt(i * 1000), piece);
    await a.fs.fsync(c.ino, c.fh);
  }
  const b = await agent({ fetchExtentsFromFileOffset: 2 });
  const fh = await b.fs.open(c.ino, 0);
  assert.deepEqual(await b.fs.read(c.ino, fh, 0n, 10_000), expect);
  assert.ok(b.fs.stats.extentMapFetches >= 5, `chunks of 2 extents: ${b.fs.stats.extentMapFetches} fetches`);
});

test("DirtyLogSegmentLimit bounds the LogSegments in flight across files", async () => {
  const a = await agent({ dirtyLogSegmentLimit: 1, maxFlushSize: 1000, maxFlushTimeMs: 20 });
  const files = await Promise.all([0, 1, 2].map(() => a.fs.create(caller, ROOT, fresh("bp"), 0o644, O_RDWR)));
  await Promise.all(files.map(async (f) => {
    for (let i = 0; i < 5; i++) await a.fs.write(f.ino, f.fh, BigInt(i * 1000), Buffer.alloc(1000, i));
  }));
  await Promise.all(files.map((f) => a.fs.fsync(f.ino, f.fh)));
  assert.equal(a.store.maxPutsInFlight, 1);
  assert.equal(a.store.puts, 15, "each 1000-byte write filled one segment");
  for (const f of files) assert.equal((await a.fs.read(f.ino, f.fh, 4000n, 1000)).readUInt8(999), 4);
});

test("a PUT that fails for good makes the next fsync/close fail with EIO, once; the agent keeps working", async () => {
  const a = await agent();
  const c = await a.fs.create(caller, ROOT, fresh("fail"), 0o644, O_RDWR);
  a.store.failPuts = true;
  assert.equal(await a.fs.write(c.ino, c.fh, 0n, Buffer.from("lost")), 4, "write-back: the write itself succeeds");
  await assert.rejects(a.fs.fsync(c.ino, c.fh), (e: unknown) => e instanceof FsError && e.errno === Errno.EIO);
  await a.fs.fsync(c.ino, c.fh); // reported once
  a.store.failPuts = false;
  await a.fs.write(c.ino, c.fh, 0n, Buffer.from("kept"));
  await a.fs.flush(c.ino, c.fh);
  assert.equal((await a.fs.read(c.ino, c.fh, 0n, 10)).toString(), "kept");
  assert.equal(a.fs.stats.dirtyFiles, 0);
});

test("server errors become the errno of that one request; bad file handles are EBADF", async () => {
  const a = await agent();
  await assert.rejects(a.fs.lookup(ROOT, "does-not-exist"), (e: unknown) => e instanceof FsError && e.errno === Errno.ENOENT);
  const d = fresh("dir");
  await a.fs.mkdir(caller, ROOT, d, 0o755);
  await assert.rejects(a.fs.mkdir(caller, ROOT, d, 0o755), (e: unknown) => e instanceof FsError && e.errno === Errno.EEXIST);
  await assert.rejects(a.fs.read(ROOT, 999_999n, 0n, 10), (e: unknown) => e instanceof FsError && e.errno === Errno.EBADF);
  await assert.rejects(a.fs.getattr(123_456_789n), (e: unknown) => e instanceof FsError && e.errno === Errno.ENOENT);
});

test("a file extended by truncate reads as zeros; truncate while dirty flushes first", async () => {
  const a = await agent();
  const c = await a.fs.create(caller, ROOT, fresh("sparse"), 0o644, O_RDWR);
  await a.fs.setattr(c.ino, { size: 5000n });
  assert.deepEqual(await a.fs.read(c.ino, c.fh, 0n, 6000), Buffer.alloc(5000));
  await a.fs.write(c.ino, c.fh, 0n, Buffer.from("0123456789"));
  await a.fs.setattr(c.ino, { size: 4n });
  assert.equal((await a.fs.read(c.ino, c.fh, 0n, 100)).toString(), "0123");
  const b = await agent();
  const fh = await b.fs.open(c.ino, 0);
  assert.equal((await b.fs.read(c.ino, fh, 0n, 100)).toString(), "0123");
});
