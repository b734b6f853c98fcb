// MemFs called directly through the FuseHandler interface: the checks the kernel usually makes
// before a request reaches a file system (rename rules, sticky bit, ownership) must also hold in
// MemFs itself, and its inode lifetime (forget, release) is only visible from here.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { RequestContext } from "../handler.js";
import { MemFs, S_IFDIR, S_IFREG } from "./mem-fs.js";

const ROOT = 1n;

function ctx(uid = 0, gid = uid, signal: AbortSignal = new AbortController().signal): RequestContext {
  return { unique: 1n, nodeid: 0n, opcode: 0, uid, gid, pid: 0, signal };
}

async function mkfile(fs: MemFs, parent: bigint, name: string, c = ctx(), mode = 0o644): Promise<bigint> {
  const r = await fs.create(c, parent, name, { mode: S_IFREG | mode, umask: 0, flags: 2 });
  await fs.release(c, r.entry.attr.ino, { fh: r.open.fh, flags: 0, flush: false, flockRelease: false });
  return r.entry.attr.ino;
}

async function mkdir(fs: MemFs, parent: bigint, name: string, c = ctx(), mode = 0o755): Promise<bigint> {
  return (await fs.mkdir(c, parent, name, { mode: S_IFDIR | mode, umask: 0 })).attr.ino;
}

test("rename enforces POSIX rules inside the file system", async () => {
  const fs = new MemFs();
  const a = await mkdir(fs, ROOT, "a");
  const b = await mkdir(fs, a, "b");
  await mkdir(fs, ROOT, "full");
  await mkfile(fs, (await fs.lookup(ctx(), ROOT, "full") as { attr: { ino: bigint } }).attr.ino, "x");
  await mkfile(fs, ROOT, "f");
  await mkfile(fs, ROOT, "g");
  const mv = (fp: bigint, fname: string, tp: bigint, tname: string, flags = 0) => fs.rename(ctx(), { parent: fp, name: fname }, { parent: tp, name: tname }, flags);
  await assert.rejects(mv(ROOT, "a", b, "a"), { code: "EINVAL" });
  await assert.rejects(mv(ROOT, "a", ROOT, "full"), { code: "ENOTEMPTY" });
  await assert.rejects(mv(ROOT, "f", ROOT, "a"), { code: "EISDIR" });
  await assert.rejects(mv(ROOT, "a", ROOT, "f"), { code: "ENOTDIR" });
  await assert.rejects(mv(ROOT, "f", ROOT, "g", 1), { code: "EEXIST" });
  await assert.rejects(mv(ROOT, "f", ROOT, "g", 3), { code: "EINVAL" });
  await assert.rejects(mv(ROOT, "f", ROOT, "g", 4), { code: "EINVAL" }, "RENAME_WHITEOUT is not supported");
  await assert.rejects(mv(ROOT, "f", ROOT, "nothere", 2), { code: "ENOENT" });
  await assert.rejects(mv(ROOT, "a", b, "f", 2), { code: "ENOENT" });
  // EXCHANGE of a directory with a file in another directory moves the link counts along.
  await mkfile(fs, b, "f");
  const rootLinks = (await fs.getattr(ctx(), ROOT)).attr.nlink;
  await mv(ROOT, "a", ROOT, "g", 2);
  assert.equal((await fs.getattr(ctx(), ROOT)).attr.nlink, rootLinks, "same directory: unchanged");
  await mv(ROOT, "g", b, "f", 2).then(() => assert.fail("exchanging a directory into itself must fail"), (e) => assert.equal(e.code, "EINVAL"));
  const g = (await fs.lookup(ctx(), ROOT, "g") as { attr: { ino: bigint } }).attr.ino;
  assert.equal(g, a);
  await mkdir(fs, ROOT, "other");
  const other = (await fs.lookup(ctx(), ROOT, "other") as { attr: { ino: bigint } }).attr.ino;
  await mkfile(fs, other, "file");
  await mv(ROOT, "g", other, "file", 2);
  assert.equal((await fs.getattr(ctx(), other)).attr.nlink, 3);
  assert.equal((await fs.getattr(ctx(), ROOT)).attr.nlink, rootLinks, "lost the directory a, gained the directory other");
  assert.equal((await fs.lookup(ctx(), a, "..") as { attr: { ino: bigint } }).attr.ino, other);
});

