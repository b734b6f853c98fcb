// Model-based test of the namespace: thousands of random operations by several callers,
// each applied to the Volume and to a deliberately simple reference model (plain Maps, no
// store, no transactions, no B+trees). After every operation the outcome (errno or result)
// must agree, and periodically the whole state (every inode's attributes, every directory's
// listing) is compared. Seeded and reproducible: PROXYFS_TEST_SEED=<n> replays a run.

import { test } from "node:test";
import assert from "node:assert/strict";
import { FsError } from "../base/index.js";
import { RENAME_EXCHANGE, RENAME_NOREPLACE, Volume, type Caller } from "./index.js";
import { Prng, testSeed } from "../base/testing/prng.js";

const LINK_MAX = 4;
type Kind = "dir" | "reg" | "lnk" | "fifo";
const TYPE_BITS: Record<Kind, number> = { dir: 0o040000, reg: 0o100000, lnk: 0o120000, fifo: 0o010000 };

interface MNode {
  ino: number;
  kind: Kind;
  perm: number; // & 0o7777
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  atime: number;
  mtime: number;
  ctime: number;
  parent: number;
  entries: Map<string, number> | null;
}

class Fail extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}
const fail = (code: string): never => {
  throw new Fail(code);
};

/** The reference: POSIX rules written out directly over a Map of nodes. */
class Model {
  nodes = new Map<number, MNode>();
  nextIno = 2;
  now = 0;

  constructor() {
    this.nodes.set(1, { ino: 1, kind: "dir", perm: 0o777, uid: 0, gid: 0, nlink: 2, size: 0, atime: 0, mtime: 0, ctime: 0, parent: 1, entries: new Map() });
  }

  can(c: Caller, n: MNode, mask: number): boolean {
    if (c.uid === 0) return (mask & 1) === 0 || n.kind === "dir" || (n.perm & 0o111) !== 0;
    const member = c.gid === n.gid || (c.groups ?? []).includes(n.gid);
    const bits = c.uid === n.uid ? (n.perm >> 6) & 7 : member ? (n.perm >> 3) & 7 : n.perm & 7;
    return (bits & mask) === mask;
  }
  member(c: Caller, gid: number): boolean {
    return c.gid === gid || (c.groups ?? []).includes(gid);
  }
  dir(ino: number): MNode {
    const d = this.nodes.get(ino) ?? fail("ENOENT");
    if (d.kind !== "dir") fail("ENOTDIR");
    return d;
  }
  touchDir(d: MNode): void {
    d.mtime = this.now;
    d.ctime = this.now;
  }
  // may_delete
  mayDelete(c: Caller, d: MNode, v: MNode, wantDir: boolean): void {
    if (!this.can(c, d, 3)) fail("EACCES");
    if ((d.perm & 0o1000) !== 0 && c.uid !== 0 && c.uid !== v.uid && c.uid !== d.uid) fail("EPERM");
    if (wantDir && v.kind !== "dir") fail("ENOTDIR");
    if (!wantDir && v.kind === "dir") fail("EISDIR");
  }
  free(n: MNode): void {
    this.nodes.delete(n.ino);
  }

  make(c: Caller, dirIno: number, name: string, kind: Kind, perm: number): number {
    const d = this.dir(dirIno);
    if (!this.can(c, d, 1)) fail("EACCES");
    if (name === "." || name === "..") fail("EEXIST");
    if (d.entries!.has(name)) fail("EEXIST");
    if (!this.can(c, d, 3)) fail("EACCES");
    if (kind === "dir" && d.nlink >= LINK_MAX) fail("EMLINK");
    const sgidDir = (d.perm & 0o2000) !== 0;
    const gid = sgidDir ? d.gid : c.gid;
    let p = kind === "lnk" ? 0o777 : perm & 0o7777;
    if (kind === "dir" && sgidDir) p |= 0o2000;
    if (kind !== "dir" && (p & 0o2010) === 0o2010 && c.uid !== 0 && !this.member(c, gid)) p &= ~0o2000;
    const ino = this.nextIno++;
    const t = this.now;
    this.nodes.set(ino, {
      ino, kind, perm: p, uid: c.uid, gid, nlink: kind === "dir" ? 2 : 1, size: kind === "lnk" ? 3 : 0,
      atime: t, mtime: t, ctime: t, parent: kind === "dir" ? dirIno : 0, entries: kind === "dir" ? new Map() : null,
    });
    d.entries!.set(name, ino);
    if (kind === "dir") d.nlink++;
    this.touchDir(d);
    return ino;
  }

