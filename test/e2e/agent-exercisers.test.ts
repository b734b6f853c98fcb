// What outside file-system exercisers (fsx, fsstress, stress-ng, fio) found on a pfsagentd mount,
// kept as regression tests of our own, plus short runs of the installed exercisers themselves.
//
// - Names that are not UTF-8: the FUSE layer decoded them lossily (every bad byte became U+FFFD),
//   so "x\xffy" and "x\xfey" were one file, readdir listed bytes nobody created, and a 127-byte
//   name of bytes >= 0x80 failed with ENAMETOOLONG (stress-ng --filename stopped at its probe).
//   Now such names fail with EINVAL (create) / ENOENT (look up) and nothing is mangled.
// - A seeded fsx-style sequence (our own code: writes, reads checked against a model, truncates
//   up and down, fsync, close/re-open), checked again through a second agent at the end.
// - fio crc32c verify jobs and a few stress-ng --verify stressors when the binaries are installed
//   (skipped with the reason otherwise).
//
// Processes: servers-main and two pfsagentd are children, so this process may use blocking fs calls
// on the mounts. Needs root and /dev/fuse; skipped without them.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, fstatSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  canMount, cleanupSetup, killAllChildren, startAgent, startServers, writeAgentConf, type AgentProcess, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";
import { mulberry32 } from "../../src/base/testing/prng.js";


function errCode(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code;
  }
}

/** True when `bin --version` runs (the exerciser is installed). */
function installed(bin: string): boolean {
  return spawnSync(bin, ["--version"], { stdio: "ignore" }).status === 0;
}

