// Framing and envelopes against the exact bytes captured from ProxyFS 1.17.1.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeFrame, readHeader, HEADER_SIZE, MAGIC, MsgType } from "./frame.js";
import { FrameDecoder } from "./frame-decoder.js";
import { decodePassIdBody, decodeReplyBody, decodeRequestBody, encodePassIdBody, encodeReplyBody, encodeRequestBody } from "./envelope.js";
import { RpcProtocolError } from "./errors.js";
import { RawJson, stringifyJson } from "../base/json/index.js";
import { capturedFrames } from "./testing/captured-frames.js";

function decodeAll(bytes: Buffer, chunkSizes: () => number): Array<{ type: number; body: Buffer }> {
  const d = new FrameDecoder();
  const out: Array<{ type: number; body: Buffer }> = [];
  for (let i = 0; i < bytes.length;) {
    const n = Math.max(1, chunkSizes());
    d.push(bytes.subarray(i, i + n), (type, body) => out.push({ type, body: Buffer.from(body) }));
    i += n;
  }
  assert.equal(d.pendingBytes, 0);
  return out;
}

const expectedType: Record<string, number> = {
  passid: MsgType.PassID,
  "upcall-release": MsgType.Upcall,
  "upcall-demote": MsgType.Upcall,
};

test("every captured frame decodes, has the 1.17.1 header, and re-encodes to the same bytes", () => {
  for (const [name, hex] of Object.entries(capturedFrames)) {
    const bytes = Buffer.from(hex, "hex");
    const h = readHeader(bytes);
    assert.equal(h.magic, MAGIC, name);
    assert.equal(h.protocol, 1, name);
    assert.equal(h.version, 1, name);
    assert.equal(h.type, expectedType[name] ?? MsgType.RPC, name);
    assert.equal(h.length, bytes.length - HEADER_SIZE, name);
    let seed = 7;
    const frames = decodeAll(bytes, () => (seed = (seed * 31 + 11) % 23));
    assert.equal(frames.length, 1, name);
    assert.deepEqual(encodeFrame(frames[0]!.type, frames[0]!.body.toString("utf8")), bytes, name);
  }
});

test("captured PassID, request, reply and upcall bodies decode into the right fields and re-encode exactly", () => {
  const body = (name: string) => Buffer.from(capturedFrames[name]!, "hex").subarray(HEADER_SIZE);
  assert.equal(decodePassIdBody(body("passid")), "p6VhGdnVn3Z3ijWHzaXWTw==");
  assert.equal(encodePassIdBody("p6VhGdnVn3Z3ijWHzaXWTw=="), body("passid").toString());

  for (const name of ["rpc-request-RpcLease-exclusive", "rpc-request-RpcGetStat"]) {
    const raw = body(name).toString();
    const r = decodeRequestBody(raw);
    assert.equal(r.myuniqueid, "p6VhGdnVn3Z3ijWHzaXWTw==");
    assert.equal(typeof r.requestid, "number");
    assert.equal(r.method, name.replace("rpc-request-", "").replace("-exclusive", ""));
    assert.equal(encodeRequestBody(r.myuniqueid, r.requestid, r.highestReplySeen, r.method, r.params), raw, name);
  }
  const lease = decodeRequestBody(body("rpc-request-RpcLease-exclusive"));
  assert.deepEqual([lease.requestid, lease.highestReplySeen, lease.params], [1, 0, { MountID: "p6VhGdnVn3Z3ijWHzaXWTw==", InodeNumber: 1, LeaseRequestType: 2 }]);

  for (const name of ["rpc-reply-RpcLease-exclusive", "rpc-reply-RpcGetStat", "rpc-reply-error-errno2", "rpc-reply-RpcReaddirPlusByLoc-large"]) {
    const raw = body(name).toString();
    const r = decodeReplyBody(raw);
    assert.equal(encodeReplyBody(r.myuniqueid, r.requestid, r.errstr, r.result), raw, name);
    assert.equal(encodeReplyBody(r.myuniqueid, r.requestid, r.errstr, r.errstr ? null : new RawJson(stringifyJson(r.result))), raw, name);
  }
  const stat = decodeReplyBody(body("rpc-reply-RpcGetStat")).result as Record<string, unknown>;
  assert.equal(stat.CTimeNs, 1795639066580707229n, "nanosecond times survive as bigint");
  const err = decodeReplyBody(body("rpc-reply-error-errno2"));
  assert.deepEqual([err.errstr, err.result], ["errno: 2", null]);
  const large = decodeReplyBody(body("rpc-reply-RpcReaddirPlusByLoc-large")).result as { DirEnts: unknown[]; StatEnts: unknown[] };
  assert.equal(large.DirEnts.length, large.StatEnts.length);
  assert.ok(large.DirEnts.length > 20);

  assert.equal(body("upcall-release").toString(), '{"RPCInterruptType":2,"InodeNumber":1}');
  assert.equal(body("upcall-demote").toString(), '{"RPCInterruptType":1,"InodeNumber":1}');
});