test("sticky directories, chown and chmod ownership rules, set-user-ID clearing", async () => {
  const fs = new MemFs();
  const tmp = await mkdir(fs, ROOT, "tmp", ctx(), 0o1777);
  await mkfile(fs, tmp, "mine", ctx(1000));
  await assert.rejects(fs.unlink(ctx(1001), tmp, "mine"), { code: "EPERM" });
  await assert.rejects(fs.rename(ctx(1001), { parent: tmp, name: "mine" }, { parent: tmp, name: "x" }, 0), { code: "EPERM" });
  const f = (await fs.lookup(ctx(), tmp, "mine") as { attr: { ino: bigint } }).attr.ino;
  await assert.rejects(fs.setattr(ctx(1001), f, { mode: 0o777 }), { code: "EPERM" });
  await assert.rejects(fs.setattr(ctx(1000), f, { uid: 1001 }), { code: "EPERM" });
  await assert.rejects(fs.setattr(ctx(1000), f, { gid: 4242 }), { code: "EPERM" });
  await assert.rejects(fs.setattr(ctx(1001), f, { mtime: 5n }), { code: "EPERM" });
  // A failed setattr changes nothing.
  await assert.rejects(fs.setattr(ctx(1000), f, { mode: 0o600, uid: 7 }), { code: "EPERM" });
  assert.equal((await fs.getattr(ctx(), f)).attr.mode & 0o7777, 0o644);
  await fs.setattr(ctx(1000), f, { mode: 0o6755 });
  // The owner's primary group is the file's group, so set-group-ID stays.
  assert.equal((await fs.getattr(ctx(), f)).attr.mode & 0o7777, 0o6755);
  await fs.write(ctx(1001), f, { fh: 0n, offset: 0n, data: Buffer.from("x"), writeFlags: 0 });
  assert.equal((await fs.getattr(ctx(), f)).attr.mode & 0o7777, 0o755, "a write by non-root clears set-user-ID and group-executable set-group-ID");
  await fs.setattr(ctx(), f, { mode: 0o4755 });
  await fs.setattr(ctx(), f, { uid: 5, gid: 6 });
  const attr = (await fs.getattr(ctx(), f)).attr;
  assert.deepEqual([attr.uid, attr.gid, attr.mode & 0o7777], [5, 6, 0o755]);
  await fs.unlink(ctx(1000), tmp, "mine").then(() => assert.fail("no longer the owner"), (e) => assert.equal(e.code, "EPERM"));
  await fs.unlink(ctx(5), tmp, "mine");
});

test("inodes live while linked, open or known to the kernel", async () => {
  const fs = new MemFs();
  const base = fs.inodeCount;
  const r = await fs.create(ctx(), ROOT, "f", { mode: S_IFREG | 0o644, umask: 0, flags: 2 });
  const ino = r.entry.attr.ino;
  await fs.write(ctx(), ino, { fh: r.open.fh, offset: 0n, data: Buffer.alloc(10000, 1), writeFlags: 0 });
  const used = fs.usedBytes;
  assert.equal(used, 10000);
  await fs.unlink(ctx(), ROOT, "f");
  assert.equal(fs.inodeCount, base + 1, "open: kept");
  fs.forget(ino);
  assert.equal(fs.inodeCount, base + 1, "still open: kept");
  assert.equal((await fs.read(ctx(), ino, { fh: r.open.fh, offset: 9990n, size: 100 })).length, 10);
  await fs.release(ctx(), ino, { fh: r.open.fh, flags: 0, flush: false, flockRelease: false });
  assert.equal(fs.inodeCount, base, "unlinked, closed and forgotten: freed");
  assert.equal(fs.usedBytes, 0, "its space is returned");
  await assert.rejects(fs.getattr(ctx(), ino), { code: "ENOENT" });
});

test("readdir returns exactly what fits and resumes from stable cookies", async () => {
  const fs = new MemFs();
  const d = await mkdir(fs, ROOT, "d");
  for (let k = 0; k < 100; k++) await mkfile(fs, d, `n${k}`);
  const seen: string[] = [];
  let off = 0n;
  let calls = 0;
  for (;;) {
    const batch = await fs.readdir(ctx(), d, { fh: 0n, offset: off, size: 160 * 3, plus: true });
    if (batch.length === 0) break;
    assert.ok(batch.length <= 3, "never more than fits");
    calls++;
    for (const e of batch) seen.push(e.name);
    off = batch[batch.length - 1]!.offset;
    // Remove an entry not yet returned and add a new one: neither disturbs the cursor.
    if (calls === 5) {
      await fs.unlink(ctx(), d, "n50");
      await mkfile(fs, d, "late");
    }
  }
  assert.equal(new Set(seen).size, seen.length);
  assert.ok(!seen.includes("n50"));
  assert.ok(seen.includes("late"), "entries added during a scan appear after the cursor");
  assert.equal(seen.length, 2 + 99 + 1);
});

