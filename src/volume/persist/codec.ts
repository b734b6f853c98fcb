// Text encoding of volume records for journal and checkpoint objects (LAYOUT.md §3, §4).
// Every 64-bit value (inode numbers, sizes, times, segment numbers, offsets) is written as a
// decimal JSON *string*, so the text never holds a JSON number above 2^53 and plain JSON.parse
// is exact; decoders check every field and throw PersistFormatError naming what was wrong.
import type { Extent, ExtentDelta } from "../extent-map.js";
import type { DirEntryRecord, InodeRecord } from "../types.js";
import type { CommitRecord, Mutation } from "../volume-store.js";

export class PersistFormatError extends Error {
  override readonly name = "PersistFormatError";
  readonly code = "ERR_PERSIST_FORMAT";
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

const b = (v: bigint): string => v.toString();

export function big(v: unknown, what: string): bigint {
  if (typeof v !== "string" || !/^-?\d{1,20}$/.test(v)) throw new PersistFormatError(`${what}: expected a decimal string, got ${JSON.stringify(v)}`);
  return BigInt(v);
}
export function int(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new PersistFormatError(`${what}: expected an integer, got ${JSON.stringify(v)}`);
  return v;
}
export function str(v: unknown, what: string): string {
  if (typeof v !== "string") throw new PersistFormatError(`${what}: expected a string, got ${JSON.stringify(v)}`);
  return v;
}
export function obj(v: unknown, what: string): Obj {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PersistFormatError(`${what}: expected an object`);
  return v as Obj;
}
export function arr(v: unknown, what: string): Json[] {
  if (!Array.isArray(v)) throw new PersistFormatError(`${what}: expected an array`);
  return v;
}
/** JSON.parse that reports the object and line on failure (numbers in our text are all small). */
export function parseLine(line: string, where: string): Obj {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new PersistFormatError(`${where}: not JSON (${(err as Error).message})`);
  }
  return obj(v, where);
}

export function encodeInode(r: InodeRecord): Obj {
  const x: Obj = {
    ino: b(r.ino), mode: r.mode, uid: r.uid, gid: r.gid, nlink: r.nlink, size: b(r.size),
    at: b(r.atimeNs), mt: b(r.mtimeNs), ct: b(r.ctimeNs), crt: b(r.crtimeNs), rdev: r.rdev,
    nw: b(r.numWrites), parent: b(r.parent),
  };
  if (r.symlinkTarget !== "") x.target = r.symlinkTarget;
  if (r.xattrs.size > 0) x.xattrs = [...r.xattrs].map(([k, v]) => [k, Buffer.from(v).toString("base64")]);
  return x;
}

export function decodeInode(v: unknown, w: string): InodeRecord {
  const o = obj(v, w);
  const xattrs = new Map<string, Uint8Array>();
  if (o.xattrs !== undefined) {
    for (const [i, p] of arr(o.xattrs, `${w}.xattrs`).entries()) {
      const pair = arr(p, `${w}.xattrs[${i}]`);
      xattrs.set(str(pair[0], `${w}.xattrs[${i}] name`), new Uint8Array(Buffer.from(str(pair[1], `${w}.xattrs[${i}] value`), "base64")));
    }
  }
  return {
    ino: big(o.ino, `${w}.ino`), mode: int(o.mode, `${w}.mode`), uid: int(o.uid, `${w}.uid`), gid: int(o.gid, `${w}.gid`),
    nlink: int(o.nlink, `${w}.nlink`), size: big(o.size, `${w}.size`), atimeNs: big(o.at, `${w}.at`), mtimeNs: big(o.mt, `${w}.mt`),
    ctimeNs: big(o.ct, `${w}.ct`), crtimeNs: big(o.crt, `${w}.crt`), rdev: int(o.rdev, `${w}.rdev`), numWrites: big(o.nw, `${w}.nw`),
    parent: big(o.parent, `${w}.parent`), symlinkTarget: o.target === undefined ? "" : str(o.target, `${w}.target`), xattrs,
  };
}

