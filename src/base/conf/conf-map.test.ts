import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { ConfError, ConfMap } from "./index.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "conf-test-"));
  dirs.push(d);
  return d;
}

const agentText = [
  "; leading comment",
  "[Agent]",
  "FUSEVolumeName:  CommonVolume   # trailing comment",
  "ReadCacheLineSize: abc",
  "",
  "[Volume:CommonVolume]",
  "PrimaryPeer = Peer0",
  "Peers: a b,c",
  "Empty:",
  "",
].join("\n");

test("parses sections, options and value lists, remembering file and line", () => {
  const conf = ConfMap.fromText(agentText, "pfsagent.conf");
  assert.deepEqual(conf.sectionNames(), ["Agent", "Volume:CommonVolume"]);
  assert.equal(conf.getString("Agent", "FUSEVolumeName"), "CommonVolume");
  assert.deepEqual(conf.getStringList("Volume:CommonVolume", "Peers"), ["a", "b", "c"]);
  assert.deepEqual(conf.getStringList("Volume:CommonVolume", "Empty"), []);
  assert.deepEqual(conf.origin("Agent", "ReadCacheLineSize"), { source: "pfsagent.conf", line: 4 });
  assert.deepEqual(conf.origin("Volume:CommonVolume", "PrimaryPeer"), { source: "pfsagent.conf", line: 7 });
});

test("typed getter errors name file, line, option, expectation and value", () => {
  const conf = ConfMap.fromText(agentText, "pfsagent.conf");
  assert.throws(() => conf.getUint64("Agent", "ReadCacheLineSize"), (err: unknown) => {
    assert.ok(err instanceof ConfError);
    assert.equal(err.code, "CONF_VALUE");
    assert.equal(err.message, 'pfsagent.conf:4: [Agent] ReadCacheLineSize: expected an unsigned integer, got "abc"');
    assert.deepEqual(err.origin, { source: "pfsagent.conf", line: 4 });
    assert.equal(err.option, "ReadCacheLineSize");
    return true;
  });
  assert.throws(() => conf.getString("Volume:CommonVolume", "Peers"),
    /pfsagent\.conf:8: \[Volume:CommonVolume\] Peers: expected a single value, got 3 values \("a", "b", "c"\); write a space as \\u0020/);
  assert.throws(() => conf.getString("Volume:CommonVolume", "Empty"), /pfsagent\.conf:9: .* Empty: expected a single value, got no value/);
  assert.throws(() => conf.getString("Agent", "Nope"), { code: "CONF_MISSING", message: "pfsagent.conf: [Agent] Nope: missing; expected a single value" });
  assert.throws(() => conf.getBool("Nosection", "X"), /\[Nosection\] X: missing \(no \[Nosection\] section\)/);
});

test("typed getters", () => {
  const conf = ConfMap.fromText([
    "[S]", "B1: yes", "B2: OFF", "B3: maybe", "U8: 255", "U8big: 256", "U16: 65535", "U32: 4294967295",
    "U64: 18446744073709551615", "Neg: -1", "F: 1.4", "Fbad: 1.4.", "D1: 100ms", "D2: 1m30s", "D3: 0.5s", "D4: 0",
    "Dneg: -1s", "Dbare: 10", "B64: aGVsbG8gd29ybGQ=", "B64bad: a$", "Opt0:", "Opt2: a b", "",
  ].join("\n"), "t.conf");
  assert.equal(conf.getBool("S", "B1"), true);
  assert.equal(conf.getBool("S", "B2"), false);
  assert.throws(() => conf.getBool("S", "B3"), /t\.conf:4: \[S\] B3: expected a boolean \(true\/false, yes\/no, on\/off\), got "maybe"/);
  assert.equal(conf.getUint8("S", "U8"), 255);
  assert.throws(() => conf.getUint8("S", "U8big"), /expected an unsigned integer no greater than 255, got "256"/);
  assert.equal(conf.getUint16("S", "U16"), 65535);
  assert.equal(conf.getUint32("S", "U32"), 4294967295);
  assert.equal(conf.getUint64("S", "U64"), 18446744073709551615n);
  assert.throws(() => conf.getSafeUint("S", "U64"), /no greater than 9007199254740991/);
  assert.throws(() => conf.getUint32("S", "Neg"), /expected an unsigned integer, got "-1"/);
  assert.equal(conf.getFloat64("S", "F"), 1.4);
  assert.throws(() => conf.getFloat64("S", "Fbad"), /expected a number, got "1\.4\."/);
  assert.equal(conf.getDuration("S", "D1"), 100_000_000n);
  assert.equal(conf.getDuration("S", "D2"), 90_000_000_000n);
  assert.equal(conf.getDurationMs("S", "D3"), 500);
  assert.equal(conf.getDuration("S", "D4"), 0n);
  assert.throws(() => conf.getDuration("S", "Dneg"), /t\.conf:\d+: \[S\] Dneg: expected a non-negative duration, got "-1s"/);
  assert.throws(() => conf.getDuration("S", "Dbare"), /\[S\] Dbare: expected a duration such as "100ms", "1m30s" or "0\.5s" \(units ns, us, ms, s, m, h\), got "10"/);
  assert.equal(conf.getBase64String("S", "B64"), "hello world");
  assert.throws(() => conf.getBase64String("S", "B64bad"), /expected a base64 value/);
  assert.equal(conf.getOptionalString("S", "Opt0"), "");
  assert.equal(conf.getOptionalString("S", "Absent"), "");
  assert.throws(() => conf.getOptionalString("S", "Opt2"), /expected at most one value, got 2 values/);
  conf.verifyOptionIsMissing("S", "Absent");
  assert.throws(() => conf.verifyOptionIsMissing("S", "B1"), /B1: must not be present/);
  conf.verifyOptionValueIsEmpty("S", "Opt0");
  assert.throws(() => conf.verifyOptionValueIsEmpty("S", "B1"), /expected no value, got "yes"/);
});

