import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "lossless-json";
import { ConfMap, ConfProblemsError } from "../../base/conf/index.js";
import {
  agentConfigToJson, loadAgentConfig, loadAgentConfigFromArgs, REDACTED, redactSecretBlob, renderEffectiveConfig,
} from "./index.js";
import { SEED_README_EXAMPLE } from "./testing/seed-readme-example.js";

const SEED_BLOB = '{"AuthURL":"http://localhost:8080/auth/v1.0","AuthUser":"test:tester","AuthKey":"testing","Account":"AUTH_test"}';

/** Finds a repo file from the compiled test's location (any outDir) or the working directory. */
function findRepoFile(rel: string): string | undefined {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, rel))) return join(dir, rel);
    if (dirname(dir) === dir) break;
  }
  const fromCwd = resolve(rel);
  return existsSync(fromCwd) ? fromCwd : undefined;
}

test("the seed README example is accepted verbatim", () => {
  const { config, warnings, origins } = loadAgentConfig(ConfMap.fromText(SEED_README_EXAMPLE, "pfsagent.conf"));
  assert.deepEqual(warnings, []);
  assert.equal(config.FUSEVolumeName, "CommonVolume");
  assert.equal(config.FUSEMountPointPath, "AgentMountPoint");
  assert.equal(config.FUSEUnMountRetryDelay, 100_000_000n);
  assert.equal(config.FUSEUnMountRetryCap, 100);
  assert.equal(config.PlugInPath, "pfsagentd-swift-auth-plugin");
  assert.equal(config.PlugInEnvName, "SwiftAuthBlob");
  assert.equal(config.PlugInEnvValue, SEED_BLOB);
  assert.equal(config.SwiftTimeout, 600_000_000_000n);
  assert.equal(config.SwiftRetryExpBackoff, 1.4);
  assert.equal(config.ReadCacheLineSize, 1048576);
  assert.equal(config.MaxFlushTime, 200_000_000n);
  assert.equal(config.LogFilePath, "/var/log/pfsagentd.log");
  assert.equal(config.LogToConsole, true);
  assert.equal(config.TraceEnabled, false);
  assert.equal(config.HTTPServerIPAddr, "0.0.0.0");
  assert.equal(config.HTTPServerTCPPort, 9090);
  assert.equal(config.EntryDuration, 0n);
  assert.equal(config.AttrBlockSize, 65536);
  assert.equal(config.ReaddirMaxEntries, 1024);
  assert.equal(config.FUSECongestionThreshhold, 0);
  assert.equal(config.FUSEMaxWrite, 131072);
  assert.equal(config.RetryRPCDeadlineIO, 60_000_000_000n);
  // Keys the example predates take the sample defaults.
  assert.equal(config.DirtyFileLimit, 50);
  assert.equal(config.FUSEAllowOther, true);
  assert.equal(config.RetryRPCPublicIPAddr, "127.0.0.1");
  assert.equal(config.RetryRPCPort, 32356);
  assert.equal(config.RetryRPCCACertFilePath, "");
  assert.equal(config.SharedFileLimit, undefined);
  assert.deepEqual(origins.ReadCacheLineSize, { source: "pfsagent.conf", line: 17 });
  assert.deepEqual(origins.DirtyFileLimit, { source: "default" });
});

test("the fixture is the seed README's example, byte for byte (when the reference is present)", () => {
  const readme = "/work/shared/reference/seed-pfsagentd-README.txt";
  if (!existsSync(readme)) return;
  const lines = readFileSync(readme, "utf8").split("\n");
  const start = lines.indexOf("[Agent]");
  const end = lines.indexOf("", start);
  assert.equal(lines.slice(start, end).join("\n") + "\n", SEED_README_EXAMPLE);
});

test("deploy/pfsagentd/pfsagentd.conf holds the same configuration", () => {
  const path = findRepoFile("deploy/pfsagentd/pfsagentd.conf");
  assert.ok(path, "deploy/pfsagentd/pfsagentd.conf not found from the test or the working directory");
  assert.equal(ConfMap.fromFile(path).dump(), ConfMap.fromText(SEED_README_EXAMPLE).dump());
  assert.deepEqual(loadAgentConfig(ConfMap.fromFile(path)).warnings, []);
});

test("every problem is reported at once with file, line, key and expectation", () => {
  const text = [
    "[Agent]",
    "ReadCacheLineSize: 0",
    "SwiftRetryDelayVariance: 101",
    `PlugInEnvValue: {"a":"b","c":"d"}`,
    "PlugInEnvName: 1BAD",
    "FUSEMaxWrite: 1024",
    "MaxFlushTime: 10",
    "DirtyLogSegmentLimit: 0",
    "LogToConsole: maybe",
    "FUSEVolumeName: a\\u002Cb",
    "",
  ].join("\n");
  assert.throws(() => loadAgentConfig(ConfMap.fromText(text, "pfsagent.conf")), (err: unknown) => {
    assert.ok(err instanceof ConfProblemsError);
    assert.deepEqual(err.problems.map((p) => p.message), [
      'pfsagent.conf:10: [Agent] FUSEVolumeName: expected a name without commas (it becomes the fsname= mount option), got "a,b"',
      "pfsagent.conf: [Agent] FUSEMountPointPath: missing; expected a single value",
      'pfsagent.conf:5: [Agent] PlugInEnvName: expected an environment variable name ([A-Za-z_][A-Za-z0-9_]*), got "1BAD"',
      'pfsagent.conf:4: [Agent] PlugInEnvValue: expected at most one value, got 2 values ("{\\"a\\":\\"b\\"", "\\"c\\":\\"d\\"}"); write a space as \\u0020 and a comma as \\u002C inside one value',
      'pfsagent.conf:3: [Agent] SwiftRetryDelayVariance: expected an unsigned integer in 1..100, got "101"',
      'pfsagent.conf:2: [Agent] ReadCacheLineSize: expected an unsigned integer in 1..1073741824, got "0"',
      'pfsagent.conf:8: [Agent] DirtyLogSegmentLimit: expected an unsigned integer >= 1, got "0"',
      'pfsagent.conf:7: [Agent] MaxFlushTime: expected a duration such as "100ms", "1m30s" or "0.5s" (units ns, us, ms, s, m, h), got "10"',
      'pfsagent.conf:9: [Agent] LogToConsole: expected a boolean (true/false, yes/no, on/off), got "maybe"',
      'pfsagent.conf:6: [Agent] FUSEMaxWrite: expected an unsigned integer >= 4096, got "1024"',
    ]);
    return true;
  });
  assert.throws(() => loadAgentConfig(ConfMap.fromText("[Other]\nK: v\n", "x.conf")),
    /x\.conf: \[Agent\] FUSEVolumeName: missing \(no \[Agent\] section\)/);
});

