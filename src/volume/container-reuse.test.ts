// A Volume opened on existing state keeps filling the log-segment containers it was filling
// before (from the segment records), instead of opening containersPerPeer new ones per restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryVolumeStore } from "./memory-volume-store.js";
import { Volume } from "./volume.js";

test("a restarted volume reuses the newest non-full containers of its segment records", () => {
  const store = new MemoryVolumeStore();
  const first = new Volume({ store, containersPerPeer: 3, maxObjectsPerContainer: 4 });
  const used = new Set<string>();
  for (let k = 0; k < 7; k++) used.add(first.provisionObject().containerName);
  assert.equal(used.size, 3);
  // "Restart": a new Volume over the same store (as PersistentVolume builds after recovery).
  const second = new Volume({ store, containersPerPeer: 3, maxObjectsPerContainer: 4 });
  const again: string[] = [];
  let fresh = 0;
  for (let k = 0; k < 5; k++) {
    const p = second.provisionObject();
    again.push(p.containerName);
    if (p.newContainer) fresh++;
  }
  assert.ok(again.every((c) => used.has(c)), `reused the old containers: ${again.join(", ")}`);
  assert.equal(fresh, 0);
  // Each container holds at most 4 records; the next provisions open a new one when all are full.
  const counts = store.segmentCountsByContainer();
  assert.deepEqual([...counts.values()].sort(), [4, 4, 4]);
  const p = second.provisionObject();
  assert.equal(p.newContainer, true);
  assert.ok(!used.has(p.containerName));
  // Containers of another prefix are not adopted.
  const other = new Volume({ store, containerPrefix: "Other_", containersPerPeer: 3 });
  assert.equal(other.provisionObject().newContainer, true);
});
