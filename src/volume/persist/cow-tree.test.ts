// Copy-on-write checkpoint B+tree (cow-tree.ts) through PersistentVolume on a real
// MemoryObjectStore: a checkpoint after a small change writes O(depth) pages and deletes the
// ones it replaced; random mutations + checkpoints + recoveries with tiny pages (many splits and
// merges) always recover the exact in-memory state; a version-1 volume is read and upgraded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryObjectStore, listAllObjects, type ObjectStore, type PutBody, type PutOptions, type PutResult } from "../../objstore/index.js";
import { Prng, testSeed } from "../../base/testing/prng.js";
import { FsError } from "../../base/errno.js";
import { ROOT_CALLER, ROOT_INO } from "../types.js";
import { MemoryVolumeStore } from "../memory-volume-store.js";
import { Volume } from "../volume.js";
import { PersistentVolume } from "./index.js";
import { dumpState } from "./persist-testing.js";
import { snapshotPages } from "./snapshot.js";
import { StateReader } from "./tree-keys.js";

const C = { uid: 0, gid: 0 };
const base = { accountName: "AUTH_test", checkpointIntervalMs: 0, autoFormat: true } as const;

/** Records the names of PUT and DELETEd objects (of the metadata container's ckpt/ pages). */
function recordingStore(inner: ObjectStore): ObjectStore & { puts: string[]; deletes: string[] } {
  const puts: string[] = [];
  const deletes: string[] = [];
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "puts") return puts;
      if (prop === "deletes") return deletes;
      if (prop === "putObject") {
        return (c: string, n: string, b: PutBody, o?: PutOptions): Promise<PutResult> => {
          puts.push(n);
          return target.putObject(c, n, b, o);
        };
      }
      if (prop === "deleteObject") {
        return (c: string, n: string): Promise<void> => {
          deletes.push(n);
          return target.deleteObject(c, n);
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as ObjectStore & { puts: string[]; deletes: string[] };
}

async function ckptObjects(os: ObjectStore, container: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of listAllObjects(os, container)) if (e.kind === "object" && e.name.startsWith("ckpt/")) out.push(e.name);
  return out.sort();
}

const pagesIn = (names: readonly string[]): string[] => names.filter((n) => n.startsWith("ckpt/"));

test("a checkpoint of a 10,000-inode volume after one change writes O(depth) pages and deletes the ones it replaced", async () => {
  const os = recordingStore(new MemoryObjectStore());
  const pv = await PersistentVolume.open({ ...base, objectStore: os, pageBytes: 4096 });
  const v = pv.volume;
  const d = v.mkdir(C, ROOT_INO, "d", 0o755).ino;
  const files: bigint[] = [];
  for (let i = 0; i < 10_000; i++) files.push(v.create(C, d, `file-${i}`, 0o644).ino);
  await pv.checkpoint();
  const full = pv.stats.lastCheckpointPages;
  const height = pv.tree.height;
  assert.ok(height >= 3, `tree height ${height}`);
  assert.ok(full > 500, `pages of the first checkpoint: ${full}`);

  // One inode record changed: one leaf and its ancestors.
  os.puts.length = 0;
  os.deletes.length = 0;
  const before = pv.livePages();
  v.setattr(ROOT_CALLER, files[4321]!, { mode: 0o600 });
  await pv.checkpoint();
  const written = pagesIn(os.puts);
  assert.equal(written.length, height, `pages PUT: ${written.join(" ")}`);
  assert.equal(os.puts.at(-1), "header", "the header is written after the pages");
  const replaced = pagesIn(os.deletes);
  assert.equal(replaced.length, height, "the replaced pages are deleted");
  const live = new Set(pv.livePages());
  for (const p of replaced) assert.ok(before.includes(p) && !live.has(p));
  assert.deepEqual(await ckptObjects(os, pv.container), [...live].sort(), "the store holds exactly the live pages");

  // A create touches three keys (entry, inode, parent inode): still a handful of pages.
  os.puts.length = 0;
  v.create(C, d, "one-more", 0o644);
  await pv.checkpoint();
  assert.ok(pagesIn(os.puts).length <= 3 * height, `pages PUT for one create: ${pagesIn(os.puts).length}`);

  // A checkpoint with nothing changed writes only the header.
  os.puts.length = 0;
  await pv.checkpoint();
  assert.deepEqual(pagesIn(os.puts), []);

  const state = dumpState(pv.store);
  const again = await PersistentVolume.open({ ...base, objectStore: os, pageBytes: 4096 });
  assert.equal(dumpState(again.store), state);
  assert.deepEqual(again.loadProblems, []);
  assert.equal(again.stats.lastCheckpointPages, 0, "a restart without journal writes no pages");
  await again.close();
});

