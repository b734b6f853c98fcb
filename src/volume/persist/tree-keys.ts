// The key space of the checkpoint B+tree (LAYOUT.md §4): the whole state of a MemoryVolumeStore
// as one ordered set of string keys, each with a JSON value. Keys sort with plain JS string
// comparison; numbers are 16 lower-case hex digits so that order is numeric order:
//   d:<dir>              1                          the entry table of directory <dir> exists
//   d:<dir>:<name>       [ino, type]                a directory entry
//   e:<ino>:<fileOffset> [length, segment, segOff]  one extent of a file
//   i:<ino>              {inode}                    an inode record (codec.ts encodeInode)
//   s:<seg>              "container"                a log-segment record
//   u:<seg>              1                          a segment whose references fell to zero
// A table key sorts before its entries ("d:X" is a prefix of "d:X:..."), so loading records in key
// order creates every table before its entries. 64-bit values are decimal strings (codec.ts).
import type { Extent } from "../extent-map.js";
import type { MemoryVolumeStore } from "../memory-volume-store.js";
import type { Mutation, VolumeTxn } from "../volume-store.js";
import { PersistFormatError, arr, big, decodeInode, encodeInode, int, str } from "./codec.js";

const hx = (n: bigint): string => n.toString(16).padStart(16, "0");
const unhex = (s: string): bigint => BigInt(`0x${s}`);

export const inodeKey = (ino: bigint): string => `i:${hx(ino)}`;
export const tableKey = (dir: bigint): string => `d:${hx(dir)}`;
export const entryKey = (dir: bigint, name: string): string => `d:${hx(dir)}:${name}`;
export const extentKey = (ino: bigint, fileOffset: bigint): string => `e:${hx(ino)}:${hx(fileOffset)}`;
export const segmentKey = (seg: bigint): string => `s:${hx(seg)}`;
export const unrefKey = (seg: bigint): string => `u:${hx(seg)}`;
/** [lo, hi): every extent key of `ino`. */
export const extentRange = (ino: bigint): [string, string] => [`e:${hx(ino)}:`, `e:${hx(ino)};`];

/** Decoded form of a key; `undefined` for a key this layout does not know. */
export type ParsedKey =
  | { kind: "table"; dir: bigint }
  | { kind: "entry"; dir: bigint; name: string }
  | { kind: "extent"; ino: bigint; fileOffset: bigint }
  | { kind: "inode"; ino: bigint }
  | { kind: "segment"; seg: bigint }
  | { kind: "unref"; seg: bigint };

const H = "([0-9a-f]{16})";
const RE = {
  d: new RegExp(`^d:${H}(?::([^]*))?$`),
  e: new RegExp(`^e:${H}:${H}$`),
  i: new RegExp(`^i:${H}$`),
  s: new RegExp(`^s:${H}$`),
  u: new RegExp(`^u:${H}$`),
};

export function parseKey(key: string): ParsedKey | undefined {
  let m: RegExpExecArray | null;
  switch (key[0]) {
    case "d":
      if (!(m = RE.d.exec(key))) return undefined;
      return m[2] === undefined ? { kind: "table", dir: unhex(m[1]!) } : { kind: "entry", dir: unhex(m[1]!), name: m[2] };
    case "e": return (m = RE.e.exec(key)) ? { kind: "extent", ino: unhex(m[1]!), fileOffset: unhex(m[2]!) } : undefined;
    case "i": return (m = RE.i.exec(key)) ? { kind: "inode", ino: unhex(m[1]!) } : undefined;
    case "s": return (m = RE.s.exec(key)) ? { kind: "segment", seg: unhex(m[1]!) } : undefined;
    case "u": return (m = RE.u.exec(key)) ? { kind: "unref", seg: unhex(m[1]!) } : undefined;
    default: return undefined;
  }
}