/** An extent as [fileOffset, length, segment, segmentOffset]. */
export function encodeExtent(e: Extent): Json {
  return [b(e.fileOffset), b(e.length), b(e.segment), b(e.segmentOffset)];
}
export function decodeExtent(v: unknown, w: string): Extent {
  const a = arr(v, w);
  if (a.length !== 4) throw new PersistFormatError(`${w}: expected 4 fields, got ${a.length}`);
  return { fileOffset: big(a[0], w), length: big(a[1], w), segment: big(a[2], w), segmentOffset: big(a[3], w) };
}
const decodeExtents = (v: unknown, w: string): Extent[] => arr(v, w).map((e, i) => decodeExtent(e, `${w}[${i}]`));

export function encodeMutation(m: Mutation): Obj {
  switch (m.op) {
    case "putInode": return { op: "putInode", rec: encodeInode(m.rec) };
    case "deleteInode": return { op: "deleteInode", ino: b(m.ino) };
    case "putDirEntry": return { op: "putDirEntry", dir: b(m.dir), name: m.name, ino: b(m.entry.ino), type: m.entry.type };
    case "deleteDirEntry": return { op: "deleteDirEntry", dir: b(m.dir), name: m.name };
    case "createDir": return { op: "createDir", dir: b(m.dir) };
    case "deleteDir": return { op: "deleteDir", dir: b(m.dir) };
    case "extents": return { op: "extents", ino: b(m.ino), removed: m.delta.removed.map(encodeExtent), added: m.delta.added.map(encodeExtent) };
    case "deleteExtentMap": return { op: "deleteExtentMap", ino: b(m.ino) };
    case "putSegment": return { op: "putSegment", segment: b(m.segment), container: m.container };
    case "deleteSegment": return { op: "deleteSegment", segment: b(m.segment) };
    case "nonce": return { op: "nonce", next: b(m.next) };
  }
}

export function decodeMutation(v: unknown, w: string): Mutation {
  const o = obj(v, w);
  switch (o.op) {
    case "putInode": return { op: "putInode", rec: decodeInode(o.rec, `${w}.rec`) };
    case "deleteInode": return { op: "deleteInode", ino: big(o.ino, `${w}.ino`) };
    case "putDirEntry": {
      const entry: DirEntryRecord = { ino: big(o.ino, `${w}.ino`), type: int(o.type, `${w}.type`) };
      return { op: "putDirEntry", dir: big(o.dir, `${w}.dir`), name: str(o.name, `${w}.name`), entry };
    }
    case "deleteDirEntry": return { op: "deleteDirEntry", dir: big(o.dir, `${w}.dir`), name: str(o.name, `${w}.name`) };
    case "createDir": return { op: "createDir", dir: big(o.dir, `${w}.dir`) };
    case "deleteDir": return { op: "deleteDir", dir: big(o.dir, `${w}.dir`) };
    case "extents": {
      const delta: ExtentDelta = { removed: decodeExtents(o.removed, `${w}.removed`), added: decodeExtents(o.added, `${w}.added`) };
      return { op: "extents", ino: big(o.ino, `${w}.ino`), delta };
    }
    case "deleteExtentMap": return { op: "deleteExtentMap", ino: big(o.ino, `${w}.ino`) };
    case "putSegment": return { op: "putSegment", segment: big(o.segment, `${w}.segment`), container: str(o.container, `${w}.container`) };
    case "deleteSegment": return { op: "deleteSegment", segment: big(o.segment, `${w}.segment`) };
    case "nonce": return { op: "nonce", next: big(o.next, `${w}.next`) };
    default: throw new PersistFormatError(`${w}: unknown mutation op ${JSON.stringify(o.op)}`);
  }
}

/** One journal line: a committed transaction, or a nonce reservation. */
export type JournalEntry = { kind: "commit"; record: CommitRecord } | { kind: "reserve"; upTo: bigint };

export function encodeCommit(r: CommitRecord): string {
  return JSON.stringify({ op: r.op, m: r.mutations.map(encodeMutation) });
}
export function encodeReserve(upTo: bigint): string {
  return JSON.stringify({ reserve: b(upTo) });
}
export function decodeJournalLine(line: string, w: string): JournalEntry {
  const o = parseLine(line, w);
  if (o.reserve !== undefined) return { kind: "reserve", upTo: big(o.reserve, `${w}.reserve`) };
  const mutations = arr(o.m, `${w}.m`).map((m, i) => decodeMutation(m, `${w}.m[${i}]`));
  return { kind: "commit", record: { op: str(o.op, `${w}.op`), mutations } };
}
