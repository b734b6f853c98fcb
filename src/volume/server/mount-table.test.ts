import { test } from "node:test";
import assert from "node:assert/strict";
import { MountTable } from "./mount-table.js";

test("mayBeAlive: live mounts yes, ended ones no, unknown ones only during the restart grace period", () => {
  let now = 1_000;
  const t = new MountTable<string>({ restartGraceMs: 60_000, now: () => now });
  const a = t.add("v", []);
  const b = t.add("v", []);
  assert.notEqual(a.mountId, b.mountId);
  assert.equal(t.delete(b.mountId), true);
  assert.equal(t.delete(b.mountId), false);
  assert.equal(t.mayBeAlive(a.mountId), true);
  assert.equal(t.mayBeAlive(b.mountId), false, "unmounted in this process: certainly gone");
  assert.equal(t.mayBeAlive("AAAAAAAAAAAAAAAAAAAAAA=="), true, "unknown within the grace period: maybe a previous incarnation's mount");
  now += 60_000;
  assert.equal(t.mayBeAlive("AAAAAAAAAAAAAAAAAAAAAA=="), false);
  assert.equal(t.mayBeAlive(a.mountId), true);
});