test("a later definition replaces the whole list and its origin", () => {
  const conf = ConfMap.fromText("[A]\nK: 1 2 3\n[B]\nK: x\n[A]\nK: 4\n", "f.conf");
  assert.deepEqual(conf.getStringList("A", "K"), ["4"]);
  assert.deepEqual(conf.origin("A", "K"), { source: "f.conf", line: 6 });
  assert.deepEqual(conf.getStringList("B", "K"), ["x"]);
});

test("file-level syntax errors carry file and line", () => {
  const syntax = (text: string, re: RegExp) =>
    assert.throws(() => ConfMap.fromText(text, "x.conf"), (err: unknown) => err instanceof ConfError && err.code === "CONF_SYNTAX" && re.test(err.message));
  syntax("[A]\nK: v", /^x\.conf:2: file does not end with a newline character$/);
  syntax("K: v\n", /^x\.conf:1: option "K" is outside any section \(a \[Section\] header must come first\)$/);
  syntax("[A]\nK: v\r\n", /^x\.conf:2: malformed line "K: v": contains a carriage return/);
  syntax("[A]\n\nK: a@b\n", /^x\.conf:3: malformed line "K: a@b": character "@" is not allowed/);
  syntax("[A]\n[B C]\n", /^x\.conf:2: malformed line "\[B C\]"/);
  assert.equal(ConfMap.fromText("", "e.conf").sectionNames().length, 0);
  assert.equal(ConfMap.fromText("\n; c\n", "e.conf").sectionNames().length, 0);
});

test("invalid UTF-8 is an error naming the line", () => {
  const dir = tmp();
  const path = join(dir, "bad.conf");
  writeFileSync(path, Buffer.concat([Buffer.from("[A]\nK: v\nL: "), Buffer.from([0xff, 0xfe]), Buffer.from("\n")]));
  assert.throws(() => ConfMap.fromFile(path), { code: "CONF_SYNTAX", message: `${path}:3: invalid UTF-8` });
});

test(".include: relative to the including file, resets the section, later lines win", () => {
  const dir = tmp();
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "main.conf"), "[A]\nK: main\nL: main\n.include sub/inc.conf\n[A]\nL: after\n");
  writeFileSync(join(dir, "sub", "inc.conf"), "[A]\nK: inc\nM: inc\n.include ./deeper.conf\n");
  writeFileSync(join(dir, "sub", "deeper.conf"), "[B]\nX: deep\n");
  const conf = ConfMap.fromFile(join(dir, "main.conf"));
  assert.equal(conf.getString("A", "K"), "inc");
  assert.equal(conf.getString("A", "L"), "after");
  assert.equal(conf.getString("A", "M"), "inc");
  assert.equal(conf.getString("B", "X"), "deep");
  assert.deepEqual(conf.origin("A", "K"), { source: join(dir, "sub", "inc.conf"), line: 2 });
  assert.deepEqual(conf.origin("B", "X"), { source: join(dir, "sub", "deeper.conf"), line: 2 });
  assert.equal(conf.sourceDescription, join(dir, "main.conf"));
});

