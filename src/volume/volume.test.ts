import { test } from "node:test";
import assert from "node:assert/strict";
import { FsError, Errno } from "../base/index.js";
import {
  MemoryVolumeStore, ROOT_CALLER, RENAME_EXCHANGE, RENAME_NOREPLACE, S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG, S_IFSOCK,
  S_ISGID, S_ISUID, S_ISVTX, UNIQUE_LOCATION_BASE, Volume, XATTR_CREATE, XATTR_REPLACE, FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE, type Caller, type CommitRecord,
} from "./index.js";

const root = ROOT_CALLER;
const alice: Caller = { uid: 1000, gid: 1000 };
const bob: Caller = { uid: 1001, gid: 1001, groups: [50] };

function clockVolume(opts: ConstructorParameters<typeof Volume>[0] = {}): { v: Volume; tick: (t: bigint) => void } {
  let t = 1_000n;
  return { v: new Volume({ now: () => t, ...opts }), tick: (x) => (t = x) };
}

function errno(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
  return "OK";
}

test("a new volume has the ProxyFS root: inode 1, 040777 root:root, nlink 2, \".\" and \"..\" only", () => {
  const { v } = clockVolume();
  const a = v.getattr(1n);
  assert.equal(a.mode, 0o40777);
  assert.equal(a.nlink, 2);
  assert.equal(a.uid, 0);
  const ents = v.readdirByLoc(root, 1n, -1n, 164);
  assert.deepEqual(ents.map((e) => [e.name, e.ino, e.type, e.nextLoc]), [[".", 1n, 4, 1n], ["..", 1n, 4, 2n]]);
  assert.deepEqual(v.readdirByLoc(root, 1n, 1n, 164), []);
  assert.deepEqual(v.statfs().maxNameLen, 255n);
  assert.equal(v.statfs().blockSize, 65536n);
});

test("create/mkdir/lookup: numbers, modes, nlink, times and the usual errnos", () => {
  const { v, tick } = clockVolume();
  tick(2000n);
  const d = v.mkdir(root, 1n, "d1", 0o755);
  assert.equal(d.ino, 2n);
  assert.equal(d.mode, S_IFDIR | 0o755);
  assert.equal(d.nlink, 2);
  assert.equal(v.getattr(1n).nlink, 3);
  assert.equal(v.getattr(1n).mtimeNs, 2000n);
  tick(3000n);
  const f = v.create(root, d.ino, "f1", 0o644);
  assert.equal(f.mode, S_IFREG | 0o644);
  assert.equal(f.nlink, 1);
  assert.deepEqual([f.atimeNs, f.mtimeNs, f.ctimeNs, f.crtimeNs], [3000n, 3000n, 3000n, 3000n]);
  assert.equal(v.getattr(d.ino).mtimeNs, 3000n);
  assert.equal(v.getattr(d.ino).ctimeNs, 3000n);
  assert.equal(v.lookup(root, d.ino, "f1").ino, f.ino);
  assert.equal(v.lookup(root, d.ino, ".").ino, d.ino);
  assert.equal(v.lookup(root, d.ino, "..").ino, 1n);
  assert.equal(v.lookup(root, 1n, "..").ino, 1n);
  assert.equal(errno(() => v.create(root, d.ino, "f1", 0o644)), "EEXIST");
  assert.equal(errno(() => v.mkdir(root, d.ino, ".", 0o755)), "EEXIST");
  assert.equal(errno(() => v.lookup(root, d.ino, "nope")), "ENOENT");
  assert.equal(errno(() => v.lookup(root, f.ino, "x")), "ENOTDIR");
  assert.equal(errno(() => v.create(root, 999n, "x", 0o644)), "ENOENT");
  assert.equal(errno(() => v.create(root, 1n, "a/b", 0o644)), "EINVAL");
  assert.equal(errno(() => v.create(root, 1n, "a\0b", 0o644)), "EINVAL");
  assert.equal(errno(() => v.create(root, 1n, "", 0o644)), "ENOENT");
  assert.equal(errno(() => v.create(root, 1n, "x".repeat(256), 0o644)), "ENAMETOOLONG");
  assert.equal(v.create(root, 1n, "x".repeat(255), 0o644).nlink, 1);
  assert.equal(errno(() => v.create(root, 1n, "\u00e9".repeat(128), 0o644)), "ENAMETOOLONG"); // 256 bytes
  // Numbers are never reused.
  v.unlink(root, d.ino, "f1");
  assert.ok(v.create(root, d.ino, "f2", 0o644).ino > f.ino);
});

