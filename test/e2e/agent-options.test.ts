// End to end, through a real FUSE mount: the [Agent] options that change behaviour
// (ReadDirPlusEnabled, XAttrEnabled, given as command-line overrides), the protocol extensions our
// agent and proxyfsd negotiate (renameat2 flags, fallocate punch-hole, SEEK_DATA/SEEK_HOLE), and
// Swift token expiry (401 → renewal through the auth plug-in, for data and for the PROXYFS unmount).
// Needs root and /dev/fuse; skipped without them. xattr/seek calls go through python3.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import {
  canMount, cleanupSetup, isMounted, killAllChildren, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";

const hasPython = spawnSync("python3", ["-c", "import os; os.setxattr"], { encoding: "utf8" }).status === 0;
const skip = !canMount ? "needs root and /dev/fuse" : !hasPython ? "needs python3 with os.setxattr" : false;

const started: Servers[] = [];
const setups: AgentSetup[] = [];
after(async () => {
  killAllChildren();
  for (const s of setups) cleanupSetup(s);
  for (const s of started) await s.stop();
});

function py(script: string, ...args: string[]): { status: number | null; out: string } {
  const r = spawnSync("python3", ["-c", script, ...args], { encoding: "utf8", timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test("READDIRPLUS, xattrs and extensions, switched on by command-line overrides", { skip, timeout: 90_000 }, async () => {
  const servers = await startServers();
  started.push(servers);
  const s = writeAgentConf(servers.swiftPort);
  setups.push(s);
  const agent = await startAgent(s.confPath, ["Agent.ReadDirPlusEnabled=true", "Agent.XAttrEnabled=true"]);
  assert.match(agent.log(), /extensions: .*pfs-rename2-v1/, "our proxyfsd granted the extensions");
  const mnt = s.mountpoint;

  // READDIRPLUS: many entries, across several kernel buffers; attributes come with the entries.
  mkdirSync(join(mnt, "many"));
  const names = Array.from({ length: 300 }, (_, i) => `entry_${String(i).padStart(3, "0")}`);
  for (const n of names) writeFileSync(join(mnt, "many", n), n);
  assert.deepEqual(readdirSync(join(mnt, "many")).sort(), names);
  assert.equal(statSync(join(mnt, "many", "entry_123")).size, 9);
  const metrics = await (await fetch(`http://127.0.0.1:${agent.httpPort}/metrics`)).text();
  assert.match(metrics, /^FUSE_DoReadDirPlus_calls\s+[1-9]/m, "the kernel used READDIRPLUS");

  // xattrs.
  writeFileSync(join(mnt, "x"), "data");
  const x = py(
    "import os,sys; p=sys.argv[1]; os.setxattr(p,'user.color',b'blue'); print(os.getxattr(p,'user.color').decode(), sorted(os.listxattr(p))); os.removexattr(p,'user.color'); print(os.listxattr(p))",
    join(mnt, "x"),
  );
  assert.equal(x.status, 0, x.out);
  assert.equal(x.out, "blue ['user.color']\n[]\n");

  // renameat2(RENAME_NOREPLACE) via `mv -n`-style semantics: python has no renameat2, use ctypes.
  writeFileSync(join(mnt, "a"), "A");
  writeFileSync(join(mnt, "b"), "B");
  const r2 = py(
    "import ctypes,os,sys; libc=ctypes.CDLL(None,use_errno=True); d=sys.argv[1]; AT=-100\n" +
    "r=libc.renameat2(AT,os.path.join(d,'a').encode(),AT,os.path.join(d,'b').encode(),1); print(r, ctypes.get_errno())\n" +
    "r=libc.renameat2(AT,os.path.join(d,'a').encode(),AT,os.path.join(d,'b').encode(),2); print(r)",
    mnt,
  );
  assert.equal(r2.status, 0, r2.out);
  assert.equal(r2.out, "-1 17\n0\n", "NOREPLACE refuses with EEXIST; EXCHANGE swaps");
  assert.equal(readFileSync(join(mnt, "a"), "utf8"), "B");
  assert.equal(readFileSync(join(mnt, "b"), "utf8"), "A");
  renameSync(join(mnt, "a"), join(mnt, "c"));
  assert.equal(existsSync(join(mnt, "a")), false);

  // fallocate punch-hole and SEEK_DATA / SEEK_HOLE.
  writeFileSync(join(mnt, "holey"), Buffer.alloc(3 * 65536, 0x61));
  const fa = spawnSync("fallocate", ["-p", "-o", "65536", "-l", "65536", join(mnt, "holey")], { encoding: "utf8" });
  assert.equal(fa.status, 0, fa.stderr);
  const content = readFileSync(join(mnt, "holey"));
  assert.equal(content.length, 3 * 65536);
  assert.deepEqual(content.subarray(65536, 131072), Buffer.alloc(65536), "the punched range reads as zeros");
  assert.equal(content[0], 0x61);
  assert.equal(content[131072], 0x61);
  const sk = py("import os,sys; fd=os.open(sys.argv[1],os.O_RDONLY); print(os.lseek(fd,0,os.SEEK_HOLE), os.lseek(fd,65536,os.SEEK_DATA))", join(mnt, "holey"));
  assert.equal(sk.status, 0, sk.out);
  assert.equal(sk.out, "65536 131072\n");

  assert.equal(await agent.stop(), 0, agent.log());
  assert.equal(isMounted(mnt), false);
});

test("expired Swift tokens are renewed through the auth plug-in, for data and for the unmount", { skip: canMount ? false : "needs root and /dev/fuse", timeout: 90_000 }, async () => {
  const servers = await startServers({ tokenLifetimeSec: 1 });
  started.push(servers);
  const s = writeAgentConf(servers.swiftPort);
  setups.push(s);
  const agent = await startAgent(s.confPath);
  writeFileSync(join(s.mountpoint, "before"), "written with the first token");
  await new Promise((r) => setTimeout(r, 1500));
  writeFileSync(join(s.mountpoint, "after"), "written after it expired");
  assert.equal(readFileSync(join(s.mountpoint, "after"), "utf8"), "written after it expired");
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await agent.stop(), 0, agent.log());
  assert.match(agent.log(), /Swift got 401: token renewed through the auth plug-in/);
  assert.match(agent.log(), /PROXYFS got 401: token renewed through the auth plug-in/, "the unmount renewed the expired token too");
  assert.match(agent.log(), /unmounted MountID/);
  const second = await startAgent(s.confPath);
  try {
    assert.equal(readFileSync(join(s.mountpoint, "before"), "utf8"), "written with the first token");
    assert.equal(readFileSync(join(s.mountpoint, "after"), "utf8"), "written after it expired");
  } finally {
    assert.equal(await second.stop(), 0, second.log());
  }
});

test("a restarted agent clears the stale mount a killed agent left behind", { skip: canMount ? false : "needs root and /dev/fuse", timeout: 60_000 }, async () => {
  const servers = await startServers();
  started.push(servers);
  const s = writeAgentConf(servers.swiftPort, { FUSEUnMountRetryDelay: "50ms", FUSEUnMountRetryCap: "40" });
  setups.push(s);
  const first = await startAgent(s.confPath);
  // fsync: a close under an Exclusive lease does not wait for the data (SEMANTICS.md).
  const fd = openSync(join(s.mountpoint, "survivor"), "w");
  writeSync(fd, "flushed at close");
  fsyncSync(fd);
  closeSync(fd);
  await first.stop("SIGKILL");
  assert.equal(isMounted(s.mountpoint), true, "a killed agent leaves its (dead) mount behind");
  const second = await startAgent(s.confPath);
  try {
    assert.match(second.log(), /ready: /);
    assert.equal(readFileSync(join(s.mountpoint, "survivor"), "utf8"), "flushed at close", "fsync had made the data durable");
  } finally {
    assert.equal(await second.stop(), 0, second.log());
  }
  assert.equal(isMounted(s.mountpoint), false);
});

test("kill -9 of the agent: what fsync returned for survives (bytes, deferred chmod and utime, renames)", { skip, timeout: 90_000 }, async () => {
  const servers = await startServers();
  started.push(servers);
  const s = writeAgentConf(servers.swiftPort, { FUSEUnMountRetryDelay: "50ms", FUSEUnMountRetryCap: "40", MaxFlushTime: "60s" });
  setups.push(s);
  const first = await startAgent(s.confPath);
  // tar-like: write, chmod, utime (deferred behind the buffered data), rename every other file;
  // then fsync each file. Written after that and never fsync'd: "late" (may be lost).
  const script = String.raw`
import os, sys
root = sys.argv[1]
os.makedirs(root)
for i in range(100):
    p = os.path.join(root, "f%d" % i)
    fd = os.open(p, os.O_CREAT | os.O_WRONLY, 0o644)
    os.write(fd, (b"%d:" % i) * 500)
    os.close(fd)
    os.chmod(p, 0o600)
    os.utime(p, (1600000000, 1600000000 + i))
    if i % 2 == 0:
        os.rename(p, os.path.join(root, "g%d" % i))
for name in os.listdir(root):
    fd = os.open(os.path.join(root, name), os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
fd = os.open(os.path.join(root, "late"), os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"never fsync'd")
os.close(fd)
print("synced")
`;
  const r = spawnSync("python3", ["-c", script, join(s.mountpoint, "k9")], { encoding: "utf8", timeout: 60_000 });
  assert.equal(r.stdout.trim(), "synced", r.stderr);
  await first.stop("SIGKILL");
  const second = await startAgent(s.confPath);
  try {
    const names = readdirSync(join(s.mountpoint, "k9")).filter((n) => n !== "late").sort();
    assert.equal(names.length, 100);
    for (let i = 0; i < 100; i++) {
      const p = join(s.mountpoint, "k9", `${i % 2 === 0 ? "g" : "f"}${i}`);
      assert.equal(readFileSync(p, "utf8"), `${i}:`.repeat(500), `bytes of ${p}`);
      const st = statSync(p);
      assert.equal(st.mode & 0o7777, 0o600, `mode of ${p}`);
      assert.equal(Math.round(st.mtimeMs / 1000), 1600000000 + i, `mtime of ${p}`);
    }
  } finally {
    assert.equal(await second.stop(), 0, second.log());
  }
});