/**
 * The keys changed since a checkpoint's cut, noted from committed mutations. Kept as numbers
 * (key strings are built only at the checkpoint): the commit hook runs on every transaction.
 * `deleteExtentMap` names the file in `wiped` instead (its persisted extent keys are found in
 * the tree at the checkpoint).
 */
export class DirtyKeys {
  readonly inodes = new Set<bigint>();
  readonly tables = new Set<bigint>();
  readonly entries = new Map<bigint, Set<string>>();
  readonly extents = new Map<bigint, Set<bigint>>();
  readonly segments = new Set<bigint>();
  readonly wiped = new Set<bigint>();

  note(m: Mutation): void {
    switch (m.op) {
      case "putInode": this.inodes.add(m.rec.ino); break;
      case "deleteInode": this.inodes.add(m.ino); break;
      case "putDirEntry": case "deleteDirEntry": {
        let names = this.entries.get(m.dir);
        if (names === undefined) this.entries.set(m.dir, (names = new Set()));
        names.add(m.name);
        break;
      }
      case "createDir": case "deleteDir": this.tables.add(m.dir); break;
      case "extents": {
        let offs = this.extents.get(m.ino);
        if (offs === undefined) this.extents.set(m.ino, (offs = new Set()));
        for (const e of m.delta.removed) offs.add(e.fileOffset);
        for (const e of m.delta.added) offs.add(e.fileOffset);
        break;
      }
      case "deleteExtentMap": this.wiped.add(m.ino); break;
      case "putSegment": case "deleteSegment": this.segments.add(m.segment); break;
      case "nonce": break; // the header's reservedNonce covers the sequence
    }
  }

  /** Adds everything `o` holds (the keys of a failed checkpoint go back). */
  addAll(o: DirtyKeys): void {
    for (const x of o.inodes) this.inodes.add(x);
    for (const x of o.tables) this.tables.add(x);
    for (const [d, names] of o.entries) for (const n of names) this.note({ op: "deleteDirEntry", dir: d, name: n });
    for (const [i, offs] of o.extents) {
      let mine = this.extents.get(i);
      if (mine === undefined) this.extents.set(i, (mine = new Set()));
      for (const x of offs) mine.add(x);
    }
    for (const x of o.segments) this.segments.add(x);
    for (const x of o.wiped) this.wiped.add(x);
  }

  /** The dirty keys as strings, except those of wiped files (the caller looks those up). */
  keys(out: Set<string>): void {
    for (const x of this.inodes) out.add(inodeKey(x));
    for (const x of this.tables) out.add(tableKey(x));
    for (const [d, names] of this.entries) for (const n of names) out.add(entryKey(d, n));
    for (const [i, offs] of this.extents) for (const x of offs) out.add(extentKey(i, x));
    for (const x of this.segments) out.add(segmentKey(x));
  }
}

/**
 * Current values of keys, read from the store at one instant (between transactions). Unchanged
 * keys of a rewritten page are re-read here too: a key not dirty since the last checkpoint has
 * the value that checkpoint wrote.
 */
export class StateReader {
  readonly #s: MemoryVolumeStore;
  readonly #unref: Set<bigint>;
  readonly #extents = new Map<bigint, Map<bigint, Extent>>();

  constructor(store: MemoryVolumeStore) {
    this.#s = store;
    this.#unref = new Set(store.unreferencedSegments());
  }

  get unreferenced(): ReadonlySet<bigint> {
    return this.#unref;
  }

  /** The record line `[key, value]` of `key`, or undefined when the key holds nothing now. */
  line(key: string): string | undefined {
    const v = this.value(key);
    return v === undefined ? undefined : JSON.stringify([key, v]);
  }