test("permission checks: search before name checks, write+search to modify, root bypass and exec rule", () => {
  const { v } = clockVolume();
  const d = v.mkdir(root, 1n, "d", 0o755);
  assert.equal(errno(() => v.create(alice, d.ino, "a", 0o644)), "EACCES");
  v.setattr(root, d.ino, { mode: 0o700 });
  assert.equal(errno(() => v.lookup(alice, d.ino, "x".repeat(300))), "EACCES");
  v.setattr(root, d.ino, { mode: 0o711 });
  assert.equal(errno(() => v.lookup(alice, d.ino, "x".repeat(300))), "ENAMETOOLONG");
  assert.equal(errno(() => v.readdir(alice, d.ino, undefined, 10)), "EACCES");
  v.setattr(root, d.ino, { uid: alice.uid, gid: alice.gid });
  const f = v.create(alice, d.ino, "f", 0o600);
  assert.equal(f.uid, 1000);
  assert.equal(f.gid, 1000);
  assert.equal(errno(() => v.access(bob, f.ino, 4)), "EACCES");
  assert.equal(errno(() => v.access(alice, f.ino, 6)), "OK");
  assert.equal(errno(() => v.access(alice, f.ino, 1)), "EACCES");
  assert.equal(errno(() => v.access(root, f.ino, 6)), "OK");
  assert.equal(errno(() => v.access(root, f.ino, 1)), "EACCES"); // root needs some x bit on files
  assert.equal(errno(() => v.access(root, d.ino, 1)), "OK"); // but not on directories
  v.setattr(alice, f.ino, { mode: 0o604 });
  assert.equal(errno(() => v.access(alice, f.ino, 4)), "OK");
  v.setattr(alice, f.ino, { mode: 0o064 });
  assert.equal(errno(() => v.access(alice, f.ino, 4)), "EACCES"); // owner class decides, even when others may
  // Supplementary groups count.
  const g = v.create(root, 1n, "g", 0o640);
  v.setattr(root, g.ino, { gid: 50 });
  assert.equal(errno(() => v.access(bob, g.ino, 4)), "OK");
  assert.equal(errno(() => v.access(bob, g.ino, 2)), "EACCES");
});

test("sticky directories: only the file owner, the directory owner or root may unlink or rename", () => {
  const { v } = clockVolume();
  const tmp = v.mkdir(root, 1n, "tmp", 0o1777);
  assert.equal(tmp.mode & S_ISVTX, S_ISVTX);
  v.create(alice, tmp.ino, "a", 0o644);
  v.mkdir(alice, tmp.ino, "ad", 0o777);
  assert.equal(errno(() => v.unlink(bob, tmp.ino, "a")), "EPERM");
  assert.equal(errno(() => v.rename(bob, tmp.ino, "a", tmp.ino, "b")), "EPERM");
  assert.equal(errno(() => v.rmdir(bob, tmp.ino, "ad")), "EPERM");
  v.create(bob, tmp.ino, "b", 0o666);
  assert.equal(errno(() => v.rename(bob, tmp.ino, "b", tmp.ino, "a")), "EPERM"); // would replace alice's file
  assert.equal(errno(() => v.rename(alice, tmp.ino, "a", tmp.ino, "a2")), "OK");
  assert.equal(errno(() => v.unlink(root, tmp.ino, "b")), "OK");
  // The directory owner may remove others' files.
  const own = v.mkdir(root, 1n, "own", 0o1777);
  v.setattr(root, own.ino, { uid: bob.uid });
  v.create(alice, own.ino, "x", 0o644);
  assert.equal(errno(() => v.unlink(bob, own.ino, "x")), "OK");
});

test("setgid directories: entries inherit the group, subdirectories inherit setgid", () => {
  const { v } = clockVolume();
  const d = v.mkdir(root, 1n, "shared", 0o2777);
  v.setattr(root, d.ino, { gid: 50 });
  const f = v.create(alice, d.ino, "f", 0o644);
  assert.equal(f.gid, 50);
  assert.equal(f.mode & S_ISGID, 0);
  const sub = v.mkdir(alice, d.ino, "sub", 0o755);
  assert.equal(sub.gid, 50);
  assert.equal(sub.mode & S_ISGID, S_ISGID);
  // alice is not in group 50: a setgid-executable file she creates there loses S_ISGID.
  assert.equal(v.create(alice, d.ino, "x", 0o2755).mode & S_ISGID, 0);
  assert.equal(v.create(bob, d.ino, "y", 0o2755).mode & S_ISGID, S_ISGID); // bob is in 50
  const plain = v.mkdir(root, 1n, "plain", 0o777);
  assert.equal(v.create(alice, plain.ino, "f", 0o644).gid, 1000);
});

