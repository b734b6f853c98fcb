// fsck of a persistent volume: loads the state as recovery would (which checks the checkpoint
// B+tree: every page present and parsable, levels, key order, separators, no page referenced
// twice, header counts) and checks references and counters. Problems are things that make the
// state inconsistent; orphans are leftovers that only waste space. With `repair`, the simple
// cases are fixed and a checkpoint written:
//   dangling directory entry (target inode missing) -> entry removed;
//   wrong nlink -> set to the counted value;
//   unlinked inode (nlink 0, no entry: a crash between Unlink and Destroy) -> destroyed;
//   orphan log-segment object (no segment record) / orphan metadata object (a checkpoint page
//   the tree does not reach, a stale journal batch) -> deleted;
//   a damaged tree (violated invariants) -> rewritten whole by the repair's checkpoint.
// Missing log-segment objects, unreachable linked inodes and wrong segment counters are reported
// only (they need a person to decide).
import { ObjectStoreError, listAllObjects, type ObjectStore } from "../../objstore/index.js";
import { DT_DIR, ROOT_INO, dtOf, isDir, isReg, type InodeRecord } from "../types.js";
import { hex16 } from "../volume.js";
import { HEADER_OBJECT, parseName } from "./layout.js";
import { PersistentVolume, type PersistOptions } from "./persistent-volume.js";

export interface FsckOptions extends Omit<PersistOptions, "readOnly" | "autoFormat"> {
  repair?: boolean;
  /** Progress lines ("loaded 1200/5400 pages", "checked 10000/52311 inodes"). */
  progress?: (line: string) => void;
  /** Minimum time between two progress lines of one phase (default 1000 ms; 0 = every step). */
  progressIntervalMs?: number;
}

export interface FsckReport {
  inodes: number;
  directories: number;
  entries: number;
  segments: number;
  problems: string[];
  orphans: string[];
  repaired: string[];
  /** No problems and no orphans left (after repair, when asked). */
  clean: boolean;
}

