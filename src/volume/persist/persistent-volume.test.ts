// PersistentVolume against a real MemoryObjectStore: recovery from checkpoint + journal equals the
// state before an (unannounced) stop, group commit batches concurrent syncs, nonces are never
// reused, dead segments and replaced objects are deleted after a checkpoint, mkfs refuses to
// overwrite, fsck finds and repairs damage.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryObjectStore, listAllObjects } from "../../objstore/index.js";
import { ROOT_CALLER, ROOT_INO } from "../types.js";
import { PersistentVolume, PersistError, fsck } from "./index.js";
import { countingStore, dumpState } from "./persist-testing.js";

const C = { uid: 1000, gid: 1000 };
const base = { accountName: "AUTH_test", checkpointIntervalMs: 0, autoFormat: true } as const;

async function names(os: MemoryObjectStore, c: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of listAllObjects(os, c)) if (e.kind === "object") out.push(e.name);
  return out;
}

test("recovery: checkpoint + journal replay reproduce the exact state, nonces move on", async () => {
  const os = new MemoryObjectStore();
  const pv = await PersistentVolume.open({ ...base, objectStore: os });
  const v = pv.volume;
  const d = v.mkdir(C, ROOT_INO, "d", 0o755).ino;
  const f = v.create(C, d, "f", 0o644).ino;
  const p = v.provisionObject();
  v.wrote(ROOT_CALLER, f, { containerName: p.containerName, objectName: p.objectName, extents: [{ fileOffset: 0n, objectOffset: 0n, length: 100n }, { fileOffset: 4096n, objectOffset: 100n, length: 50n }] });
  v.setxattr(C, f, "user.k", new Uint8Array([1, 2, 3]));
  v.symlink(C, d, "s", "f");
  await pv.checkpoint(); // some state in pages, the rest in the journal
  v.link(ROOT_CALLER, f, ROOT_INO, "hard");
  v.rename(C, d, "s", ROOT_INO, "s2");
  v.setattr(ROOT_CALLER, f, { size: 60n });
  v.create(C, d, "gone", 0o600);
  v.unlink(C, d, "gone");
  for (let i = 0; i < 300; i++) v.create(C, d, `n${i}`, 0o644);
  const last = v.provisionObject();
  await pv.sync();
  const before = dumpState(pv.store);
  // No close(): as if killed after the sync.
  const again = await PersistentVolume.open({ ...base, objectStore: os });
  assert.equal(dumpState(again.store), before);
  assert.ok(again.stats.journalBatchesReplayed >= 1);
  assert.ok(again.volume.provisionObject().segment > last.segment, "a nonce handed out before the crash is never reused");
  assert.equal(again.volume.lookup(C, ROOT_INO, "hard").size, 60n);
  await again.close();
  const third = await PersistentVolume.open({ ...base, objectStore: os });
  assert.equal(third.volume.lookup(C, d, "n299").nlink, 1);
  await third.close();
});

test("group commit: 200 concurrent synced creates need far fewer journal PUTs", async () => {
  const os = countingStore(new MemoryObjectStore(), 3); // a store with some latency, as a real one
  const pv = await PersistentVolume.open({ ...base, objectStore: os });
  const before = os.puts.get(pv.container) ?? 0;
  const work = Array.from({ length: 200 }, async (_, i) => {
    await new Promise((r) => setImmediate(r));
    pv.volume.create(C, ROOT_INO, `f${i}`, 0o644);
    await pv.sync();
  });
  await Promise.all(work);
  const puts = (os.puts.get(pv.container) ?? 0) - before;
  assert.ok(puts >= 1 && puts < 20, `journal PUTs for 200 synced creates: ${puts}`);
  const again = await PersistentVolume.open({ ...base, objectStore: os });
  assert.equal(again.store.dirSize(ROOT_INO), 200);
  await again.close();
  await pv.close();
});