test("chmod/chown/truncate/utimes rules", () => {
  const { v, tick } = clockVolume();
  const f = v.create(alice, 1n, "f", 0o755);
  assert.equal(errno(() => v.setattr(bob, f.ino, { mode: 0o777 })), "EPERM");
  // chmod by the owner who is not in the file's group clears S_ISGID.
  v.setattr(root, f.ino, { gid: 50 });
  assert.equal(v.setattr(alice, f.ino, { mode: 0o6755 }).mode & 0o7777, 0o4755);
  assert.equal(v.setattr(root, f.ino, { mode: 0o6755 }).mode & 0o7777, 0o6755);
  // chown: only root changes the owner; the owner may pick a group it is in.
  assert.equal(errno(() => v.setattr(alice, f.ino, { uid: 1001 })), "EPERM");
  assert.equal(errno(() => v.setattr(alice, f.ino, { uid: 1000 })), "OK");
  assert.equal(errno(() => v.setattr(alice, f.ino, { gid: 77 })), "EPERM");
  assert.equal(errno(() => v.setattr(bob, f.ino, { gid: 50 })), "EPERM"); // not the owner
  tick(5000n);
  const a = v.setattr(alice, f.ino, { gid: 1000 });
  assert.equal(a.gid, 1000);
  assert.equal(a.mode & 0o7777, 0o755, "chown of a non-directory clears suid and sgid");
  assert.equal(a.ctimeNs, 5000n);
  v.setattr(root, f.ino, { mode: 0o6755 });
  const b = v.setattr(root, f.ino, { uid: 1000, gid: 1000 });
  assert.equal(b.mode & 0o7777, 0o755, "even when root chowns");
  // S_ISGID without group-exec (mandatory locking marker) survives.
  v.setattr(root, f.ino, { mode: 0o2644 });
  assert.equal(v.setattr(root, f.ino, { uid: 1000 }).mode & 0o7777, 0o2644);
  // truncate: write permission; clears suid/sgid for non-root; mtime/ctime on change.
  v.setattr(root, f.ino, { mode: 0o6777 });
  assert.equal(errno(() => v.setattr({ uid: 5, gid: 5 }, f.ino, { size: 1n })), "OK"); // others have w
  assert.equal(v.getattr(f.ino).mode & 0o7777, 0o777);
  v.setattr(root, f.ino, { mode: 0o6755 });
  assert.equal(errno(() => v.setattr(bob, f.ino, { size: 0n })), "EACCES");
  tick(6000n);
  const t = v.setattr(root, f.ino, { size: 10n });
  assert.equal(t.mode & 0o7777, 0o6755, "root keeps suid on truncate");
  assert.equal(t.mtimeNs, 6000n);
  assert.equal(errno(() => v.setattr(root, 1n, { size: 0n })), "EISDIR");
  assert.equal(errno(() => v.setattr(root, f.ino, { size: 1n << 63n })), "EFBIG");
  // utimes: explicit times owner/root only (EPERM), "now" also with write permission.
  v.setattr(root, f.ino, { mode: 0o666 });
  assert.equal(errno(() => v.setattr(bob, f.ino, { atimeNs: 1n, mtimeNs: 1n })), "EPERM");
  tick(7000n);
  const n = v.setattr(bob, f.ino, { atimeNs: "now", mtimeNs: "now" });
  assert.deepEqual([n.atimeNs, n.mtimeNs, n.ctimeNs], [7000n, 7000n, 7000n]);
  v.setattr(root, f.ino, { mode: 0o644 });
  assert.equal(errno(() => v.setattr(bob, f.ino, { atimeNs: "now", mtimeNs: "now" })), "EACCES");
  const e = v.setattr(alice, f.ino, { atimeNs: 42n, mtimeNs: 43n });
  assert.deepEqual([e.atimeNs, e.mtimeNs], [42n, 43n]);
  assert.equal(errno(() => v.setattr(alice, f.ino, { ctimeNs: 1n })), "EPERM");
  assert.equal(v.setattr(root, f.ino, { ctimeNs: 9n, crtimeNs: 8n }).ctimeNs, 9n);
});

