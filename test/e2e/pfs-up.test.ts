// `pfs up` (what `npm start` runs) as a user runs it: a child process that starts the embedded
// store, proxyfsd and pfsagentd, formats a new volume, mounts it, and prints a "ready" line.
// Files written through the mount are seen by a second agent started from the written
// DATA/pfsagentd.conf with only the mount point and HTTP port overridden; SIGINT stops everything
// (exit 0, unmounted, pid file gone); a second `pfs up` on the same data mounts the same files.
// A port in use and a data directory in use are refused with a clear message.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { canMount, isMounted, killAllChildren, startAgent } from "./testing/agent-harness.js";

const PFS = fileURLToPath(new URL("../../src/cmd/pfs.js", import.meta.url));

/** A base port N with N..N+4 all free on 127.0.0.1 (N+4 for the second agent). */
async function freePortBase(): Promise<number> {
  const free = (port: number): Promise<boolean> => new Promise((resolve) => {
    const s = createServer();
    s.once("error", () => resolve(false));
    s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
  });
  for (;;) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let ok = true;
    for (let p = base; p < base + 5 && ok; p++) ok = await free(p);
    if (ok) return base;
  }
}

interface Up {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

const ups = new Set<ChildProcess>();
// After a failure: SIGTERM first so `pfs up` stops its own children (they run in their own
// process groups and would outlive a SIGKILLed parent), then SIGKILL whatever is left.
after(async () => {
  const left = [...ups];
  for (const c of left) c.kill("SIGTERM");
  await Promise.race([Promise.all(left.map((c) => new Promise((r) => c.once("exit", r)))), new Promise((r) => setTimeout(r, 20_000).unref())]);
  for (const c of ups) c.kill("SIGKILL");
  killAllChildren();
});

/** Runs `pfs up` and resolves once it printed its ready line (or exited, for failure cases). */
function pfsUp(args: string[], timeoutMs = 25_000): Promise<Up> {
  const child = spawn(process.execPath, [PFS, "up", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  ups.add(child);
  let out = "";
  const exit = new Promise<number | null>((resolve) => child.once("exit", (code) => {
    ups.delete(child);
    resolve(code);
  }));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pfs up not ready within ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/pfs up: ready: /.test(out)) {
        clearTimeout(timer);
        resolve({ child, output: () => out, exit });
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    void exit.then(() => {
      clearTimeout(timer);
      resolve({ child, output: () => out, exit });
    });
  });
}

test("pfs up: format, mount, second agent from the written conf, clean Ctrl-C, same data again", { skip: !canMount && "needs root and /dev/fuse", timeout: 60_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), "pfs-up-"));
  const data = join(root, "data");
  const mnt = join(root, "mnt"); // does not exist yet: pfs up creates it
  const mnt2 = join(root, "mnt2");
  mkdirSync(mnt2);
  const base = await freePortBase();
  try {
    const up = await pfsUp([mnt, "--data", data, "--port-base", String(base)]);
    assert.match(up.output(), /pfs up: ready: volume CommonVolume is mounted at /, up.output());
    assert.ok(isMounted(mnt), "mounted after the ready line");
    assert.match(up.output(), new RegExp(`pfsagentd: +http://127\\.0\\.0\\.1:${base + 3}/`));
    assert.ok(existsSync(join(data, "pfsagentd.conf")) && existsSync(join(data, "proxyfsd.conf")));
    assert.ok(existsSync(join(data, "logs", "proxyfsd.log")) && existsSync(join(data, "logs", "pfsagentd.log")));

    // The agent's HTTP server is on the fixed port derived from --port-base.
    const version = await fetch(`http://127.0.0.1:${base + 3}/version`);
    assert.equal(version.status, 200);

    writeFileSync(join(mnt, "hello.txt"), "hello from pfs up\n");
    mkdirSync(join(mnt, "dir"));
    writeFileSync(join(mnt, "dir", "b.bin"), Buffer.alloc(200_000, 7));

    // A second `pfs up` on the same data directory (even on other ports) is refused.
    const other = await pfsUp([join(root, "mnt3"), "--data", data, "--port-base", String(base + 10)]);
    assert.equal(await other.exit, 1);
    assert.match(other.output(), /is in use by another `pfs up` \(pid \d+/);

    // A second agent, exactly as the printed hint says.
    const agent2 = await startAgent(join(data, "pfsagentd.conf"), [`Agent.FUSEMountPointPath=${mnt2}`, `Agent.HTTPServerTCPPort=${base + 4}`]);
    assert.equal(readFileSync(join(mnt2, "hello.txt"), "utf8"), "hello from pfs up\n");
    assert.deepEqual(readFileSync(join(mnt2, "dir", "b.bin")), Buffer.alloc(200_000, 7));
    assert.equal(await agent2.stop("SIGINT"), 0);
    assert.ok(!isMounted(mnt2));

    up.child.kill("SIGINT");
    assert.equal(await up.exit, 0, up.output());
    assert.match(up.output(), /pfs up: stopped\n/);
    assert.ok(!isMounted(mnt), "unmounted after SIGINT");
    assert.ok(!existsSync(join(data, "pfs-up.pid")), "pid file removed");

    // Second run, same data: the files are there.
    const up2 = await pfsUp([mnt, "--data", data, "--port-base", String(base)]);
    assert.ok(isMounted(mnt), up2.output());
    assert.doesNotMatch(up2.output(), /new data directory/);
    assert.equal(readFileSync(join(mnt, "hello.txt"), "utf8"), "hello from pfs up\n");
    assert.deepEqual(readdirSync(join(mnt, "dir")), ["b.bin"]);
    up2.child.kill("SIGTERM");
    assert.equal(await up2.exit, 0, up2.output());
    assert.ok(!isMounted(mnt));
  } finally {
    for (const m of [mnt, mnt2]) if (isMounted(m)) spawn("umount", ["-l", m]);
    rmSync(root, { recursive: true, force: true });
  }
});

test("pfs up: bad usage exits 2 naming the problem", async () => {
  const up = await pfsUp(["--port-base", "70000"]);
  assert.equal(await up.exit, 2);
  assert.match(up.output(), /--port-base "70000" is not a port number/);
  const up2 = await pfsUp(["a", "b"]);
  assert.equal(await up2.exit, 2);
  assert.match(up2.output(), /one mount point only/);
});

test("pfs up: a port in use is refused before anything starts", async () => {
  const root = mkdtempSync(join(tmpdir(), "pfs-up-port-"));
  const base = await freePortBase();
  const blocker: Server = createServer();
  await new Promise<void>((resolve) => blocker.listen(base + 1, "127.0.0.1", resolve));
  try {
    const up = await pfsUp([join(root, "mnt"), "--data", join(root, "data"), "--port-base", String(base)]);
    assert.equal(await up.exit, 1);
    assert.match(up.output(), new RegExp(`127\\.0\\.0\\.1:${base + 1} \\(proxyfsd JSON-RPC\\): already in use`));
    assert.doesNotMatch(up.output(), /object store\): already/);
    assert.ok(!existsSync(join(root, "data", "pfsagentd.conf")), "nothing written when it cannot start");
  } finally {
    blocker.close();
    rmSync(root, { recursive: true, force: true });
  }
});
