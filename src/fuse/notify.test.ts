// Asynchronous kernel notifications on real mounts: a notification the kernel holds until a request
// queued to this very process is answered must not stop this process from answering it (the sync
// path deadlocks there), and invalidations really drop what the kernel cached under long TTLs.
// The mount is served by this process; every access to it is made by a child process, with a time
// limit, so a regression fails with a message instead of hanging. Needs root and /dev/fuse.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmdirSync, promises as fsp } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Errno, FsError } from "../base/errno.js";
import type { Attr, FuseHandler, RequestContext } from "./handler.js";
import { mountFuse, type FuseMount } from "./fuse-mount.js";
import type { NotifyResult } from "./session.js";

const canMount = process.getuid?.() === 0 && existsSync("/dev/fuse");
const skip = canMount ? false : "needs root and /dev/fuse";
const HOUR = 3_600_000;

const mounts: { dir: string; mount?: FuseMount }[] = [];
let mountedFusectl = false;
after(async () => {
  for (const m of mounts) {
    if (connectionOf(m.dir) !== undefined && m.mount) await Promise.race([m.mount.unmount().catch(() => {}), sleep(3000)]);
    const conn = connectionOf(m.dir);
    if (conn !== undefined) {
      // A wedged connection (a regression) is aborted first, so that nothing waits on it forever.
      await fsp.writeFile(`/sys/fs/fuse/connections/${conn}/abort`, "1").catch(() => {});
      spawnSync("umount", ["-l", m.dir]);
    }
    try { rmdirSync(m.dir); } catch { /* still busy: leave it */ }
  }
  if (mountedFusectl) spawnSync("umount", ["/sys/fs/fuse/connections"]);
});

/** The FUSE connection number (device minor) of the mount at `dir`, from mountinfo. */
function connectionOf(dir: string): string | undefined {
  const line = readFileSync("/proc/self/mountinfo", "utf8").split("\n").find((l) => l.split(" ")[4] === dir);
  return line?.split(" ")[2]!.split(":")[1];
}

/**
 * Aborts the connection of the mount at `dir` after `ms` unless stopped. It runs in a child
 * process: when a regression blocks this process's event loop in a write the kernel holds, no timer
 * here can fire, and only an abort (through fusectl) frees the kernel, the child and this process.
 */
