import { test } from "node:test";
import assert from "node:assert/strict";
import { orphanName } from "./orphan-dir.js";

test("orphanName() never contains a slash, whatever the base64 MountID holds", () => {
  // A MountID with "/" made unlink of an open file fail with EINVAL (regression).
  assert.equal(orphanName("ab/c+d/ef==", 42n), "ab_c-d_ef==-42");
  for (let i = 0; i < 200; i++) {
    const id = Buffer.from(Array.from({ length: 16 }, () => Math.floor(Math.random() * 256))).toString("base64");
    assert.doesNotMatch(orphanName(id, BigInt(i)), /\//);
  }
});
