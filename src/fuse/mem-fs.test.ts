// Mounts MemFs for real (in a child process, so this process may use synchronous system calls on
// the mount without deadlocking the server) and runs the POSIX suite against it.
// Needs root and /dev/fuse; skipped with a reason otherwise.
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { posixSuite } from "./testing/posix-suite.js";

const MAIN = fileURLToPath(new URL("./examples/mem-fs-main.js", import.meta.url));
const canMount = process.getuid?.() === 0 && existsSync("/dev/fuse");

describe("MemFs mounted through the kernel", { skip: canMount ? false : "needs root and /dev/fuse" }, () => {
  let dir = "";
  let mnt = "";
  let child: ChildProcess | undefined;
  const lines: string[] = [];
  let stderr = "";
  let onLine: (() => void) | undefined;

  const waitLine = async (re: RegExp, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find((l) => re.test(l));
      if (found) {
        lines.splice(lines.indexOf(found), 1);
        return found;
      }
      if (Date.now() > deadline || child?.exitCode !== null) {
        throw new Error(`mem-fs-main did not print ${re}; stdout ${JSON.stringify(lines)}; stderr ${stderr.slice(-2000)}`);
      }
      await new Promise<void>((res) => {
        onLine = res;
        setTimeout(res, 100);
      });
    }
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "memfs-test-"));
    // Other users must be able to reach the mount point (the suite acts as uid 65534 and 65533).
    chmodSync(dir, 0o755);
    mnt = join(dir, "mnt");
    execFileSync("mkdir", [mnt]);
    child = spawn(process.execPath, [MAIN, mnt, "--allow-other"], { stdio: ["ignore", "pipe", "pipe"] });
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let k;
      while ((k = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
      onLine?.();
    });
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    await waitLine(/^ready /, 15_000);
  });

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((res) => child!.once("exit", res));
      child.kill("SIGTERM");
      const ok = await Promise.race([exited.then(() => true), new Promise((res) => setTimeout(() => res(false), 5000))]);
      if (!ok) {
        try { execFileSync("umount", ["-l", mnt], { stdio: "ignore" }); } catch { /* not mounted */ }
        child.kill("SIGKILL");
        await exited;
      }
      assert.ok(ok, `mem-fs-main did not exit after SIGTERM; stderr ${stderr.slice(-2000)}`);
    }
    // Never leave a mount behind, even when the server died.
    try { execFileSync("umount", ["-l", mnt], { stdio: "ignore" }); } catch { /* not mounted */ }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  posixSuite(() => mnt, {
    otherUsers: true,
    interrupt: {
      makeSlow: (path) => execFileSync("setfattr", ["-n", "user.memfs.slow", "-v", "1", path]),
      interrupted: async (op, timeoutMs) => { await waitLine(new RegExp(`^interrupted ${op} `), timeoutMs); },
    },
  });

  test("the file system logged no handler failures", () => {
    // A handler that threw anything but FsError shows up as EIO and a logged stack: none may.
    const failures = stderr.split("\n").filter((l) => / failed: |Error: /.test(l));
    assert.deepEqual(failures, [], `mem-fs-main logged failures:\n${stderr.slice(-4000)}`);
  });
});
