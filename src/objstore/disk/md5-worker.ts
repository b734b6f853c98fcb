// Worker thread body for OffThreadMd5: keeps one MD5 state per hash id. Messages:
//   { id, buf: ArrayBuffer, len }  update (the buffer is transferred; acked with { id, acked })
//   { id, end: true }              finish; answered with { id, hex }
import { parentPort } from "node:worker_threads";
import { createHash, type Hash } from "node:crypto";

const hashes = new Map<number, Hash>();
parentPort!.on("message", (m: { id: number; buf?: ArrayBuffer; len?: number; end?: boolean }) => {
  let h = hashes.get(m.id);
  if (!h) {
    h = createHash("md5");
    hashes.set(m.id, h);
  }
  if (m.buf) {
    h.update(new Uint8Array(m.buf, 0, m.len));
    parentPort!.postMessage({ id: m.id, acked: m.len });
  }
  if (m.end) {
    hashes.delete(m.id);
    parentPort!.postMessage({ id: m.id, hex: h.digest("hex") });
  }
});
