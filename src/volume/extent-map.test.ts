import { test } from "node:test";
import assert from "node:assert/strict";
import { ExtentMap, type Extent, type ExtentDelta } from "./extent-map.js";
import { Prng, testSeed } from "../base/testing/prng.js";

// Byte `off` of log segment `seg`: a deterministic pattern so misplaced bytes show.
function segByte(seg: number, off: number): number {
  return (seg * 31 + off * 7 + (off >> 8) + 1) & 0xff;
}

const HOLE = -1;

/** Per-byte reference: which segment (0 = zero extent, -1 = hole) and which offset in it. */
class Model {
  seg: number[] = [];
  off: number[] = [];
  size = 0;

  clone(): Model {
    const m = new Model();
    m.seg = [...this.seg];
    m.off = [...this.off];
    m.size = this.size;
    return m;
  }
  #grow(n: number): void {
    while (this.seg.length < n) {
      this.seg.push(HOLE);
      this.off.push(0);
    }
  }
  write(o: number, len: number, seg: number, so: number): void {
    this.#grow(o + len);
    for (let i = 0; i < len; i++) {
      this.seg[o + i] = seg;
      this.off[o + i] = seg === 0 ? 0 : so + i;
    }
  }
  punch(o: number, len: number): void {
    for (let i = o; i < Math.min(o + len, this.seg.length); i++) this.seg[i] = HOLE;
  }
  allocate(o: number, len: number): void {
    this.#grow(o + len);
    for (let i = o; i < o + len; i++) if (this.seg[i] === HOLE) { this.seg[i] = 0; this.off[i] = 0; }
  }
  byteAt(i: number): number {
    const s = this.seg[i] ?? HOLE;
    return s <= 0 ? 0 : segByte(s, this.off[i]!);
  }
}

function readBytes(map: ExtentMap, off: number, len: number, size: number): Buffer {
  const steps = map.readPlan(BigInt(off), BigInt(len), BigInt(size));
  const parts: number[] = [];
  let pos = BigInt(off);
  for (const s of steps) {
    assert.equal(s.fileOffset, pos, "read plan steps are contiguous");
    assert.ok(s.length > 0n);
    for (let i = 0n; i < s.length; i++) parts.push(s.segment === 0n ? 0 : segByte(Number(s.segment), Number(s.segmentOffset + i)));
    pos += s.length;
  }
  return Buffer.from(parts);
}

function checkMapMatchesModel(map: ExtentMap, m: Model): void {
  const seg = new Array<number>(m.seg.length).fill(HOLE);
  const off = new Array<number>(m.seg.length).fill(0);
  let prev: Extent | undefined;
  const bytes = new Map<bigint, bigint>();
  for (const e of map.extents()) {
    assert.ok(e.length > 0n, "extent length > 0");
    if (prev !== undefined) {
      const pe = prev.fileOffset + prev.length;
      assert.ok(pe <= e.fileOffset, "extents do not overlap");
      const mergeable = pe === e.fileOffset && prev.segment === e.segment && (e.segment === 0n || prev.segmentOffset + prev.length === e.segmentOffset);
      assert.ok(!mergeable, `neighbours at ${pe} should have been merged`);
    }
    prev = e;
    if (e.segment !== 0n) bytes.set(e.segment, (bytes.get(e.segment) ?? 0n) + e.length);
    for (let i = 0; i < Number(e.length); i++) {
      const at = Number(e.fileOffset) + i;
      assert.ok(at < m.seg.length, `extent byte ${at} beyond model`);
      seg[at] = Number(e.segment);
      off[at] = e.segment === 0n ? 0 : Number(e.segmentOffset) + i;
    }
  }
  for (let i = 0; i < m.seg.length; i++) {
    if (seg[i] !== m.seg[i] || (m.seg[i]! > 0 && off[i] !== m.off[i])) {
      assert.fail(`byte ${i}: map says seg ${seg[i]}@${off[i]}, model seg ${m.seg[i]}@${m.off[i]}`);
    }
  }
  assert.deepEqual(new Map(map.segmentBytes), bytes, "segment reference bytes");
}

