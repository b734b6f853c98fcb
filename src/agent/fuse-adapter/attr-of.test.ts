// attrOf: st_blocks and st_rdev from the StatExtended fields when the server sent them, and the
// 1.17.1 fallback (blocks from the size, rdev 0) when it did not.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { StatStruct } from "../../proto/index.js";
import { attrOf } from "./fuse-adapter.js";

const TiB = 1n << 40n;
const base: StatStruct = {
  CTimeNs: 1n, CRTimeNs: 1n, MTimeNs: 1n, ATimeNs: 1n, Size: TiB, NumLinks: 1n, StatInodeNumber: 9n, FileMode: 0o100644, UserID: 0, GroupID: 0,
};

test("attrOf: a 1.17.1 stat (no extension fields) derives blocks from the size and reports rdev 0", () => {
  const a = attrOf(9n, base, 4096);
  assert.equal(a.blocks, TiB / 512n);
  assert.equal(a.rdev, 0);
  assert.equal(a.blksize, 4096);
  assert.equal(attrOf(9n, { ...base, Size: 1n }, 4096).blocks, 1n, "a partial block rounds up");
});

test("attrOf: AllocatedBytes gives st_blocks (512-byte units, rounded up), Rdev gives st_rdev", () => {
  assert.equal(attrOf(9n, { ...base, AllocatedBytes: 6n, Rdev: 0 }, 4096).blocks, 1n, "a 1 TiB sparse file holding 6 bytes");
  assert.equal(attrOf(9n, { ...base, AllocatedBytes: 0n, Rdev: 0 }, 4096).blocks, 0n);
  assert.equal(attrOf(9n, { ...base, AllocatedBytes: 1025n, Rdev: 0 }, 4096).blocks, 3n);
  const rdev = (259 << 8) | (70000 & 0xff) | ((70000 & ~0xff) << 12);
  const dev = attrOf(5n, { ...base, Size: 0n, FileMode: 0o060600, AllocatedBytes: 0n, Rdev: rdev }, 4096);
  assert.equal(dev.rdev, rdev);
  assert.equal(dev.blocks, 0n);
});