test("a stream of many frames split at every possible boundary decodes in order", () => {
  const frames = Object.values(capturedFrames).map((h) => Buffer.from(h, "hex"));
  const stream = Buffer.concat([...frames, ...frames]);
  for (const size of [1, 2, 13, 14, 15, 100, 4096, stream.length]) {
    const got = decodeAll(stream, () => size);
    assert.equal(got.length, frames.length * 2);
    assert.deepEqual(Buffer.concat(got.map((f) => encodeFrame(f.type, f.body))), stream);
  }
});

test("bad headers are protocol errors: wrong magic, Len 0, oversize", () => {
  const good = encodeFrame(MsgType.RPC, "{}");
  const badMagic = Buffer.from(good);
  badMagic.writeUInt32BE(0xdeadbeef, 10);
  assert.throws(() => new FrameDecoder().push(badMagic, () => {}), (e: unknown) => e instanceof RpcProtocolError && /magic 0xdeadbeef/.test(e.message));
  const zero = Buffer.from(good.subarray(0, HEADER_SIZE));
  zero.writeUInt32BE(0, 0);
  assert.throws(() => new FrameDecoder().push(zero, () => {}), /Len 0/);
  const big = Buffer.from(good.subarray(0, HEADER_SIZE));
  big.writeUInt32BE(0xffffffff, 0);
  assert.throws(() => new FrameDecoder({ maxBodyBytes: 1024 }).push(big, () => {}), /exceeds the limit of 1024/);
  assert.throws(() => encodeFrame(MsgType.RPC, ""), RangeError);
});

test("envelope decoding names the bad field", () => {
  const cases: Array<[string, RegExp]> = [
    ["[]", /must be a JSON object/],
    ["{", /not valid JSON/],
    ['{"myuniqueid":1,"requestid":1,"method":"m"}', /myuniqueid must be a string/],
    ['{"myuniqueid":"a","requestid":-1,"method":"m"}', /requestid must be an unsigned 64-bit integer, got -1/],
    ['{"myuniqueid":"a","requestid":1.5,"method":"m"}', /requestid/],
    ['{"myuniqueid":"a","requestid":18446744073709551616,"method":"m"}', /requestid/],
    ['{"myuniqueid":"a","requestid":1,"method":7}', /method must be a string/],
    ['{"myuniqueid":"a","requestid":1,"method":"m","params":{}}', /params must be an array/],
  ];
  for (const [text, re] of cases) assert.throws(() => decodeRequestBody(text), (e: unknown) => e instanceof RpcProtocolError && re.test(e.message), text);
  const big = decodeRequestBody('{"myuniqueid":"a","requestid":18446744073709551615,"highestReplySeen":9007199254740993,"method":"m"}');
  assert.equal(big.requestid, 18446744073709551615n);
  assert.equal(big.highestReplySeen, 9007199254740993n);
  assert.equal(big.params, null);
  assert.throws(() => decodePassIdBody("12"), /PassID: body must be a JSON string/);
  assert.throws(() => decodeReplyBody('{"myuniqueid":"a","requestid":1,"errstr":5}'), /errstr must be a string/);
});