test("rename: errors in Linux order, replace, exchange, no-op on the same inode, nlink and times", () => {
  const { v, tick } = clockVolume();
  const a = v.mkdir(root, 1n, "a", 0o755);
  const b = v.mkdir(root, 1n, "b", 0o755);
  const sub = v.mkdir(root, a.ino, "sub", 0o755);
  const f = v.create(root, a.ino, "f", 0o644);
  const g = v.create(root, b.ino, "g", 0o644);
  assert.equal(errno(() => v.rename(root, 1n, "a", sub.ino, "x")), "EINVAL");
  assert.equal(errno(() => v.rename(root, 1n, "a", a.ino, "x")), "EINVAL");
  assert.equal(errno(() => v.rename(root, sub.ino, "..", 1n, "x")), "EBUSY");
  assert.equal(errno(() => v.rename(root, a.ino, "f", 1n, ".")), "EBUSY");
  assert.equal(errno(() => v.rename(root, a.ino, "f", 1n, ".", RENAME_NOREPLACE)), "EEXIST");
  assert.equal(errno(() => v.rename(root, a.ino, "nope", b.ino, "x")), "ENOENT");
  assert.equal(errno(() => v.rename(root, a.ino, "sub", b.ino, "g")), "ENOTDIR");
  assert.equal(errno(() => v.rename(root, b.ino, "g", a.ino, "sub")), "EISDIR");
  v.create(root, sub.ino, "inner", 0o644);
  const e = v.mkdir(root, b.ino, "e", 0o755);
  assert.equal(errno(() => v.rename(root, b.ino, "e", a.ino, "sub")), "ENOTEMPTY");
  assert.equal(errno(() => v.rename(root, sub.ino, "inner", 1n, "a")), "ENOTEMPTY"); // target is an ancestor
  assert.equal(errno(() => v.rename(root, a.ino, "f", b.ino, "g", RENAME_NOREPLACE)), "EEXIST");
  assert.equal(errno(() => v.rename(root, a.ino, "f", b.ino, "zz", RENAME_EXCHANGE)), "ENOENT");
  assert.equal(errno(() => v.rename(root, a.ino, "f", b.ino, "g", RENAME_EXCHANGE | RENAME_NOREPLACE)), "EINVAL");
  assert.equal(errno(() => v.rename(root, a.ino, "f", b.ino, "g", 8)), "EINVAL");
  // Same inode via a hard link: success, nothing changes.
  v.link(root, f.ino, b.ino, "f-link");
  tick(100n);
  assert.deepEqual(v.rename(root, a.ino, "f", b.ino, "f-link"), {});
  assert.equal(v.lookup(root, a.ino, "f").ino, f.ino);
  assert.equal(v.getattr(a.ino).mtimeNs, 1000n);
  // Move a directory across parents: nlinks follow; ctime of the moved dir, mtime/ctime of both parents.
  tick(200n);
  v.rename(root, b.ino, "e", a.ino, "e2");
  assert.equal(v.getattr(a.ino).nlink, 4);
  assert.equal(v.getattr(b.ino).nlink, 2);
  assert.equal(v.lookup(root, e.ino, "..").ino, a.ino);
  assert.equal(v.getattr(e.ino).ctimeNs, 200n);
  assert.equal(v.getattr(e.ino).mtimeNs, 1000n);
  assert.deepEqual([v.getattr(a.ino).mtimeNs, v.getattr(b.ino).ctimeNs], [200n, 200n]);
  // Replace a file: the old one loses its last link and is destroyed.
  const r = v.rename(root, a.ino, "f", b.ino, "g");
  assert.deepEqual(r.replaced, { ino: g.ino, nlink: 0, destroyed: true });
  assert.equal(errno(() => v.getattr(g.ino)), "ENOENT");
  // Replace an empty directory with a directory from another parent.
  const x = v.mkdir(root, b.ino, "x", 0o755);
  v.rename(root, a.ino, "e2", b.ino, "x");
  assert.equal(errno(() => v.getattr(x.ino)), "ENOENT");
  assert.equal(v.getattr(a.ino).nlink, 3);
  assert.equal(v.getattr(b.ino).nlink, 3);
  // Exchange a file and a directory across parents.
  v.rename(root, a.ino, "sub", b.ino, "g", RENAME_EXCHANGE);
  assert.equal(v.lookup(root, a.ino, "sub").ino, f.ino);
  assert.equal(v.lookup(root, b.ino, "g").ino, sub.ino);
  assert.equal(v.lookup(root, sub.ino, "..").ino, b.ino);
  assert.equal(v.getattr(a.ino).nlink, 2);
  assert.equal(v.getattr(b.ino).nlink, 4);
  // Moving a directory to another parent needs write permission on it.
  const pub = v.mkdir(root, 1n, "pub", 0o777);
  const ad = v.mkdir(root, pub.ino, "rootowned", 0o755);
  const pub2 = v.mkdir(root, 1n, "pub2", 0o777);
  assert.equal(errno(() => v.rename(alice, pub.ino, "rootowned", pub2.ino, "m")), "EACCES");
  assert.equal(errno(() => v.rename(alice, pub.ino, "rootowned", pub.ino, "m")), "OK");
  assert.equal(v.getattr(ad.ino).ino, ad.ino);
});

