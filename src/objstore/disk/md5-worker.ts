// Worker thread body for the off-thread MD5 hashers (md5-hasher.ts): keeps one MD5 state per hash
// id. Messages, processed in order:
//   { id, buf: ArrayBuffer, len }           update from a transferred buffer; acked with { id, acked }
//   { id, sab: SharedArrayBuffer, off, len } update from shared memory the sender will not touch
//                                           until the ack { id, shared } arrives
//   { id, end: true }                       finish; answered with { id, hex }
import { parentPort } from "node:worker_threads";
import { createHash, type Hash } from "node:crypto";

interface Message { id: number; buf?: ArrayBuffer; sab?: SharedArrayBuffer; off?: number; len?: number; end?: boolean }

const hashes = new Map<number, Hash>();
parentPort!.on("message", (m: Message) => {
  let h = hashes.get(m.id);
  if (!h) {
    h = createHash("md5");
    hashes.set(m.id, h);
  }
  if (m.buf) {
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort!.postMessage({ id: m.id, acked: m.len });
  }
  if (m.sab) {
    h.update(new Uint8Array(m.sab, m.off, m.len));
    parentPort!.postMessage({ id: m.id, shared: m.len });
  }
  if (m.end) {
    hashes.delete(m.id);
    parentPort!.postMessage({ id: m.id, hex: h.digest("hex") });
  }
});