  link(c: Caller, ino: number, dirIno: number, name: string): void {
    const n = this.nodes.get(ino) ?? fail("ENOENT");
    const d = this.dir(dirIno);
    if (!this.can(c, d, 1)) fail("EACCES");
    if (name === "." || name === "..") fail("EEXIST");
    if (d.entries!.has(name)) fail("EEXIST");
    const owner = c.uid === 0 || c.uid === n.uid;
    const safe = n.kind === "reg" && (n.perm & 0o4000) === 0 && (n.perm & 0o2010) !== 0o2010 && this.can(c, n, 6);
    if (!owner && !safe) fail("EPERM");
    if (!this.can(c, d, 3)) fail("EACCES");
    if (n.kind === "dir") fail("EPERM");
    if (n.nlink >= LINK_MAX) fail("EMLINK");
    n.nlink++;
    n.ctime = this.now;
    d.entries!.set(name, ino);
    this.touchDir(d);
  }

  unlink(c: Caller, dirIno: number, name: string): void {
    const d = this.dir(dirIno);
    if (!this.can(c, d, 1)) fail("EACCES");
    if (name === "." || name === "..") fail("EISDIR");
    const ino = d.entries!.get(name) ?? fail("ENOENT");
    const v = this.nodes.get(ino)!;
    this.mayDelete(c, d, v, false);
    d.entries!.delete(name);
    this.touchDir(d);
    v.nlink--;
    v.ctime = this.now;
    if (v.nlink === 0) this.free(v);
  }

  rmdir(c: Caller, dirIno: number, name: string): void {
    const d = this.dir(dirIno);
    if (!this.can(c, d, 1)) fail("EACCES");
    if (name === ".") fail("EINVAL");
    if (name === "..") fail("ENOTEMPTY");
    const ino = d.entries!.get(name) ?? fail("ENOENT");
    const v = this.nodes.get(ino)!;
    this.mayDelete(c, d, v, true);
    if (v.entries!.size > 0) fail("ENOTEMPTY");
    d.entries!.delete(name);
    d.nlink--;
    this.touchDir(d);
    this.free(v);
  }

  // Is `a` equal to `b` or above it?
  above(a: number, b: number): boolean {
    for (let cur = b; ; cur = this.nodes.get(cur)!.parent) {
      if (cur === a) return true;
      if (cur === 1) return false;
    }
  }

  rename(c: Caller, sdIno: number, sn: string, ddIno: number, dn: string, flags: number): void {
    const xchg = flags === RENAME_EXCHANGE;
    const noRep = flags === RENAME_NOREPLACE;
    const sd = this.dir(sdIno);
    if (!this.can(c, sd, 1)) fail("EACCES");
    const dd = this.dir(ddIno);
    if (!this.can(c, dd, 1)) fail("EACCES");
    if (sn === "." || sn === "..") fail("EBUSY");
    if (dn === "." || dn === "..") fail(noRep ? "EEXIST" : "EBUSY");
    const sIno = sd.entries!.get(sn) ?? fail("ENOENT");
    const dIno = dd.entries!.get(dn);
    if (noRep && dIno !== undefined) fail("EEXIST");
    if (xchg && dIno === undefined) fail("ENOENT");
    const s = this.nodes.get(sIno)!;
    const t = dIno === undefined ? undefined : this.nodes.get(dIno)!;
    const sDir = s.kind === "dir";
    const tDir = t?.kind === "dir";
    if (sdIno !== ddIno) {
      if (sDir && this.above(sIno, ddIno)) fail("EINVAL");
      if (tDir && this.above(dIno!, sdIno)) fail(xchg ? "EINVAL" : "ENOTEMPTY");
    }
    if (t !== undefined && t.ino === s.ino) return;
    this.mayDelete(c, sd, s, sDir);
    if (t !== undefined) this.mayDelete(c, dd, t, xchg ? tDir : sDir);
    else if (!this.can(c, dd, 3)) fail("EACCES");
    if (sdIno !== ddIno) {
      if (sDir && !this.can(c, s, 2)) fail("EACCES");
      if (xchg && tDir && !this.can(c, t!, 2)) fail("EACCES");
      if (sDir && !tDir && dd.nlink >= LINK_MAX) fail("EMLINK");
      if (xchg && !sDir && tDir && sd.nlink >= LINK_MAX) fail("EMLINK");
    }
    if (!xchg && tDir && t!.entries!.size > 0) fail("ENOTEMPTY");
    this.touchDir(sd);
    this.touchDir(dd);
    s.ctime = this.now;
    if (xchg) {
      sd.entries!.set(sn, t!.ino);
      dd.entries!.set(dn, s.ino);
      t!.ctime = this.now;
      if (sDir) s.parent = ddIno;
      if (tDir) t!.parent = sdIno;
      if (sdIno !== ddIno && sDir !== tDir) {
        if (sDir) { sd.nlink--; dd.nlink++; } else { dd.nlink--; sd.nlink++; }
      }
      return;
    }
    if (t !== undefined) {
      if (tDir) {
        dd.nlink--;
        this.free(t);
      } else {
        t.nlink--;
        t.ctime = this.now;
        if (t.nlink === 0) this.free(t);
      }
    }
    sd.entries!.delete(sn);
    dd.entries!.set(dn, s.ino);
    if (sDir) {
      s.parent = ddIno;
      if (sdIno !== ddIno) { sd.nlink--; dd.nlink++; }
    }
  }

