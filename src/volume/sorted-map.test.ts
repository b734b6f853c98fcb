import { test } from "node:test";
import assert from "node:assert/strict";
import { SortedMap, compareNames } from "./sorted-map.js";
import { Prng, testSeed } from "../base/testing/prng.js";

const cmp = (a: number, b: number): number => a - b;

function lowerIdx(arr: number[], k: number): number {
  let i = 0;
  while (i < arr.length && arr[i]! < k) i++;
  return i;
}

test("random set/delete keeps order, counts and links consistent with a sorted array", () => {
  for (const leaf of [4, 5, 64]) {
    const rnd = new Prng(testSeed(1234) + leaf);
    const m = new SortedMap<number, number>(cmp, { leafSize: leaf, branchSize: leaf });
    const model = new Map<number, number>();
    for (let step = 0; step < 6000; step++) {
      const k = rnd.int(800);
      if (rnd.chance(0.55)) {
        const isNew = m.set(k, step);
        assert.equal(isNew, !model.has(k));
        model.set(k, step);
      } else {
        assert.equal(m.delete(k), model.delete(k));
      }
      if (step % 500 === 0) m.checkInvariants();
      const keys = [...model.keys()].sort(cmp);
      const probe = rnd.int(820) - 10;
      assert.equal(m.size, keys.length);
      assert.equal(m.get(probe), model.get(probe));
      assert.equal(m.rank(probe), lowerIdx(keys, probe));
      const lb = m.lowerBound(probe);
      const li = lowerIdx(keys, probe);
      assert.equal(lb.valid ? lb.key : undefined, keys[li]);
      const ub = m.upperBound(probe);
      const ui = keys.findIndex((x) => x > probe);
      assert.equal(ub.valid ? ub.key : undefined, ui < 0 ? undefined : keys[ui]);
      const fl = m.floor(probe);
      const fi = ui < 0 ? keys.length - 1 : ui - 1;
      assert.equal(fl.valid ? fl.key : undefined, fi < 0 ? undefined : keys[fi]);
      if (keys.length > 0) {
        const i = rnd.int(keys.length);
        assert.equal(m.at(i).key, keys[i]);
      }
      assert.equal(m.at(keys.length).valid, false);
    }
    m.checkInvariants();
    assert.deepEqual([...m.entries()].map(([k]) => k), [...model.keys()].sort(cmp));
    // Walk backwards through the leaf chain too.
    const back: number[] = [];
    for (const c = m.last(); c.valid; c.prev()) back.push(c.key);
    assert.deepEqual(back, [...model.keys()].sort(cmp).reverse());
    for (const k of [...model.keys()]) m.delete(k);
    m.checkInvariants();
    assert.equal(m.size, 0);
    assert.equal(m.first().valid, false);
  }
});

test("compareNames orders by code point (UTF-8 byte order), not UTF-16 units", () => {
  const a = "\uFF01"; // U+FF01: UTF-8 EF BC 81
  const b = "\u{1F600}"; // U+1F600: UTF-8 F0 9F 98 80; UTF-16 D83D DE00
  assert.ok(a > b, "JS < compares UTF-16 units: surrogate sorts first");
  assert.ok(compareNames(a, b) < 0);
  assert.ok(Buffer.compare(Buffer.from(a), Buffer.from(b)) < 0);
  const rnd = new Prng(testSeed(99));
  const pool = ["a", "b", "ab", ".", "..", "-x", "\u00e9", "\uFFFF", "\u{10000}", "\uE000", "z\u{1F600}", "z\uFF01"];
  for (let i = 0; i < 500; i++) {
    const x = rnd.pick(pool) + rnd.pick(pool);
    const y = rnd.pick(pool) + rnd.pick(pool);
    assert.equal(Math.sign(compareNames(x, y)), Math.sign(Buffer.compare(Buffer.from(x), Buffer.from(y))), `${x} vs ${y}`);
  }
});