test("xattr flags, lseek holes, ENOSPC, EFBIG", async () => {
  const fs = new MemFs({ capacityBytes: 1 << 20 });
  const f = await mkfile(fs, ROOT, "f");
  await assert.rejects(fs.getxattr(ctx(), f, "user.a"), { code: "ENODATA" });
  await assert.rejects(fs.setxattr(ctx(), f, "user.a", Buffer.from("1"), 2), { code: "ENODATA" });
  await fs.setxattr(ctx(), f, "user.a", Buffer.from("1"), 1);
  await assert.rejects(fs.setxattr(ctx(), f, "user.a", Buffer.from("2"), 1), { code: "EEXIST" });
  await assert.rejects(fs.setxattr(ctx(), f, "bogus.a", Buffer.from("2"), 0), { code: "EOPNOTSUPP" });
  await assert.rejects(fs.removexattr(ctx(), f, "user.b"), { code: "ENODATA" });
  assert.deepEqual(await fs.listxattr(ctx(), f), ["user.a"]);
  await fs.write(ctx(), f, { fh: 0n, offset: 8192n, data: Buffer.alloc(100, 1), writeFlags: 0 });
  assert.equal(await fs.lseek(ctx(), f, { fh: 0n, offset: 0n, whence: 3 }), 8192n);
  assert.equal(await fs.lseek(ctx(), f, { fh: 0n, offset: 8192n, whence: 4 }), 8292n);
  await assert.rejects(fs.lseek(ctx(), f, { fh: 0n, offset: 8292n, whence: 3 }), { code: "ENXIO" });
  await assert.rejects(fs.write(ctx(), f, { fh: 0n, offset: 0n, data: Buffer.alloc(2 << 20), writeFlags: 0 }), { code: "ENOSPC" });
  await assert.rejects(fs.fallocate(ctx(), f, { fh: 0n, offset: 0n, length: 2n << 20n, mode: 0 }), { code: "ENOSPC" });
  assert.equal((await fs.getattr(ctx(), f)).attr.size, 8292n, "failed calls change nothing");
  await assert.rejects(fs.setattr(ctx(), f, { size: 1n << 60n }), { code: "EFBIG" });
  const st = await fs.statfs();
  assert.ok(st.bfree < st.blocks);
});

test("a blocked SETLKW gives up with EINTR when its request is interrupted", async () => {
  const seen: string[] = [];
  const fs = new MemFs({ onInterrupt: (op) => seen.push(op) });
  const f = await mkfile(fs, ROOT, "f");
  const whole = { start: 0n, end: 2n ** 64n - 1n, type: 1, pid: 10 };
  await fs.setlk(ctx(), f, { fh: 0n, owner: 1n, lock: whole, flock: false }, false);
  await assert.rejects(fs.setlk(ctx(), f, { fh: 0n, owner: 2n, lock: whole, flock: false }, false), { code: "EAGAIN" });
  const ac = new AbortController();
  const waiting = fs.setlk(ctx(0, 0, ac.signal), f, { fh: 0n, owner: 2n, lock: whole, flock: false }, true);
  const got = await fs.getlk(ctx(), f, { fh: 0n, owner: 2n, lock: whole, flock: false });
  assert.equal(got.pid, 10);
  ac.abort();
  await assert.rejects(waiting, { code: "EINTR" });
  assert.deepEqual(seen, ["SETLKW"]);
  // close(2) by the holder (FLUSH with its lock owner) frees the range.
  await fs.flush(ctx(), f, { fh: 0n, lockOwner: 1n });
  await fs.setlk(ctx(), f, { fh: 0n, owner: 2n, lock: whole, flock: false }, false);
});

test("ACCESS checks owner, group and other bits; root may read and write anything", async () => {
  const fs = new MemFs();
  const f = await mkfile(fs, ROOT, "f", ctx(1000, 100), 0o640);
  await fs.access(ctx(1000, 100), f, 6);
  await assert.rejects(fs.access(ctx(1000, 100), f, 1), { code: "EACCES" });
  await fs.access(ctx(2000, 100), f, 4);
  await assert.rejects(fs.access(ctx(2000, 100), f, 2), { code: "EACCES" });
  await assert.rejects(fs.access(ctx(2000, 200), f, 4), { code: "EACCES" });
  await fs.access(ctx(0), f, 6);
  await assert.rejects(fs.access(ctx(0), f, 1), { code: "EACCES" }, "root executes only what someone may execute");
  await fs.access(ctx(2000, 200), f, 0);
});