  chmod(c: Caller, ino: number, perm: number): void {
    const n = this.nodes.get(ino) ?? fail("ENOENT");
    if (c.uid !== 0 && c.uid !== n.uid) fail("EPERM");
    let p = perm & 0o7777;
    if (c.uid !== 0 && !this.member(c, n.gid)) p &= ~0o2000;
    n.perm = p;
    n.ctime = this.now;
  }

  chown(c: Caller, ino: number, uid: number | undefined, gid: number | undefined): void {
    const n = this.nodes.get(ino) ?? fail("ENOENT");
    if (uid === undefined && gid === undefined) return; // nothing to change: not a chown at all
    if (uid !== undefined && c.uid !== 0 && !(c.uid === n.uid && uid === n.uid)) fail("EPERM");
    if (gid !== undefined && c.uid !== 0 && !(c.uid === n.uid && (gid === n.gid || this.member(c, gid)))) fail("EPERM");
    if (uid !== undefined) n.uid = uid;
    if (gid !== undefined) n.gid = gid;
    if (n.kind !== "dir") {
      n.perm &= ~0o4000;
      if ((n.perm & 0o2010) === 0o2010) n.perm &= ~0o2000;
    }
    n.ctime = this.now;
  }

  truncate(c: Caller, ino: number, size: number): void {
    const n = this.nodes.get(ino) ?? fail("ENOENT");
    if (n.kind === "dir") fail("EISDIR");
    if (n.kind !== "reg") fail("EINVAL");
    if (!this.can(c, n, 2)) fail("EACCES");
    let changed = false;
    if (size !== n.size) {
      n.size = size;
      n.mtime = this.now;
      changed = true;
    }
    if (c.uid !== 0) {
      const before = n.perm;
      n.perm &= ~0o4000;
      if ((n.perm & 0o2010) === 0o2010) n.perm &= ~0o2000;
      if (n.perm !== before) changed = true;
    }
    if (changed) n.ctime = this.now;
  }

  utimes(c: Caller, ino: number, explicit: number | undefined): void {
    const n = this.nodes.get(ino) ?? fail("ENOENT");
    const owner = c.uid === 0 || c.uid === n.uid;
    if (explicit !== undefined && !owner) fail("EPERM");
    if (explicit === undefined && !owner && !this.can(c, n, 2)) fail("EACCES");
    n.atime = explicit ?? this.now;
    n.mtime = explicit ?? this.now;
    n.ctime = this.now;
  }

  lookup(c: Caller, dirIno: number, name: string): number {
    const d = this.dir(dirIno);
    if (!this.can(c, d, 1)) fail("EACCES");
    if (name === ".") return d.ino;
    if (name === "..") return d.parent;
    return d.entries!.get(name) ?? fail("ENOENT");
  }
}

const CALLERS: Caller[] = [
  { uid: 0, gid: 0 },
  { uid: 1000, gid: 1000, groups: [50] },
  { uid: 1001, gid: 1001, groups: [50] },
  { uid: 1002, gid: 1002 },
];
const NAMES = ["a", "b", "c", "d", "e", ".", ".."];
const PERMS = [0o777, 0o755, 0o700, 0o711, 0o1777, 0o2775, 0o2777, 0o644, 0o666, 0o4755, 0o2755, 0o600, 0o000, 0o3777];

function outcome(fn: () => unknown): { code: string; value?: unknown } {
  try {
    return { code: "OK", value: fn() };
  } catch (e) {
    if (e instanceof FsError || e instanceof Fail) return { code: e.code };
    throw e;
  }
}

