// A reusable POSIX conformance suite for a mounted file system. It registers node:test tests that
// drive the mount through real system calls from this process (node:fs sync calls), from Python
// child processes (calls Node.js lacks, second processes for lock conflicts, other users) and
// from standard tools (ls, stat, flock, setfattr/getfattr).
//
// The file system must be served by ANOTHER process: sync calls here would deadlock against a
// server in this event loop. Every test works in its own directory under the mount point.
// Anything specific to one file system is an option, so the same suite runs against MemFs and
// against the real agent (pfsagentd).
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import * as fs from "node:fs";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { POSIX_HELPER_PY } from "./posix-helper-py.js";

export interface PosixSuiteOptions {
  /** Python 3 interpreter. Default /usr/bin/python3 when present, else "python3". */
  python?: string;
  /** The mount was made with allow_other and default_permissions: tests may act as uid/gid 65534 and 65533. */
  otherUsers?: boolean;
  /** Entries in the large-directory test. Default 10,000. */
  manyEntries?: number;
  /** Operations of the fsx-style random exerciser. Default 2,000 (0 skips it). */
  fsxOps?: number;
  /** The file system reports holes exactly (SEEK_DATA/SEEK_HOLE at byte precision). Default true. */
  exactHoles?: boolean;
  /** statfs free blocks drop as data is written. Default true. */
  statfsTracksUsage?: boolean;
  /** O_TMPFILE is supported. Default true. */
  tmpfile?: boolean;
  /** Device nodes, fifos and sockets can be made with mknod. Default true. */
  specialFiles?: boolean;
  /**
   * File-system specific interrupt test: `makeSlow(path)` turns an existing regular file into one
   * whose reads block until interrupted; `interrupted(op)` resolves once the file system reports
   * that a request `op` ("READ", "SETLKW") was given up because of INTERRUPT.
   */
  interrupt?: {
    makeSlow(path: string): void;
    interrupted(op: string, timeoutMs: number): Promise<void>;
  };
  /** Test names (as registered) to skip, for file systems lacking a feature. */
  skip?: string[];
}

type PyResult = { ok?: unknown; errno?: string; error?: string };

function hasTool(name: string): boolean {
  return (process.env.PATH ?? "/usr/bin:/bin").split(":").some((dir) => dir && fs.existsSync(join(dir, name)));
}

const NOBODY = 65534;
const OTHER = 65533;

