import assert from "node:assert/strict";
import { test } from "node:test";
import { ExtentFile } from "./mem-fs-extents.js";
import { F_RDLCK, F_UNLCK, F_WRLCK, LockTable } from "./mem-fs-locks.js";
import { mulberry32 } from "../../base/testing/prng.js";


test("ExtentFile matches a flat-buffer model under random writes, truncates, punches and allocations", () => {
  for (const seed of [1, 2, 3, 42]) {
    const rnd = mulberry32(seed);
    const f = new ExtentFile();
    const MAX = 300_000;
    // The model: a flat buffer of which the first `size` bytes are the file.
    const model = Buffer.alloc(MAX + 20_001);
    let size = 0;
    const grow = (to: number) => {
      if (to > size) { model.fill(0, size, to); size = to; }
    };
    for (let step = 0; step < 3000; step++) {
      const op = Math.floor(rnd() * 6);
      const off = Math.floor(rnd() * MAX);
      const len = 1 + Math.floor(rnd() * 20_000);
      if (op <= 1) {
        const data = Buffer.alloc(len, (step % 255) + 1);
        f.write(off, data);
        grow(off + len);
        data.copy(model, off);
      } else if (op === 2) {
        f.truncate(off);
        if (off < size) size = off;
        else grow(off);
      } else if (op === 3) {
        f.punch(off, len);
        if (off < size) model.fill(0, off, Math.min(off + len, size));
      } else {
        const keep = rnd() < 0.5;
        if (op === 4) f.allocate(off, len, keep);
        else {
          f.zeroRange(off, len, keep);
          if (off < size) model.fill(0, off, Math.min(off + len, size));
        }
        if (!keep) grow(off + len);
      }
      assert.equal(f.size, size, `seed ${seed} step ${step}: size`);
      if (step % 100 === 0 || step > 2995) {
        const m = model.subarray(0, size);
        assert.ok(f.read(0, size).equals(m), `seed ${seed} step ${step}: content`);
        // SEEK_DATA/SEEK_HOLE never claim data is a hole.
        for (let p = 0; p < size; p += 4999) {
          const hole = f.seekHole(p)!;
          assert.ok(hole >= p && hole <= size);
          if (m[p] !== 0) assert.notEqual(hole, p, `seed ${seed}: data at ${p} reported as hole`);
          const data = f.seekData(p);
          if (data !== null && data > p) assert.ok(m.subarray(p, data).every((x) => x === 0), `seed ${seed}: skipped data before ${data}`);
          if (data === null) assert.ok(m.subarray(p).every((x) => x === 0));
        }
      }
    }
  }
});

test("ExtentFile: a 1 TiB sparse file holds only its data, and seeks find it", () => {
  const f = new ExtentFile();
  f.truncate(2 ** 40);
  f.write(2 ** 39, Buffer.from("needle"));
  assert.equal(f.memBytes, 6);
  assert.equal(f.extentCount, 1);
  assert.equal(f.seekData(0), 2 ** 39);
  assert.equal(f.seekHole(2 ** 39), 2 ** 39 + 6);
  assert.equal(f.seekData(2 ** 39 + 6), null);
  assert.equal(f.seekHole(2 ** 40), null);
  assert.equal(f.read(2 ** 39 - 2, 10).toString("latin1"), "\0\0needle\0\0");
});

test("ExtentFile: sequential small writes coalesce into few extents", () => {
  const f = new ExtentFile();
  for (let k = 0; k < 1024; k++) f.write(k * 4096, Buffer.alloc(4096, k & 0xff));
  assert.ok(f.extentCount <= 8, `${f.extentCount} extents`);
  assert.equal(f.read(4096 * 1000, 1)[0], 1000 & 0xff);
  assert.equal(f.memBytes, 4096 * 1024);
});

const never = () => new AbortController().signal;
const lock = (start: bigint, end: bigint, type: number, pid = 1) => ({ start, end, type, pid });

test("LockTable: POSIX locks split, merge and conflict only across owners", async () => {
  const t = new LockTable();
  await t.setPosix(1n, lock(0n, 99n, F_WRLCK), false, never);
  await t.setPosix(1n, lock(100n, 199n, F_WRLCK), false, never);
  assert.equal(t.describe().posix.length, 1, "touching locks of one owner merge");
  await t.setPosix(1n, lock(40n, 59n, F_UNLCK), false, never);
  assert.deepEqual(t.describe().posix.map((l) => [l.start, l.end]).sort((a, b) => Number(a[0]! - b[0]!)), [[0n, 39n], [60n, 199n]]);
  await t.setPosix(1n, lock(150n, 160n, F_RDLCK), false, never);
  assert.equal(t.describe().posix.length, 4, "a read lock inside a write lock splits it");
  assert.deepEqual(t.testPosix(2n, lock(45n, 50n, F_WRLCK)).type, F_UNLCK);
  assert.deepEqual(t.testPosix(2n, lock(155n, 155n, F_RDLCK)).type, F_UNLCK);
  assert.equal(t.testPosix(2n, lock(155n, 155n, F_WRLCK)).type, F_RDLCK);
  assert.equal(t.testPosix(1n, lock(0n, 500n, F_WRLCK)).type, F_UNLCK, "an owner never conflicts with itself");
  await assert.rejects(t.setPosix(2n, lock(30n, 45n, F_RDLCK), false, never), { code: "EAGAIN" });
  t.releasePosixOwner(1n);
  assert.ok(t.empty);
});

test("LockTable: a waiter is granted on release and gives up with EINTR on abort", async () => {
  const t = new LockTable();
  await t.setPosix(1n, lock(0n, 2n ** 64n - 1n, F_WRLCK), false, never);
  const granted = t.setPosix(2n, lock(0n, 10n, F_WRLCK), true, never);
  const ac = new AbortController();
  const aborted = t.setPosix(3n, lock(5n, 5n, F_RDLCK), true, () => ac.signal);
  ac.abort();
  await assert.rejects(aborted, { code: "EINTR" });
  await t.setPosix(1n, lock(0n, 2n ** 64n - 1n, F_UNLCK), false, never);
  await granted;
  assert.equal(t.testPosix(1n, lock(3n, 3n, F_RDLCK)).pid, 1);
  // flock: shared locks coexist, exclusive waits.
  await t.setFlock(10n, F_RDLCK, 1, false, never);
  await t.setFlock(11n, F_RDLCK, 2, false, never);
  await assert.rejects(t.setFlock(12n, F_WRLCK, 3, false, never), { code: "EAGAIN" });
  const ex = t.setFlock(12n, F_WRLCK, 3, true, never);
  t.releaseFlock(10n);
  t.releaseFlock(11n);
  await ex;
});