function modelSeekData(m: Model, o: number): number | undefined {
  if (o >= m.size) return undefined;
  for (let i = o; i < m.size; i++) if ((m.seg[i] ?? HOLE) !== HOLE) return i;
  return undefined;
}

function modelSeekHole(m: Model, o: number): number | undefined {
  if (o >= m.size) return undefined;
  for (let i = o; i < m.size; i++) if ((m.seg[i] ?? HOLE) === HOLE) return i;
  return m.size;
}

// What the agent does with FetchExtentMapChunk: walk forward chunk by chunk, zero-filling gaps.
function agentRead(map: ExtentMap, size: number, maxFrom: number): Buffer {
  const out = Buffer.alloc(size);
  let cursor = 0n;
  for (let guard = 0; guard < 100000 && cursor < BigInt(size); guard++) {
    const ch = map.fetchChunk(cursor, maxFrom, 0, BigInt(size));
    assert.ok(ch.rangeStart <= cursor || ch.extents.length === 0 || ch.extents[0]!.fileOffset <= cursor || ch.rangeStart <= ch.extents[0]!.fileOffset);
    for (const e of ch.extents) {
      assert.notEqual(e.segment, 0n, "zero extents are not sent");
      for (let i = 0n; i < e.length; i++) {
        const at = e.fileOffset + i;
        if (at < BigInt(size)) out[Number(at)] = segByte(Number(e.segment), Number(e.segmentOffset + i));
      }
    }
    if (ch.extents.length === 0) break;
    assert.ok(ch.rangeEnd > cursor, "progress");
    cursor = ch.rangeEnd;
  }
  return out;
}

test("extent map matches a byte model over random write/punch/truncate/allocate/revert", () => {
  for (let round = 0; round < 6; round++) {
    const rnd = new Prng(testSeed(777) + round);
    const map = new ExtentMap();
    let model = new Model();
    const journal: ExtentDelta[] = [];
    const SPAN = 3000;
    for (let step = 0; step < 1500; step++) {
      const before = model.clone();
      let delta: ExtentDelta;
      const op = rnd.int(100);
      if (op < 55) {
        const o = rnd.int(SPAN);
        const len = rnd.range(1, rnd.chance(0.2) ? 900 : 64);
        // Sequential-looking writes from the same segment exercise merging.
        const seg = rnd.range(1, 6);
        const so = rnd.chance(0.5) ? o : rnd.int(5000);
        delta = map.write(BigInt(o), BigInt(len), BigInt(seg), BigInt(so));
        model.write(o, len, seg, so);
        model.size = Math.max(model.size, o + len);
      } else if (op < 70) {
        const o = rnd.int(SPAN);
        const len = rnd.range(1, 500);
        delta = map.punch(BigInt(o), BigInt(len));
        model.punch(o, len);
      } else if (op < 80) {
        const size = rnd.int(SPAN + 200);
        delta = map.truncate(BigInt(size));
        model.punch(size, model.seg.length);
        model.size = size;
      } else if (op < 92) {
        const o = rnd.int(SPAN);
        const len = rnd.range(1, 400);
        delta = map.allocate(BigInt(o), BigInt(len));
        model.allocate(o, len);
        if (rnd.chance(0.5)) model.size = Math.max(model.size, o + len);
      } else {
        delta = map.write(BigInt(rnd.int(SPAN)), BigInt(rnd.range(1, 100)), 7n, BigInt(rnd.int(100)));
        map.revert(delta);
        model = before;
        checkMapMatchesModel(map, model);
        continue;
      }
      journal.push(delta);
      if (step % 7 === 0) checkMapMatchesModel(map, model);
      for (let k = 0; k < 3; k++) {
        const o = rnd.int(model.size + 50);
        const len = rnd.range(0, 700);
        const got = readBytes(map, o, len, model.size);
        const endClip = Math.max(o, Math.min(o + len, model.size));
        const want = Buffer.from(Array.from({ length: endClip - o }, (_, i) => model.byteAt(o + i)));
        assert.deepEqual(got, want, `read ${o}+${len} at step ${step}`);
        const sd = map.seekData(BigInt(o), BigInt(model.size));
        assert.equal(sd === undefined ? undefined : Number(sd), modelSeekData(model, o), `SEEK_DATA ${o}`);
        const sh = map.seekHole(BigInt(o), BigInt(model.size));
        assert.equal(sh === undefined ? undefined : Number(sh), modelSeekHole(model, o), `SEEK_HOLE ${o}`);
      }
    }
    checkMapMatchesModel(map, model);
    // Whole-file read through FetchExtentMapChunk as the agent would do it.
    const whole = Buffer.from(Array.from({ length: model.size }, (_, i) => model.byteAt(i)));
    for (const maxFrom of [1, 3, 32]) assert.deepEqual(agentRead(map, model.size, maxFrom), whole);
    // Journal replay on an empty map gives the same map.
    const replay = new ExtentMap();
    for (const d of journal) replay.apply(d);
    assert.deepEqual([...replay.extents()], [...map.extents()]);
  }
});