/** Registers the suite. `getMountpoint` is called when tests run (after the caller's before() mounted). */
export function posixSuite(getMountpoint: () => string, opts: PosixSuiteOptions = {}): void {
  const python = opts.python ?? (fs.existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
  const skip = new Set(opts.skip ?? []);
  const exactHoles = opts.exactHoles ?? true;
  let helper = "";
  let helperDir = "";
  const children = new Set<ChildProcess>();

  before(() => {
    helperDir = mkdtempSync(join(tmpdir(), "posix-suite-"));
    helper = join(helperDir, "posix_helper.py");
    writeFileSync(helper, POSIX_HELPER_PY);
  });
  after(() => {
    for (const c of children) c.kill("SIGKILL");
    if (helperDir) fs.rmSync(helperDir, { recursive: true, force: true });
  });

  const t = (name: string, fn: () => void | Promise<void>, o: { skip?: boolean | string; timeout?: number } = {}) =>
    test(name, { skip: skip.has(name) ? "skipped by options" : o.skip ?? false, timeout: o.timeout ?? 60_000 }, async () => {
      try {
        await fn();
      } finally {
        // Helpers a failed test left blocked (lock holders, waiters) must not outlive it: they
        // would keep the mount busy and this process alive.
        for (const c of children) c.kill("SIGKILL");
      }
    });

  /** A fresh, empty directory for one test. */
  const area = (name: string): string => {
    const p = join(getMountpoint(), name);
    fs.rmSync(p, { recursive: true, force: true });
    fs.mkdirSync(p);
    return p;
  };

  const py = (cmd: string, args: unknown, o: { as?: number } = {}): PyResult => {
    const argv = [helper, ...(o.as !== undefined ? ["--as", `${o.as}:${o.as}`] : []), cmd, JSON.stringify(args)];
    const out = execFileSync(python, argv, { encoding: "utf8", timeout: 60_000, stdio: ["ignore", "pipe", "pipe"] });
    const last = out.trim().split("\n").pop() ?? "";
    const r = JSON.parse(last) as PyResult;
    if (r.error) throw new Error(`posix helper ${cmd}: ${r.error}`);
    return r;
  };
  const pyOk = <T>(cmd: string, args: unknown, o: { as?: number } = {}): T => {
    const r = py(cmd, args, o);
    assert.equal(r.errno, undefined, `${cmd} ${JSON.stringify(args)} failed with ${r.errno}`);
    return r.ok as T;
  };

  /** A long-lived helper (lock holder, blocked caller): resolves lines as it prints them. */
  const spawnPy = (cmd: string, args: unknown) => {
    const child = spawn(python, [helper, cmd, JSON.stringify(args)], { stdio: ["pipe", "pipe", "pipe"] });
    children.add(child);
    let buf = "";
    let err = "";
    const lines: string[] = [];
    let waiter: (() => void) | undefined;
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      let k;
      while ((k = buf.indexOf("\n")) >= 0) {
        lines.push(buf.slice(0, k));
        buf = buf.slice(k + 1);
      }
      waiter?.();
    });
    child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    // "close", not "exit": exit can fire before the last stdout data is delivered, and a line
    // the helper printed just before exiting would then look missing.
    let closed = false;
    const exited = new Promise<number | null>((res) => child.on("close", (code) => { closed = true; children.delete(child); waiter?.(); res(code); }));
    const line = async (re: RegExp, timeoutMs = 20_000): Promise<string> => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const k = lines.findIndex((l) => re.test(l));
        if (k >= 0) return lines.splice(0, k + 1).pop()!;
        if (closed || Date.now() > deadline) {
          throw new Error(`helper ${cmd} ended or timed out before printing ${re}: stdout ${JSON.stringify(lines)} stderr ${err}`);
        }
        await new Promise<void>((res) => {
          waiter = res;
          setTimeout(res, 100);
        });
      }
    };
    return {
      child,
      line,
      send: (s = "go") => child.stdin!.write(s + "\n"),
      async result(): Promise<PyResult> {
        const l = await line(/^\{/);
        return JSON.parse(l) as PyResult;
      },
      async finish(): Promise<PyResult> {
        child.stdin!.end();
        const r = await this.result();
        await exited;
        return r;
      },
    };
  };

  const code = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      return (err as NodeJS.ErrnoException).code ?? String(err);
    }
    return "ok";
  };

  describe("files: create, read, write, truncate, append", () => {
    t("create, write and read back; O_EXCL; ENOENT", () => {
      const d = area("rw");
      const p = join(d, "f");
      fs.writeFileSync(p, "hello world");
      assert.equal(fs.readFileSync(p, "utf8"), "hello world");
      const st = fs.statSync(p);
      assert.equal(st.size, 11);
      assert.ok(st.isFile());
      assert.equal(code(() => fs.openSync(p, "wx")), "EEXIST");
      assert.equal(code(() => fs.openSync(join(d, "missing"), "r")), "ENOENT");
      assert.equal(code(() => fs.readFileSync(join(d, "missing", "x"))), "ENOENT");
      assert.equal(code(() => fs.writeFileSync(join(p, "x"), "")), "ENOTDIR");
      assert.equal(code(() => fs.writeFileSync(d, "")), "EISDIR");
    });

    t("pwrite and pread at offsets, short read at EOF, overwrite in the middle", () => {
      const p = join(area("offsets"), "f");
      const fd = fs.openSync(p, "w+");
      try {
        fs.writeSync(fd, Buffer.from("0123456789"), 0, 10, 0);
        fs.writeSync(fd, Buffer.from("abc"), 0, 3, 4);
        fs.writeSync(fd, Buffer.from("Z"), 0, 1, 20);
        const b = Buffer.alloc(64);
        const n = fs.readSync(fd, b, 0, 64, 0);
        assert.equal(n, 21);
        assert.deepEqual(b.subarray(0, 21), Buffer.concat([Buffer.from("0123abc789"), Buffer.alloc(10), Buffer.from("Z")]));
        assert.equal(fs.readSync(fd, b, 0, 64, 21), 0);
        assert.equal(fs.readSync(fd, b, 0, 64, 1000), 0);
      } finally {
        fs.closeSync(fd);
      }
    });

    t("large file: 24 MiB written in pieces reads back identically", () => {
      const p = join(area("large"), "f");
      const piece = Buffer.alloc(1 << 20);
      for (let k = 0; k < piece.length; k++) piece[k] = (k * 31 + 7) & 0xff;
      const fd = fs.openSync(p, "w");
      for (let k = 0; k < 24; k++) {
        piece[0] = k;
        fs.writeSync(fd, piece);
      }
      fs.closeSync(fd);
      const back = fs.readFileSync(p);
      assert.equal(back.length, 24 << 20);
      for (let k = 0; k < 24; k++) {
        assert.equal(back[k << 20], k);
        assert.equal(back[(k << 20) + 12345], piece[12345]);
      }
    });

    t("truncate and ftruncate grow with zeros and shrink; O_TRUNC empties and updates mtime", async () => {
      const p = join(area("trunc"), "f");
      fs.writeFileSync(p, "abcdef");
      fs.truncateSync(p, 3);
      assert.equal(fs.readFileSync(p, "utf8"), "abc");
      fs.truncateSync(p, 8);
      assert.deepEqual(fs.readFileSync(p), Buffer.from([0x61, 0x62, 0x63, 0, 0, 0, 0, 0]));
      const fd = fs.openSync(p, "r+");
      fs.ftruncateSync(fd, 1);
      assert.equal(fs.fstatSync(fd).size, 1);
      fs.closeSync(fd);
      const before = fs.statSync(p, { bigint: true }).mtimeNs;
      await new Promise((r) => setTimeout(r, 20));
      fs.closeSync(fs.openSync(p, "w"));
      const st = fs.statSync(p, { bigint: true });
      assert.equal(st.size, 0n);
      assert.ok(st.mtimeNs > before, "O_TRUNC updates mtime");
    });

    t("O_APPEND writes always land at the end, from two descriptors", () => {
      const p = join(area("append"), "f");
      fs.writeFileSync(p, "start;");
      const a = fs.openSync(p, "a");
      const b = fs.openSync(p, "a");
      fs.writeSync(a, "one;");
      fs.writeSync(b, "two;");
      // The position given is ignored for O_APPEND descriptors on Linux.
      fs.writeSync(a, "three;", 0);
      fs.closeSync(a);
      fs.closeSync(b);
      fs.appendFileSync(p, "four;");
      assert.equal(fs.readFileSync(p, "utf8"), "start;one;two;three;four;");
    });

    t("names: 255 bytes allowed, 256 is ENAMETOOLONG, UTF-8 names round-trip", () => {
      const d = area("names");
      fs.writeFileSync(join(d, "x".repeat(255)), "");
      assert.equal(code(() => fs.writeFileSync(join(d, "y".repeat(256)), "")), "ENAMETOOLONG");
      const uni = "é漢字-🙂 space\ttab";
      fs.writeFileSync(join(d, uni), "u");
      assert.ok(fs.readdirSync(d).includes(uni));
      assert.equal(fs.readFileSync(join(d, uni), "utf8"), "u");
    });

    t("fsync, fdatasync, directory fsync and syncfs succeed", () => {
      const d = area("sync");
      const p = join(d, "f");
      const fd = fs.openSync(p, "w");
      fs.writeSync(fd, "x");
      fs.fsyncSync(fd);
      fs.fdatasyncSync(fd);
      fs.closeSync(fd);
      const dfd = fs.openSync(d, "r");
      fs.fsyncSync(dfd);
      fs.closeSync(dfd);
      execFileSync("sync", ["-f", p]);
    });
  });

  describe("sparse files, SEEK_DATA/SEEK_HOLE, fallocate, copy_file_range", () => {
    t("holes read as zeros, use no blocks, and are found by SEEK_DATA/SEEK_HOLE", () => {
      const p = join(area("sparse"), "f");
      const MiB = 1 << 20;
      const fd = fs.openSync(p, "w");
      fs.writeSync(fd, Buffer.alloc(4096, 1), 0, 4096, MiB);
      fs.writeSync(fd, Buffer.alloc(4096, 2), 0, 4096, 3 * MiB);
      fs.ftruncateSync(fd, 8 * MiB);
      fs.closeSync(fd);
      const st = fs.statSync(p);
      assert.equal(st.size, 8 * MiB);
      assert.ok(st.blocks * 512 < MiB, `sparse file uses ${st.blocks} blocks`);
      const buf = fs.readFileSync(p);
      assert.equal(buf.subarray(0, MiB).every((x) => x === 0), true);
      assert.equal(buf[MiB], 1);
      assert.equal(buf[MiB + 4096], 0);
      assert.equal(buf[3 * MiB + 4095], 2);
      const r = pyOk<(number | string)[]>("seek", {
        path: p,
        queries: [["data", 0], ["hole", 0], ["hole", MiB], ["data", MiB + 4096], ["hole", 3 * MiB], ["data", 3 * MiB + 4096], ["hole", 8 * MiB - 1], ["data", 8 * MiB], ["hole", 8 * MiB]],
      });
      if (exactHoles) {
        assert.deepEqual(r, [MiB, 0, MiB + 4096, 3 * MiB, 3 * MiB + 4096, "ENXIO", 8 * MiB - 1, "ENXIO", "ENXIO"]);
      } else {
        // Coarser file systems may report holes as data, never data as holes.
        assert.ok(typeof r[0] === "number" && r[0] <= MiB);
        assert.equal(r[7], "ENXIO");
      }
    });

    t("a 1 TiB sparse file holding a few bytes", () => {
      const p = join(area("tera"), "f");
      const TiB = 2 ** 40;
      const before = opts.statfsTracksUsage === false ? undefined : pyOk<{ f_bfree: number }>("statvfs", { path: getMountpoint() });
      fs.writeFileSync(p, "");
      fs.truncateSync(p, TiB);
      const fd = fs.openSync(p, "r+");
      fs.writeSync(fd, "needle", 2 ** 39);
      const b = Buffer.alloc(16);
      assert.equal(fs.readSync(fd, b, 0, 16, 2 ** 39 - 5), 16);
      assert.equal(b.toString("latin1"), "\0\0\0\0\0needle\0\0\0\0\0");
      assert.equal(fs.readSync(fd, b, 0, 16, TiB - 8), 8);
      fs.closeSync(fd);
      const st = fs.statSync(p);
      assert.equal(st.size, TiB);
      assert.ok(st.blocks < 1024, `1 TiB sparse file uses ${st.blocks} blocks`);
      const r = pyOk<(number | string)[]>("seek", { path: p, queries: [["data", 0], ["hole", 2 ** 39], ["data", 2 ** 39 + 4096 * 1024], ["data", TiB]] });
      if (exactHoles) assert.deepEqual(r, [2 ** 39, 2 ** 39 + 6, "ENXIO", "ENXIO"]);
      if (before) {
        const now = pyOk<{ f_bfree: number }>("statvfs", { path: getMountpoint() });
        assert.ok(before.f_bfree - now.f_bfree < 1024, "a sparse terabyte does not consume space");
      }
      fs.unlinkSync(p);
    });

    t("fallocate: allocate, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE, ZERO_RANGE; punch without KEEP_SIZE is EOPNOTSUPP", () => {
      const p = join(area("falloc"), "f");
      fs.writeFileSync(p, "");
      pyOk("posix_fallocate", { path: p, off: 0, len: 1 << 20 });
      let st = fs.statSync(p);
      assert.equal(st.size, 1 << 20);
      assert.ok(st.blocks * 512 >= 1 << 20, `allocated ${st.blocks} blocks`);
      assert.ok(fs.readFileSync(p).every((x) => x === 0));
      pyOk("fallocate", { path: p, mode: 1, off: 1 << 20, len: 1 << 20 });
      assert.equal(fs.statSync(p).size, 1 << 20, "KEEP_SIZE keeps the size");
      fs.writeFileSync(p, Buffer.alloc(3 * 65536, 0x5a));
      pyOk("fallocate", { path: p, mode: 3, off: 65536, len: 65536 });
      st = fs.statSync(p);
      assert.equal(st.size, 3 * 65536);
      let data = fs.readFileSync(p);
      assert.equal(data[65535], 0x5a);
      assert.ok(data.subarray(65536, 131072).every((x) => x === 0), "punched range reads zeros");
      assert.equal(data[131072], 0x5a);
      if (exactHoles) assert.deepEqual(pyOk("seek", { path: p, queries: [["hole", 0], ["data", 65536]] }), [65536, 131072]);
      pyOk("fallocate", { path: p, mode: 0x10, off: 131072 + 100, len: 200 });
      data = fs.readFileSync(p);
      assert.equal(data[131072 + 99], 0x5a);
      assert.ok(data.subarray(131072 + 100, 131072 + 300).every((x) => x === 0), "zeroed range reads zeros");
      assert.equal(data[131072 + 300], 0x5a);
      pyOk("fallocate", { path: p, mode: 0x10, off: 3 * 65536, len: 1000 });
      assert.equal(fs.statSync(p).size, 3 * 65536 + 1000, "ZERO_RANGE without KEEP_SIZE extends");
      assert.deepEqual(py("fallocate", { path: p, mode: 2, off: 0, len: 10 }), { errno: "EOPNOTSUPP" });
    });

    t("copy_file_range copies data and keeps holes readable as zeros", () => {
      const d = area("copy");
      const src = join(d, "src");
      const dst = join(d, "dst");
      const fd = fs.openSync(src, "w");
      fs.writeSync(fd, "AAAA", 0);
      fs.writeSync(fd, "BBBB", 100000);
      fs.closeSync(fd);
      fs.writeFileSync(dst, Buffer.alloc(200000, 0x63));
      const n = pyOk<number>("copy_range", { src, dst, offIn: 0, offOut: 10, len: 100004 });
      assert.equal(n, 100004);
      const out = fs.readFileSync(dst);
      assert.equal(out.subarray(10, 14).toString(), "AAAA");
      assert.ok(out.subarray(14, 100010).every((x) => x === 0));
      assert.equal(out.subarray(100010, 100014).toString(), "BBBB");
      assert.equal(out[100014], 0x63);
      assert.equal(out.length, 200000);
      assert.equal(pyOk<number>("copy_range", { src, dst, offIn: 200000, offOut: 0, len: 10 }), 0, "copy past EOF copies nothing");
    });
  });

  describe("directories", () => {
    t(`readdir of ${opts.manyEntries ?? 10000} entries, then while entries are removed`, () => {
      const d = area("many");
      const n = opts.manyEntries ?? 10000;
      const names: string[] = [];
      for (let k = 0; k < n; k++) {
        const name = `entry-${k.toString().padStart(5, "0")}-${"x".repeat(k % 40)}`;
        names.push(name);
        fs.closeSync(fs.openSync(join(d, name), "w"));
      }
      const listed = fs.readdirSync(d);
      assert.equal(listed.length, n);
      assert.deepEqual([...listed].sort(), [...names].sort());
      const withTypes = fs.readdirSync(d, { withFileTypes: true });
      assert.ok(withTypes.every((e) => e.isFile()));
      const ls = execFileSync("ls", ["-1a", d], { encoding: "utf8", maxBuffer: 64 << 20 }).trim().split("\n");
      assert.equal(ls.length, n + 2, "ls shows every entry plus . and ..");
      // Remove every other entry of the second half while a reader is in the first part.
      const remove = names.filter((_, k) => k >= n / 2 && k % 2 === 0);
      const r = pyOk<{ count: number; unique: number; names: string[] }>("scan_while_deleting", { dir: d, after: 50, remove });
      assert.equal(r.unique, r.count, "no entry is returned twice");
      const seen = new Set(r.names);
      const removed = new Set(remove);
      for (const name of names) if (!removed.has(name)) assert.ok(seen.has(name), `entry ${name} was skipped`);
      assert.equal(fs.readdirSync(d).length, n - remove.length);
      assert.equal(code(() => fs.rmdirSync(d)), "ENOTEMPTY");
      fs.rmSync(d, { recursive: true });
      assert.equal(code(() => fs.statSync(d)), "ENOENT");
    }, { timeout: 120_000 });

    t("mkdir/rmdir, nlink counts subdirectories, errors EEXIST ENOTEMPTY ENOTDIR EISDIR", () => {
      const d = area("dirs");
      fs.mkdirSync(join(d, "a"));
      fs.mkdirSync(join(d, "b"));
      fs.writeFileSync(join(d, "f"), "");
      assert.equal(fs.statSync(d).nlink, 4);
      assert.equal(fs.statSync(join(d, "a")).nlink, 2);
      assert.equal(code(() => fs.mkdirSync(join(d, "a"))), "EEXIST");
      assert.equal(code(() => fs.mkdirSync(join(d, "f"))), "EEXIST");
      fs.writeFileSync(join(d, "a", "x"), "");
      assert.equal(code(() => fs.rmdirSync(join(d, "a"))), "ENOTEMPTY");
      assert.equal(code(() => fs.rmdirSync(join(d, "f"))), "ENOTDIR");
      assert.equal(code(() => fs.unlinkSync(join(d, "b"))), "EISDIR");
      fs.rmdirSync(join(d, "b"));
      assert.equal(fs.statSync(d).nlink, 3);
      assert.equal(code(() => fs.mkdirSync(join(d, "nope", "x"))), "ENOENT");
    });

    t("directory timestamps: create and unlink update the parent's mtime and ctime", async () => {
      const d = area("dirtimes");
      const t0 = fs.statSync(d, { bigint: true });
      await new Promise((r) => setTimeout(r, 20));
      fs.writeFileSync(join(d, "f"), "");
      const t1 = fs.statSync(d, { bigint: true });
      assert.ok(t1.mtimeNs > t0.mtimeNs && t1.ctimeNs > t0.ctimeNs);
      await new Promise((r) => setTimeout(r, 20));
      fs.unlinkSync(join(d, "f"));
      const t2 = fs.statSync(d, { bigint: true });
      assert.ok(t2.mtimeNs > t1.mtimeNs && t2.ctimeNs > t1.ctimeNs);
    });
  });

  describe("rename", () => {
    t("rename files and directories, across directories, replacing targets", () => {
      const d = area("rename");
      fs.mkdirSync(join(d, "p"));
      fs.mkdirSync(join(d, "q"));
      fs.writeFileSync(join(d, "p", "f"), "F");
      fs.writeFileSync(join(d, "q", "g"), "G");
      const ino = fs.statSync(join(d, "p", "f")).ino;
      fs.renameSync(join(d, "p", "f"), join(d, "q", "g"));
      assert.equal(fs.readFileSync(join(d, "q", "g"), "utf8"), "F");
      assert.equal(fs.statSync(join(d, "q", "g")).ino, ino, "the inode moves, not the data");
      assert.equal(code(() => fs.statSync(join(d, "p", "f"))), "ENOENT");
      fs.mkdirSync(join(d, "p", "sub"));
      fs.writeFileSync(join(d, "p", "sub", "inner"), "I");
      fs.renameSync(join(d, "p", "sub"), join(d, "q", "moved"));
      assert.equal(fs.readFileSync(join(d, "q", "moved", "inner"), "utf8"), "I");
      assert.equal(fs.statSync(join(d, "p")).nlink, 2, "old parent lost a subdirectory");
      assert.equal(fs.statSync(join(d, "q")).nlink, 3, "new parent gained one");
      assert.equal(fs.statSync(join(d, "q", "moved", "..")).ino, fs.statSync(join(d, "q")).ino, ".. follows the move");
      // readdir's ".." entry (from the file system, unlike path lookup of "..", which the kernel resolves).
      const raw = pyOk<[string, number, number][]>("readdir_raw", { dir: join(d, "q", "moved") });
      assert.deepEqual(raw.find((e) => e[0] === "..")?.slice(1), [fs.statSync(join(d, "q")).ino, 4], "readdir's .. names the new parent");
      assert.deepEqual(raw.find((e) => e[0] === "inner")?.slice(1), [fs.statSync(join(d, "q", "moved", "inner")).ino, 8], "d_ino and d_type");
      fs.mkdirSync(join(d, "p", "empty"));
      fs.renameSync(join(d, "q", "moved"), join(d, "p", "empty"));
      assert.equal(fs.readFileSync(join(d, "p", "empty", "inner"), "utf8"), "I", "a directory replaces an empty one");
      // Renaming one hard link onto another of the same file changes nothing.
      fs.linkSync(join(d, "q", "g"), join(d, "q", "g2"));
      fs.renameSync(join(d, "q", "g"), join(d, "q", "g2"));
      assert.ok(fs.existsSync(join(d, "q", "g")) && fs.existsSync(join(d, "q", "g2")));
    });

    t("rename errors: EINVAL into own subtree, ENOTEMPTY, EISDIR, ENOTDIR, ENOENT", () => {
      const d = area("renameerr");
      fs.mkdirSync(join(d, "a", "b", "c"), { recursive: true });
      fs.mkdirSync(join(d, "full"));
      fs.writeFileSync(join(d, "full", "x"), "");
      fs.writeFileSync(join(d, "file"), "");
      assert.equal(code(() => fs.renameSync(join(d, "a"), join(d, "a", "b", "c", "a"))), "EINVAL");
      assert.equal(code(() => fs.renameSync(join(d, "a"), join(d, "full"))), "ENOTEMPTY");
      assert.equal(code(() => fs.renameSync(join(d, "file"), join(d, "a"))), "EISDIR");
      assert.equal(code(() => fs.renameSync(join(d, "a"), join(d, "file"))), "ENOTDIR");
      assert.equal(code(() => fs.renameSync(join(d, "none"), join(d, "z"))), "ENOENT");
      assert.ok(fs.existsSync(join(d, "a", "b", "c")) && fs.existsSync(join(d, "file")), "failed renames change nothing");
    });

    t("renameat2 RENAME_NOREPLACE and RENAME_EXCHANGE", () => {
      const d = area("rename2");
      fs.writeFileSync(join(d, "a"), "A");
      fs.writeFileSync(join(d, "b"), "B");
      fs.mkdirSync(join(d, "dir"));
      fs.writeFileSync(join(d, "dir", "inside"), "D");
      assert.deepEqual(py("renameat2", { old: join(d, "a"), new: join(d, "b"), flags: 1 }), { errno: "EEXIST" });
      assert.equal(fs.readFileSync(join(d, "b"), "utf8"), "B");
      pyOk("renameat2", { old: join(d, "a"), new: join(d, "c"), flags: 1 });
      assert.equal(fs.readFileSync(join(d, "c"), "utf8"), "A");
      pyOk("renameat2", { old: join(d, "b"), new: join(d, "c"), flags: 2 });
      assert.equal(fs.readFileSync(join(d, "b"), "utf8"), "A");
      assert.equal(fs.readFileSync(join(d, "c"), "utf8"), "B");
      // Exchange a file with a directory in another directory.
      fs.mkdirSync(join(d, "other"));
      fs.writeFileSync(join(d, "other", "f"), "OF");
      pyOk("renameat2", { old: join(d, "dir"), new: join(d, "other", "f"), flags: 2 });
      assert.equal(fs.readFileSync(join(d, "dir"), "utf8"), "OF");
      assert.equal(fs.readFileSync(join(d, "other", "f", "inside"), "utf8"), "D");
      assert.equal(fs.statSync(join(d, "other")).nlink, 3);
      assert.deepEqual(py("renameat2", { old: join(d, "b"), new: join(d, "nothere"), flags: 2 }), { errno: "ENOENT" });
      assert.deepEqual(py("renameat2", { old: join(d, "b"), new: join(d, "c"), flags: 3 }), { errno: "EINVAL" });
      assert.deepEqual(py("renameat2", { old: join(d, "other"), new: join(d, "other", "f", "inside"), flags: 2 }), { errno: "EINVAL" });
    });
  });

  describe("links", () => {
    t("hard links share an inode; nlink counts; unlink keeps open files readable", () => {
      const d = area("links");
      const a = join(d, "a");
      fs.writeFileSync(a, "data");
      fs.linkSync(a, join(d, "b"));
      const sa = fs.statSync(a);
      assert.equal(sa.nlink, 2);
      assert.equal(fs.statSync(join(d, "b")).ino, sa.ino);
      assert.equal(code(() => fs.linkSync(a, join(d, "b"))), "EEXIST");
      assert.equal(code(() => fs.linkSync(d, join(d, "dirlink"))), "EPERM");
      fs.unlinkSync(a);
      assert.equal(fs.statSync(join(d, "b")).nlink, 1);
      assert.equal(fs.readFileSync(join(d, "b"), "utf8"), "data");
      const fd = fs.openSync(join(d, "b"), "r+");
      fs.unlinkSync(join(d, "b"));
      assert.equal(fs.fstatSync(fd).nlink, 0);
      fs.writeSync(fd, "more", 4);
      const buf = Buffer.alloc(8);
      assert.equal(fs.readSync(fd, buf, 0, 8, 0), 8);
      assert.equal(buf.toString(), "datamore");
      fs.closeSync(fd);
      assert.deepEqual(fs.readdirSync(d), []);
    });

    t("unlinked open files are freed after close (statfs inode count returns)", async () => {
      const d = area("freed");
      const count = () => {
        const s = pyOk<{ f_files: number; f_ffree: number }>("statvfs", { path: d });
        return s.f_files - s.f_ffree;
      };
      const before = count();
      const fd = fs.openSync(join(d, "f"), "w");
      fs.writeSync(fd, Buffer.alloc(1 << 16, 1));
      fs.unlinkSync(join(d, "f"));
      assert.equal(count(), before + 1, "still held while open");
      fs.closeSync(fd);
      // The kernel's FORGET arrives asynchronously after the last reference is dropped.
      const deadline = Date.now() + 5000;
      while (count() !== before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      assert.equal(count(), before);
    }, { skip: opts.statfsTracksUsage === false ? "statfs does not count inodes" : false });

    t("symlink and readlink; lstat; dangling links; long targets", () => {
      const d = area("symlinks");
      fs.mkdirSync(join(d, "dir"));
      fs.writeFileSync(join(d, "dir", "f"), "through");
      fs.symlinkSync("dir", join(d, "l"));
      assert.equal(fs.readlinkSync(join(d, "l")), "dir");
      assert.ok(fs.lstatSync(join(d, "l")).isSymbolicLink());
      assert.equal(fs.lstatSync(join(d, "l")).size, 3);
      assert.equal(fs.readFileSync(join(d, "l", "f"), "utf8"), "through");
      fs.symlinkSync("nowhere", join(d, "dangling"));
      assert.equal(code(() => fs.statSync(join(d, "dangling"))), "ENOENT");
      assert.equal(fs.readlinkSync(join(d, "dangling")), "nowhere");
      const long = "t/".repeat(2000);
      fs.symlinkSync(long, join(d, "long"));
      assert.equal(fs.readlinkSync(join(d, "long")), long);
      assert.equal(code(() => fs.readlinkSync(join(d, "dir"))), "EINVAL");
      assert.equal(code(() => fs.symlinkSync("x", join(d, "l"))), "EEXIST");
      fs.symlinkSync("../symlinks/dir/f", join(d, "rel"));
      assert.equal(fs.readFileSync(join(d, "rel"), "utf8"), "through");
    });

    t("mknod: fifo, character and block devices, socket", () => {
      const d = area("mknod");
      const fifo = pyOk<{ mode: number }>("mknod", { path: join(d, "fifo"), kind: "fifo", mode: 0o640 });
      assert.equal(fifo.mode, 0o010640);
      assert.ok(fs.lstatSync(join(d, "fifo")).isFIFO());
      const chr = pyOk<{ mode: number; major: number; minor: number }>("mknod", { path: join(d, "null"), kind: "chr", mode: 0o666, major: 1, minor: 3 });
      assert.deepEqual(chr, { mode: 0o020644, major: 1, minor: 3 }, "the umask (022) applies");
      const blk = pyOk<{ major: number; minor: number }>("mknod", { path: join(d, "blk"), kind: "blk", mode: 0o600, major: 259, minor: 70000 });
      assert.equal(blk.major, 259);
      assert.equal(blk.minor, 70000);
      assert.ok(fs.lstatSync(join(d, "blk")).isBlockDevice());
      pyOk("mknod", { path: join(d, "sock"), kind: "sock", mode: 0o600 });
      assert.ok(fs.lstatSync(join(d, "sock")).isSocket());
      // A device node made on the mount works: this one is /dev/null.
      fs.writeFileSync(join(d, "null"), "discarded");
      assert.equal(fs.readFileSync(join(d, "null")).length, 0);
    }, { skip: opts.specialFiles === false ? "special files not supported" : false });

    t("O_TMPFILE: an unnamed file, then linked into the directory", () => {
      const d = area("tmpfile");
      const r = pyOk<{ nlink0: number; nlink1: number }>("tmpfile", { dir: d, data: "anonymous", link: join(d, "named") });
      assert.deepEqual(r, { nlink0: 0, nlink1: 1 });
      assert.equal(fs.readFileSync(join(d, "named"), "utf8"), "anonymous");
      assert.deepEqual(fs.readdirSync(d), ["named"]);
    }, { skip: opts.tmpfile === false ? "O_TMPFILE not supported" : false });
  });

  describe("attributes: chmod, chown, utimes, permissions", () => {
    t("chmod sets permission and special bits and updates ctime", async () => {
      const p = join(area("chmod"), "f");
      fs.writeFileSync(p, "");
      const c0 = fs.statSync(p, { bigint: true }).ctimeNs;
      await new Promise((r) => setTimeout(r, 20));
      fs.chmodSync(p, 0o6751);
      const st = fs.statSync(p, { bigint: true });
      assert.equal(Number(st.mode) & 0o7777, 0o6751);
      assert.ok(st.ctimeNs > c0);
      fs.chmodSync(p, 0o1644);
      assert.equal(fs.statSync(p).mode & 0o7777, 0o1644);
    });

    t("chown by root; chown clears set-user-ID; ownership shows in stat", () => {
      const p = join(area("chown"), "f");
      fs.writeFileSync(p, "");
      fs.chownSync(p, NOBODY, OTHER);
      let st = fs.statSync(p);
      assert.equal(st.uid, NOBODY);
      assert.equal(st.gid, OTHER);
      fs.chmodSync(p, 0o4755);
      fs.chownSync(p, 0, 0);
      st = fs.statSync(p);
      assert.equal(st.mode & 0o7777, 0o755, "chown clears set-user-ID");
      fs.lchownSync(p, 1, 1);
      assert.equal(fs.statSync(p).uid, 1);
    });

    // pjdfstest chown/00 found MemFs keeping the bits on special files.
    t("chown clears set-user-ID and set-group-ID on fifos, sockets and device nodes too", () => {
      const d = area("chown-special");
      for (const kind of ["fifo", "sock", "chr"]) {
        const p = join(d, kind);
        pyOk("mknod", { path: p, kind, mode: 0o644, major: 1, minor: 3 });
        fs.chownSync(p, NOBODY, OTHER);
        fs.chmodSync(p, 0o6755);
        // The owner moves it to its own group (allowed), which must drop both bits (group-executable).
        const r = pyOk<[string, { mode: number; gid: number }]>("ops", { ops: [["chown", p, -1, NOBODY], ["stat", p]] }, { as: NOBODY });
        assert.equal(r[0], "ok", kind);
        assert.deepEqual([r[1].mode & 0o7777, r[1].gid], [0o755, NOBODY], `${kind}: chown by the owner`);
        fs.chmodSync(p, 0o6755);
        fs.chownSync(p, 0, 0);
        assert.equal(fs.lstatSync(p).mode & 0o7777, 0o755, `${kind}: chown by root`);
      }
    }, { skip: !opts.otherUsers ? "needs allow_other (otherUsers)" : opts.specialFiles === false ? "special files not supported" : false });

    t("utimes with nanosecond precision; UTIME_NOW; mtime changes on write and not on read", async () => {
      const p = join(area("utimes"), "f");
      fs.writeFileSync(p, "x");
      const r = pyOk<{ atime: number; mtime: number }>("utimens", { path: p, atime: 1_000_000_123_456_789, mtime: 1_500_000_987_654_321 });
      assert.equal(BigInt(r.atime), 1_000_000_123_456_789n);
      assert.equal(BigInt(r.mtime), 1_500_000_987_654_321n);
      const st = fs.statSync(p, { bigint: true });
      assert.equal(st.atimeNs, 1_000_000_123_456_789n);
      assert.equal(st.mtimeNs, 1_500_000_987_654_321n);
      fs.readFileSync(p);
      assert.equal(fs.statSync(p, { bigint: true }).mtimeNs, 1_500_000_987_654_321n, "read leaves mtime");
      const wall = BigInt(Date.now()) * 1_000_000n;
      fs.appendFileSync(p, "y");
      const after1 = fs.statSync(p, { bigint: true });
      assert.ok(after1.mtimeNs >= wall - 2_000_000_000n, "write sets mtime to now");
      assert.ok(after1.ctimeNs >= wall - 2_000_000_000n, "write sets ctime to now");
      execFileSync("touch", ["-m", "-d", "@981173106.5", p]);
      assert.equal(fs.statSync(p, { bigint: true }).mtimeNs, 981_173_106_500_000_000n);
      execFileSync("touch", [p]);
      assert.ok(fs.statSync(p, { bigint: true }).mtimeNs >= wall - 2_000_000_000n, "touch sets now");
      // Birth time through statx.
      const birth = Number(execFileSync("stat", ["-c", "%W", p], { encoding: "utf8" }).trim());
      assert.ok(birth > 0, "statx reports a birth time");
    });

    t("other users: permissions enforced, chown/chmod only by owner or root, suid cleared on write", () => {
      const d = area("users");
      fs.chmodSync(d, 0o777);
      const secret = join(d, "secret");
      fs.writeFileSync(secret, "s");
      fs.chmodSync(secret, 0o600);
      const shared = join(d, "shared");
      fs.writeFileSync(shared, "s");
      fs.chmodSync(shared, 0o4777);
      const r = pyOk<unknown[]>("ops", {
        ops: [
          ["read", secret], ["chmod", secret, 0o777], ["chown", secret, NOBODY, NOBODY], ["utime", secret, 1, 1],
          ["append", shared, "by nobody"], ["stat", shared],
          ["create", join(d, "mine"), 0o644], ["chown", join(d, "mine"), 0, NOBODY], ["chown", join(d, "mine"), NOBODY, 0],
          ["chmod", join(d, "mine"), 0o2755], ["stat", join(d, "mine")], ["utime", join(d, "mine"), 5_000_000_000, 7_000_000_000],
        ],
      }, { as: NOBODY });
      assert.equal(r[0], "EACCES");
      assert.equal(r[1], "EPERM");
      assert.equal(r[2], "EPERM");
      assert.equal(r[3], "EPERM");
      assert.equal(r[4], "ok");
      assert.equal((r[5] as { mode: number }).mode & 0o7777, 0o777, "a write by another user clears set-user-ID");
      assert.equal(r[6], "ok");
      assert.equal(r[7], "EPERM", "only root gives files away");
      assert.equal(r[8], "EPERM", "the owner may only pick its own groups");
      assert.equal(r[9], "ok");
      assert.equal((r[10] as { uid: number; gid: number; mode: number }).uid, NOBODY);
      assert.equal((r[10] as { mode: number }).mode & 0o7777, 0o2755);
      assert.equal(r[11], "ok");
      assert.equal(fs.readFileSync(shared, "utf8"), "sby nobody");
    }, { skip: opts.otherUsers ? false : "needs allow_other (otherUsers)" });

    t("sticky directory: only owners may remove or rename entries", () => {
      const d = area("sticky");
      fs.chmodSync(d, 0o1777);
      pyOk("ops", { ops: [["create", join(d, "nobodys"), 0o666], ["mkdir", join(d, "nobodydir"), 0o777]] }, { as: NOBODY });
      const other = pyOk<string[]>("ops", {
        ops: [["unlink", join(d, "nobodys")], ["rename", join(d, "nobodys"), join(d, "taken")], ["rmdir", join(d, "nobodydir")], ["create", join(d, "others"), 0o666]],
      }, { as: OTHER });
      assert.deepEqual(other, ["EPERM", "EPERM", "EPERM", "ok"]);
      const owner = pyOk<string[]>("ops", { ops: [["rename", join(d, "nobodys"), join(d, "renamed")], ["unlink", join(d, "renamed")], ["unlink", join(d, "others")]] }, { as: NOBODY });
      assert.deepEqual(owner, ["ok", "ok", "EPERM"]);
      fs.unlinkSync(join(d, "others"));
    }, { skip: opts.otherUsers ? false : "needs allow_other (otherUsers)" });

    t("set-group-ID directory: new entries inherit its group, subdirectories the bit", () => {
      const d = area("setgid");
      fs.chownSync(d, 0, 4321);
      fs.chmodSync(d, 0o2775);
      fs.writeFileSync(join(d, "f"), "");
      fs.mkdirSync(join(d, "sub"));
      assert.equal(fs.statSync(join(d, "f")).gid, 4321);
      const sub = fs.statSync(join(d, "sub"));
      assert.equal(sub.gid, 4321);
      assert.ok(sub.mode & 0o2000, "subdirectory inherits set-group-ID");
    });
  });

  describe("extended attributes and statfs", () => {
    t("set/get/list/remove; XATTR_CREATE, XATTR_REPLACE, ENODATA; binary and large values; tools", () => {
      const p = join(area("xattr"), "f");
      fs.writeFileSync(p, "");
      const big = Buffer.alloc(60000, 0xab).toString("hex");
      const r = pyOk<unknown[]>("xattr", {
        path: p,
        ops: [
          ["get", "user.none"], ["set", "user.a", "00ff0001", ""], ["get", "user.a"],
          ["set", "user.a", "01", "create"], ["set", "user.b", "01", "replace"], ["set", "user.a", "02", "replace"],
          ["get", "user.a"], ["set", "user.b", "", "create"], ["get", "user.b"], ["set", "user.big", big, ""],
          ["list"], ["remove", "user.a"], ["remove", "user.a"], ["list"],
        ],
      });
      assert.deepEqual(r.slice(0, 9), ["ENODATA", "ok", "00ff0001", "EEXIST", "ENODATA", "ok", "02", "ok", ""]);
      assert.equal(r[9], "ok");
      assert.deepEqual(r[10], ["user.a", "user.b", "user.big"]);
      assert.deepEqual(r.slice(11), ["ok", "ENODATA", ["user.b", "user.big"]]);
      assert.equal((pyOk<string[]>("xattr", { path: p, ops: [["get", "user.big"]] }))[0], big);
      execFileSync("setfattr", ["-n", "user.tool", "-v", "from setfattr", p]);
      const dump = execFileSync("getfattr", ["-d", "-m", "user\\.tool", p], { encoding: "utf8" });
      assert.match(dump, /user\.tool="from setfattr"/);
      // Directories carry xattrs too.
      execFileSync("setfattr", ["-n", "user.d", "-v", "dir", join(getMountpoint(), "xattr")]);
      assert.match(execFileSync("getfattr", ["-n", "user.d", join(getMountpoint(), "xattr")], { encoding: "utf8" }), /user\.d="dir"/);
    });

    t("statvfs and df report consistent numbers; usage grows with data", () => {
      const d = area("statfs");
      const s0 = pyOk<Record<string, number>>("statvfs", { path: d });
      assert.ok(s0.f_bsize! > 0 && s0.f_frsize! > 0 && s0.f_blocks! > 0);
      assert.ok(s0.f_bavail! <= s0.f_bfree! && s0.f_bfree! <= s0.f_blocks!);
      assert.ok(s0.f_ffree! <= s0.f_files!);
      assert.equal(s0.f_namemax, 255);
      const df = execFileSync("df", ["-P", d], { encoding: "utf8" });
      assert.match(df, new RegExp(getMountpoint().replace(/[.*+?^${}()|[\]\\]/g, "\\$&") + "\\s*$", "m"));
      if (opts.statfsTracksUsage !== false) {
        fs.writeFileSync(join(d, "f"), Buffer.alloc(8 << 20, 1));
        const s1 = pyOk<Record<string, number>>("statvfs", { path: d });
        assert.ok((s0.f_bfree! - s1.f_bfree!) * s1.f_frsize! >= 8 << 20, "8 MiB written are accounted");
      }
    });
  });

  describe("locks", () => {
    t("flock: exclusive and shared whole-file locks between processes", async () => {
      const p = join(area("flock"), "f");
      fs.writeFileSync(p, "");
      const holder = spawnPy("lockhold", { path: p, locks: [{ type: "flock", mode: "ex" }] });
      await holder.line(/^locked/);
      assert.deepEqual(pyOk("locktry", { path: p, locks: [{ type: "flock", mode: "ex" }, { type: "flock", mode: "sh" }] }), ["EAGAIN", "EAGAIN"]);
      // flock(1) agrees.
      assert.notEqual(code(() => execFileSync("flock", ["-n", p, "true"], { stdio: "ignore" })), "ok", "flock -n fails while held");
      await holder.finish();
      assert.deepEqual(pyOk("locktry", { path: p, locks: [{ type: "flock", mode: "ex" }] }), ["ok"]);
      execFileSync("flock", ["-n", p, "true"]);
      const shared = spawnPy("lockhold", { path: p, locks: [{ type: "flock", mode: "sh" }] });
      await shared.line(/^locked/);
      assert.deepEqual(pyOk("locktry", { path: p, locks: [{ type: "flock", mode: "sh" }, { type: "flock", mode: "ex" }] }), ["ok", "EAGAIN"]);
      await shared.finish();
    });

    t("fcntl byte-range locks: conflicts by range and type, F_GETLK, split on unlock, dropped on any close", async () => {
      const p = join(area("fcntl"), "f");
      fs.writeFileSync(p, Buffer.alloc(1000));
      const holder = spawnPy("lockhold", {
        path: p,
        locks: [{ type: "posix", kind: "w", start: 0, len: 100 }, { type: "posix", kind: "r", start: 200, len: 100 }],
        then: [{ type: "unlock", start: 40, len: 20 }, { type: "close-other-fd" }],
      });
      const pid = Number((await holder.line(/^locked/)).split(" ")[1]);
      const w = (start: number, len: number) => ({ type: "posix", kind: "w", start, len });
      const r = (start: number, len: number) => ({ type: "posix", kind: "r", start, len });
      const g = (kind: string, start: number, len: number) => ({ type: "getlk", kind, start, len });
      const res1 = pyOk<unknown[]>("locktry", { path: p, locks: [w(50, 10), r(99, 1), w(100, 100), r(250, 10), w(250, 10), g("w", 50, 10), g("r", 210, 5), g("w", 100, 50)] });
      assert.deepEqual(res1.slice(0, 5), ["EAGAIN", "EAGAIN", "ok", "ok", "EAGAIN"]);
      assert.deepEqual(res1[5], { type: "w", start: 0, len: 100, pid });
      assert.deepEqual(res1[6], { type: "u", start: 210, len: 5, pid: 0 }, "read locks do not block readers");
      assert.deepEqual(res1[7], { type: "u", start: 100, len: 50, pid: 0 });
      holder.send();
      await holder.line(/^done/);
      // [0,100) minus [40,60): the hole is free, both remaining pieces are still held.
      assert.deepEqual(pyOk("locktry", { path: p, locks: [w(45, 10), w(30, 5), w(70, 5)] }), ["ok", "EAGAIN", "EAGAIN"]);
      holder.send();
      await holder.line(/^done/);
      // Closing any descriptor of the file dropped all of the holder's locks.
      assert.deepEqual(pyOk("locktry", { path: p, locks: [w(0, 1000)] }), ["ok"]);
      await holder.finish();
    });

    t("F_SETLKW waits for the lock and is interrupted by a signal", async () => {
      const p = join(area("setlkw"), "f");
      fs.writeFileSync(p, "");
      const holder = spawnPy("lockhold", { path: p, locks: [{ type: "posix", kind: "w", start: 0, len: 0 }] });
      await holder.line(/^locked/);
      // A waiter that gets the lock once the holder lets go.
      const waiter = spawnPy("blocked", { path: p, op: "setlkw" });
      await waiter.line(/^waiting/);
      await new Promise((res) => setTimeout(res, 300));
      // A second waiter that is interrupted by a signal while blocked.
      const victim = spawnPy("blocked", { path: p, op: "setlkw" });
      const vpid = Number((await victim.line(/^waiting/)).split(" ")[1]);
      await new Promise((res) => setTimeout(res, 300));
      process.kill(vpid, "SIGUSR1");
      const vr = await victim.result();
      assert.equal((vr.ok as { result: string }).result, "interrupted");
      if (opts.interrupt) await opts.interrupt.interrupted("SETLKW", 5000);
      await holder.finish();
      const wr = await waiter.result();
      assert.equal((wr.ok as { result: string }).result, "acquired");
      assert.ok((wr.ok as { seconds: number }).seconds >= 0.5, "it waited for the holder");
    });
  });

  describe("mmap, O_DIRECT, fsx", () => {
    t("mmap: shared writes reach the file; write(2) data is seen through a mapping", () => {
      const p = join(area("mmap"), "f");
      const r = pyOk<{ same: boolean; mapped: string }>("mmap", { path: p, size: 3 * 65536 + 123, seed: 7 });
      assert.deepEqual(r, { same: true, mapped: "written-by-pwrite" });
      const r2 = pyOk<{ same: boolean }>("mmap", { path: join(area("mmap2"), "f"), size: 8192, seed: 9, msync: false });
      assert.equal(r2.same, true, "munmap and close without msync still write back");
    });

    t("O_DIRECT writes and reads with aligned buffers", () => {
      const p = join(area("odirect"), "f");
      const r = pyOk<{ written: number; read: number; same: boolean; buffered: boolean }>("odirect", { path: p, size: 1 << 20 });
      assert.deepEqual(r, { written: 1 << 20, read: 1 << 20, same: true, buffered: true });
      assert.equal(fs.statSync(p).size, 1 << 20);
    });

    t("fsx-style random operations match a model", () => {
      const p = join(area("fsx"), "f");
      const r = pyOk<{ failed?: string; counts: Record<string, number> }>("fsx", { path: p, seed: 20240601, ops: opts.fsxOps ?? 2000, maxSize: 1 << 20 });
      assert.equal(r.failed, undefined, JSON.stringify(r));
    }, { skip: opts.fsxOps === 0 ? "fsxOps is 0" : false, timeout: 120_000 });

    t("fio verify: random read/write (2 jobs), O_DIRECT and mmap engines", () => {
      const d = area("fio");
      const jobs: string[][] = [
        ["--name=randrw", "--rw=randrw", "--bsrange=512-64k", "--size=16m", "--numjobs=2", "--ioengine=psync"],
        ["--name=direct", "--rw=randwrite", "--bs=4k", "--size=8m", "--direct=1", "--ioengine=psync"],
        ["--name=mmap", "--rw=randwrite", "--bs=4k", "--size=8m", "--ioengine=mmap"],
      ];
      for (const job of jobs) {
        // No verify state files: fio would write them into its working directory.
        const out = execFileSync("fio", [...job, `--directory=${d}`, "--verify=crc32c", "--verify_fatal=1", "--do_verify=1", "--verify_state_save=0", "--fallocate=none", "--minimal"], { encoding: "utf8", timeout: 120_000, cwd: helperDir });
        // Terse output: field 5 is the job's error number.
        for (const line of out.trim().split("\n")) assert.equal(line.split(";")[4], "0", `fio ${job[0]}: ${line.slice(0, 200)}`);
      }
    }, { skip: hasTool("fio") ? false : "fio is not installed", timeout: 180_000 });
  });

  if (opts.interrupt) {
    const intr = opts.interrupt;
    describe("interrupts", () => {
      t("a blocked read is interrupted by a signal (FUSE INTERRUPT reaches the file system)", async () => {
        const p = join(area("interrupt"), "slow");
        fs.writeFileSync(p, "never read");
        intr.makeSlow(p);
        const reader = spawnPy("blocked", { path: p, op: "read" });
        const pid = Number((await reader.line(/^waiting/)).split(" ")[1]);
        await new Promise((res) => setTimeout(res, 300));
        process.kill(pid, "SIGUSR1");
        const r = await reader.result();
        assert.equal((r.ok as { result: string }).result, "interrupted");
        await intr.interrupted("READ", 5000);
      });
    });
  }
}
