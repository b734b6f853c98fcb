import { after, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkConfig } from "./index.js";
import { SEED_README_EXAMPLE } from "./testing/seed-readme-example.js";

/** A directory with the seed config, its mount point and an executable plug-in. */
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function setup(): string {
  const dir = mkdtempSync(join(tmpdir(), "check-config-"));
  dirs.push(dir);
  mkdirSync(join(dir, "AgentMountPoint"));
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(dir, "bin", "pfsagentd-swift-auth-plugin"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(dir, "bin", "pfsagentd-swift-auth-plugin"), 0o755);
  writeFileSync(join(dir, "pfsagent.conf"), SEED_README_EXAMPLE.replace("/var/log/pfsagentd.log", "log/pfsagentd.log"));
  mkdirSync(join(dir, "log"));
  return dir;
}

test("a valid configuration: exit 0, effective config with origins, secrets redacted", () => {
  const dir = setup();
  const r = checkConfig(["pfsagent.conf", "Agent.ReadCacheLineSize=4096"], { cwd: dir, env: { PATH: join(dir, "bin") } });
  assert.equal(r.exitCode, 0, r.output);
  assert.match(r.output, /^pfsagent\.conf: configuration OK\n; effective configuration \(secrets redacted\)\n\[Agent\]\n/);
  assert.match(r.output, /^ReadCacheLineSize: +4096 +; command line$/m);
  assert.match(r.output, new RegExp(`^FUSEVolumeName: +CommonVolume +; ${join(dir, "pfsagent.conf").replace(/[.]/g, "\\.")}:2$`, "m"));
  assert.ok(!r.output.includes("testing"));
});

test("value errors: exit 1, every problem with its location", () => {
  const dir = setup();
  const r = checkConfig(["pfsagent.conf", "Agent.ReadCacheLineSize=abc", "Agent.SwiftRetryDelayVariance=0"], { cwd: dir, env: { PATH: join(dir, "bin") } });
  assert.equal(r.exitCode, 1);
  assert.equal(r.output, [
    'error: command line: [Agent] SwiftRetryDelayVariance: expected an unsigned integer in 1..100, got "0"',
    'error: command line: [Agent] ReadCacheLineSize: expected an unsigned integer, got "abc"',
    "pfsagent.conf: configuration is invalid (2 problems)",
    "",
  ].join("\n"));
});

test("environment errors: missing mount point, plug-in not executable, bad CA file", () => {
  const dir = setup();
  writeFileSync(join(dir, "ca.pem"), "not a certificate\n");
  const r = checkConfig(["pfsagent.conf", "Agent.FUSEMountPointPath=nowhere", "Agent.PlugInPath=./pfsagent.conf", "Agent.RetryRPCCACertFilePath=ca.pem"], { cwd: dir, env: { PATH: "" } });
  assert.equal(r.exitCode, 1);
  assert.match(r.output, /error: command line: \[Agent\] FUSEMountPointPath: .*nowhere does not exist or cannot be accessed \(ENOENT\); the mount point must already exist/);
  assert.match(r.output, /error: command line: \[Agent\] PlugInPath: .*pfsagent\.conf is not an executable file/);
  assert.match(r.output, /error: command line: \[Agent\] RetryRPCCACertFilePath: .*ca\.pem contains no PEM certificate/);
  assert.match(r.output, /configuration is invalid \(3 problems\)\n$/);
});

test("warnings do not fail the check: plug-in not in PATH, unknown key", () => {
  const dir = setup();
  writeFileSync(join(dir, "w.conf"), SEED_README_EXAMPLE.replace("/var/log/pfsagentd.log", "") + "XAttrEnable: true\n");
  const r = checkConfig(["w.conf"], { cwd: dir, env: { PATH: "/nonexistent" } });
  assert.equal(r.exitCode, 0, r.output);
  assert.match(r.output, /^warning: .*w\.conf:45: \[Agent\] XAttrEnable: unknown option, ignored \(did you mean XAttrEnabled\?\)$/m);
  assert.match(r.output, /^warning: .*w\.conf:6: \[Agent\] PlugInPath: pfsagentd-swift-auth-plugin was not found in PATH$/m);
  assert.match(r.output, /^LogFilePath:/m);
});

test("syntax and I/O errors, stdin, usage", () => {
  const dir = setup();
  writeFileSync(join(dir, "bad.conf"), "[Agent]\nFUSEVolumeName: a@b\n");
  const bad = checkConfig(["bad.conf"], { cwd: dir });
  assert.equal(bad.exitCode, 1);
  assert.match(bad.output, /^error: .*bad\.conf:2: malformed line "FUSEVolumeName: a@b": character "@" is not allowed/);

  const missing = checkConfig(["none.conf"], { cwd: dir });
  assert.equal(missing.exitCode, 1);
  assert.match(missing.output, /^error: .*none\.conf: cannot read configuration: ENOENT/);

  const stdin = checkConfig(["-"], { cwd: dir, env: { PATH: join(dir, "bin") }, readStdin: () => SEED_README_EXAMPLE.replace("/var/log/pfsagentd.log", "") });
  assert.equal(stdin.exitCode, 0, stdin.output);
  assert.match(stdin.output, /^FUSEVolumeName: +CommonVolume +; \(stdin\):2$/m);

  assert.deepEqual(checkConfig([]), { exitCode: 2, output: "usage: pfsagentd --check-config <file.conf|-> [Section.Option=value ...]\n" });
});