test(".include: absolute paths, missing files, section reset and cycles", () => {
  const dir = tmp();
  writeFileSync(join(dir, "abs.conf"), "[C]\nK: abs\n");
  writeFileSync(join(dir, "a.conf"), `[A]\n.include ${join(dir, "abs.conf")}\n`);
  assert.equal(ConfMap.fromFile(join(dir, "a.conf")).getString("C", "K"), "abs");

  writeFileSync(join(dir, "missing.conf"), "[A]\n\n.include nothere.conf\n");
  assert.throws(() => ConfMap.fromFile(join(dir, "missing.conf")), (err: unknown) =>
    err instanceof ConfError && err.code === "CONF_IO" &&
    err.message.startsWith(`${join(dir, "missing.conf")}:3: .include ${join(dir, "nothere.conf")}: cannot read configuration:`));

  writeFileSync(join(dir, "reset.conf"), `[A]\n.include abs.conf\nK: orphan\n`);
  assert.throws(() => ConfMap.fromFile(join(dir, "reset.conf")), /reset\.conf:3: option "K" is outside any section \(after an \.include/);

  writeFileSync(join(dir, "c1.conf"), "[A]\n.include c2.conf\n");
  writeFileSync(join(dir, "c2.conf"), "[B]\n.include c1.conf\n");
  assert.throws(() => ConfMap.fromFile(join(dir, "c1.conf")), /c2\.conf:2: \.include .*c1\.conf: include cycle/);
});

test("missing top-level file is CONF_IO naming the path", () => {
  assert.throws(() => ConfMap.fromFile("/nonexistent/pfsagent.conf"), { code: "CONF_IO", message: /^\/nonexistent\/pfsagent\.conf: cannot read configuration: ENOENT/ });
});

test("command-line overrides replace values, create sections and say 'command line'", () => {
  const dir = tmp();
  const path = join(dir, "p.conf");
  writeFileSync(path, "[Agent]\nReadCacheLineSize: 1048576\nX: 1\n");
  const conf = ConfMap.fromArgs([path, "Agent.ReadCacheLineSize=abc", "New.List:a b,c", "Agent.X="]);
  assert.deepEqual(conf.getStringList("New", "List"), ["a", "b", "c"]);
  assert.deepEqual(conf.getStringList("Agent", "X"), []);
  assert.deepEqual(conf.origin("Agent", "ReadCacheLineSize"), { source: "command line" });
  assert.throws(() => conf.getUint64("Agent", "ReadCacheLineSize"),
    { message: 'command line: [Agent] ReadCacheLineSize: expected an unsigned integer, got "abc"' });
  assert.throws(() => ConfMap.fromArgs([path, "Agent.Bad=a@b"]), { code: "CONF_SYNTAX", message: /^command line: malformed override "Agent\.Bad=a@b": character "@"/ });
  assert.throws(() => ConfMap.fromArgs([path, "NoDot=1"]), { code: "CONF_SYNTAX" });
  assert.throws(() => ConfMap.fromArgs([]), { code: "CONF_MISSING", message: "no .conf file specified" });
});

test("'-' reads the configuration from stdin (injected and real)", () => {
  const conf = ConfMap.fromFile("-", { readStdin: () => "[A]\nK: v\n" });
  assert.equal(conf.getString("A", "K"), "v");
  assert.deepEqual(conf.origin("A", "K"), { source: "(stdin)", line: 2 });

  const moduleUrl = new URL("./index.js", import.meta.url).href;
  const script = `import { ConfMap } from ${JSON.stringify(moduleUrl)};
    const c = ConfMap.fromArgs(["-", "A.L=over"]);
    process.stdout.write(JSON.stringify([c.getString("A", "K"), c.getString("A", "L"), c.origin("A", "K")]));`;
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { input: "[A]\nK: from-stdin\nL: x\n", encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), ["from-stdin", "over", { source: "(stdin)", line: 2 }]);
});

test("dump() re-parses to an identical map, including escaped spaces and commas", () => {
  const conf = ConfMap.fromText("[B]\nZ: 1\nA: x\\u0020y a\\u002Cb\nE:\n[A]\nK: v\n", "d.conf");
  const text = conf.dump();
  assert.equal(text, "[A]\nK: v\n\n[B]\nA: x\\u0020y, a\\u002Cb\nE:\nZ: 1\n");
  const again = ConfMap.fromText(text, "again.conf");
  assert.equal(again.dump(), text);
  assert.deepEqual(again.getStringList("B", "A"), ["x y", "a,b"]);
});

test("fromText resolves relative includes against baseDir", () => {
  const dir = tmp();
  writeFileSync(join(dir, "inc.conf"), "[I]\nK: included\n");
  const conf = ConfMap.fromText("[A]\n.include inc.conf\n", { source: "virtual.conf", baseDir: dir });
  assert.equal(conf.getString("I", "K"), "included");
  assert.equal(conf.sourceDescription, "virtual.conf");
});
