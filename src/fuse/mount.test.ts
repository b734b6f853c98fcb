// Real mounts through /dev/fuse: mounting, unmounting (normal, lazy, from outside), and clearing a
// stale mount left by a killed server. Needs root and /dev/fuse; skipped without them.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { mountFuse } from "./fuse-mount.js";
import { isMountPoint, probeMountPoint } from "./mount.js";
import { HelloFs } from "./examples/hello-fs.js";

const canMount = process.getuid?.() === 0 && existsSync("/dev/fuse");
const skip = canMount ? false : "needs root and /dev/fuse";
const mainScript = fileURLToPath(new URL("./examples/hello-fs-main.js", import.meta.url));
const dirs: string[] = [];
function freshDir(): string {
  const d = mkdtempSync(join(tmpdir(), "pfs-mount-"));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) {
    spawnSync("umount", ["-l", d]);
    // Never recurse into a mount point: only when d is on the same device as its parent.
    if (statSync(d).dev === statSync(dirname(d)).dev) rmSync(d, { recursive: true, force: true });
  }
});

function startServer(mountpoint: string, asUser?: number): Promise<{ child: ChildProcess; output: () => string }> {
  return new Promise((res, rej) => {
    const child = asUser === undefined
      ? spawn(process.execPath, [mainScript, mountpoint], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("setpriv", [`--reuid=${asUser}`, `--regid=${asUser}`, "--clear-groups", process.execPath, mainScript, mountpoint], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("ready")) res({ child, output: () => out });
    });
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => rej(new Error(`server exited ${code} before ready: ${out}`)));
  });
}

test("mount, read through the kernel, then unmount cleanly", { skip }, async () => {
  const dir = freshDir();
  const m = await mountFuse(new HelloFs(), { mountpoint: dir, fsname: "hello-test", subtype: "hello" });
  await m.ready;
  assert.deepEqual(await fsp.readdir(dir), ["hello"]);
  assert.equal(await fsp.readFile(join(dir, "hello"), "utf8"), "Hello World!\n");
  const line = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === dir)!;
  assert.match(line, / - fuse\.hello hello-test /);
  await m.unmount();
  assert.deepEqual(await m.closed, { reason: "unmounted" });
  assert.equal(await isMountPoint(dir), false);
});

test("an unmount from outside (umount) ends the session with reason 'unmounted'", { skip }, async () => {
  const dir = freshDir();
  const m = await mountFuse(new HelloFs(), { mountpoint: dir });
  await m.ready;
  const r = spawn("umount", [dir]);
  await new Promise((res) => r.on("close", res));
  assert.deepEqual(await m.closed, { reason: "unmounted" });
});

test("lazy unmount detaches a busy mount; the session ends when the last file closes", { skip }, async () => {
  const dir = freshDir();
  const m = await mountFuse(new HelloFs(), { mountpoint: dir });
  await m.ready;
  // The file is held open by another process: a FUSE server must never hold files open on its own
  // mount while it spawns (exec closes them, and the FLUSH would wait for the blocked parent).
  const holder = spawn("sh", ["-c", `exec 3<"${join(dir, "hello")}"; echo open; exec sleep 30`], { stdio: ["ignore", "pipe", "ignore"] });
  await new Promise<void>((r) => holder.stdout!.once("data", () => r()));
  await m.unmount({ lazy: true });
  assert.equal(await isMountPoint(dir), false);
  const early = await Promise.race([m.closed, new Promise((r) => setTimeout(() => r("open"), 200))]);
  assert.equal(early, "open", "the session lives while a file is open");
  holder.kill("SIGKILL");
  assert.equal((await m.closed).reason, "unmounted");
});

test("a stale mount left by a killed server is detected and cleared on the next mount", { skip }, async () => {
  const dir = freshDir();
  const { child } = await startServer(dir);
  child.kill("SIGKILL");
  await new Promise((r) => child.on("exit", r));
  assert.equal(await probeMountPoint(dir), "stale");
  const m = await mountFuse(new HelloFs({ content: Buffer.from("second life\n") }), { mountpoint: dir, staleMount: { retryDelayMs: 20, retryCap: 50 } });
  await m.ready;
  assert.equal(await fsp.readFile(join(dir, "hello"), "utf8"), "second life\n");
  await m.unmount();
});

test("the server process exits cleanly on SIGTERM after unmounting", { skip }, async () => {
  const dir = freshDir();
  const { child, output } = await startServer(dir);
  child.kill("SIGTERM");
  const code = await new Promise((r) => child.on("exit", r));
  assert.equal(code, 0);
  assert.match(output(), /closed unmounted/);
  assert.equal(await isMountPoint(dir), false);
});

test("mounting on a missing directory or a file fails with a clear error", { skip }, async () => {
  await assert.rejects(mountFuse(new HelloFs(), { mountpoint: "/nonexistent/pfs" }), /does not exist/);
  const dir = freshDir();
  await fsp.writeFile(join(dir, "f"), "");
  await assert.rejects(mountFuse(new HelloFs(), { mountpoint: join(dir, "f") }), /not a directory/);
});

test("mounting through fusermount3 (the unprivileged path) works as root too", { skip }, async () => {
  const dir = freshDir();
  const m = await mountFuse(new HelloFs(), { mountpoint: dir, useFusermount: true, fsname: "relayed", subtype: "hello" });
  await m.ready;
  assert.equal(await fsp.readFile(join(dir, "hello"), "utf8"), "Hello World!\n");
  assert.match(readFileSync("/proc/self/mountinfo", "utf8"), new RegExp(` ${dir} .* - fuse\\.hello relayed `));
  await m.unmount();
  assert.equal((await m.closed).reason, "unmounted");
});

// The unprivileged user must be able to run our compiled code (a checkout under /root is not).
const worldFuse = canMount && (statSync("/dev/fuse").mode & 0o006) === 0o006 &&
  spawnSync("which", ["setpriv", "fusermount3"]).status === 0 &&
  spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "test", "-r", mainScript]).status === 0;
test("an unprivileged user mounts, serves and unmounts through fusermount3", { skip: worldFuse ? false : "needs /dev/fuse mode 0666, setpriv, fusermount3 and a checkout readable by uid 65534" }, async () => {
  const dir = freshDir();
  chmodSync(dirname(dir), 0o755);
  chownSync(dir, 65534, 65534);
  const { child } = await startServer(dir, 65534);
  const line = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === dir)!;
  assert.match(line, /user_id=65534/);
  // Without allow_other only the mounting user may enter the mount: read it as that user.
  const cat = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "cat", join(dir, "hello")], { encoding: "utf8", timeout: 10_000 });
  assert.equal(cat.stdout, "Hello World!\n");
  child.kill("SIGTERM");
  assert.equal(await new Promise((r) => child.on("exit", r)), 0);
  assert.equal(await isMountPoint(dir), false);
});
