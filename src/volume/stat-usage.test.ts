// Allocated space (st_blocks) and statfs usage of a Volume: per-inode allocated bytes follow the
// extent map (writes, overwrites, punch, truncate, fallocate), the volume-wide running total
// equals the sum over all files whatever happens (aborted transactions, unlink, replay into a
// fresh store), and statfs reports totals minus that usage.
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyCommit } from "./apply-commit.js";
import { MemoryVolumeStore, ROOT_CALLER, S_IFCHR, Volume, type CommitRecord } from "./index.js";

const root = ROOT_CALLER;
const KiB = 1024n;
const MiB = 1024n * KiB;
const TiB = 1024n * 1024n * MiB;

/** Records `extents` ([fileOffset, length] pairs) as written into a fresh log segment. */
function write(v: Volume, ino: bigint, extents: Array<[bigint, bigint]>): void {
  const p = v.provisionObject();
  let objOff = 0n;
  v.wrote(root, ino, {
    containerName: p.containerName, objectName: p.objectName,
    extents: extents.map(([fileOffset, length]) => {
      const x = { fileOffset, objectOffset: objOff, length };
      objOff += length;
      return x;
    }),
  });
}

/** Sum of allocatedBytes over every extent map: what the running total must always equal. */
function summed(store: MemoryVolumeStore): bigint {
  let n = 0n;
  for (const [, map] of store.exportState().extentMaps) n += map.allocatedBytes;
  return n;
}

test("allocatedBytes of a file follows writes, overwrites, truncate, punch and fallocate; holes count nothing", () => {
  const v = new Volume();
  const f = v.create(root, 1n, "f", 0o644).ino;
  assert.equal(v.allocatedBytes(f), 0n);
  write(v, f, [[0n, 4096n], [MiB, 4096n]]);
  assert.equal(v.getattr(f).size, MiB + 4096n);
  assert.equal(v.allocatedBytes(f), 8192n, "two 4 KiB extents, the hole between them is free");
  write(v, f, [[2048n, 4096n]]);
  assert.equal(v.allocatedBytes(f), 8192n + 2048n, "an overwrite counts once; only the 2 KiB beyond the old extent are new");
  v.setattr(root, f, { size: 1000n });
  assert.equal(v.allocatedBytes(f), 1000n, "truncate drops extents beyond the size");
  v.setattr(root, f, { size: TiB });
  assert.equal(v.getattr(f).size, TiB);
  assert.equal(v.allocatedBytes(f), 1000n, "growing the size allocates nothing");
  write(v, f, [[TiB / 2n, 6n]]);
  assert.equal(v.allocatedBytes(f), 1006n, "a 1 TiB sparse file holding a few bytes");
  v.fallocate(root, f, 3, 0n, 500n); // PUNCH_HOLE | KEEP_SIZE
  assert.equal(v.allocatedBytes(f), 506n);
  v.fallocate(root, f, 0, MiB, MiB); // allocate: zero extents count as allocated
  assert.equal(v.allocatedBytes(f), 506n + MiB);
  v.fallocate(root, f, 1, TiB, 4096n); // KEEP_SIZE beyond EOF: allocated, as Linux counts it
  assert.equal(v.getattr(f).size, TiB);
  assert.equal(v.allocatedBytes(f), 506n + MiB + 4096n);
  v.setattr(root, f, { size: 0n });
  assert.equal(v.allocatedBytes(f), 0n);
});

test("allocatedBytes of other types: a symlink's target length, 0 for directories and device nodes; rdev is kept", () => {
  const v = new Volume();
  const l = v.symlink(root, 1n, "l", "some/target").ino;
  assert.equal(v.allocatedBytes(l), 11n);
  const d = v.mkdir(root, 1n, "d", 0o755).ino;
  assert.equal(v.allocatedBytes(d), 0n);
  const rdev = (259 << 8) | (70000 & 0xff) | ((70000 & ~0xff) << 12);
  const c = v.mknod(root, 1n, "blk", S_IFCHR | 0o600, rdev);
  assert.equal(c.rdev, rdev);
  assert.equal(v.getattr(c.ino).rdev, rdev);
  assert.equal(v.allocatedBytes(c.ino), 0n);
  assert.throws(() => v.allocatedBytes(999_999n), (e: unknown) => (e as { code?: string }).code === "ENOENT");
});

