import { test } from "node:test";
import assert from "node:assert/strict";
import { ExtentMap, type ObjectRef } from "./extent-map.js";

const A: ObjectRef = { container: "c", object: "A" };
const B: ObjectRef = { container: "c", object: "B" };

test("set: a later overlapping write splits the earlier extent and wins", () => {
  const m = new ExtentMap();
  m.set(0, 8, null, 0);
  m.set(3, 2, null, 8); // same ref (null), NOT contiguous in object offsets: must not merge
  assert.deepEqual(m.extents().map((e) => [e.off, e.len, e.objOff]), [[0, 3, 0], [3, 2, 8], [5, 3, 5]]);
});

test("set: contiguous file and object offsets of one ref merge into one extent", () => {
  const m = new ExtentMap();
  m.set(0, 4, A, 100);
  m.set(4, 4, A, 104);
  m.set(8, 4, B, 108);
  assert.deepEqual(m.extents().map((e) => [e.off, e.len, e.ref?.object, e.objOff]), [[0, 8, "A", 100], [8, 4, "B", 108]]);
});

test("pieces and firstGap report unknown ranges; fillGaps never overwrites known extents", () => {
  const m = new ExtentMap();
  m.set(10, 10, A, 0);
  assert.equal(m.firstGap(0, 30), 0);
  assert.equal(m.firstGap(10, 20), undefined);
  assert.equal(m.firstGap(12, 30), 20);
  assert.deepEqual(m.pieces(5, 25), [
    { off: 5, len: 5 },
    { off: 10, len: 10, ref: A, objOff: 0 },
    { off: 20, len: 5 },
  ]);
  m.fillGaps(0, 30, B, 1000);
  assert.deepEqual(m.extents().map((e) => [e.off, e.len, e.ref?.object, e.objOff]), [[0, 10, "B", 1000], [10, 10, "A", 0], [20, 10, "B", 1020]]);
  assert.equal(m.firstGap(0, 30), undefined);
});

test("truncate drops and clips extents at the new size", () => {
  const m = new ExtentMap();
  m.set(0, 10, A, 0);
  m.set(10, 10, B, 0);
  m.truncate(15);
  assert.deepEqual(m.extents().map((e) => [e.off, e.len]), [[0, 10], [10, 5]]);
  assert.equal(m.end, 15);
  m.truncate(0);
  assert.equal(m.size, 0);
});

test("random writes agree with a byte-array model", () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 50; round++) {
    const m = new ExtentMap();
    const size = 200;
    const model: Array<number | undefined> = new Array(size).fill(undefined); // object byte index, or undefined
    let objLen = 0;
    for (let i = 0; i < 40; i++) {
      const off = rnd(size - 1);
      const len = 1 + rnd(Math.min(30, size - off));
      if (rnd(4) === 0) {
        m.fillGaps(off, len, A, objLen);
        for (let k = 0; k < len; k++) if (model[off + k] === undefined) model[off + k] = objLen + k;
      } else {
        m.set(off, len, A, objLen);
        for (let k = 0; k < len; k++) model[off + k] = objLen + k;
      }
      objLen += len;
    }
    const got: Array<number | undefined> = new Array(size).fill(undefined);
    for (const p of m.pieces(0, size)) {
      for (let k = 0; k < p.len; k++) got[p.off + k] = p.ref ? p.objOff! + k : undefined;
    }
    assert.deepEqual(got, model, `round ${round}`);
    const ext = m.extents();
    for (let i = 1; i < ext.length; i++) assert.ok(ext[i - 1]!.off + ext[i - 1]!.len <= ext[i]!.off, "sorted, non-overlapping");
  }
});