function watchdog(dir: string, ms: number): { stop(): void; fired(): boolean } {
  const conn = connectionOf(dir);
  if (conn === undefined) throw new Error(`${dir} is not mounted`);
  if (!existsSync(`/sys/fs/fuse/connections/${conn}`)) {
    const r = spawnSync("mount", ["-t", "fusectl", "fusectl", "/sys/fs/fuse/connections"]);
    mountedFusectl ||= r.status === 0;
  }
  let out = "";
  const child = spawn("sh", ["-c", `sleep ${ms / 1000}; echo 1 > /sys/fs/fuse/connections/${conn}/abort; echo aborted`], {
    stdio: ["ignore", "pipe", "ignore"], detached: true,
  });
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const stop = () => {
    // The shell and its sleep: the group this spawn made (detached), nothing else.
    try { process.kill(-child.pid!, "SIGKILL"); } catch { /* already gone */ }
  };
  return { stop, fired: () => out.includes("aborted") };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Resolves with `p`, or fails with a clear message after `ms` (instead of hanging forever). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Error(`${what} did not finish within ${ms} ms: deadlock?`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a command in a child process (never touch the mount from this, the serving, process). */
function run(cmd: string, args: string[], timeoutMs = 10_000): Promise<string> {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const done = new Promise<string>((res, rej) => {
    child.on("error", rej);
    child.on("close", (code) => (code === 0 ? res(out) : rej(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${err}`))));
  });
  return within(done, timeoutMs, `${cmd} ${args.join(" ")}`).catch((e: unknown) => {
    child.kill("SIGKILL");
    throw e;
  });
}

const T = BigInt(Date.now()) * 1_000_000n;

/** Directories 1 (root: d, a) and 2 (d: x); every other node is a file. Tests edit it behind the kernel's back. */
class TinyFs implements FuseHandler {
  readonly dirs = new Map<bigint, Map<string, bigint>>([
    [1n, new Map([["d", 2n], ["a", 10n], ["f", 20n]])],
    [2n, new Map([["x", 3n]])],
  ]);
  readonly content = new Map<bigint, Buffer>([[20n, Buffer.from("one\n")]]);
  /** Called before a lookup is answered; the lookup waits for it. */
  onLookup: ((parent: bigint, name: string) => Promise<void>) | undefined;

  attr(ino: bigint): Attr {
    const dir = this.dirs.has(ino);
    const size = BigInt(this.content.get(ino)?.length ?? 0);
    return { ino, size, blocks: (size + 511n) / 512n, atimeNs: T, mtimeNs: T, ctimeNs: T, mode: dir ? 0o040755 : 0o100644, nlink: dir ? 2 : 1, uid: 0, gid: 0, rdev: 0, blksize: 4096 };
  }

  async lookup(_ctx: RequestContext, parent: bigint, name: string) {
    await this.onLookup?.(parent, name);
    const ino = this.dirs.get(parent)?.get(name);
    if (ino === undefined) throw new FsError(Errno.ENOENT);
    return { attr: this.attr(ino) };
  }

  async getattr(_ctx: RequestContext, ino: bigint) {
    return { attr: this.attr(ino) };
  }

  async open() {
    return { fh: 0n, keepCache: true };
  }

  async read(_ctx: RequestContext, ino: bigint, req: { offset: bigint; size: number }) {
    const c = this.content.get(ino) ?? Buffer.alloc(0);
    const off = Math.min(Number(req.offset), c.length);
    return c.subarray(off, Math.min(off + req.size, c.length));
  }
}

async function mounted(fs: TinyFs, ttlMs: number, useFusermount = false): Promise<FuseMount> {
  const dir = mkdtempSync(join(tmpdir(), "pfs-notify-"));
  const slot: { dir: string; mount?: FuseMount } = { dir };
  mounts.push(slot);
  const m = await mountFuse(fs, { mountpoint: dir, entryTtlMs: ttlMs, attrTtlMs: ttlMs, useFusermount });
  slot.mount = m;
  await m.ready;
  return m;
}

for (const relay of [false, true]) {
  const how = relay ? " (fusermount3 relay: its notifier thread)" : "";
  test(`a notification the kernel holds for a pending LOOKUP does not block the event loop that answers it${how}`, { skip }, async () => {
    const fs = new TinyFs();
    const m = await mounted(fs, 1000, relay);
    const s = m.session;
    let probe: { settledWhileHeld: boolean; results: Promise<NotifyResult[]> } | undefined;
    fs.onLookup = async (parent, name) => {
      if (parent !== 2n || name !== "x" || probe) return;
      // The kernel holds d's inode lock for this LOOKUP; INVAL_ENTRY(d, x) needs it. A synchronous
      // write here would never return (nothing would answer the LOOKUP): see notifyInvalEntry.
      const results = Promise.all([s.notifyInvalEntryAsync(2n, "x"), s.notifyInvalInodeAsync(2n)]);
      let settled = false;
      results.then(() => (settled = true), () => (settled = true));
      await sleep(300); // the event loop runs (this timer fires) while the kernel holds the write
      probe = { settledWhileHeld: settled, results };
    };
    const dog = watchdog(m.mountpoint, 10_000);
    let statted: string;
    try {
      statted = (await run("stat", ["-c", "%i", join(m.mountpoint, "d", "x")], 15_000)).trim();
    } catch (err) {
      if (dog.fired()) assert.fail("deadlock: the notification blocked the event loop; the connection was aborted after 10 s");
      throw err;
    } finally {
      dog.stop();
    }
    assert.equal(statted, "3");
    assert.ok(probe, "the LOOKUP of d/x reached the handler");
    // The relay reports no results: its promises resolve once the message is in its pipe.
    if (!relay) assert.equal(probe.settledWhileHeld, false, "the kernel held INVAL_ENTRY(d, x) until the LOOKUP in d was answered");
    // Once the LOOKUP is answered, the kernel takes the notification: x is cached by then.
    assert.deepEqual(await within(probe.results, 10_000, "notifyInvalEntryAsync + notifyInvalInodeAsync"), ["done", "done"]);
    assert.equal(s.notificationsPending, 0);
    await m.unmount();
    assert.equal(await s.notifyInvalEntryAsync(1n, "a"), "not-connected", "after unmount there is nothing to invalidate");
  });
}

test("entries and attributes cached under long TTLs are dropped by the async notifications, pages only with offset >= 0", { skip }, async () => {
  const fs = new TinyFs();
  const m = await mounted(fs, HOUR);
  const s = m.session;
  const a = join(m.mountpoint, "a");
  const f = join(m.mountpoint, "f");
  const stat = async (p: string) => (await run("stat", ["-c", "%i %s", p])).trim();

  // Entry: "a" now names another inode, behind the kernel's back.
  assert.equal(await stat(a), "10 0");
  fs.dirs.get(1n)!.set("a", 11n);
  assert.equal(await stat(a), "10 0", "the kernel serves a from its entry cache (long TTL)");
  assert.equal(await within(s.notifyInvalEntryAsync(1n, "a"), 10_000, "notifyInvalEntryAsync"), "done");
  assert.equal(await stat(a), "11 0", "after INVAL_ENTRY the kernel looked a up again");
  assert.equal(await within(s.notifyInvalEntryAsync(1n, "never-looked-up"), 10_000, "notifyInvalEntryAsync"), "not-cached");

  // Attributes and pages: same size and mtime, so only an invalidation can reveal the change.
  assert.equal(await run("cat", [f]), "one\n");
  fs.content.set(20n, Buffer.from("uno\n"));
  assert.equal(await run("cat", [f]), "one\n", "the kernel serves f from its page cache (keep_cache)");
  assert.equal(await within(s.notifyInvalInodeAsync(20n, -1n, 0n), 10_000, "notifyInvalInodeAsync"), "done");
  assert.equal(await run("cat", [f]), "one\n", "offset -1 drops attributes only");
  assert.equal(await within(s.notifyInvalInodeAsync(20n, 0n, 0n), 10_000, "notifyInvalInodeAsync"), "done");
  assert.equal(await run("cat", [f]), "uno\n", "offset 0, length 0 drops every page too");
  fs.content.set(20n, Buffer.from("one more\n"));
  assert.equal(await stat(f), "20 4", "attributes cached (long TTL)");
  assert.equal(await within(s.notifyInvalInodeAsync(20n, -1n, 0n), 10_000, "notifyInvalInodeAsync"), "done");
  assert.equal(await stat(f), "20 9");

  // Many at once (a directory lease revoked): bounded in flight, all settle.
  const many = Array.from({ length: 300 }, (_, i) => s.notifyInvalEntryAsync(i % 2 ? 1n : 2n, `n${i}`));
  assert.ok(s.notificationsPending > 2);
  const results = await within(Promise.all(many), 10_000, "300 notifications");
  assert.ok(results.every((r) => r === "not-cached"), `results: ${[...new Set(results)].join(", ")}`);
  await m.unmount();
});