test("rename with deferDestroy keeps the replaced inode for destroy() (ProxyFS RpcMove)", () => {
  const { v } = clockVolume();
  const f = v.create(root, 1n, "f", 0o644);
  const g = v.create(root, 1n, "g", 0o644);
  const r = v.rename(root, 1n, "f", 1n, "g", 0, { deferDestroy: true });
  assert.deepEqual(r.replaced, { ino: g.ino, nlink: 0, destroyed: false });
  assert.equal(v.getattr(g.ino).nlink, 0);
  assert.equal(errno(() => v.link(root, g.ino, 1n, "back")), "ENOENT");
  assert.equal(errno(() => v.destroy(f.ino)), "EBUSY");
  v.destroy(g.ino);
  assert.equal(errno(() => v.getattr(g.ino)), "ENOENT");
});

test("link, unlink, rmdir, symlink, mknod", () => {
  const { v, tick } = clockVolume({ linkMax: 4 });
  const d = v.mkdir(root, 1n, "d", 0o777);
  const f = v.create(root, d.ino, "f", 0o644);
  tick(50n);
  const l = v.link(root, f.ino, 1n, "f2");
  assert.equal(l.nlink, 2);
  assert.equal(l.ctimeNs, 50n);
  assert.equal(v.getattr(1n).mtimeNs, 50n);
  assert.equal(errno(() => v.link(root, d.ino, 1n, "dl")), "EPERM");
  assert.equal(errno(() => v.link(root, f.ino, 1n, "f2")), "EEXIST");
  v.link(root, f.ino, 1n, "f3");
  v.link(root, f.ino, 1n, "f4");
  assert.equal(errno(() => v.link(root, f.ino, 1n, "f5")), "EMLINK");
  // protected_hardlinks: alice cannot link root's file she cannot write.
  assert.equal(errno(() => v.link(alice, f.ino, d.ino, "mine")), "EPERM"); // may_linkat comes before the limit
  v.unlink(root, 1n, "f4");
  assert.equal(errno(() => v.link(alice, f.ino, d.ino, "mine")), "EPERM");
  v.mkdir(root, d.ino, "s1", 0o755);
  v.mkdir(root, d.ino, "s2", 0o755);
  assert.equal(errno(() => v.mkdir(root, d.ino, "s3", 0o755)), "EMLINK"); // d has nlink 4
  assert.equal(errno(() => v.unlink(root, d.ino, "s1")), "EISDIR");
  assert.equal(errno(() => v.unlink(root, d.ino, ".")), "EISDIR");
  assert.equal(errno(() => v.rmdir(root, d.ino, "f")), "ENOTDIR");
  assert.equal(errno(() => v.rmdir(root, d.ino, ".")), "EINVAL");
  assert.equal(errno(() => v.rmdir(root, d.ino, "..")), "ENOTEMPTY");
  assert.equal(errno(() => v.rmdir(root, 1n, "d")), "ENOTEMPTY");
  const u = v.unlink(root, d.ino, "f");
  assert.deepEqual(u, { ino: f.ino, nlink: 2, destroyed: false });
  v.rmdir(root, d.ino, "s1");
  assert.equal(v.getattr(d.ino).nlink, 3);
  const s = v.symlink(alice, d.ino, "ln", "../f2");
  assert.equal(s.mode, 0o120777);
  assert.equal(s.size, 5n);
  assert.equal(v.readlink(s.ino), "../f2");
  assert.equal(errno(() => v.readlink(d.ino)), "EINVAL");
  assert.equal(errno(() => v.symlink(root, d.ino, "e", "")), "ENOENT");
  assert.equal(errno(() => v.symlink(root, d.ino, "e", "x".repeat(4096))), "ENAMETOOLONG");
  assert.equal(v.mknod(alice, d.ino, "fifo", S_IFIFO | 0o644).mode, S_IFIFO | 0o644);
  assert.equal(v.mknod(alice, d.ino, "sock", S_IFSOCK | 0o644).mode, S_IFSOCK | 0o644);
  assert.equal(v.mknod(alice, d.ino, "reg", 0o644).mode, S_IFREG | 0o644);
  assert.equal(errno(() => v.mknod(alice, d.ino, "chr", S_IFCHR | 0o644, 0x0501)), "EPERM");
  const c = v.mknod(root, d.ino, "chr", S_IFCHR | 0o644, 0x0501);
  assert.equal(c.rdev, 0x0501);
  assert.equal(errno(() => v.mknod(root, d.ino, "dir", S_IFDIR | 0o755)), "EINVAL");
  const types = v.readdir(root, d.ino, undefined, 100).map((e) => [e.name, e.type]);
  assert.deepEqual(types, [[".", 4], ["..", 4], ["chr", 2], ["fifo", 1], ["ln", 10], ["reg", 8], ["s2", 4], ["sock", 12]]);
});

