import { test } from "node:test";
import assert from "node:assert/strict";
import { ReadCache, ShortObjectError } from "./read-cache.js";

const object = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));

function counting(delayMs = 5): { fetch: (c: string, o: string, start: number, len: number) => Promise<Buffer>; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    fetch: async (_c, o, start, len) => {
      calls.push(`${o}@${start}`);
      await new Promise((r) => setTimeout(r, delayMs));
      return object.subarray(start, Math.min(start + len, object.length));
    },
  };
}

test("concurrent readers of a missing line share one GET", async () => {
  const f = counting();
  const cache = new ReadCache({ lineSize: 100, lineCount: 10, fetch: f.fetch });
  const bufs = Array.from({ length: 20 }, () => Buffer.alloc(10));
  await Promise.all(bufs.map((b, i) => cache.read("c", "o", 120 + i, 10, b, 0)));
  assert.deepEqual(f.calls, ["o@100"]);
  bufs.forEach((b, i) => assert.deepEqual(b, object.subarray(120 + i, 130 + i)));
  assert.equal(cache.stats.misses, 1);
  assert.equal(cache.stats.hits, 19);
});

test("a read spanning lines fetches each line once and assembles the bytes", async () => {
  const f = counting();
  const cache = new ReadCache({ lineSize: 100, lineCount: 10, fetch: f.fetch });
  const out = Buffer.alloc(350);
  await cache.read("c", "o", 50, 350, out, 0);
  assert.deepEqual(out, object.subarray(50, 400));
  assert.deepEqual(f.calls.sort(), ["o@0", "o@100", "o@200", "o@300"]);
});

test("the LRU holds at most lineCount lines and evicts the least recently used", async () => {
  const f = counting(0);
  const cache = new ReadCache({ lineSize: 100, lineCount: 2, fetch: f.fetch });
  const b = Buffer.alloc(1);
  await cache.read("c", "o", 0, 1, b, 0);
  await cache.read("c", "o", 100, 1, b, 0);
  await cache.read("c", "o", 0, 1, b, 0); // hit: line 0 becomes MRU
  await cache.read("c", "o", 200, 1, b, 0); // evicts line 100
  assert.equal(cache.cachedLines, 2);
  await cache.read("c", "o", 0, 1, b, 0);
  await cache.read("c", "o", 100, 1, b, 0);
  assert.deepEqual(f.calls, ["o@0", "o@100", "o@200", "o@100"]);
});

test("a failed GET is not cached: its waiters see the error and the next read retries", async () => {
  let fail = true;
  const cache = new ReadCache({
    lineSize: 100, lineCount: 4,
    fetch: async (_c, _o, start, len) => {
      if (fail) throw new Error("GET failed");
      return object.subarray(start, start + len);
    },
  });
  const b = Buffer.alloc(5);
  await assert.rejects(Promise.all([cache.read("c", "o", 0, 5, b, 0), cache.read("c", "o", 1, 4, b, 0)]), /GET failed/);
  fail = false;
  await cache.read("c", "o", 0, 5, b, 0);
  assert.deepEqual(b, object.subarray(0, 5));
  assert.equal(cache.stats.fetchErrors, 1);
});

test("an extent beyond the end of its object is an error, not silent zeros", async () => {
  const f = counting(0);
  const cache = new ReadCache({ lineSize: 100, lineCount: 4, fetch: f.fetch });
  await assert.rejects(cache.read("c", "o", 950, 100, Buffer.alloc(100), 0), ShortObjectError);
});
