// The whole stack on a real OpenStack Swift (the SAIO of scripts/swift-saio.sh), deployed by
// scripts/deploy-local.sh exactly as deploy/README.md describes: proxyfsd persisting in AUTH_test, a
// Swift proxy with our pfs middleware (read-write), and two pfsagentd processes mounting the one
// volume through that proxy. Runs only when PFS_TEST_SWIFT=1 and FUSE mounts are possible (root
// and /dev/fuse).
//
// Every file lives in a directory unique to this run, so the persistent volume in AUTH_test (it
// survives runs: proxyfsd reloads it from Swift) never sees a name twice.
import { test, before, after, describe } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { chmodSync, closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ObjectStoreError, SwiftObjectStore, listAllObjects, tempAuth } from "../../src/objstore/index.js";
import { canMount, cleanupSetup, isMounted, killAllChildren, startAgent, writeAgentConf, type AgentProcess, type AgentSetup } from "./testing/agent-harness.js";
import { posixSuite } from "../../src/fuse/testing/posix-suite.js";
import { assertTree, findSourceTree, haveWorkloadTools, makeGitRepo, run, unpackTree } from "./testing/workload.js";

const enabled = process.env.PFS_TEST_SWIFT === "1" && canMount;
const skip = enabled ? false : "needs PFS_TEST_SWIFT=1 (real Swift from scripts/swift-saio.sh), root and /dev/fuse";

const PROXY_PORT = 8195;
const CMD_DIR = fileURLToPath(new URL("../../src/cmd/", import.meta.url));
const META_CONTAINER = "proxyfs_meta";

/** scripts/deploy-local.sh of the checkout: searched upwards from this file (works from any outDir), then the cwd. */
function deployScript(): string {
  for (let d = dirname(fileURLToPath(import.meta.url)); ; d = dirname(d)) {
    const p = join(d, "scripts", "deploy-local.sh");
    if (existsSync(p)) return p;
    if (dirname(d) === d) break;
  }
  return join(process.cwd(), "scripts", "deploy-local.sh");
}