test("xattrs: flags, limits, namespaces and permissions", () => {
  const { v, tick } = clockVolume({ maxXattrBytes: 200_000 });
  const f = v.create(alice, 1n, "f", 0o644);
  const val = new Uint8Array([98, 108, 117, 101]);
  tick(10n);
  v.setxattr(alice, f.ino, "user.color", val);
  assert.equal(v.getattr(f.ino).ctimeNs, 10n);
  assert.deepEqual(v.getxattr(bob, f.ino, "user.color"), val);
  assert.equal(errno(() => v.getxattr(alice, f.ino, "user.color", 2)), "ERANGE");
  assert.equal(errno(() => v.getxattr(alice, f.ino, "user.none")), "ENODATA");
  assert.equal(errno(() => v.getxattr(alice, 1n, "system.posix_acl_access")), "ENODATA");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user.color", val, XATTR_CREATE)), "EEXIST");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user.new", val, XATTR_REPLACE)), "ENODATA");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user.x", val, 4)), "EINVAL");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user." + "x".repeat(251), val)), "ERANGE");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "", val)), "ERANGE");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user.big", new Uint8Array(65537))), "E2BIG");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "bogus.x", val)), "EOPNOTSUPP");
  assert.equal(errno(() => v.setxattr(bob, f.ino, "user.x", val)), "EACCES");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "trusted.x", val)), "EPERM");
  assert.equal(errno(() => v.setxattr(alice, f.ino, "security.x", val)), "EPERM");
  v.setxattr(root, f.ino, "trusted.t", val);
  assert.deepEqual(v.listxattr(alice, f.ino), ["user.color"]);
  assert.deepEqual(v.listxattr(root, f.ino), ["trusted.t", "user.color"]);
  assert.equal(errno(() => v.listxattr(alice, f.ino, 5)), "ERANGE");
  assert.equal(errno(() => v.getxattr(alice, f.ino, "trusted.t")), "ENODATA");
  const s = v.symlink(alice, 1n, "s", "f");
  assert.equal(errno(() => v.setxattr(alice, s.ino, "user.x", val)), "EPERM");
  for (let i = 0; i < 3; i++) v.setxattr(alice, f.ino, `user.v${i}`, new Uint8Array(60000));
  assert.equal(errno(() => v.setxattr(alice, f.ino, "user.v4", new Uint8Array(60000))), "ENOSPC");
  v.removexattr(alice, f.ino, "user.color");
  assert.equal(errno(() => v.removexattr(alice, f.ino, "user.color")), "ENODATA");
});

test("readdirByLoc numbers like ProxyFS and continues stably across concurrent changes", () => {
  const { v } = clockVolume();
  const d = v.mkdir(root, 1n, "d", 0o755);
  const names = Array.from({ length: 300 }, (_, i) => `entry_${String(i).padStart(3, "0")}`);
  for (const n of names) v.create(root, d.ino, n, 0o644);
  // Quiescent: entry i carries i + 1; the agent re-asks from where the kernel stopped.
  const first = v.readdirByLoc(root, d.ino, -1n, 164);
  assert.equal(first.length, 164);
  first.forEach((e, i) => assert.equal(e.nextLoc, BigInt(i + 1)));
  const again = v.readdirByLoc(root, d.ino, 101n, 164);
  assert.equal(again[0]!.name, names[100]);
  assert.equal(again[0]!.nextLoc, 103n);
  // Now change the directory between calls: delete names before the cursor and add some.
  const seen: string[] = [];
  let prev = -1n;
  let round = 0;
  for (;;) {
    const batch = v.readdirByLoc(root, d.ino, prev, 25);
    if (batch.length === 0) break;
    for (const e of batch) seen.push(e.name);
    prev = batch[batch.length - 1]!.nextLoc - 1n;
    round++;
    // Remove 3 entries already listed, add 2 before the cursor ("a..." sorts before "entry").
    for (let k = 0; k < 3; k++) {
      const victim = names[(round * 7 + k * 13) % names.length]!;
      if (seen.includes(victim) && errno(() => v.lookup(root, d.ino, victim)) === "OK") v.unlink(root, d.ino, victim);
    }
    v.create(root, d.ino, `a_${round}`, 0o644);
  }
  const realSeen = seen.filter((n) => n.startsWith("entry_"));
  assert.deepEqual(realSeen, names, "every original entry exactly once, in order");
  // A stale unique cookie that is not remembered ends the listing instead of restarting it.
  assert.deepEqual(v.readdirByLoc(root, d.ino, UNIQUE_LOCATION_BASE + 12345n, 10), []);
  // readdir-plus carries attributes; by-name continuation.
  const plus = v.readdir(root, d.ino, "..", 2, true);
  assert.equal(plus.length, 2);
  assert.equal(plus[0]!.attr!.ino, plus[0]!.ino);
  assert.equal(plus[0]!.attr!.mode, S_IFREG | 0o644);
  const afterGone = v.readdir(root, d.ino, "a_1~", 1);
  assert.ok(afterGone[0]!.name > "a_1~");
});