test("random mutations, checkpoints and recoveries with 512-byte pages recover the exact state", async (t) => {
  const seed = testSeed(Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PROXYFS_TEST_SEED reproduces)`);
  const r = new Prng(seed);
  const os = new MemoryObjectStore();
  const o = { ...base, objectStore: os, pageBytes: 512 };
  let pv = await PersistentVolume.open(o);
  const dirs: Array<{ ino: bigint; parent: bigint; name: string }> = [{ ino: ROOT_INO, parent: ROOT_INO, name: "" }];
  let files: Array<[bigint, string]> = [];
  const same = (a: [bigint, string], b: [bigint, string]): boolean => a[0] === b[0] && a[1] === b[1];
  let splits = 0;
  let shrinks = 0;
  const ROUNDS = 60;
  for (let round = 0; round < ROUNDS; round++) {
    const v = pv.volume;
    const ops = r.range(1, round < 10 || round >= 45 ? 120 : 40);
    for (let i = 0; i < ops; i++) {
      // The last rounds mostly unlink, so pages merge and the tree shrinks again.
      const x = round >= 45 ? 0.65 + r.next() * 0.2 : r.next();
      try {
        if (x < 0.3 || files.length < 5) {
          const dir = r.pick(dirs).ino;
          const name = `f${r.int(100000)}${"x".repeat(r.int(40))}`;
          v.create(C, dir, name, 0o644);
          files.push([dir, name]);
        } else if (x < 0.38) {
          const parent = r.pick(dirs).ino;
          const name = `d${r.int(100000)}`;
          dirs.push({ ino: v.mkdir(C, parent, name, 0o755).ino, parent, name });
        } else if (x < 0.55) {
          const [dir, name] = r.pick(files);
          const ino = v.lookup(C, dir, name).ino;
          const p = v.provisionObject();
          const extents = Array.from({ length: r.range(1, 6) }, () => ({ fileOffset: BigInt(r.int(1 << 20)), objectOffset: BigInt(r.int(4096)), length: BigInt(r.range(1, 9000)) }));
          v.wrote(ROOT_CALLER, ino, { containerName: p.containerName, objectName: p.objectName, extents });
        } else if (x < 0.65) {
          const [dir, name] = r.pick(files);
          v.setattr(ROOT_CALLER, v.lookup(C, dir, name).ino, { size: BigInt(r.int(1 << 19)) });
        } else if (x < 0.8) {
          const k = r.int(files.length);
          const [dir, name] = files[k]!;
          v.unlink(C, dir, name);
          files.splice(k, 1);
        } else if (x < 0.87) {
          const k = r.int(files.length);
          const [dir, name] = files[k]!;
          const to: [bigint, string] = [r.pick(dirs).ino, `r${r.int(1000)}`];
          v.rename(C, dir, name, to[0], to[1]);
          files = files.filter((f) => !same(f, to)); // a file the rename replaced
          files[files.findIndex((f) => same(f, [dir, name]))] = to;
        } else if (x < 0.93) {
          const [dir, name] = r.pick(files);
          v.setxattr(C, v.lookup(C, dir, name).ino, `user.k${r.int(3)}`, new Uint8Array(r.int(700)).fill(7));
        } else if (dirs.length > 1) {
          const k = 1 + r.int(dirs.length - 1);
          const d = dirs[k]!;
          v.rmdir(C, d.parent, d.name); // ENOTEMPTY unless empty
          dirs.splice(k, 1);
        }
      } catch (err) {
        if (!(err instanceof FsError)) throw err; // EEXIST, ENOTEMPTY, ... leave the state unchanged
      }
    }
    // Drop segments that became unreferenced from time to time (deleteSegment keys).
    if (round % 7 === 3) v.collectUnreferencedSegments();
    const h0 = pv.tree.height;
    // The checkpoint cuts the state synchronously, here (its segment GC may change it later).
    const keys = new StateReader(pv.store).allLines().map((l) => l[0]);
    await pv.checkpoint();
    if (pv.tree.height > h0) splits++;
    if (pv.tree.height < h0) shrinks++;
    // The mirror holds exactly the keys of the state at the cut.
    assert.deepEqual(pv.tree.allKeys(), keys, `round ${round}: tree keys`);
    if (round % 5 === 4 || round === ROUNDS - 1) {
      await pv.sync();
      // Half the time from the checkpoint alone, half with journal lines after it.
      if (r.next() < 0.5) v.create(C, ROOT_INO, `late${round}`, 0o644);
      const wantAfter = dumpState(pv.store);
      await pv.sync();
      pv = await PersistentVolume.open(o); // the old instance is abandoned as after kill -9
      assert.deepEqual(pv.loadProblems, [], `round ${round}: tree invariants`);
      const got = dumpState(pv.store);
      if (got !== wantAfter) {
        const a = got.split("\n"), b = wantAfter.split("\n");
        assert.deepEqual(a.filter((l) => !b.includes(l)), b.filter((l) => !a.includes(l)), `round ${round}: recovered state differs (got vs want)`);
      }
      assert.deepEqual(await ckptObjects(os, pv.container), pv.livePages().sort(), `round ${round}: only live pages remain`);
    }
  }
  t.diagnostic(`height ${pv.tree.height}, ${pv.livePages().length} pages, ${pv.tree.recordCount()} records; height grew in ${splits} and shrank in ${shrinks} checkpoints`);
  assert.ok(pv.livePages().length > 50, "pages are tiny, so there are many");
  await pv.close();
});

test("the tree shrinks back when most of the state goes; deleted files leave no keys", async () => {
  const os = new MemoryObjectStore();
  const pv = await PersistentVolume.open({ ...base, objectStore: os, pageBytes: 512 });
  const v = pv.volume;
  for (let i = 0; i < 2000; i++) v.create(C, ROOT_INO, `n${i}`, 0o644);
  await pv.checkpoint();
  const tall = pv.tree.height;
  for (let i = 0; i < 2000; i++) v.unlink(C, ROOT_INO, `n${i}`);
  await pv.checkpoint();
  assert.ok(pv.tree.height < tall, `height ${tall} -> ${pv.tree.height}`);
  assert.ok(pv.livePages().length <= 2, `pages left: ${pv.livePages().length}`);
  assert.deepEqual(await ckptObjects(os, pv.container), pv.livePages().sort());
  const again = await PersistentVolume.open({ ...base, objectStore: os, pageBytes: 512 });
  assert.equal(dumpState(again.store), dumpState(pv.store));
  await again.close();
  await pv.close();
});

test("a version-1 volume (full snapshot pages) is recovered and rewritten as a tree", async () => {
  const os = new MemoryObjectStore();
  const container = "proxyfs_meta";
  await os.putContainer(container);
  const store = new MemoryVolumeStore();
  const v = new Volume({ accountName: "AUTH_test", store });
  const d = v.mkdir(C, ROOT_INO, "d", 0o755).ino;
  for (let i = 0; i < 50; i++) v.create(C, d, `f${i}`, 0o644);
  const pages = snapshotPages(store, 1024);
  const names = pages.map((_, i) => `ckpt/0000000000000001-0000000000000000/${i.toString(16).padStart(8, "0")}`);
  for (const [i, p] of pages.entries()) await os.putObject(container, names[i]!, p);
  await os.putObject(container, "header", Buffer.from(JSON.stringify({
    format: "proxyfs-volume-checkpoint", version: 1, accountName: "AUTH_test", epoch: 1, gen: 0, createdAt: new Date().toISOString(),
    pages: names, journal: { epoch: 1, seq: 0 }, reservedNonce: (store.peekNonce() + 10n).toString(), inodes: store.inodeCount(),
  })));
  const pv = await PersistentVolume.open({ ...base, objectStore: os });
  assert.equal(dumpState(pv.store), dumpState(store));
  assert.equal(pv.header.version, 2);
  assert.deepEqual(await ckptObjects(os, container), pv.livePages().sort(), "the version-1 pages are gone");
  await pv.close();
  const again = await PersistentVolume.open({ ...base, objectStore: os });
  assert.equal(dumpState(again.store), dumpState(store));
  await again.close();
});

test("a checkpoint whose page PUTs fail leaves the old tree current; the next one carries its changes", async () => {
  const inner = new MemoryObjectStore();
  let failPages = false;
  const os = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "putObject") {
        return (c: string, n: string, b: PutBody, o?: PutOptions): Promise<PutResult> =>
          failPages && n.startsWith("ckpt/") && n.endsWith("1") ? Promise.reject(new Error("injected PUT failure")) : target.putObject(c, n, b, o);
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const o = { ...base, objectStore: os, pageBytes: 1024 };
  const pv = await PersistentVolume.open(o);
  const v = pv.volume;
  for (let i = 0; i < 500; i++) v.create(C, ROOT_INO, `a${i}`, 0o644);
  await pv.checkpoint();
  const header = pv.header;
  failPages = true;
  for (let i = 0; i < 500; i += 7) v.unlink(C, ROOT_INO, `a${i}`);
  for (let i = 0; i < 100; i++) v.create(C, ROOT_INO, `b${i}`, 0o644);
  await assert.rejects(pv.checkpoint(), /injected PUT failure/);
  assert.equal(pv.header, header, "the old header stays current");
  failPages = false;
  v.mkdir(C, ROOT_INO, "after", 0o755);
  await pv.checkpoint();
  const keys = new StateReader(pv.store).allLines().map((l) => l[0]);
  assert.deepEqual(pv.tree.allKeys(), keys);
  const want = dumpState(pv.store);
  const again = await PersistentVolume.open(o);
  assert.equal(dumpState(again.store), want);
  assert.deepEqual(await ckptObjects(inner, again.container), again.livePages().sort(), "pages of the failed checkpoint are collected at the next start");
  await again.close();
});