test("statfs: totals as configured, free/avail blocks drop by the bytes written, inodes by the files made; unlink gives them back", () => {
  const v = new Volume();
  const s0 = v.statfs();
  assert.equal(s0.totalBlocks, 1677721600n);
  assert.equal(s0.freeBlocks, s0.totalBlocks, "an empty volume uses no blocks");
  assert.equal(s0.availBlocks, s0.totalBlocks);
  assert.equal(s0.freeInodes, s0.totalInodes - 1n, "the root directory is one inode");
  const f = v.create(root, 1n, "f", 0o644).ino;
  write(v, f, [[0n, 8n * MiB]]);
  const s1 = v.statfs();
  assert.equal(s1.totalBlocks, s0.totalBlocks);
  assert.equal(s0.freeBlocks - s1.freeBlocks, (8n * MiB) / s1.fragmentSize, "8 MiB = 128 fragments of 64 KiB");
  assert.equal(s1.availBlocks, s1.freeBlocks);
  assert.equal(s0.freeInodes - s1.freeInodes, 1n);
  assert.equal(s1.availInodes, s1.freeInodes);
  write(v, f, [[8n * MiB, 1n]]);
  assert.equal(s1.freeBlocks - v.statfs().freeBlocks, 1n, "a partly used fragment counts as used");
  v.setattr(root, f, { size: TiB });
  assert.equal(s1.freeBlocks - v.statfs().freeBlocks, 1n, "a sparse terabyte consumes nothing");
  v.unlink(root, 1n, "f");
  assert.deepEqual(v.statfs(), s0, "unlink frees the blocks and the inode");
});

test("statfs: configured totals are honoured; free never goes below zero", () => {
  const v = new Volume({ statfs: { blockSize: 4096n, fragmentSize: 4096n, totalBlocks: 10n, freeBlocks: 10n, availBlocks: 8n, totalInodes: 3n, freeInodes: 3n, availInodes: 3n } });
  const f = v.create(root, 1n, "f", 0o644).ino;
  write(v, f, [[0n, 4096n * 9n]]);
  let s = v.statfs();
  assert.deepEqual([s.totalBlocks, s.freeBlocks, s.availBlocks], [10n, 1n, 0n]);
  assert.deepEqual([s.totalInodes, s.freeInodes], [3n, 1n]);
  v.create(root, 1n, "g", 0o644);
  v.create(root, 1n, "h", 0o644);
  write(v, f, [[4096n * 9n, 4096n * 5n]]);
  s = v.statfs();
  assert.deepEqual([s.freeBlocks, s.availBlocks, s.freeInodes, s.availInodes], [0n, 0n, 0n, 0n]);
});

test("the running total equals the sum over all files through aborts, unlinks and renames, and replays into a fresh store", () => {
  const records: CommitRecord[] = [];
  const store = new MemoryVolumeStore({ onCommit: (r) => records.push(r) });
  const v = new Volume({ store });
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const names = ["a", "b", "c", "d"];
  for (const n of names) v.create(root, 1n, n, 0o644);
  for (let i = 0; i < 400; i++) {
    const name = names[rnd(names.length)]!;
    let ino: bigint;
    try {
      ino = v.lookup(root, 1n, name).ino;
    } catch {
      ino = v.create(root, 1n, name, 0o644).ino;
    }
    const off = BigInt(rnd(1 << 20));
    const len = BigInt(1 + rnd(1 << 16));
    switch (rnd(7)) {
      case 0: case 1: write(v, ino, [[off, len], [BigInt(rnd(1 << 20)), len]]); break;
      case 2: v.setattr(root, ino, { size: off }); break;
      case 3: v.fallocate(root, ino, 3, off, len); break;
      case 4: v.fallocate(root, ino, rnd(2), off, len); break;
      case 5: v.unlink(root, 1n, name); break;
      case 6: {
        // A transaction that changed extents and then aborts leaves the total as it was.
        const before = store.allocatedBytes();
        const tx = store.begin("aborted");
        tx.updateExtents(ino, (map) => map.write(off, len, 0n, 0n));
        tx.deleteExtentMap(ino);
        tx.abort();
        assert.equal(store.allocatedBytes(), before, "an aborted transaction leaves the total unchanged");
        break;
      }
    }
    assert.equal(store.allocatedBytes(), summed(store), `op ${i}`);
  }
  assert.ok(store.allocatedBytes() > 0n);
  // Recovery replays committed transactions through the same transaction API (persist/).
  const fresh = new MemoryVolumeStore();
  for (const r of records) applyCommit(fresh, r);
  assert.equal(fresh.allocatedBytes(), store.allocatedBytes());
  assert.equal(fresh.allocatedBytes(), summed(fresh));
  assert.deepEqual(new Volume({ store: fresh }).statfs(), v.statfs());
});