test("data path: ProvisionObject names, Wrote, FetchExtentMapChunk, read plans, segment GC", () => {
  const { v, tick } = clockVolume({ accountName: "AUTH_test" });
  const f = v.create(root, 1n, "f", 0o644);
  const p = v.provisionObject();
  assert.equal(p.objectName, p.segment.toString(16).toUpperCase().padStart(16, "0"));
  assert.equal(p.containerName, "Replicated3Way_" + (p.segment + 1n).toString(16).toUpperCase().padStart(16, "0"));
  assert.equal(p.physPath, `/v1/AUTH_test/${p.containerName}/${p.objectName}`);
  assert.equal(p.newContainer, true);
  const seen = new Set<bigint>([f.ino, p.segment]);
  for (let i = 0; i < 30; i++) {
    const q = v.provisionObject();
    assert.ok(!seen.has(q.segment));
    seen.add(q.segment);
  }
  tick(777n);
  const a = v.wrote(root, f.ino, { containerName: p.containerName, objectName: p.objectName, extents: [{ fileOffset: 0n, objectOffset: 0n, length: 12n }] });
  assert.equal(a.size, 12n);
  assert.equal(a.mtimeNs, 777n);
  assert.equal(a.numWrites, 1n);
  v.setattr(root, f.ino, { size: 100n });
  v.setattr(root, f.ino, { size: 5000n });
  let c = v.fetchExtentMapChunk(f.ino, 0n, 32, 0);
  assert.deepEqual(c, { rangeStart: 0n, rangeEnd: 5000n, fileSize: 5000n, extents: [{ fileOffset: 0n, length: 12n, segmentOffset: 0n, containerName: p.containerName, objectName: p.objectName }] });
  c = v.fetchExtentMapChunk(f.ino, 4096n, 32, 0);
  assert.deepEqual([c.rangeStart, c.rangeEnd, c.extents.length], [12n, 5000n, 0]);
  assert.equal(errno(() => v.fetchExtentMapChunk(f.ino, 0n, 0, 0)), "EINVAL");
  assert.equal(errno(() => v.wrote(root, f.ino, { containerName: "c", objectName: "xyz", extents: [] })), "EINVAL");
  assert.equal(errno(() => v.wrote(root, 1n, { containerName: "c", objectName: "0A", extents: [] })), "EISDIR");
  // Overwrite everything from a second segment: the first is no longer referenced.
  const p2 = v.provisionObject();
  v.wrote(root, f.ino, { containerName: p2.containerName, objectName: p2.objectName, extents: [{ fileOffset: 0n, objectOffset: 0n, length: 8n }, { fileOffset: 8n, objectOffset: 8n, length: 8n }] });
  assert.equal(v.store.segmentRefBytes(p.segment), 0n);
  assert.equal(v.store.segmentRefBytes(p2.segment), 16n);
  assert.equal(v.store.extentMap(f.ino).count, 1, "contiguous extents of one segment merge");
  const plan = v.readPlan(f.ino, 10n, 20n);
  assert.deepEqual(plan.map((s) => [s.fileOffset, s.length, s.objectName]), [[10n, 6n, p2.objectName], [16n, 14n, ""]]);
  assert.deepEqual(v.collectUnreferencedSegments(), [{ segment: p.segment, containerName: p.containerName, objectName: p.objectName }]);
  assert.deepEqual(v.collectUnreferencedSegments(), []);
  // SEEK_DATA/SEEK_HOLE and fallocate.
  assert.equal(v.seek(f.ino, 0n, "hole"), 16n);
  assert.equal(errno(() => v.seek(f.ino, 20n, "data")), "ENXIO");
  v.fallocate(root, f.ino, FALLOC_FL_KEEP_SIZE, 1000n, 100n);
  assert.equal(v.seek(f.ino, 20n, "data"), 1000n);
  assert.equal(v.getattr(f.ino).size, 5000n);
  v.fallocate(root, f.ino, 0, 4000n, 2000n);
  assert.equal(v.getattr(f.ino).size, 6000n);
  v.fallocate(root, f.ino, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0n, 4n);
  assert.equal(v.seek(f.ino, 0n, "data"), 4n);
  assert.equal(errno(() => v.fallocate(root, f.ino, FALLOC_FL_PUNCH_HOLE, 0n, 4n)), "EOPNOTSUPP");
  // Unlinking the file releases its segments.
  v.unlink(root, 1n, "f");
  assert.deepEqual(v.collectUnreferencedSegments().map((s) => s.segment), [p2.segment]);
  // Non-root writer loses suid.
  const g = v.create(root, 1n, "g", 0o4777);
  assert.equal(v.wrote(alice, g.ino, { containerName: p2.containerName, objectName: "00000000000000FF", extents: [{ fileOffset: 0n, objectOffset: 0n, length: 1n }] }).mode & S_ISUID, 0);
});

