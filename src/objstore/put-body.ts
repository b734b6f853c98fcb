// Helpers over PutBody: validation, known length, and iteration of one attempt's chunks.
import type { PutBody } from "./object-store.js";
import { ObjectStoreError } from "./object-store-error.js";

/** Throws InvalidArgument unless `body` is a PutBody. */
export function checkPutBody(body: PutBody, contentLength: number | undefined): void {
  if (contentLength !== undefined && (!Number.isSafeInteger(contentLength) || contentLength < 0)) {
    throw new ObjectStoreError("InvalidArgument", `contentLength ${String(contentLength)} is not a non-negative integer`);
  }
  if (body instanceof Uint8Array || typeof body === "function") return;
  if (Array.isArray(body) && body.every((c) => c instanceof Uint8Array)) return;
  throw new ObjectStoreError("InvalidArgument", "PUT body must be a Uint8Array, an array of Uint8Array, or a function returning an async iterable");
}

/** Body length when it is known without reading a stream. */
export function knownLength(body: PutBody, contentLength: number | undefined): number | undefined {
  if (body instanceof Uint8Array) return body.byteLength;
  if (typeof body === "function") return contentLength;
  let n = 0;
  for (const c of body as readonly Uint8Array[]) n += c.byteLength;
  return n;
}

function asBuffer(c: Uint8Array): Buffer {
  return Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
}

/** The chunks of one attempt (a factory body is called afresh). Empty chunks are skipped. */
export async function* bodyChunks(body: PutBody): AsyncGenerator<Buffer> {
  if (body instanceof Uint8Array) {
    if (body.byteLength > 0) yield asBuffer(body);
    return;
  }
  if (typeof body === "function") {
    for await (const c of body()) {
      if (!(c instanceof Uint8Array)) throw new ObjectStoreError("InvalidArgument", "PUT body iterable yielded a value that is not a Uint8Array");
      if (c.byteLength > 0) yield asBuffer(c);
    }
    return;
  }
  for (const c of body as readonly Uint8Array[]) if (c.byteLength > 0) yield asBuffer(c);
}
