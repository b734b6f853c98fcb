import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJson, JsonParseError } from "./parse-json.js";

test("integers beyond 2^53 become bigint, exactly", () => {
  const v = parseJson('{"CTimeNs":1795639066580707229,"Size":0,"Neg":-9223372036854775808,"Max":18446744073709551615}') as Record<string, unknown>;
  assert.equal(v.CTimeNs, 1795639066580707229n);
  assert.equal(v.Size, 0);
  assert.equal(v.Neg, -9223372036854775808n);
  assert.equal(v.Max, 18446744073709551615n);
});

test("safe integers stay numbers, including 16-digit ones below 2^53", () => {
  const v = parseJson("[9007199254740991,-9007199254740991,9007199254740992,1000000000000000]") as unknown[];
  assert.deepEqual(v, [9007199254740991, -9007199254740991, 9007199254740992n, 1000000000000000]);
});

test("bigint: 'all' turns every integer literal into bigint but leaves floats alone", () => {
  assert.deepEqual(parseJson('{"a":1,"b":-2,"c":1.5,"d":1e3,"e":[0]}', { bigint: "all" }), { a: 1n, b: -2n, c: 1.5, d: 1000, e: [0n] });
});

test("slow and fast paths agree on ordinary documents", () => {
  const doc = '{"s":"a\\"b\\\\c\\n\\u00e9\\ud83d\\ude00\\/","n":[1,-0.5,2e-7,1E+2,0],"t":true,"f":false,"z":null,"o":{}, "e":[] }';
  const fast = parseJson(doc);
  const slow = parseJson(doc.replace('"z":null', '"z":null,"big":12345678901234567890'), {}) as Record<string, unknown>;
  assert.equal(slow.big, 12345678901234567890n);
  delete slow.big;
  assert.deepEqual(slow, fast);
  assert.deepEqual(fast, JSON.parse(doc));
});

test("__proto__ is an own property, never the prototype", () => {
  for (const text of ['{"__proto__":{"x":1}}', '{"__proto__":{"x":1},"big":99999999999999999999}']) {
    const v = parseJson(text) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v).includes("__proto__"), true);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  }
});

test("invalid JSON is rejected with a JsonParseError naming the position", () => {
  const bad = ["", "{", '{"a":1,}', "[1,]", "01", "1.", "-", '"\u0001"', '"abc', "nul", '{"a" 1}', "[1] x", '"\\x"', '"\\u12G4"', "1e", "{1:2}", "12345678901234567890 x"];
  for (const text of bad) {
    assert.throws(() => parseJson(text), (err: unknown) => {
      assert.ok(err instanceof JsonParseError, `not a JsonParseError for ${JSON.stringify(text)}`);
      assert.equal(err.code, "ERR_JSON_PARSE");
      assert.match(err.message, /at position \d+/);
      return true;
    }, `accepted ${JSON.stringify(text)}`);
  }
});

test("deep nesting is a clean error, not a stack overflow", () => {
  const deep = "[".repeat(100_000) + "12345678901234567890" + "]".repeat(100_000);
  assert.throws(() => parseJson(deep), JsonParseError);
  assert.deepEqual(parseJson("[[[1]]]", { maxDepth: 3 }), [[[1]]]);
  assert.throws(() => parseJson("[[[[1]]]]", { bigint: "all", maxDepth: 3 }), /nesting deeper than 3/);
});

test("random mutations of a valid document either parse like JSON.parse or throw JsonParseError", () => {
  const base = '{"myuniqueid":"p6Vh==","requestid":12,"highestReplySeen":11,"method":"RpcGetStat","params":[{"MountID":"x","InodeNumber":1795639066580707229,"F":[1.5,true,null,"\\u003c"]}]}';
  let seed = 42;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const alphabet = '{}[]":,0123456789-.eE\\u tfnrl "a';
  for (let k = 0; k < 3000; k++) {
    const chars = base.split("");
    for (let m = 1 + rnd(3); m > 0; m--) {
      const at = rnd(chars.length);
      const op = rnd(3);
      if (op === 0) chars.splice(at, 1);
      else if (op === 1) chars.splice(at, 0, alphabet[rnd(alphabet.length)]!);
      else chars[at] = alphabet[rnd(alphabet.length)]!;
    }
    const text = chars.join("");
    let expected: unknown;
    try { expected = JSON.parse(text); } catch { expected = "INVALID"; }
    let got: unknown;
    try { got = parseJson(text); } catch (err) {
      assert.ok(err instanceof JsonParseError, `unexpected ${String(err)} for ${text}`);
      got = "INVALID";
    }
    if (expected === "INVALID" || got === "INVALID") {
      assert.equal(got, expected, text);
    } else {
      // Same structure; unsafe integers are bigint on our side.
      assert.equal(JSON.stringify(got, (_k, v) => (typeof v === "bigint" ? Number(v) : v)), JSON.stringify(expected), text);
    }
  }
});