let workDir = "";
function deploy(cmd: "start" | "stop"): string {
  const r = spawnSync("bash", [deployScript(), cmd], {
    env: { ...process.env, PFS_DEPLOY_DIR: workDir, PFS_DEPLOY_BIN: CMD_DIR, PFS_DEPLOY_PROXY_PORT: String(PROXY_PORT), NODE: process.execPath },
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.equal(r.status, 0, `deploy-local.sh ${cmd} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

const swift = (): SwiftObjectStore => new SwiftObjectStore({
  authenticate: tempAuth({ authUrl: "http://127.0.0.1:8080/auth/v1.0", user: "test:tester", key: "testing" }),
  retry: { limit: 3, delayMs: 200 },
  timeoutMs: 30_000,
});

/**
 * container/object -> bytes for every object of AUTH_test outside the metadata container. Other
 * tests share AUTH_test and may delete their containers meanwhile: a vanished one is skipped.
 */
async function segmentObjects(store: SwiftObjectStore): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of await store.listContainers()) {
    if (c.name === META_CONTAINER) continue;
    try {
      for await (const e of listAllObjects(store, c.name)) if (e.kind === "object") out.set(`${c.name}/${e.name}`, e.bytes);
    } catch (err) {
      if (!(err instanceof ObjectStoreError && err.code === "NotFound")) throw err;
    }
  }
  return out;
}

let a: AgentProcess | undefined;
let b: AgentProcess | undefined;
let setupA: AgentSetup | undefined;
let setupB: AgentSetup | undefined;
let before0 = new Map<string, number>();
let dirA = "";
let dirB = "";
/** Bytes of the whole-file writes of this run: every one must be in some new log segment (random
 * data, no holes, no overwrite the agent could coalesce away). */
let written = 0;

before(async () => {
  if (!enabled) return;
  workDir = mkdtempSync(join(tmpdir(), "pfs-e2e-deploy-"));
  const out = deploy("start");
  assert.match(out, new RegExp(`"AuthURL":"http://127\\.0\\.0\\.1:${PROXY_PORT}/auth/v1\\.0"`), "deploy-local.sh prints the agent's auth URL (the pfs proxy)");
  const store = swift();
  try {
    before0 = await segmentObjects(store);
  } finally {
    await store.close();
  }
  // Both agents authenticate at the pfs proxy; their mount RPC and segment PUTs go through it.
  setupA = writeAgentConf(PROXY_PORT);
  setupB = writeAgentConf(PROXY_PORT);
  a = await startAgent(setupA.confPath);
  b = await startAgent(setupB.confPath);
  const run = `real-swift-${process.pid}-${Date.now()}`;
  dirA = join(setupA.mountpoint, run);
  dirB = join(setupB.mountpoint, run);
  mkdirSync(dirA);
});

after(async () => {
  if (!enabled) return;
  killAllChildren();
  for (const s of [setupA, setupB]) if (s) cleanupSetup(s);
  try {
    deploy("stop");
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
});

test("a file written and closed on one agent reads back byte for byte on the other, both ways", { skip }, () => {
  const one = randomBytes(300_000 + randomInt(100_000));
  writeFileSync(join(dirA, "from-a"), one);
  written += one.length;
  assert.deepEqual(readFileSync(join(dirB, "from-a")), one);

  const two = randomBytes(1_500_000 + randomInt(100_000));
  writeFileSync(join(dirB, "from-b"), two);
  written += two.length;
  assert.deepEqual(readFileSync(join(dirA, "from-b")), two);
});

/** Random writes, overwrites and truncates on `path`, mirrored in `ref`; returns the new reference. */
function scramble(path: string, ref: Buffer, ops: number): Buffer {
  const fd = openSync(path, "r+");
  try {
    for (let i = 0; i < ops; i++) {
      if (randomInt(10) === 0) {
        const size = randomInt(2 * 1024 * 1024);
        ftruncateSync(fd, size);
        const next = Buffer.alloc(size);
        ref.copy(next, 0, 0, Math.min(size, ref.length));
        ref = next;
        continue;
      }
      const off = randomInt(2 * 1024 * 1024);
      const data = randomBytes(1 + randomInt(200_000));
      assert.equal(writeSync(fd, data, 0, data.length, off), data.length);
      if (off + data.length > ref.length) {
        const next = Buffer.alloc(off + data.length);
        ref.copy(next);
        ref = next;
      }
      data.copy(ref, off);
    }
  } finally {
    closeSync(fd);
  }
  return ref;
}

test("random writes, overwrites and truncates match a local reference on both agents", { skip }, () => {
  const name = "integrity";
  writeFileSync(join(dirA, name), "");
  let ref: Buffer = Buffer.alloc(0);
  ref = scramble(join(dirA, name), ref, 60);
  assert.ok(readFileSync(join(dirA, name)).equals(ref), "agent A reads what it wrote");
  assert.ok(readFileSync(join(dirB, name)).equals(ref), "agent B reads what agent A wrote");

  ref = scramble(join(dirB, name), ref, 40);
  assert.ok(readFileSync(join(dirB, name)).equals(ref), "agent B reads what it wrote");
  assert.ok(readFileSync(join(dirA, name)).equals(ref), "agent A reads what agent B wrote");
});

const tree = findSourceTree();
test("workloads: a source tree unpacked on one agent checks out on the other; git repo fsck'd from both", { skip: skip || (!haveWorkloadTools || !tree ? "needs tar, git and node_modules/typescript" : false) }, () => {
  const want = unpackTree(tree!, join(dirA, "src-tree"), setupA!.root);
  assertTree(join(dirA, "src-tree"), want, "on agent A");
  assertTree(join(dirB, "src-tree"), want, "on agent B");
  makeGitRepo(join(dirB, "repo"));
  run("git", ["fsck", "--full", "--strict"], join(dirA, "repo"));
  assert.equal(run("git", ["log", "--format=%s"], join(dirA, "repo")).trim(), "second\nfirst");
});

test("SIGTERM: both agents unmount and exit 0", { skip }, async () => {
  const [ca, cb] = await Promise.all([a!.stop("SIGTERM"), b!.stop("SIGTERM")]);
  assert.equal(ca, 0, `agent A exit code; log:\n${a!.log()}`);
  assert.equal(cb, 0, `agent B exit code; log:\n${b!.log()}`);
  assert.equal(isMounted(setupA!.mountpoint), false);
  assert.equal(isMounted(setupB!.mountpoint), false);
});

test("the data went to real Swift as log-segment objects in AUTH_test", { skip }, async () => {
  const store = swift();
  try {
    const now = await segmentObjects(store);
    let newBytes = 0;
    let newObjects = 0;
    for (const [k, bytes] of now) {
      if (before0.has(k)) continue;
      newObjects++;
      newBytes += bytes;
    }
    assert.ok(newObjects > 0, "new objects in AUTH_test");
    assert.ok(written > 0);
    assert.ok(newBytes >= written, `new log-segment bytes ${newBytes} < bytes written ${written}`);
    assert.ok((await store.listContainers()).some((c) => c.name === META_CONTAINER), `${META_CONTAINER} holds the volume's metadata`);
  } finally {
    await store.close();
  }
});

// The POSIX suite (as test/e2e/agent-posix.test.ts runs it on the embedded store) on a third
// agent mount of the same persistent volume on real Swift through the pfs middleware, in a
// directory unique to this run.
describe("POSIX suite on a pfsagentd mount of a volume on real Swift", { skip }, () => {
  let setupP: AgentSetup | undefined;
  let p: AgentProcess | undefined;
  let root = "";
  before(async () => {
    // allow_other lets the suite act as other users; small cache lines and LogSegments so the
    // tests cross many of both.
    setupP = writeAgentConf(PROXY_PORT, { FUSEAllowOther: "true", XAttrEnabled: "true", ReadCacheLineSize: "65536", MaxFlushSize: "1048576" });
    chmodSync(setupP.root, 0o755);
    p = await startAgent(setupP.confPath);
    root = join(setupP.mountpoint, `posix-${process.pid}-${Date.now()}`);
    mkdirSync(root, { mode: 0o755 });
  });
  after(async () => {
    if (p) await p.stop();
    if (setupP) cleanupSetup(setupP);
  });
  posixSuite(() => root, {
    otherUsers: true,
    manyEntries: 1000,
    fsxOps: 300,
    statfsTracksUsage: true,
    skip: [
      // FUSE_TMPFILE is implemented neither by the FUSE library nor by ProxyFS.
      "O_TMPFILE: an unnamed file, then linked into the directory",
      // Checks that df names the suite's directory as the mount point; here the suite runs in a
      // subdirectory of the shared persistent volume (agent-posix.test.ts covers it).
      "statvfs and df report consistent numbers; usage grows with data",
    ],
  });
});
