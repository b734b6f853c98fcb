import { test } from "node:test";
import assert from "node:assert/strict";
import { LogSegment, type LogSegmentIo } from "./log-segment.js";
import { Semaphore } from "./semaphore.js";

async function drain(body: () => AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of body()) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

function io(opts: { failFirstPut?: boolean } = {}): LogSegmentIo & { bodies: Buffer[]; provisions: number } {
  const r = {
    bodies: [] as Buffer[],
    provisions: 0,
    provision: async () => {
      r.provisions++;
      return { container: "C", object: "0000000000000001" };
    },
    put: async (_ref: unknown, body: () => AsyncIterable<Uint8Array>) => {
      // Like SwiftObjectStore: a retried attempt calls the body factory again.
      if (opts.failFirstPut && r.bodies.length === 0) {
        r.bodies.push(await drain(body));
        const again = await drain(body);
        r.bodies.push(again);
        return;
      }
      r.bodies.push(await drain(body));
    },
  };
  return r;
}

test("the PUT streams every append and ends when MaxFlushSize is reached", async () => {
  const x = io();
  const seg = new LogSegment(1, x, { maxFlushSize: 10, maxFlushTimeMs: 60_000 });
  seg.append(Buffer.from("hello"));
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(seg.state, "open");
  seg.append(Buffer.from("world!"));
  assert.equal(seg.state, "closed", "closed at >= MaxFlushSize");
  await seg.uploaded;
  assert.deepEqual(x.bodies, [Buffer.from("helloworld!")]);
  assert.throws(() => seg.append(Buffer.from("x")), /closed/);
});

test("the segment closes MaxFlushTime after creation and a retried PUT replays it from byte 0", async () => {
  const x = io({ failFirstPut: true });
  const t0 = Date.now();
  const seg = new LogSegment(2, x, { maxFlushSize: 1 << 20, maxFlushTimeMs: 50 });
  assert.equal(seg.append(Buffer.from("abc")), 0);
  assert.equal(seg.append(Buffer.from("def")), 3);
  await seg.uploaded;
  assert.ok(Date.now() - t0 >= 45, "closed by the timer");
  assert.deepEqual(x.bodies, [Buffer.from("abcdef"), Buffer.from("abcdef")]);
  const out = Buffer.alloc(4);
  seg.copyOut(2, 4, out, 0);
  assert.equal(out.toString(), "cdef");
});

test("a failed provision rejects uploaded and closes the segment", async () => {
  const seg = new LogSegment(3, { provision: async () => { throw new Error("no object"); }, put: async () => {} }, { maxFlushSize: 100, maxFlushTimeMs: 60_000 });
  await assert.rejects(seg.uploaded, /no object/);
  assert.equal(seg.state, "closed");
});

test("Semaphore: FIFO hand-off, never more tokens than capacity", async () => {
  const s = new Semaphore(2);
  await s.acquire();
  await s.acquire();
  assert.equal(s.tryAcquire(), false);
  const order: number[] = [];
  const a = s.acquire().then(() => order.push(1));
  const b = s.acquire().then(() => order.push(2));
  s.release();
  s.release();
  await Promise.all([a, b]);
  assert.deepEqual(order, [1, 2]);
  s.release();
  s.release();
  assert.throws(() => s.release(), /more often/);
});
