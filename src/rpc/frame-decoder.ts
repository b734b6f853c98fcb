// FrameDecoder: turns a byte stream (TLS records of any size) into retryrpc frames.
//
// Chunks are kept in a list and only the bytes of one header or body are ever copied, and only
// when they straddle chunks; a body inside one chunk is a zero-copy subarray of it.
// Any header error is fatal for the stream (1.17.1 closes the connection too): after push() threw,
// the decoder must be discarded.

import { HEADER_SIZE, MAGIC, DEFAULT_MAX_BODY_BYTES } from "./frame.js";
import { RpcProtocolError } from "./errors.js";

export type FrameHandler = (type: number, body: Buffer) => void;

export class FrameDecoder {
  #chunks: Buffer[] = [];
  #size = 0;
  /** Type of the frame whose header was read and whose body is awaited, or -1. */
  #type = -1;
  #need = HEADER_SIZE;
  #maxBody: number;

  constructor(options?: { maxBodyBytes?: number }) {
    this.#maxBody = options?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  }

  /** Bytes received but not yet part of a delivered frame (a partial message is pending if > 0). */
  get pendingBytes(): number {
    return this.#size + (this.#type >= 0 ? HEADER_SIZE : 0);
  }

  /**
   * Feeds bytes; calls `onFrame` for each complete frame, in order.
   * @throws RpcProtocolError on a bad magic, Len 0 or a body larger than the limit.
   */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size >= this.#need) {
      if (this.#type < 0) {
        const h = this.#take(HEADER_SIZE);
        const magic = h.readUInt32BE(10);
        if (magic !== MAGIC) {
          throw new RpcProtocolError(`retryrpc header has magic 0x${magic.toString(16)}, expected 0xcafefeed`);
        }
        const len = h.readUInt32BE(0);
        if (len === 0) throw new RpcProtocolError("retryrpc header has Len 0 (1.17.1 rejects empty bodies)");
        if (len > this.#maxBody) {
          throw new RpcProtocolError(`retryrpc body of ${len} bytes exceeds the limit of ${this.#maxBody}`);
        }
        this.#type = h.readUInt16BE(8);
        this.#need = len;
      } else {
        const body = this.#take(this.#need);
        const type = this.#type;
        this.#type = -1;
        this.#need = HEADER_SIZE;
        onFrame(type, body);
      }
    }
  }

  #take(n: number): Buffer {
    this.#size -= n;
    const first = this.#chunks[0]!;
    if (first.length > n) {
      this.#chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    if (first.length === n) {
      this.#chunks.shift();
      return first;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.#chunks[0]!;
      const want = n - off;
      if (c.length <= want) {
        c.copy(out, off);
        off += c.length;
        this.#chunks.shift();
      } else {
        c.copy(out, off, 0, want);
        this.#chunks[0] = c.subarray(want);
        off += want;
      }
    }
    return out;
  }
}