test("space: dead segments, old pages and trimmed journal objects are deleted after checkpoints", async () => {
  const os = new MemoryObjectStore();
  const pv = await PersistentVolume.open({ ...base, objectStore: os });
  const v = pv.volume;
  const f = v.create(C, ROOT_INO, "f", 0o644).ino;
  const p = v.provisionObject();
  await os.putContainer(p.containerName);
  await os.putObject(p.containerName, p.objectName, Buffer.alloc(10));
  v.wrote(ROOT_CALLER, f, { containerName: p.containerName, objectName: p.objectName, extents: [{ fileOffset: 0n, objectOffset: 0n, length: 10n }] });
  await pv.checkpoint();
  v.setattr(ROOT_CALLER, f, { size: 0n }); // drops the last reference
  assert.deepEqual(pv.store.unreferencedSegments(), [p.segment]);
  await pv.checkpoint(); // first checkpoint without a reference: grace period
  assert.equal((await names(os, p.containerName)).length, 1);
  await pv.checkpoint();
  assert.deepEqual(await names(os, p.containerName), [], "segment object deleted");
  assert.equal(pv.store.getSegment(p.segment), undefined, "segment record dropped");
  await pv.sync();
  const meta = await names(os, pv.container);
  assert.deepEqual(meta.filter((n) => n.startsWith("ckpt/")), pv.livePages().sort(), "only the live checkpoint's pages remain");
  assert.ok(meta.filter((n) => n.startsWith("journal/")).length <= 2, `journal objects left: ${meta.join(" ")}`);
  const r = await fsck({ objectStore: os, accountName: "AUTH_test" });
  assert.deepEqual([r.problems, r.orphans], [[], []]);
  await pv.close();
});

test("mkfs refuses to overwrite a volume without force; a volume must be formatted to open", async () => {
  const os = new MemoryObjectStore();
  await assert.rejects(PersistentVolume.open({ objectStore: os, accountName: "AUTH_test" }), (e: unknown) => e instanceof PersistError && e.code === "ERR_NOT_FORMATTED");
  await PersistentVolume.format({ objectStore: os, accountName: "AUTH_test" });
  const pv = await PersistentVolume.open({ objectStore: os, accountName: "AUTH_test", checkpointIntervalMs: 0 });
  pv.volume.mkdir(C, ROOT_INO, "keep", 0o755);
  await pv.close();
  await assert.rejects(PersistentVolume.format({ objectStore: os, accountName: "AUTH_test" }), (e: unknown) => e instanceof PersistError && e.code === "ERR_ALREADY_FORMATTED");
  const again = await PersistentVolume.open({ objectStore: os, accountName: "AUTH_test", checkpointIntervalMs: 0 });
  assert.equal(again.volume.lookup(C, ROOT_INO, "keep").nlink, 2);
  await again.close();
  await PersistentVolume.format({ objectStore: os, accountName: "AUTH_test", force: true });
  const fresh = await PersistentVolume.open({ objectStore: os, accountName: "AUTH_test", checkpointIntervalMs: 0 });
  assert.equal(fresh.store.dirSize(ROOT_INO), 0);
  await fresh.close();
});

test("fsck: reports bad nlink, dangling entries, unlinked inodes and orphan objects; --repair fixes them", async () => {
  const os = new MemoryObjectStore();
  const pv = await PersistentVolume.open({ ...base, objectStore: os });
  const v = pv.volume;
  const f = v.create(C, ROOT_INO, "f", 0o644).ino;
  const g = v.create(C, ROOT_INO, "g", 0o644).ino;
  v.unlink(C, ROOT_INO, "g", { deferDestroy: true }); // open-unlinked, then "crash"
  const tx = pv.store.begin("damage");
  tx.putInode({ ...pv.store.getInode(f)!, nlink: 3 });
  tx.putDirEntry(ROOT_INO, "dangling", { ino: 999_999n, type: 8 });
  tx.commit();
  const p = v.provisionObject();
  await os.putContainer(p.containerName);
  await os.putObject(p.containerName, "00000000DEADBEEF", Buffer.alloc(1));
  await pv.sync();
  const lines: string[] = [];
  const r = await fsck({ objectStore: os, accountName: "AUTH_test", progress: (l) => lines.push(l) });
  assert.equal(r.clean, false);
  assert.ok(r.problems.some((x) => x.includes(`inode ${f} has nlink 3, counted 1`)), r.problems.join("\n"));
  assert.ok(r.problems.some((x) => x.includes("points to missing inode 999999")));
  assert.ok(r.orphans.some((x) => x.includes(`inode ${g} is unlinked`)));
  assert.ok(r.orphans.some((x) => x.includes("00000000DEADBEEF")));
  assert.ok(lines.some((l) => /checked \d+ inodes/.test(l)));
  const fixed = await fsck({ objectStore: os, accountName: "AUTH_test", repair: true });
  assert.equal(fixed.clean, true, fixed.problems.join("\n"));
  assert.equal(fixed.repaired.length, 4, fixed.repaired.join("\n"));
  const after = await fsck({ objectStore: os, accountName: "AUTH_test" });
  assert.deepEqual([after.problems, after.orphans, after.clean], [[], [], true]);
});
