import { test } from "node:test";
import assert from "node:assert/strict";
import { stringifyJson, quoteGoString, JsonStringifyError } from "./stringify-json.js";
import { parseJson } from "./parse-json.js";
import { RawJson } from "./raw-json.js";

test("bigint is written as a bare number and key order is kept", () => {
  const v = { CTimeNs: 1795639066580707229n, Size: 0n, NumLinks: 2, StatInodeNumber: -5n, FileMode: 16895 };
  assert.equal(stringifyJson(v), '{"CTimeNs":1795639066580707229,"Size":0,"NumLinks":2,"StatInodeNumber":-5,"FileMode":16895}');
});

test("Go escaping: <, >, &, U+2028/9, control characters, lone surrogates", () => {
  assert.equal(stringifyJson("a<b>&c"), '"a\\u003cb\\u003e\\u0026c"');
  assert.equal(stringifyJson("\u2028\u2029"), '"\\u2028\\u2029"');
  assert.equal(stringifyJson('q"\\\n\r\t\u0001\u001f\b\f'), '"q\\"\\\\\\n\\r\\t\\u0001\\u001f\\u0008\\u000c"');
  assert.equal(stringifyJson("\b\f", { goEscapes: "go1.22" }), '"\\b\\f"');
  assert.equal(stringifyJson("é😀\u007f/"), '"é😀\u007f/"');
  assert.equal(stringifyJson("x\ud800y\udc00"), '"x\\ufffdy\\ufffd"');
  assert.equal(quoteGoString("plain"), '"plain"');
  assert.equal(stringifyJson({ "k<": 1 }), '{"k\\u003c":1}');
});

test("bytes become base64, RawJson is inserted verbatim, undefined members are skipped", () => {
  assert.equal(stringifyJson({ AttrValue: Buffer.from("blue"), E: new Uint8Array(0) }), '{"AttrValue":"Ymx1ZQ==","E":""}');
  assert.equal(stringifyJson({ a: new RawJson('{"x":1}'), b: undefined, c: [undefined, 1] }), '{"a":{"x":1},"c":[null,1]}');
  const sub = Buffer.from("xxhixx").subarray(2, 4);
  assert.equal(stringifyJson(sub), '"aGk="');
});

test("numbers format like Go's float64 encoding", () => {
  assert.equal(stringifyJson([0, -1, 1.5, 1e21, 1e20, 1e-7, 0.000001, 123456789012345]), "[0,-1,1.5,1e+21,100000000000000000000,1e-7,0.000001,123456789012345]");
  for (const bad of [NaN, Infinity, -Infinity]) assert.throws(() => stringifyJson({ a: bad }), JsonStringifyError);
});

test("unsupported values fail with a path", () => {
  assert.throws(() => stringifyJson(Symbol("x")), /^JsonStringifyError: \$: a symbol/);
  assert.equal(stringifyJson({ a: [Symbol("x")], b: Symbol("y") }), '{"a":[null]}');
  assert.throws(() => stringifyJson({ m: new Map() }), /Map\/Set/);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => stringifyJson(cyc), /cycle/);
});

test("parse -> stringify round-trips Go-encoded text byte for byte", () => {
  const samples = [
    '{"myuniqueid":"p6VhGdnVn3Z3ijWHzaXWTw==","requestid":3,"errstr":"","result":{"CTimeNs":1795639066580707229,"CRTimeNs":1795639066580707229,"MTimeNs":1795639066580707229,"ATimeNs":1795639066580707229,"Size":0,"NumLinks":2,"StatInodeNumber":1,"FileMode":16895,"UserID":0,"GroupID":0}}',
    '{"DirEnts":[],"StatEnts":[]}',
    '{"a":"\\u003cscript\\u003e \\u0026 \\u2028","b":null,"c":[true,false,-12,18446744073709551615]}',
  ];
  for (const s of samples) assert.equal(stringifyJson(parseJson(s)), s);
});