test("fetchChunk follows ProxyFS semantics (captured example and before/after counts)", () => {
  const m = new ExtentMap();
  m.write(0n, 100n, 0x77n, 0n);
  // File truncated to 100 then extended to 5000 (captured in wire-1.17.1).
  let c = m.fetchChunk(0n, 32, 0, 5000n);
  assert.deepEqual({ s: c.rangeStart, e: c.rangeEnd, n: c.extents.length }, { s: 0n, e: 5000n, n: 1 });
  c = m.fetchChunk(4096n, 32, 0, 5000n);
  assert.deepEqual({ s: c.rangeStart, e: c.rangeEnd, n: c.extents.length }, { s: 100n, e: 5000n, n: 0 });
  // Empty map: whole file, no entries.
  c = new ExtentMap().fetchChunk(10n, 32, 0, 77n);
  assert.deepEqual({ s: c.rangeStart, e: c.rangeEnd, n: c.extents.length }, { s: 0n, e: 77n, n: 0 });

  const many = new ExtentMap();
  for (let i = 0n; i < 100n; i++) many.write(i * 10n, 5n, i + 1n, 0n); // [0,5) [10,15) ... segments differ
  c = many.fetchChunk(503n, 4, 2, 1000n);
  assert.deepEqual(c.extents.map((e) => e.fileOffset), [480n, 490n, 500n, 510n, 520n, 530n]);
  assert.equal(c.rangeStart, 475n); // end of the extent before 480
  assert.equal(c.rangeEnd, 540n); // start of the extent after 530
  c = many.fetchChunk(507n, 1, 0, 1000n); // in a gap: the next extent
  assert.deepEqual(c.extents.map((e) => e.fileOffset), [510n]);
  assert.equal(c.rangeStart, 505n);
  c = many.fetchChunk(0n, 1000, 1000, 1000n);
  assert.equal(c.extents.length, 100);
  assert.equal(c.rangeStart, 0n);
  assert.equal(c.rangeEnd, 1000n);
});

test("a file with many extents stays fast (sorted structure, O(log n) per operation)", () => {
  const m = new ExtentMap();
  const n = 200_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) m.write(BigInt(i) * 8192n, 4096n, BigInt(i + 1), 0n);
  for (let i = 0; i < n; i += 3) m.write(BigInt(i) * 8192n + 1000n, 100n, 999999n, 0n);
  let total = 0n;
  for (let i = 0; i < 20_000; i++) total += m.readPlan(BigInt((i * 97) % n) * 8192n, 16384n, BigInt(n) * 8192n).length > 0 ? 1n : 0n;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  assert.equal(total, 20_000n);
  assert.equal(m.count, n + Math.ceil(n / 3) * 2);
  assert.ok(ms < 8000, `took ${ms} ms`);
});