  value(key: string): unknown {
    const k = parseKey(key);
    if (k === undefined) return undefined;
    switch (k.kind) {
      case "inode": {
        const r = this.#s.getInode(k.ino);
        return r === undefined ? undefined : encodeInode(r);
      }
      case "table": return this.#s.dirs.has(k.dir) ? 1 : undefined;
      case "entry": {
        const e = this.#s.getDirEntry(k.dir, k.name);
        return e === undefined ? undefined : [e.ino.toString(), e.type];
      }
      case "extent": {
        // ExtentMap has no exact-offset lookup: index each touched file once per reader.
        let m = this.#extents.get(k.ino);
        if (m === undefined) {
          m = new Map();
          for (const x of this.#s.extentMap(k.ino).extents()) m.set(x.fileOffset, x);
          this.#extents.set(k.ino, m);
        }
        const x = m.get(k.fileOffset);
        return x === undefined ? undefined : [x.length.toString(), x.segment.toString(), x.segmentOffset.toString()];
      }
      case "segment": return this.#s.getSegment(k.seg);
      case "unref": return this.#unref.has(k.seg) ? 1 : undefined;
    }
  }

  /** Every record line of the state, sorted by key (a full rebuild). */
  allLines(): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const add = (k: string, v: unknown): void => {
      out.push([k, JSON.stringify([k, v])]);
    };
    const st = this.#s.exportState();
    for (const [dir, entries] of st.dirs) {
      add(tableKey(dir), 1);
      for (const [name, e] of entries) add(entryKey(dir, name), [e.ino.toString(), e.type]);
    }
    for (const [ino, map] of st.extentMaps) {
      for (const x of map.extents()) add(extentKey(ino, x.fileOffset), [x.length.toString(), x.segment.toString(), x.segmentOffset.toString()]);
    }
    for (const r of st.inodes) add(inodeKey(r.ino), encodeInode(r));
    for (const [seg, c] of st.segments) add(segmentKey(seg), c);
    for (const seg of this.#unref) add(unrefKey(seg), 1);
    out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return out;
  }
}

/**
 * Applies the records of one leaf page (in key order) to an open transaction. Records that
 * cannot apply (an entry without its table, a value that does not decode) are reported to
 * `problem` and skipped. Unreferenced segments are collected into `unref` (marked at the end).
 */
export function applyRecords(tx: VolumeTxn, records: ReadonlyArray<readonly [string, unknown]>, where: string, unref: bigint[], problem: (p: string) => void): void {
  let extIno: bigint | undefined;
  let ext: Extent[] = [];
  const flush = (): void => {
    if (extIno === undefined || ext.length === 0) return;
    const delta = { removed: [], added: ext };
    tx.updateExtents(extIno, (m) => {
      m.apply(delta);
      return delta;
    });
    ext = [];
  };
  for (const [key, v] of records) {
    const w = `${where} key ${JSON.stringify(key)}`;
    try {
      const k = parseKey(key);
      if (k === undefined) throw new PersistFormatError(`${w}: unknown key`);
      if (k.kind !== "extent" || k.ino !== extIno) {
        flush();
        extIno = k.kind === "extent" ? k.ino : undefined;
      }
      switch (k.kind) {
        case "table": tx.createDir(k.dir); break;
        case "entry": {
          const a = arr(v, w);
          tx.putDirEntry(k.dir, k.name, { ino: big(a[0], `${w} ino`), type: int(a[1], `${w} type`) });
          break;
        }
        case "extent": {
          const a = arr(v, w);
          if (a.length !== 3) throw new PersistFormatError(`${w}: expected [length, segment, segmentOffset]`);
          ext.push({ fileOffset: k.fileOffset, length: big(a[0], `${w} length`), segment: big(a[1], `${w} segment`), segmentOffset: big(a[2], `${w} segmentOffset`) });
          break;
        }
        case "inode": {
          const r = decodeInode(v, w);
          if (r.ino !== k.ino) throw new PersistFormatError(`${w}: holds inode ${r.ino}`);
          tx.putInode(r);
          break;
        }
        case "segment": tx.putSegment(k.seg, str(v, w)); break;
        case "unref": unref.push(k.seg); break;
      }
    } catch (err) {
      problem(`${w}: ${(err as Error).message}`);
    }
  }
  flush();
}
