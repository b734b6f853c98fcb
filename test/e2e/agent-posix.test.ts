// The reusable POSIX suite (src/fuse/testing/posix-suite.ts) run on a real pfsagentd mount, plus a
// data-integrity test checked byte for byte against a local reference file.
//
// Processes: servers-main (embedded Swift-API server + proxyfsd) and pfsagentd are children, so this
// process may use blocking fs calls on the mount. Needs root and /dev/fuse; skipped without them.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, chmodSync, existsSync, readdirSync, fstatSync, fsyncSync, ftruncateSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { posixSuite } from "../../src/fuse/testing/posix-suite.js";
import {
  canMount, cleanupSetup, killAllChildren, startAgent, startServers, writeAgentConf, type AgentProcess, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";
import { mulberry32 } from "../../src/base/testing/prng.js";


/** Asserts two buffers are equal, naming the first differing offset (deepEqual of MiBs is unreadable). */
function assertSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const i = actual.findIndex((b, k) => b !== expected[k]);
  assert.equal(i, -1, `${what}: first difference at byte ${i} (got ${actual[i]}, want ${expected[i]})`);
}

describe("pfsagentd mount: POSIX suite and data integrity", { skip: canMount ? false : "needs root and /dev/fuse" }, () => {
  let servers: Servers | undefined;
  const setups: AgentSetup[] = [];
  let agent: AgentProcess | undefined;
  let mnt = "";

  before(async () => {
    servers = await startServers();
    // allow_other (+ default_permissions, always on) lets the suite act as other users. Small
    // cache lines and LogSegments so the tests cross many of both.
    const setup = writeAgentConf(servers.swiftPort, { FUSEAllowOther: "true", XAttrEnabled: "true", ReadCacheLineSize: "65536", MaxFlushSize: "1048576" });
    setups.push(setup);
    chmodSync(setup.root, 0o755);
    mnt = setup.mountpoint;
    agent = await startAgent(setup.confPath);
  });

  after(async () => {
    if (agent) await agent.stop();
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await servers?.stop();
  });

  posixSuite(() => mnt, {
    otherUsers: true,
    manyEntries: 3000,
    fsxOps: 1000,
    // proxyfsd's statfs counts used blocks and inodes; with the StatExtended capability
    // st_blocks is the allocated space (sparse files use few blocks) and st_rdev is real.
    statfsTracksUsage: true,
    skip: [
      // FUSE_TMPFILE is not implemented by the FUSE library nor ProxyFS: the kernel returns EOPNOTSUPP.
      "O_TMPFILE: an unnamed file, then linked into the directory",
    ],
  });

  test("data integrity: random writes, overwrites, truncates and sparse extents match a local reference, also from a second agent", { timeout: 60_000 }, async () => {
    const rnd = mulberry32(0x5eed1);
    const local = mkdtempSync(join(tmpdir(), "agent-posix-ref-"));
    try {
      const refPath = join(local, "ref");
      const path = join(mnt, "integrity.bin");
      const MAX = 12 << 20;
      const ref = openSync(refPath, "w+");
      let fd = openSync(path, "w+");
      const randomData = (n: number): Buffer => {
        const b = Buffer.allocUnsafe(n);
        for (let i = 0; i < n; i++) b[i] = (rnd() * 256) | 0;
        return b;
      };
      const compareRange = (off: number, len: number, what: string): void => {
        const a = Buffer.alloc(len);
        const e = Buffer.alloc(len);
        const na = readSync(fd, a, 0, len, off);
        const ne = readSync(ref, e, 0, len, off);
        assertSameBytes(a.subarray(0, na), e.subarray(0, ne), what);
      };
      for (let op = 0; op < 400; op++) {
        const size = fstatSync(ref).size;
        const r = rnd();
        if (r < 0.55) {
          // Write: mostly near existing data (overwrites), sometimes far out (sparse extents).
          const len = 1 + Math.floor(rnd() * (rnd() < 0.2 ? 300_000 : 9000));
          const off = rnd() < 0.15 ? Math.floor(rnd() * (MAX - len)) : Math.floor(rnd() * Math.min(size + 1, MAX - len));
          const data = randomData(len);
          assert.equal(writeSync(fd, data, 0, len, off), len);
          writeSync(ref, data, 0, len, off);
        } else if (r < 0.65) {
          const newSize = rnd() < 0.5 ? Math.floor(rnd() * (size + 1)) : Math.floor(rnd() * MAX);
          ftruncateSync(fd, newSize);
          ftruncateSync(ref, newSize);
        } else if (r < 0.9) {
          // Read-your-writes, with LogSegments possibly still in flight.
          const off = Math.floor(rnd() * (size + 10_000));
          compareRange(off, 1 + Math.floor(rnd() * 200_000), `op ${op}: read at ${off}`);
        } else if (r < 0.95) {
          fsyncSync(fd);
        } else {
          closeSync(fd);
          fd = openSync(path, "r+");
        }
        assert.equal(fstatSync(fd).size, fstatSync(ref).size, `op ${op}: size`);
      }
      closeSync(fd);
      closeSync(ref);
      const expected = readFileSync(refPath);
      assertSameBytes(readFileSync(path), expected, "after close, reopened");
      // A second agent on its own mount point, with empty caches, reads what the server and the
      // object store hold.
      const setup2 = writeAgentConf(servers!.swiftPort);
      setups.push(setup2);
      const agent2 = await startAgent(setup2.confPath);
      try {
        assertSameBytes(readFileSync(join(setup2.mountpoint, "integrity.bin")), expected, "read by a second agent");
      } finally {
        assert.equal(await agent2.stop(), 0, `second agent exits cleanly:\n${agent2.log()}`);
      }
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  test("st_blocks counts written data the server does not know yet, then the server's figure", { timeout: 60_000 }, async () => {
    // A second agent that keeps its LogSegment open for a minute: until fsync the server has
    // allocated nothing for these bytes, so st_blocks comes from the agent's own dirty data.
    const setup2 = writeAgentConf(servers!.swiftPort, { MaxFlushTime: "60s" });
    setups.push(setup2);
    const agent2 = await startAgent(setup2.confPath);
    try {
      const p = join(setup2.mountpoint, "blocks-dirty");
      const fd = openSync(p, "w+");
      writeSync(fd, Buffer.alloc(256 << 10, 7), 0, 256 << 10, 4 << 20);
      const dirty = fstatSync(fd);
      assert.equal(dirty.size, (4 << 20) + (256 << 10));
      assert.equal(dirty.blocks, 512, "256 KiB written, not flushed: 512 blocks, the 4 MiB hole none");
      fsyncSync(fd);
      assert.equal(fstatSync(fd).blocks, 512, "after fsync: the server's allocated bytes");
      closeSync(fd);
    } finally {
      assert.equal(await agent2.stop(), 0, `second agent exits cleanly:\n${agent2.log()}`);
    }
    const fd1 = openSync(join(mnt, "blocks-dirty"), "r");
    const st = fstatSync(fd1);
    closeSync(fd1);
    assert.deepEqual([st.size, st.blocks], [(4 << 20) + (256 << 10), 512], "seen through the first agent");
  });

  test("an unlinked open file stays usable; the agent's hidden directory never shows", async () => {
    const p = join(mnt, "orphan-check");
    const fd = openSync(p, "w+");
    writeSync(fd, "still here");
    rmSync(p);
    assert.equal(fstatSync(fd).nlink, 0);
    writeSync(fd, "!", 10);
    const b = Buffer.alloc(11);
    assert.equal(readSync(fd, b, 0, 11, 0), 11);
    assert.equal(b.toString(), "still here!");
    assert.ok(!readdirSync(mnt).includes(".pfsagent-orphans"), "hidden from readdir");
    assert.equal(existsSync(join(mnt, ".pfsagent-orphans")), false, "hidden from lookup");
    closeSync(fd);
    assert.equal(existsSync(p), false);
    // RELEASE (which removes the hidden name) follows close asynchronously; a failure is logged.
    await new Promise((r) => setTimeout(r, 300));
    assert.doesNotMatch(agent!.log(), /removing unlinked open file/);
  });
});