test("each operation is one transaction: failures change nothing and commit nothing", () => {
  const journal: CommitRecord[] = [];
  const store = new MemoryVolumeStore({ onCommit: (r) => journal.push(r) });
  const v = new Volume({ store, now: () => 1n });
  assert.deepEqual(journal.map((r) => r.op), ["format"]);
  const d = v.mkdir(root, 1n, "d", 0o755);
  v.create(root, d.ino, "x", 0o644);
  const before = journal.length;
  const nonce = store.peekNonce();
  assert.equal(errno(() => v.rmdir(root, 1n, "d")), "ENOTEMPTY");
  assert.equal(errno(() => v.create(root, d.ino, "x", 0o644)), "EEXIST");
  assert.equal(journal.length, before);
  assert.equal(store.peekNonce(), nonce);
  v.rename(root, d.ino, "x", 1n, "y");
  const last = journal[journal.length - 1]!;
  assert.equal(last.op, "rename");
  assert.deepEqual(last.mutations.map((m) => m.op).sort(), ["deleteDirEntry", "putDirEntry", "putInode", "putInode", "putInode"]);
  // A store refuses a second open transaction (operations are not re-entrant).
  const tx = store.begin("outer");
  assert.throws(() => v.create(root, 1n, "z", 0o644), /still open/);
  tx.abort();
  assert.equal(v.create(root, 1n, "z", 0o644).nlink, 1);
  assert.equal(Errno.ENOENT, 2);
});

test("speed: creates and lookups are far above the RPC targets (5,000/s and 10,000/s)", () => {
  const v = new Volume();
  const d = v.mkdir(root, 1n, "big", 0o777).ino;
  const n = 20_000;
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) v.create(alice, d, `file_${i}`, 0o644);
  const creates = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) v.lookup(alice, d, `file_${(i * 7919) % n}`);
  const lookups = n / (Number(process.hrtime.bigint() - t0) / 1e9);
  assert.equal(v.store.dirSize(d), n);
  assert.ok(creates > 5_000, `creates/s ${creates}`);
  assert.ok(lookups > 10_000, `lookups/s ${lookups}`);
});

test("paths resolve through symlinks (ELOOP after 40); byte-range locks conflict by owner", () => {
  const { v } = clockVolume();
  const a = v.mkdir(root, 1n, "a", 0o755);
  const f = v.create(root, a.ino, "f", 0o644);
  v.symlink(root, 1n, "toA", "a");
  v.symlink(root, a.ino, "abs", "/a/f");
  v.symlink(root, 1n, "loop", "loop");
  assert.equal(v.resolvePath(root, "/toA/f").ino, f.ino);
  assert.equal(v.resolvePath(root, "a/abs").ino, f.ino);
  assert.notEqual(v.resolvePath(root, "a/abs", false).ino, f.ino);
  assert.equal(v.resolvePath(root, "/a/../a/./f").ino, f.ino);
  assert.equal(errno(() => v.resolvePath(root, "/loop")), "ELOOP");
  assert.equal(errno(() => v.resolvePath(root, "/a/f/x")), "ENOTDIR");
  assert.equal(errno(() => v.resolvePath(root, "/a/nope")), "ENOENT");
  // Locks: two owners, read locks share, a write lock conflicts; F_SETLKW unsupported.
  v.flock(f.ino, "m1:10", 6, { type: 0, start: 0n, len: 100n, pid: 10 });
  v.flock(f.ino, "m2:20", 6, { type: 0, start: 50n, len: 100n, pid: 20 });
  assert.equal(errno(() => v.flock(f.ino, "m2:20", 6, { type: 1, start: 0n, len: 10n, pid: 20 })), "EAGAIN");
  const t = v.flock(f.ino, "m2:20", 5, { type: 1, start: 0n, len: 0n, pid: 20 });
  assert.deepEqual(t, { type: 0, start: 0n, len: 100n, pid: 10 });
  v.flock(f.ino, "m1:10", 6, { type: 2, start: 0n, len: 0n, pid: 10 });
  assert.equal(v.flock(f.ino, "m1:10", 5, { type: 1, start: 0n, len: 50n, pid: 10 }).type, 2);
  assert.equal(errno(() => v.flock(f.ino, "m1:10", 6, { type: 1, start: 60n, len: 1n, pid: 10 })), "EAGAIN");
  v.releaseLocks("m2:20");
  assert.equal(errno(() => v.flock(f.ino, "m1:10", 6, { type: 1, start: 60n, len: 1n, pid: 10 })), "OK");
  assert.equal(errno(() => v.flock(f.ino, "m1:10", 7, { type: 1, start: 0n, len: 1n, pid: 10 })), "EOPNOTSUPP");
});