function compareState(v: Volume, m: Model, where: string): void {
  assert.equal(v.store.inodeCount(), m.nodes.size, `${where}: inode count`);
  for (const n of m.nodes.values()) {
    const a = v.getattr(BigInt(n.ino));
    const want = {
      mode: TYPE_BITS[n.kind] | n.perm, uid: n.uid, gid: n.gid, nlink: n.nlink, size: BigInt(n.size),
      atime: BigInt(n.atime), mtime: BigInt(n.mtime), ctime: BigInt(n.ctime),
    };
    const got = { mode: a.mode, uid: a.uid, gid: a.gid, nlink: a.nlink, size: a.size, atime: a.atimeNs, mtime: a.mtimeNs, ctime: a.ctimeNs };
    assert.deepEqual(got, want, `${where}: inode ${n.ino} (${n.kind})`);
    if (n.entries !== null) {
      const listed = v.readdir({ uid: 0, gid: 0 }, BigInt(n.ino), undefined, 1000).map((e) => [e.name, Number(e.ino)]);
      const expected = [[".", n.ino], ["..", n.parent], ...[...n.entries].sort((x, y) => (x[0] < y[0] ? -1 : 1))];
      assert.deepEqual(listed, expected, `${where}: listing of ${n.ino}`);
      // Structural invariant of the model itself: dirs have 2 + subdirectories links.
      let subdirs = 0;
      for (const ino of n.entries.values()) if (m.nodes.get(ino)!.kind === "dir") subdirs++;
      assert.equal(n.nlink, 2 + subdirs, `${where}: model nlink of dir ${n.ino}`);
    }
  }
}