test("command-line overrides win and are located as 'command line'", () => {
  const conf = ConfMap.fromText(SEED_README_EXAMPLE, "pfsagent.conf");
  conf.updateFromStrings(["Agent.ReadCacheLineSize=4096", "Agent.FUSEAllowOther:false"]);
  const { config, origins } = loadAgentConfig(conf);
  assert.equal(config.ReadCacheLineSize, 4096);
  assert.equal(config.FUSEAllowOther, false);
  assert.deepEqual(origins.ReadCacheLineSize, { source: "command line" });
  conf.updateFromString("Agent.SwiftRetryLimit=-1");
  assert.throws(() => loadAgentConfig(conf), { message: 'command line: [Agent] SwiftRetryLimit: expected an unsigned integer, got "-1"' });
});

test("unknown keys and odd combinations are warnings, with a spelling hint", () => {
  const conf = ConfMap.fromText(SEED_README_EXAMPLE + "FUSECongestionThreshold: 5\nColour: blue\nSwiftTimeout: 100ms\n", "p.conf");
  const { warnings } = loadAgentConfig(conf);
  assert.deepEqual(warnings, [
    "p.conf:45: [Agent] FUSECongestionThreshold: unknown option, ignored (did you mean FUSECongestionThreshhold?)",
    "p.conf:46: [Agent] Colour: unknown option, ignored",
    "p.conf:47: [Agent] SwiftTimeout: should exceed MaxFlushTime plus the time to finish a LogSegment PUT",
  ]);
});

test("renderEffectiveConfig redacts secrets and re-loads to the same config", () => {
  const loaded = loadAgentConfig(ConfMap.fromText(SEED_README_EXAMPLE, "pfsagent.conf"));
  const text = renderEffectiveConfig(loaded.config);
  assert.ok(!text.includes("testing"), text);
  assert.match(text, /^PlugInEnvValue: +\{"AuthURL":"http:\/\/localhost:8080\/auth\/v1\.0"\\u002C"AuthUser":"test:tester"\\u002C"AuthKey":"\*REDACTED\*"\\u002C"Account":"AUTH_test"\}$/m);
  assert.match(text, /^SwiftTimeout: +10m0s$/m);
  assert.match(text, /^AttrBlockSize: +65536$/m);
  const again = loadAgentConfig(ConfMap.fromText(text, "rendered.conf")).config;
  assert.deepEqual({ ...again, PlugInEnvValue: "" }, { ...loaded.config, PlugInEnvValue: "" });
  assert.equal(JSON.parse(again.PlugInEnvValue).AuthKey, REDACTED);

  const plain = renderEffectiveConfig(loaded.config, { redact: false });
  assert.equal(loadAgentConfig(ConfMap.fromText(plain, "plain.conf")).config.PlugInEnvValue, SEED_BLOB);

  const annotated = renderEffectiveConfig(loaded.config, { origins: loaded.origins });
  assert.match(annotated, /^ReadCacheLineSize: +1048576 +; pfsagent\.conf:17$/m);
  assert.match(annotated, /^DirtyFileLimit: +50 +; default$/m);
});

test("agentConfigToJson: durations in nanoseconds, secrets redacted", () => {
  const { config } = loadAgentConfig(ConfMap.fromText(SEED_README_EXAMPLE, "pfsagent.conf"));
  const json = agentConfigToJson(config);
  assert.ok(json.includes('"SwiftTimeout":600000000000'), json);
  assert.ok(!json.includes("testing"));
  const obj = parse(json) as Record<string, unknown>;
  assert.equal(String(obj.MaxFlushTime), "200000000");
  assert.equal(obj.FUSEVolumeName, "CommonVolume");
  assert.ok(agentConfigToJson(config, { redact: false }).includes("testing"));
});

test("redactSecretBlob", () => {
  assert.equal(redactSecretBlob(""), "");
  assert.equal(redactSecretBlob("hunter2"), REDACTED);
  assert.equal(redactSecretBlob('{"Password":"p","Nested":{"api_token":"t","n":12345678901234567890},"URL":"https://u:pw@h/x"}'),
    '{"Password":"*REDACTED*","Nested":{"api_token":"*REDACTED*","n":12345678901234567890},"URL":"https://u:*REDACTED*@h/x"}');
});

test("loadAgentConfigFromArgs: file from stdin plus overrides", () => {
  const { config, origins } = loadAgentConfigFromArgs(["-", "Agent.XAttrEnabled=true"], { readStdin: () => SEED_README_EXAMPLE });
  assert.equal(config.XAttrEnabled, true);
  assert.deepEqual(origins.FUSEVolumeName, { source: "(stdin)", line: 2 });
  assert.throws(() => loadAgentConfigFromArgs([]), { code: "CONF_MISSING" });
});
