// retryrpc framing as ProxyFS 1.17.1 writes it (protocol doc §5.2):
//
//   offset 0  u32 Len      body bytes after the header; 0 is rejected by both ends
//   offset 4  u16 Protocol 1 = JSON (written, never checked)
//   offset 6  u16 Version  1 (written, never checked)
//   offset 8  u16 Type     1 RPC, 2 Upcall, 3 PassID
//   offset 10 u32 Magic    0xCAFEFEED; a mismatch is a read error
//   offset 14 body         UTF-8 JSON, no trailing newline
// All big-endian. 1.17.1 writes header and body with two writes; we write one buffer (receivers
// reassemble a byte stream anyway, so the peer cannot tell).

export const HEADER_SIZE = 14;
export const MAGIC = 0xcafefeed;
export const PROTOCOL_JSON = 1;
export const VERSION_1 = 1;

/** Message types of 1.17.1 (HEAD uses other numbers; see §11 of the protocol doc). */
export const MsgType = {
  RPC: 1,
  Upcall: 2,
  PassID: 3,
} as const;
export type MsgTypeNumber = (typeof MsgType)[keyof typeof MsgType];

/** Default cap on a body; 1.17.1 has none, but a peer must not make us allocate 4 GiB. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface FrameHeader {
  length: number;
  protocol: number;
  version: number;
  type: number;
  magic: number;
}

/** Builds header + body in one buffer: one allocation, one write, no later concat. */
export function encodeFrame(type: number, body: string | Uint8Array): Buffer {
  if (typeof body === "string") {
    const len = Buffer.byteLength(body, "utf8");
    if (len === 0) throw new RangeError("retryrpc frame body must not be empty (1.17.1 rejects Len 0)");
    const buf = Buffer.allocUnsafe(HEADER_SIZE + len);
    writeHeader(buf, type, len);
    buf.write(body, HEADER_SIZE, len, "utf8");
    return buf;
  }
  if (body.byteLength === 0) throw new RangeError("retryrpc frame body must not be empty (1.17.1 rejects Len 0)");
  const buf = Buffer.allocUnsafe(HEADER_SIZE + body.byteLength);
  writeHeader(buf, type, body.byteLength);
  buf.set(body, HEADER_SIZE);
  return buf;
}

export function writeHeader(buf: Buffer, type: number, length: number): void {
  buf.writeUInt32BE(length, 0);
  buf.writeUInt16BE(PROTOCOL_JSON, 4);
  buf.writeUInt16BE(VERSION_1, 6);
  buf.writeUInt16BE(type, 8);
  buf.writeUInt32BE(MAGIC, 10);
}

export function readHeader(buf: Uint8Array, offset = 0): FrameHeader {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    length: b.readUInt32BE(offset),
    protocol: b.readUInt16BE(offset + 4),
    version: b.readUInt16BE(offset + 6),
    type: b.readUInt16BE(offset + 8),
    magic: b.readUInt32BE(offset + 10),
  };
}