function runModel(seed: number, steps: number): Record<string, number> {
  const rnd = new Prng(seed);
  let t = 0n;
  const v = new Volume({ now: () => t, linkMax: LINK_MAX, protectedHardlinks: true });
  const m = new Model();
  const stats: Record<string, number> = {};
  const anyIno = (): number => {
    if (rnd.chance(0.03)) return 999_999; // missing
    const all = [...m.nodes.keys()];
    return rnd.pick(all);
  };
  const dirIno = (): number => {
    if (rnd.chance(0.05)) return anyIno();
    const dirs = [...m.nodes.values()].filter((n) => n.kind === "dir").map((n) => n.ino);
    return rnd.pick(dirs);
  };
  for (let step = 1; step <= steps; step++) {
    t = BigInt(step * 10);
    m.now = step * 10;
    const c = rnd.pick(CALLERS);
    const op = rnd.int(15);
    let name: string;
    let got: { code: string; value?: unknown };
    let want: { code: string; value?: unknown };
    switch (op) {
      case 0:
      case 1: {
        const d = dirIno(), n = rnd.pick(NAMES), p = rnd.pick(PERMS);
        name = `create ${d}/${n} 0${p.toString(8)}`;
        got = outcome(() => Number(v.create(c, BigInt(d), n, p).ino));
        want = outcome(() => m.make(c, d, n, "reg", p));
        break;
      }
      case 2:
      case 3: {
        const d = dirIno(), n = rnd.pick(NAMES), p = rnd.pick(PERMS);
        name = `mkdir ${d}/${n} 0${p.toString(8)}`;
        got = outcome(() => Number(v.mkdir(c, BigInt(d), n, p).ino));
        want = outcome(() => m.make(c, d, n, "dir", p));
        break;
      }
      case 4: {
        const d = dirIno(), n = rnd.pick(NAMES);
        if (rnd.chance(0.5)) {
          name = `symlink ${d}/${n}`;
          got = outcome(() => Number(v.symlink(c, BigInt(d), n, "xyz").ino));
          want = outcome(() => m.make(c, d, n, "lnk", 0o777));
        } else {
          const p = rnd.pick(PERMS);
          name = `mknod fifo ${d}/${n}`;
          got = outcome(() => Number(v.mknod(c, BigInt(d), n, 0o010000 | p).ino));
          want = outcome(() => m.make(c, d, n, "fifo", p));
        }
        break;
      }
      case 5: {
        // Half the time link the most-linked file, so the link limit is reached.
        const files = [...m.nodes.values()].filter((x) => x.kind !== "dir").sort((x, y) => y.nlink - x.nlink);
        const i = files.length > 0 && rnd.chance(0.5) ? files[0]!.ino : anyIno();
        const d = dirIno(), n = rnd.pick(NAMES);
        name = `link ${i} ${d}/${n}`;
        got = outcome(() => v.link(c, BigInt(i), BigInt(d), n).nlink);
        want = outcome(() => (m.link(c, i, d, n), m.nodes.get(i)!.nlink));
        break;
      }
      case 6: {
        const d = dirIno(), n = rnd.pick(NAMES);
        name = `unlink ${d}/${n}`;
        got = outcome(() => void v.unlink(c, BigInt(d), n));
        want = outcome(() => m.unlink(c, d, n));
        break;
      }
      case 7: {
        const d = dirIno(), n = rnd.pick(NAMES);
        name = `rmdir ${d}/${n}`;
        got = outcome(() => v.rmdir(c, BigInt(d), n));
        want = outcome(() => m.rmdir(c, d, n));
        break;
      }
      case 8:
      case 9:
      case 10: {
        const sd = dirIno(), sn = rnd.pick(NAMES), dd = dirIno(), dn = rnd.pick(NAMES);
        const flags = rnd.pick([0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE]);
        name = `rename ${sd}/${sn} -> ${dd}/${dn} flags ${flags}`;
        got = outcome(() => void v.rename(c, BigInt(sd), sn, BigInt(dd), dn, flags));
        want = outcome(() => m.rename(c, sd, sn, dd, dn, flags));
        break;
      }
      case 11: {
        const i = anyIno(), p = rnd.pick(PERMS);
        name = `chmod ${i} 0${p.toString(8)}`;
        got = outcome(() => v.setattr(c, BigInt(i), { mode: p }).mode & 0o7777);
        want = outcome(() => (m.chmod(c, i, p), m.nodes.get(i)!.perm));
        break;
      }
      case 12: {
        const i = anyIno();
        const uid = rnd.chance(0.5) ? undefined : rnd.pick(CALLERS).uid;
        const gid = rnd.chance(0.3) ? undefined : rnd.pick([0, 50, 1000, 1001, 1002]);
        name = `chown ${i} ${uid}:${gid}`;
        got = outcome(() => void v.setattr(c, BigInt(i), { uid, gid }));
        want = outcome(() => m.chown(c, i, uid, gid));
        break;
      }
      case 13: {
        const i = anyIno(), size = rnd.pick([0, 1, 100, 4096]);
        name = `truncate ${i} ${size}`;
        got = outcome(() => void v.setattr(c, BigInt(i), { size: BigInt(size) }));
        want = outcome(() => m.truncate(c, i, size));
        break;
      }
      default: {
        if (rnd.chance(0.5)) {
          const i = anyIno();
          const explicit = rnd.chance(0.5) ? rnd.int(1000) : undefined;
          name = `utimes ${i} ${explicit ?? "now"}`;
          const spec = explicit === undefined ? ("now" as const) : BigInt(explicit);
          got = outcome(() => void v.setattr(c, BigInt(i), { atimeNs: spec, mtimeNs: spec }));
          want = outcome(() => m.utimes(c, i, explicit));
        } else {
          const d = dirIno(), n = rnd.pick(NAMES);
          name = `lookup ${d}/${n}`;
          got = outcome(() => Number(v.lookup(c, BigInt(d), n).ino));
          want = outcome(() => m.lookup(c, d, n));
        }
      }
    }
    const key = `${name.split(" ")[0]} ${want.code}`;
    stats[key] = (stats[key] ?? 0) + 1;
    assert.deepEqual(got, want, `seed ${seed} step ${step} caller ${c.uid}: ${name}`);
    if (step % 50 === 0) compareState(v, m, `seed ${seed} step ${step}`);
  }
  compareState(v, m, `seed ${seed} end`);
  return stats;
}

test("namespace agrees with a reference model over random operation sequences", () => {
  const base = testSeed(20240601);
  const merged: Record<string, number> = {};
  for (let r = 0; r < 4; r++) {
    const stats = runModel(base + r, 5000);
    for (const [k, n] of Object.entries(stats)) merged[k] = (merged[k] ?? 0) + n;
  }
  // The run must have exercised the interesting outcomes, not just errors.
  for (const k of ["create OK", "mkdir OK", "rename OK", "rename EINVAL", "rename ENOTEMPTY", "rename EPERM",
    "unlink EPERM", "rmdir ENOTEMPTY", "rmdir OK", "link OK", "link EMLINK", "chmod OK", "chown EPERM", "truncate EACCES", "utimes EPERM", "lookup OK", "mkdir EMLINK"]) {
    assert.ok((merged[k] ?? 0) > 0, `outcome "${k}" never happened: ${JSON.stringify(merged)}`);
  }
});
