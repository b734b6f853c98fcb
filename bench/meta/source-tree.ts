// A deterministic, source-tree-like tarball for bench:meta's untar and git workloads.
//
// Made from a seeded PRNG (same seed and scale, same bytes), written straight to a ustar file:
// no scratch tree on disk, and fixed owners and times keep the archive identical across runs.
// Shape, at scale 1 (counts scale linearly; --scale 0.2 gives a fifth):
//   ~400 directories nested up to 7 deep (a new directory's parent is drawn among the existing
//     ones, shallow ones first, so a few big top-level folders fan out into many small ones);
//   ~3,500 regular files: mostly small text files (lognormal sizes, median ~4 KiB, some empty),
//     ~140 of 32-160 KiB, and ~18 large binary files (0.5-2 MiB, random bytes,
//     like images or archives checked in), about 50 MB in all;
//   ~100 relative symlinks to files elsewhere in the tree.
import { closeSync, openSync, writeSync } from "node:fs";
import { posix } from "node:path";
import { Prng } from "../../src/base/testing/prng.js";

export interface TreeStats {
  dirs: number;
  files: number;
  symlinks: number;
  bytes: number;
}

interface Dir {
  path: string;
  depth: number;
  children: Dir[];
  entries: Array<{ kind: "file"; path: string; size: number; binary: boolean } | { kind: "symlink"; path: string; target: string }>;
}

const WORDS = [
  "core", "util", "net", "io", "fs", "api", "cmd", "lib", "test", "doc", "proto", "server", "client", "cache", "store",
  "index", "parse", "format", "config", "auth", "log", "metrics", "queue", "pool", "buffer", "stream", "crypto", "hash",
  "tree", "map", "list", "node", "edge", "graph", "layout", "render", "view", "model", "event", "signal", "timer", "task",
];
const EXTS = [".c", ".h", ".ts", ".js", ".py", ".go", ".md", ".json", ".txt", ".rs", ".java", ".yaml"];
const BIN_EXTS = [".png", ".jar", ".gz", ".bin", ".pdf"];
const MAX_DEPTH = 7;
const MIB = 1 << 20;

/** Builds the tree in memory (names, sizes, link targets); no content yet. */
function planTree(rng: Prng, scale: number): { root: Dir; stats: TreeStats } {
  const root: Dir = { path: "src", depth: 0, children: [], entries: [] };
  const dirs = [root];
  const nDirs = Math.max(1, Math.round(400 * scale));
  for (let i = 1; i < nDirs; i++) {
    // Square of a uniform number: favours early (shallow) directories as parents.
    let parent = dirs[Math.floor(rng.next() ** 2 * dirs.length)]!;
    if (parent.depth >= MAX_DEPTH) parent = root;
    const d: Dir = { path: `${parent.path}/${rng.pick(WORDS)}${i}`, depth: parent.depth + 1, children: [], entries: [] };
    parent.children.push(d);
    dirs.push(d);
  }
  const stats: TreeStats = { dirs: nDirs, files: 0, symlinks: 0, bytes: 0 };
  const files: string[] = [];
  const nFiles = Math.round(3500 * scale);
  for (let i = 0; i < nFiles; i++) {
    const dir = rng.pick(dirs);
    const { size, binary } = fileSize(rng);
    const path = `${dir.path}/${rng.pick(WORDS)}_${i}${binary ? rng.pick(BIN_EXTS) : rng.pick(EXTS)}`;
    dir.entries.push({ kind: "file", path, size, binary });
    files.push(path);
    stats.files++;
    stats.bytes += size;
  }
  const nLinks = Math.round(100 * scale);
  for (let i = 0; i < nLinks && files.length > 0; i++) {
    const dir = rng.pick(dirs);
    const target = posix.relative(dir.path, rng.pick(files));
    dir.entries.push({ kind: "symlink", path: `${dir.path}/link_${i}`, target });
    stats.symlinks++;
  }
  return { root, stats };
}

/** Sizes like a source tree: 3% empty, ~92% small text, 4% medium text, 0.5% large binaries. */
function fileSize(rng: Prng): { size: number; binary: boolean } {
  const r = rng.next();
  if (r < 0.03) return { size: 0, binary: false };
  if (r < 0.955) {
    // Lognormal, median 4 KiB, sigma 1 (Box-Muller), capped at 64 KiB.
    const z = Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
    return { size: Math.min(64 * 1024, Math.round(4096 * Math.exp(z))), binary: false };
  }
  if (r < 0.995) return { size: rng.range(32 * 1024, 160 * 1024), binary: false };
  return { size: rng.range(MIB / 2, 2 * MIB), binary: true };
}

/** Pseudo source text: indented lines of words (compresses like code, so git's zlib work is realistic). */
function textContent(rng: Prng, size: number): Buffer {
  const out = Buffer.allocUnsafe(size);
  let n = 0;
  while (n < size) {
    const indent = "  ".repeat(rng.int(4));
    let line = indent;
    const words = 2 + rng.int(9);
    for (let w = 0; w < words; w++) line += (w ? " " : "") + rng.pick(WORDS) + (rng.chance(0.2) ? String(rng.int(1000)) : "");
    line += rng.chance(0.3) ? ";\n" : "\n";
    n += out.write(line, n, "latin1");
  }
  return out;
}

function binaryContent(rng: Prng, size: number): Buffer {
  const out = Buffer.allocUnsafe(size + 3);
  for (let i = 0; i < size; i += 4) out.writeUInt32LE((rng.next() * 0x100000000) >>> 0, i);
  return out.subarray(0, size);
}

// ---- ustar ----

const MTIME = Math.floor(Date.UTC(2024, 0, 1) / 1000);

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** One 512-byte ustar header; paths must fit the 100-byte name field (planTree keeps them short). */
function header(path: string, type: "0" | "2" | "5", mode: number, size: number, linkName = ""): Buffer {
  if (Buffer.byteLength(path) > 99 || Buffer.byteLength(linkName) > 99) throw new Error(`tar path too long: ${path} -> ${linkName}`);
  const h = Buffer.alloc(512);
  h.write(path, 0, "utf8");
  h.write(octal(mode, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(MTIME, 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(type, 156, "latin1");
  h.write(linkName, 157, "utf8");
  h.write("ustar\u000000", 257, "latin1");
  h.write("root", 265, "latin1");
  h.write("root", 297, "latin1");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

/** Writes the tarball to `file`; same (seed, scale), same bytes. */
export function writeSourceTarball(file: string, seed: number, scale: number): TreeStats {
  const rng = new Prng(seed);
  const { root, stats } = planTree(rng, scale);
  const fd = openSync(file, "w");
  const put = (b: Buffer): void => {
    for (let off = 0; off < b.length; ) off += writeSync(fd, b, off);
  };
  // Depth first, as `tar -c` of a real tree would order it: a directory, its entries, its subdirectories.
  const walk = (d: Dir): void => {
    put(header(`${d.path}/`, "5", 0o755, 0));
    for (const e of d.entries) {
      if (e.kind === "symlink") {
        put(header(e.path, "2", 0o777, 0, e.target));
        continue;
      }
      put(header(e.path, "0", 0o644, e.size));
      put(e.binary ? binaryContent(rng, e.size) : textContent(rng, e.size));
      if (e.size % 512) put(Buffer.alloc(512 - (e.size % 512)));
    }
    for (const c of d.children) walk(c);
  };
  try {
    walk(root);
    put(Buffer.alloc(1024));
  } finally {
    closeSync(fd);
  }
  return stats;
}