export async function fsck(o: FsckOptions): Promise<FsckReport> {
  const progress = o.progress ?? (() => {});
  const every = o.progressIntervalMs ?? 1000;
  let last = Date.now();
  /** A line at most every `every` ms (plus every phase's final line, sent directly). */
  const tick = (line: () => string): void => {
    const now = Date.now();
    if (now - last < every) return;
    last = now;
    progress(line());
  };
  const repair = o.repair === true;
  progress(`loading ${o.objectStore.description} ${o.containerPrefix ?? "proxyfs_"}meta`);
  const pv = await PersistentVolume.open({
    ...o, readOnly: !repair, autoFormat: false,
    loadProgress: (n, total, inodes) => tick(() => `loaded ${n}/${total} pages, ${inodes} inodes`),
  });
  const store = pv.store;
  const r: FsckReport = { inodes: 0, directories: 0, entries: 0, segments: 0, problems: [], orphans: [], repaired: [], clean: false };
  const h = pv.header;
  progress(`loaded ${h.version === 1 ? h.v1Pages.length : h.pageCount} pages (tree height ${h.height}, ${h.records} records), ${store.inodeCount()} inodes`);
  for (const p of pv.loadProblems) r.problems.push(`checkpoint tree: ${p}`);
  if (repair && pv.loadProblems.length > 0) r.repaired.push(`rewrote the checkpoint tree (${pv.livePages().length} pages)`);
  const fixes: Array<() => void> = [];
  const pending: Promise<void>[] = [];

  // Pass 1: inodes and directory tables.
  const inodes = new Map<bigint, InodeRecord>();
  const state = store.exportState();
  for (const rec of state.inodes) inodes.set(rec.ino, rec);
  r.inodes = inodes.size;
  const links = new Map<bigint, number>();
  const subdirs = new Map<bigint, number>();
  const tables = new Set<bigint>();
  let n = 0;
  for (const [dir, entries] of state.dirs) {
    tables.add(dir);
    r.directories++;
    const d = inodes.get(dir);
    if (d === undefined || !isDir(d.mode)) r.problems.push(`directory table ${dir} has no directory inode`);
    for (const [name, e] of entries) {
      r.entries++;
      const t = inodes.get(e.ino);
      if (t === undefined) {
        r.problems.push(`entry ${JSON.stringify(name)} in directory ${dir} points to missing inode ${e.ino}`);
        fixes.push(() => {
          const tx = store.begin("fsckRemoveEntry");
          tx.deleteDirEntry(dir, name);
          tx.commit();
          r.repaired.push(`removed entry ${JSON.stringify(name)} from directory ${dir}`);
        });
        continue;
      }
      if (dtOf(t.mode) !== e.type) r.problems.push(`entry ${JSON.stringify(name)} in directory ${dir} has type ${e.type}, inode ${e.ino} is type ${dtOf(t.mode)}`);
      links.set(e.ino, (links.get(e.ino) ?? 0) + 1);
      if (e.type === DT_DIR) {
        subdirs.set(dir, (subdirs.get(dir) ?? 0) + 1);
        if (t.parent !== dir) r.problems.push(`directory ${e.ino} is entry ${JSON.stringify(name)} of ${dir} but its ".." is ${t.parent}`);
      }
      if (++n % 1000 === 0) tick(() => `checked ${n} directory entries`);
    }
  }
  progress(`checked ${r.entries} entries in ${r.directories} directories`);

  // Pass 2: link counts, reachability, extent maps.
  const segRefs = new Map<bigint, bigint>();
  n = 0;
  for (const rec of inodes.values()) {
    const dir = isDir(rec.mode);
    const counted = links.get(rec.ino) ?? 0;
    if (dir && !tables.has(rec.ino)) r.problems.push(`directory inode ${rec.ino} has no entry table`);
    let expected: number;
    if (dir) expected = 2 + (subdirs.get(rec.ino) ?? 0);
    else expected = counted;
    if (rec.ino !== ROOT_INO && counted === 0) {
      if (rec.nlink === 0 && !dir) {
        r.orphans.push(`inode ${rec.ino} is unlinked (nlink 0) but not destroyed`);
        fixes.push(() => {
          const tx = store.begin("fsckDestroy");
          tx.deleteExtentMap(rec.ino);
          tx.deleteInode(rec.ino);
          tx.commit();
          r.repaired.push(`destroyed unlinked inode ${rec.ino}`);
        });
        continue;
      }
      r.problems.push(`inode ${rec.ino} (nlink ${rec.nlink}) is not reachable from any directory`);
      continue;
    }
    if (rec.nlink !== expected) {
      r.problems.push(`inode ${rec.ino} has nlink ${rec.nlink}, counted ${expected}`);
      fixes.push(() => {
        const cur = store.getInode(rec.ino);
        if (cur === undefined) return;
        const tx = store.begin("fsckNlink");
        tx.putInode({ ...cur, nlink: expected });
        tx.commit();
        r.repaired.push(`set nlink of inode ${rec.ino} to ${expected}`);
      });
    }
    if (isReg(rec.mode)) {
      for (const [seg, bytes] of store.extentMap(rec.ino).segmentBytes) segRefs.set(seg, (segRefs.get(seg) ?? 0n) + bytes);
    }
    if (++n % 1000 === 0) tick(() => `checked ${n}/${inodes.size} inodes`);
  }
  progress(`checked ${inodes.size} inodes`);

  // Pass 3: log segments: records, counters, objects.
  const segments = new Map<bigint, string>(state.segments);
  r.segments = segments.size;
  for (const [seg, bytes] of segRefs) {
    if (seg === 0n) continue;
    if (store.segmentRefBytes(seg) !== bytes) r.problems.push(`segment ${hex16(seg)}: stored reference bytes ${store.segmentRefBytes(seg)}, counted ${bytes}`);
    if (!segments.has(seg)) r.problems.push(`segment ${hex16(seg)} is referenced by extents but has no segment record`);
  }
  const byContainer = new Map<string, Set<string>>();
  for (const [seg, c] of segments) {
    let s = byContainer.get(c);
    if (s === undefined) byContainer.set(c, (s = new Set()));
    s.add(hex16(seg));
  }
  let listed = 0;
  for (const [c, names] of byContainer) {
    const present = new Set<string>();
    try {
      for await (const e of listAllObjects(o.objectStore, c)) {
        if (e.kind !== "object") continue;
        present.add(e.name);
        if (!names.has(e.name) && /^[0-9A-F]{16}$/.test(e.name)) {
          r.orphans.push(`log segment object ${c}/${e.name} has no segment record`);
          fixes.push(() => queueDelete(pending, o.objectStore, c, e.name, r));
        }
        if (++listed % 1000 === 0) tick(() => `listed ${listed} log-segment objects`);
      }
    } catch (err) {
      if (!ObjectStoreError.is(err, "NotFound")) throw err;
    }
    for (const name of names) {
      const seg = BigInt(`0x${name}`);
      if (!present.has(name) && (segRefs.get(seg) ?? 0n) > 0n) r.problems.push(`segment ${c}/${name} is referenced (${segRefs.get(seg)} bytes) but the object is missing`);
    }
  }
  progress(`checked ${segments.size} segments in ${byContainer.size} containers`);

  // Pass 4: metadata objects the checkpoint does not need (pages the tree does not reach, ...).
  const keep = new Set(pv.livePages());
  for await (const e of listAllObjects(o.objectStore, pv.container)) {
    if (e.kind !== "object" || e.name === HEADER_OBJECT || keep.has(e.name)) continue;
    const p = parseName(e.name);
    if (p?.kind === "journal" && p.epoch === h.journalEpoch && p.seq >= h.journalSeq) continue;
    r.orphans.push(`metadata object ${pv.container}/${e.name} is not used by the checkpoint${p?.kind === "page" ? " (a page the tree does not reach)" : ""}`);
    fixes.push(() => queueDelete(pending, o.objectStore, pv.container, e.name, r));
  }

  if (repair && fixes.length > 0) {
    progress(`repairing ${fixes.length} items`);
    for (const f of fixes) f();
    await Promise.all(pending);
    await pv.checkpoint();
  }
  await pv.close();
  r.clean = repair ? r.problems.every((p) => !isUnfixable(p)) : r.problems.length === 0 && r.orphans.length === 0;
  return r;
}

function queueDelete(pending: Promise<void>[], os: ObjectStore, c: string, name: string, r: FsckReport): void {
  pending.push(os.deleteObject(c, name).then(() => { r.repaired.push(`deleted ${c}/${name}`); }, (err) => {
    if (!ObjectStoreError.is(err, "NotFound")) throw err;
  }));
}

function isUnfixable(p: string): boolean {
  return !/points to missing inode|has nlink|^checkpoint tree: /.test(p);
}