describe("pfsagentd mounts under exercisers", { skip: canMount ? false : "needs root and /dev/fuse" }, () => {
  let servers: Servers | undefined;
  const setups: AgentSetup[] = [];
  const agents: AgentProcess[] = [];
  let m1 = "";
  let m2 = "";

  before(async () => {
    servers = await startServers();
    for (let i = 0; i < 2; i++) {
      const s = writeAgentConf(servers.swiftPort, { XAttrEnabled: "true" });
      setups.push(s);
      agents.push(await startAgent(s.confPath));
    }
    m1 = setups[0]!.mountpoint;
    m2 = setups[1]!.mountpoint;
  });

  after(async () => {
    for (const a of agents) await a.stop();
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await servers?.stop();
  });

  test("names that are not UTF-8 fail with EINVAL and are never stored mangled", () => {
    const d = join(m1, "names");
    mkdirSync(d);
    const p = (...bytes: number[]) => Buffer.concat([Buffer.from(d + "/"), Buffer.from(bytes)]);
    assert.equal(errCode(() => writeFileSync(p(0x78, 0xff, 0x79), "")), "EINVAL");
    assert.equal(errCode(() => mkdirSync(p(0x78, 0xfe, 0x79))), "EINVAL");
    assert.equal(errCode(() => readFileSync(p(0x78, 0xff, 0x79))), "ENOENT");
    // 127 bytes of 0x80..0xfe: ext4 takes them; lossy decoding turned them into 381 bytes.
    const high = Buffer.from(Array.from({ length: 127 }, (_, i) => 0x80 + i));
    assert.equal(errCode(() => writeFileSync(Buffer.concat([Buffer.from(d + "/"), high]), "")), "EINVAL");
    // Valid UTF-8 stays fine up to NAME_MAX bytes, and readdir gives back exactly what was made.
    const e127 = "é".repeat(127); // 254 bytes
    writeFileSync(join(d, e127), "x");
    writeFileSync(join(d, "\uFFFD"), "y");
    assert.equal(errCode(() => writeFileSync(join(d, e127 + "ab"), "")), "ENAMETOOLONG");
    assert.deepEqual(readdirSync(d).sort(), [e127, "\uFFFD"].sort());
    assert.deepEqual(readdirSync(join(m2, "names")).sort(), [e127, "\uFFFD"].sort(), "second agent lists the same names");
    assert.equal(readFileSync(join(m2, "names", e127), "utf8"), "x");
  });

  test("fallocate past 2^53-1 is EFBIG like write and truncate, and leaves the file usable", { skip: installed("fallocate") ? false : "fallocate(1) (util-linux) is not installed" }, () => {
    // stress-ng --fsize found it: the server took the range (it allows 2^63-1), then every stat
    // of the file failed with EIO in the agent, so not even truncate could repair it.
    const path = join(m1, "fsize");
    writeFileSync(path, "abc");
    for (const off of [2 ** 53, 2 ** 60]) {
      const r = spawnSync("fallocate", ["-o", String(off), "-l", "4096", path], { encoding: "utf8" });
      assert.notEqual(r.status, 0, `fallocate at ${off} must fail`);
      assert.match(r.stderr, /File too large/, `fallocate at ${off}`);
    }
    // Up to the limit it works, and the file is still fine from both agents.
    const ok = spawnSync("fallocate", ["-n", "-o", String(2 ** 40), "-l", "4096", path], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(readFileSync(path, "utf8"), "abc");
    assert.equal(readFileSync(join(m2, "fsize"), "utf8"), "abc");
    const fd = openSync(path, "r+");
    ftruncateSync(fd, 1);
    closeSync(fd);
    assert.equal(readFileSync(join(m2, "fsize"), "utf8"), "a");
  });

  test("seeded fsx-style sequence: every read matches the model, then so does the second agent's copy", () => {
    const seed = 20261127;
    const rnd = mulberry32(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const MAX = 1 << 20;
    const model = Buffer.alloc(MAX);
    let size = 0;
    const path = join(m1, "fsx-like");
    let fd = openSync(path, "w+");
    const log: string[] = [];
    try {
      for (let op = 1; op <= 1500; op++) {
        const kind = int(10);
        if (kind < 4) {
          // write: fsx-style pattern (op number, odd bytes mixed) so a stale byte names its op.
          const off = int(MAX - 1);
          const len = 1 + int(Math.min(65536, MAX - off));
          const buf = Buffer.alloc(len);
          for (let i = 0; i < len; i++) buf[i] = (op + ((off + i) % 2 ? off + i : 0)) & 0xff;
          writeSync(fd, buf, 0, len, off);
          buf.copy(model, off);
          if (off + len > size) size = off + len;
          log.push(`${op} write ${off}+${len}`);
        } else if (kind < 7) {
          if (size === 0) continue;
          const off = int(size);
          const len = 1 + int(Math.min(65536, size - off));
          const got = Buffer.alloc(len);
          const n = readSync(fd, got, 0, len, off);
          assert.equal(n, len, `op ${op} (seed ${seed}): short read at ${off}`);
          const i = got.findIndex((b, k) => b !== model[off + k]);
          assert.equal(i, -1, `op ${op} (seed ${seed}): byte ${off + i} is ${got[i]}, want ${model[off + i]}; last ops: ${log.slice(-8).join("; ")}`);
        } else if (kind === 7) {
          const to = int(MAX);
          ftruncateSync(fd, to);
          if (to < size) model.fill(0, to, size);
          size = to;
          log.push(`${op} truncate ${to}`);
        } else if (kind === 8) {
          fsyncSync(fd);
        } else {
          closeSync(fd);
          fd = openSync(path, "r+");
          log.push(`${op} close/open`);
        }
        assert.equal(fstatSync(fd).size, size, `op ${op} (seed ${seed}): size; last ops: ${log.slice(-8).join("; ")}`);
      }
    } finally {
      closeSync(fd);
    }
    const other = readFileSync(join(m2, "fsx-like"));
    assert.equal(other.length, size, "second agent: size");
    const i = other.findIndex((b, k) => b !== model[k]);
    assert.equal(i, -1, `second agent: byte ${i} differs`);
  });

  test("fio: randrw and mixed-size random writes with crc32c verify, several jobs", { skip: installed("fio") ? false : "fio is not installed" }, () => {
    const dir = join(m1, "fio");
    mkdirSync(dir);
    const r = spawnSync("fio", [
      // No verify state files: fio would leave them in its working directory.
      "--directory", dir, "--size=4m", "--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_state_save=0", "--ioengine=psync",
      "--name=randrw", "--rw=randrw", "--bs=4k", "--numjobs=3",
      "--name=mixed", "--rw=randwrite", "--bsrange=512-64k", "--numjobs=2",
    ], { encoding: "utf8", timeout: 120_000, cwd: dir });
    assert.equal(r.status, 0, `fio failed:\n${r.stdout}\n${r.stderr}`);
    assert.doesNotMatch(r.stdout, /verify: bad|err= *[1-9]/);
  });

  test("stress-ng --verify: filename, rename, dentry, hdd, seek, xattr", { skip: installed("stress-ng") ? false : "stress-ng is not installed (apt package stress-ng)" }, () => {
    for (const [name, ...opts] of [["filename"], ["rename"], ["dentry"], ["hdd", "--hdd-bytes", "4m"], ["seek", "--seek-size", "4m"], ["xattr"]] as const) {
      const dir = join(m2, `stress-${name}`);
      mkdirSync(dir);
      const r = spawnSync("stress-ng", [`--${name}`, "1", ...opts, "--timeout", "3s", "--verify", "--temp-path", dir], { encoding: "utf8", timeout: 90_000 });
      // 0 = passed; 3 would be "skipped, not supported" (which is a failure here too).
      assert.equal(r.status, 0, `stress-ng --${name} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
      assert.doesNotMatch(r.stdout + r.stderr, /\bfail:|error:/, `stress-ng --${name}`);
    }
  });
});
