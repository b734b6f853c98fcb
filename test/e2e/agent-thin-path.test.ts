// End to end: files written through a real FUSE mount served by pfsagentd reach the object store
// through proxyfsd's protocol, and read back — also from a second agent process with empty caches.
//
// Processes: servers-main (embedded Swift-API server relaying PROXYFS + proxyfsd), pfsagentd (child,
// with the Swift auth plug-in), and this test, which uses blocking fs calls on the mount.
// Needs root and /dev/fuse; skipped without them.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, createHash } from "node:crypto";
import {
  closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, renameSync, rmdirSync,
  statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync, writeSync, appendFileSync, existsSync,
} from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { SwiftObjectStore, tempAuth } from "../../src/objstore/index.js";
import {
  canMount, cleanupSetup, isMounted, killAllChildren, PFSAGENTD, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";

const skip = canMount ? false : "needs root and /dev/fuse";
const md5 = (b: Buffer): string => createHash("md5").update(b).digest("hex");

let servers: Servers | undefined;
let setup: AgentSetup | undefined;
after(async () => {
  killAllChildren(); // agents left running by a failed assertion
  if (setup) cleanupSetup(setup);
  await servers?.stop();
});

async function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}\\s+(\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : NaN;
}

test("pfsagentd: write through FUSE, data lands in the object store, reads back, clean SIGTERM", { skip, timeout: 120_000 }, async () => {
  servers = await startServers();
  // Small cache lines and segments so one test exercises multi-line reads and several LogSegments.
  setup = writeAgentConf(servers.swiftPort, { ReadCacheLineSize: "65536", MaxFlushSize: "1048576" });
  const mnt = setup.mountpoint;
  const agent = await startAgent(setup.confPath);
  assert.ok(isMounted(mnt), "mount point is mounted once the agent says ready");

  const version = await httpGet(agent.httpPort, "/version");
  assert.equal(version.status, 200);
  assert.match(version.body, /^\d+\.\d+\.\d+/);
  const config = await httpGet(agent.httpPort, "/config");
  assert.equal(config.status, 200);
  assert.match(config.body, /"FUSEMountPointPath"/);
  assert.doesNotMatch(config.body, /testing/, "the AuthKey is redacted from /config");
  assert.equal((await fetch(`http://127.0.0.1:${agent.httpPort}/version`, { method: "POST" })).status, 405);

  // Metadata + small data.
  mkdirSync(join(mnt, "d1"));
  writeFileSync(join(mnt, "d1", "f1"), "hello world\n");
  assert.equal(readFileSync(join(mnt, "d1", "f1"), "utf8"), "hello world\n");
  assert.equal(statSync(join(mnt, "d1", "f1")).size, 12);
  assert.deepEqual(readdirSync(join(mnt, "d1")), ["f1"]);
  renameSync(join(mnt, "d1", "f1"), join(mnt, "d1", "f2"));
  assert.deepEqual(readdirSync(join(mnt, "d1")), ["f2"]);
  symlinkSync("f2", join(mnt, "d1", "link"));
  assert.equal(readlinkSync(join(mnt, "d1", "link")), "f2");
  assert.equal(readFileSync(join(mnt, "d1", "link"), "utf8"), "hello world\n");
  appendFileSync(join(mnt, "d1", "f2"), "more\n");
  assert.equal(readFileSync(join(mnt, "d1", "f2"), "utf8"), "hello world\nmore\n");

  // Read-your-writes before any flush: written data is served from the in-flight LogSegment.
  const fd = openSync(join(mnt, "d1", "rw"), "w+");
  writeSync(fd, Buffer.from("abcdefgh"), 0, 8, 0);
  writeSync(fd, Buffer.from("XY"), 0, 2, 3);
  const back = Buffer.alloc(8);
  assert.equal(readSync(fd, back, 0, 8, 0), 8);
  assert.equal(back.toString(), "abcXYfgh");
  assert.equal(fstatSync(fd).size, 8);
  fsyncSync(fd);
  closeSync(fd);

  // A 3 MiB file: several 1 MiB LogSegments and many 64 KiB cache lines.
  const big = randomBytes(3 * 1024 * 1024 + 12345);
  writeFileSync(join(mnt, "big.bin"), big);
  assert.equal(statSync(join(mnt, "big.bin")).size, big.length);
  assert.equal(md5(readFileSync(join(mnt, "big.bin"))), md5(big));

  // Unlink and rmdir.
  writeFileSync(join(mnt, "victim"), "x");
  unlinkSync(join(mnt, "victim"));
  assert.equal(existsSync(join(mnt, "victim")), false);
  mkdirSync(join(mnt, "empty"));
  rmdirSync(join(mnt, "empty"));
  assert.deepEqual(readdirSync(mnt).sort(), ["big.bin", "d1"]);

  // Truncate shrink then grow: the grown part reads as zeros.
  writeFileSync(join(mnt, "trunc"), "0123456789");
  truncateSync(join(mnt, "trunc"), 4);
  truncateSync(join(mnt, "trunc"), 8);
  assert.deepEqual(readFileSync(join(mnt, "trunc")), Buffer.from("0123\0\0\0\0"));

  // Closed files may stay buffered under their Exclusive leases; MaxFlushTime (the conf's,
  // 200 ms by default) bounds how long.
  let metrics = (await httpGet(agent.httpPort, "/metrics")).body;
  for (let i = 0; i < 50 && metric(metrics, "DirtyFiles") > 0; i++) {
    await new Promise((r) => setTimeout(r, 100));
    metrics = (await httpGet(agent.httpPort, "/metrics")).body;
  }
  assert.equal(metric(metrics, "DirtyFiles"), 0, `closed files were flushed within MaxFlushTime:\n${metrics}`);
  assert.ok(metric(metrics, "LogSegmentPUTs") >= 3, `several LogSegments were PUT:\n${metrics}`);
  assert.equal(metric(metrics, "LogSegmentPUTFailures"), 0);
  assert.equal(metric(metrics, "RpcWroteFailures"), 0);

  // The log segments are objects in the account's containers.
  const swift = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: `http://127.0.0.1:${servers.swiftPort}/auth/v1.0`, user: "test:tester", key: "testing" }), retry: { limit: 1, delayMs: 10 } });
  try {
    const containers = await swift.listContainers();
    assert.ok(containers.length > 0, "proxyfsd created at least one container");
    let objects = 0;
    let bytes = 0;
    for (const c of containers) {
      for (const o of await swift.listObjects(c.name)) {
        if (o.kind !== "object") continue;
        objects++;
        bytes += o.bytes;
        assert.match(o.name, /^[0-9A-F]{16}$/, "LogSegment objects have 16-hex-digit names");
      }
    }
    assert.ok(objects >= 4, `found ${objects} LogSegment objects`);
    assert.ok(bytes >= big.length, `LogSegments hold ${bytes} bytes, at least the ${big.length} of big.bin`);
  } finally {
    await swift.close();
  }

  // SIGTERM: exit 0 and unmounted.
  assert.equal(await agent.stop(), 0, `clean exit:\n${agent.log()}`);
  assert.equal(isMounted(mnt), false, "unmounted after SIGTERM");
  assert.match(readFileSync(join(setup.root, "pfsagentd.log"), "utf8"), /\[INFO\] unmounted MountID /, "Server.RpcUnmount was sent and logged");

  // A second agent, with empty caches, reads everything back from the object store.
  const agent2 = await startAgent(setup.confPath);
  try {
    assert.equal(md5(readFileSync(join(mnt, "big.bin"))), md5(big));
    const part = Buffer.alloc(100_000);
    const fd2 = openSync(join(mnt, "big.bin"), "r");
    assert.equal(readSync(fd2, part, 0, part.length, 1_500_000), part.length);
    closeSync(fd2);
    assert.deepEqual(part, big.subarray(1_500_000, 1_600_000));
    assert.equal(readFileSync(join(mnt, "d1", "f2"), "utf8"), "hello world\nmore\n");
    assert.equal(readFileSync(join(mnt, "d1", "rw"), "utf8"), "abcXYfgh");
    assert.equal(readlinkSync(join(mnt, "d1", "link")), "f2");
    const m2 = (await httpGet(agent2.httpPort, "/metrics")).body;
    assert.ok(metric(m2, "ReadCacheMisses") >= Math.ceil(big.length / 65536), `cache lines were fetched from the store:\n${m2}`);
  } finally {
    assert.equal(await agent2.stop("SIGINT"), 0, `clean exit on SIGINT:\n${agent2.log()}`);
  }
  assert.equal(isMounted(mnt), false);
});

test("pfsagentd --check-config accepts a valid file and rejects a bad value", { timeout: 30_000 }, () => {
  const s = writeAgentConf(1);
  try {
    const ok = spawnSync(process.execPath, [PFSAGENTD, "--check-config", s.confPath], { encoding: "utf8" });
    assert.equal(ok.status, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /configuration OK/);
    assert.doesNotMatch(ok.stdout, /testing/, "secrets are redacted");
    const bad = spawnSync(process.execPath, [PFSAGENTD, "--check-config", s.confPath, "Agent.MaxFlushTime=soon"], { encoding: "utf8" });
    assert.equal(bad.status, 1);
    assert.match(bad.stdout, /MaxFlushTime/);
    const none = spawnSync(process.execPath, [PFSAGENTD], { encoding: "utf8" });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no \.conf file specified/);
  } finally {
    cleanupSetup(s);
  }
});
