import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfLine, parseConfOverride, stripComment, unescapeValue, escapeValue } from "./conf-syntax.js";

const opt = (name: string, values: string[]) => ({ kind: "option", name, values });

test("comments: ';' and '#' cut the line anywhere, even inside values", () => {
  assert.equal(stripComment("  Key: a b ; comment"), "Key: a b");
  assert.equal(stripComment("Key: a#b"), "Key: a");
  assert.equal(stripComment("Key: a;b # c"), "Key: a");
  assert.equal(stripComment("# whole line"), "");
  assert.deepEqual(parseConfLine("; only a comment"), { kind: "empty" });
  assert.deepEqual(parseConfLine(" \t "), { kind: "empty" });
  assert.deepEqual(parseConfLine("Key: a#b"), opt("Key", ["a"]));
  assert.deepEqual(parseConfLine("[Agent]   ; trailing comment"), { kind: "section", name: "Agent" });
});

test("section headers", () => {
  assert.deepEqual(parseConfLine("[Agent]"), { kind: "section", name: "Agent" });
  assert.deepEqual(parseConfLine("  [Volume:CommonVolume]  "), { kind: "section", name: "Volume:CommonVolume" });
  assert.deepEqual(parseConfLine("[a-b_c/d.e]"), { kind: "section", name: "a-b_c/d.e" });
  assert.equal(parseConfLine("[a b]").kind, "malformed");
  assert.equal(parseConfLine("[]").kind, "malformed");
  assert.equal(parseConfLine("[Agent").kind, "malformed");
});

test("option lines: assignments, empty lists and value separators", () => {
  assert.deepEqual(parseConfLine("Key:"), opt("Key", []));
  assert.deepEqual(parseConfLine("Key ="), opt("Key", []));
  assert.deepEqual(parseConfLine("Key=v"), opt("Key", ["v"]));
  assert.deepEqual(parseConfLine("Key : v"), opt("Key", ["v"]));
  assert.deepEqual(parseConfLine("Key\t=\tv"), opt("Key", ["v"]));
  assert.deepEqual(parseConfLine("FUSEVolumeName:                  CommonVolume"), opt("FUSEVolumeName", ["CommonVolume"]));
  assert.deepEqual(parseConfLine("Key: a b,c"), opt("Key", ["a", "b", "c"]));
  assert.deepEqual(parseConfLine("Key: a , b ,c,  d\te"), opt("Key", ["a", "b", "c", "d", "e"]));
  assert.deepEqual(parseConfLine("Key = a=b"), opt("Key", ["a=b"]));
  // The name ends at the first ':' or '=', so URLs need no quoting.
  assert.deepEqual(parseConfLine("AuthURL:http://localhost:8080/auth/v1.0"), opt("AuthURL", ["http://localhost:8080/auth/v1.0"]));
  assert.deepEqual(parseConfLine("Name$: v$ w"), opt("Name$", ["v$", "w"]));
  assert.deepEqual(parseConfLine("a[0]*: {x}+\"y\"\\z"), opt("a[0]*", ["{x}+\"y\"\\z"]));
});

test("value escapes: \\u0020 and \\u002C in every spelling, nothing else", () => {
  assert.deepEqual(parseConfLine("K: a\\u0020b\\U0020c"), opt("K", ["a b c"]));
  assert.deepEqual(parseConfLine("K: a\\u002Cb\\U002Cc\\u002cd\\U002ce"), opt("K", ["a,b,c,d,e"]));
  assert.deepEqual(parseConfLine("K: x\\u0023y"), opt("K", ["x\\u0023y"]));
  const blob = '{"AuthURL":"http://localhost:8080/auth/v1.0"\\u002C"AuthUser":"test:tester"\\u002C"AuthKey":"testing"\\u002C"Account":"AUTH_test"}';
  assert.deepEqual(parseConfLine(`PlugInEnvValue: ${blob}`), opt("PlugInEnvValue", [
    '{"AuthURL":"http://localhost:8080/auth/v1.0","AuthUser":"test:tester","AuthKey":"testing","Account":"AUTH_test"}',
  ]));
  assert.equal(unescapeValue(escapeValue("a b,c")), "a b,c");
  assert.equal(escapeValue("a b,c"), "a\\u0020b\\u002Cc");
});

test("malformed option lines say why", () => {
  const bad = (line: string, re: RegExp) => {
    const r = parseConfLine(line);
    assert.equal(r.kind, "malformed", line);
    assert.match((r as { reason: string }).reason, re, line);
  };
  bad("Key: a@b", /character "@" is not allowed/);
  bad("Key: it's", /character "'" is not allowed/);
  bad("Key: (x)", /character "\(" is not allowed/);
  bad("Key v", /expected "Name: values"/);
  bad("Key: a,", /may not be empty/);
  bad("Key: a,,b", /may not be empty/);
  bad("Ke y: a", /invalid option name/);
  bad("Key: v\r", /carriage return/);
});

test("include lines", () => {
  assert.deepEqual(parseConfLine(".include ./other.conf"), { kind: "include", path: "./other.conf" });
  assert.deepEqual(parseConfLine(".include\t/etc/a.conf  ; why"), { kind: "include", path: "/etc/a.conf" });
  assert.equal(parseConfLine(".include a b").kind, "malformed");
});

test("command-line overrides", () => {
  assert.deepEqual(parseConfOverride("Agent.X=1,2"), { ok: true, section: "Agent", option: "X", values: ["1", "2"] });
  assert.deepEqual(parseConfOverride("Agent.X:1 2"), { ok: true, section: "Agent", option: "X", values: ["1", "2"] });
  assert.deepEqual(parseConfOverride("  Agent.X = v  "), { ok: true, section: "Agent", option: "X", values: ["v"] });
  assert.deepEqual(parseConfOverride("Agent.X="), { ok: true, section: "Agent", option: "X", values: [] });
  assert.deepEqual(parseConfOverride("Volume:CommonVolume.FSID=1"), { ok: true, section: "Volume:CommonVolume", option: "FSID", values: ["1"] });
  // The section ends at the first '.'.
  assert.deepEqual(parseConfOverride("A.B.C=1"), { ok: true, section: "A", option: "B.C", values: ["1"] });
  assert.deepEqual(parseConfOverride("Agent.V=a\\u0020b"), { ok: true, section: "Agent", option: "V", values: ["a b"] });
  for (const bad of ["", "   ", "AgentX=1", "Agent.X", "Agent.X=a@b", ".X=1"]) {
    assert.equal(parseConfOverride(bad).ok, false, bad);
  }
});
