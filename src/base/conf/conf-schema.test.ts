import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfMap, ConfProblemsError, loadSection, opt, renderDuration } from "./index.js";

const schema = {
  Name: opt.string({ doc: "required name" }),
  Size: opt.safeUint({ default: 1048576, min: 1 }),
  Variance: opt.uint({ bits: 8, min: 1, max: 100, default: 25 }),
  Port: opt.uint({ bits: 16, default: 9090 }),
  Big: opt.uint64({ default: 1n << 60n }),
  Backoff: opt.float({ default: 1.4, min: 1 }),
  Timeout: opt.duration({ default: "10m", min: "1ms" }),
  Flag: opt.bool({ default: false }),
  Secret: opt.optionalString({ secret: true }),
  Peers: opt.list({ default: [] }),
  Path: opt.string({ default: "x", check: (v) => (v.startsWith("/") ? undefined : "expected an absolute path") }),
};

test("loadSection: typed values, defaults and origins", () => {
  const conf = ConfMap.fromText("[S]\nName: n\nSize: 4096\nTimeout: 1m30s\nUnknownKey: 1\nPath: /p\nBig: 18446744073709551615\n", "s.conf");
  const { values, origins, unknown } = loadSection(conf, "S", schema);
  assert.equal(values.Name, "n");
  assert.equal(values.Size, 4096);
  assert.equal(values.Variance, 25);
  assert.equal(values.Big, 18446744073709551615n);
  assert.equal(values.Backoff, 1.4);
  assert.equal(values.Timeout, 90_000_000_000n);
  assert.equal(values.Flag, false);
  assert.equal(values.Secret, "");
  assert.deepEqual(values.Peers, []);
  assert.deepEqual(origins.Size, { source: "s.conf", line: 3 });
  assert.deepEqual(origins.Variance, { source: "default" });
  assert.deepEqual(unknown, [{ option: "UnknownKey", origin: { source: "s.conf", line: 5 } }]);
});

test("loadSection reports every problem at once, each with file:line", () => {
  const conf = ConfMap.fromText("[S]\nSize: 0\nVariance: 0\nBackoff: 0.5\nTimeout: 0s\nPath: rel\nFlag: perhaps\nBackoff2: inf\n", "s.conf");
  assert.throws(() => loadSection(conf, "S", schema), (err: unknown) => {
    assert.ok(err instanceof ConfProblemsError);
    assert.deepEqual(err.problems.map((p) => p.message), [
      "s.conf: [S] Name: missing; expected a single value",
      's.conf:2: [S] Size: expected an unsigned integer >= 1, got "0"',
      's.conf:3: [S] Variance: expected an unsigned integer in 1..100, got "0"',
      's.conf:4: [S] Backoff: expected a number >= 1, got "0.5"',
      's.conf:5: [S] Timeout: expected a duration >= 1ms, got "0s"',
      's.conf:7: [S] Flag: expected a boolean (true/false, yes/no, on/off), got "perhaps"',
      's.conf:6: [S] Path: expected an absolute path, got "rel"',
    ]);
    return true;
  });
  const inf = ConfMap.fromText("[S]\nName: n\nBackoff: inf\n", "s.conf");
  assert.throws(() => loadSection(inf, "S", schema), /s\.conf:3: \[S\] Backoff: expected a finite number, got "inf"/);
});

test("render gives .conf values back", () => {
  assert.deepEqual(schema.Timeout.render(90_000_000_000n), ["1m30s"]);
  assert.deepEqual(schema.Secret.render(""), []);
  assert.equal(renderDuration(1_500n), "1.5us");
  assert.equal(schema.Variance.expected, "an unsigned 8-bit integer in 1..100");
});
