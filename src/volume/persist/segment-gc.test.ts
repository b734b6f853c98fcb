// Log segments provisioned but never referenced (an agent that died mid-write) are collected:
// object and record deleted at the first checkpoint after unreferencedSegmentGraceMs, also when
// the grace period started before a restart; referenced segments and fresh ones are kept.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryObjectStore } from "../../objstore/index.js";
import { ROOT_CALLER, ROOT_INO } from "../types.js";
import { PersistentVolume } from "./index.js";

const C = { uid: 1000, gid: 1000 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function exists(os: MemoryObjectStore, c: string, o: string): Promise<boolean> {
  return os.headObject(c, o).then(() => true, () => false);
}

test("a provisioned segment nobody references is deleted after the grace period; referenced ones stay", async () => {
  const os = new MemoryObjectStore();
  const opts = { accountName: "AUTH_test", checkpointIntervalMs: 0, autoFormat: true, objectStore: os, unreferencedSegmentGraceMs: 200 } as const;
  const pv = await PersistentVolume.open(opts);
  const v = pv.volume;
  const f = v.create(C, ROOT_INO, "f", 0o644).ino;
  const used = v.provisionObject();
  const dead = v.provisionObject(); // the agent PUT it and died before Wrote
  const neverPut = v.provisionObject(); // provisioned, never even PUT
  for (const p of [used, dead, neverPut]) await os.putContainer(p.containerName);
  await os.putObject(used.containerName, used.objectName, Buffer.alloc(100, 1));
  await os.putObject(dead.containerName, dead.objectName, Buffer.alloc(100, 2));
  v.wrote(ROOT_CALLER, f, { containerName: used.containerName, objectName: used.objectName, extents: [{ fileOffset: 0n, objectOffset: 0n, length: 100n }] });
  await pv.sync();

  await pv.checkpoint(); // within the grace period: nothing goes
  assert.equal(await exists(os, dead.containerName, dead.objectName), true);
  assert.notEqual(pv.store.getSegment(dead.segment), undefined);

  await sleep(250);
  await pv.checkpoint();
  assert.equal(await exists(os, dead.containerName, dead.objectName), false, "the dead agent's object is deleted");
  assert.equal(pv.store.getSegment(dead.segment), undefined);
  assert.equal(pv.store.getSegment(neverPut.segment), undefined);
  assert.equal(await exists(os, used.containerName, used.objectName), true, "a referenced segment stays");
  assert.notEqual(pv.store.getSegment(used.segment), undefined);
  assert.ok(pv.stats.segmentsDeleted >= 2);

  // Across a restart: the grace period restarts at recovery, then the segment goes.
  const late = v.provisionObject();
  await os.putContainer(late.containerName);
  await os.putObject(late.containerName, late.objectName, Buffer.alloc(10));
  await pv.sync();
  const again = await PersistentVolume.open(opts);
  assert.notEqual(again.store.getSegment(late.segment), undefined);
  await again.checkpoint();
  assert.equal(await exists(os, late.containerName, late.objectName), true, "grace restarts at recovery");
  await sleep(250);
  await again.checkpoint();
  assert.equal(await exists(os, late.containerName, late.objectName), false);
  assert.equal(again.store.getSegment(late.segment), undefined);
  assert.equal(again.volume.getattr(f).size, 100n);
  await again.close();
});
