// Encoders for the reply bodies the session sends: entry_out, attr_out, statfs, dirents.
// Pure functions over handler-level types; no I/O.
import type { Attr, DirEntry, Entry, NegativeEntry, StatfsReply } from "../handler.js";
import { ATTR_OUT_SIZE, AttrOutHead, DirentHead, ENTRY_OUT_SIZE, EntryOutHead, FuseAttr, Kstatfs } from "./kernel.js";

const NS_PER_SEC = 1_000_000_000n;

/** Splits a millisecond TTL into the kernel's (seconds, nanoseconds) pair. */
export function ttlParts(ms: number): [bigint, number] {
  if (!(ms > 0)) return [0n, 0];
  const whole = Math.floor(ms / 1000);
  return [BigInt(whole), Math.round((ms - whole * 1000) * 1e6)];
}

export function encodeAttrInto(attr: Attr, buf: Buffer, offset: number): number {
  return FuseAttr.encodeInto({
    ino: attr.ino, size: attr.size, blocks: attr.blocks,
    atime: attr.atimeNs / NS_PER_SEC, atimensec: Number(attr.atimeNs % NS_PER_SEC),
    mtime: attr.mtimeNs / NS_PER_SEC, mtimensec: Number(attr.mtimeNs % NS_PER_SEC),
    ctime: attr.ctimeNs / NS_PER_SEC, ctimensec: Number(attr.ctimeNs % NS_PER_SEC),
    mode: attr.mode, nlink: attr.nlink, uid: attr.uid, gid: attr.gid, rdev: attr.rdev, blksize: attr.blksize,
  }, buf, offset);
}

export function encodeEntryInto(entry: Entry | NegativeEntry, defaults: { entryTtlMs: number; attrTtlMs: number }, buf: Buffer, offset: number): number {
  if (!("attr" in entry)) {
    const [es, ens] = ttlParts(entry.entryTtlMs);
    EntryOutHead.encodeInto({ entryValid: es, entryValidNsec: ens }, buf, offset);
    buf.fill(0, offset + EntryOutHead.size, offset + ENTRY_OUT_SIZE);
    return offset + ENTRY_OUT_SIZE;
  }
  const [es, ens] = ttlParts(entry.entryTtlMs ?? defaults.entryTtlMs);
  const [as, ans] = ttlParts(entry.attrTtlMs ?? defaults.attrTtlMs);
  EntryOutHead.encodeInto({
    nodeid: entry.nodeid ?? entry.attr.ino, generation: entry.generation ?? 0n,
    entryValid: es, entryValidNsec: ens, attrValid: as, attrValidNsec: ans,
  }, buf, offset);
  return encodeAttrInto(entry.attr, buf, offset + EntryOutHead.size);
}

export function encodeEntry(entry: Entry | NegativeEntry, defaults: { entryTtlMs: number; attrTtlMs: number }): Buffer {
  const buf = Buffer.allocUnsafe(ENTRY_OUT_SIZE);
  encodeEntryInto(entry, defaults, buf, 0);
  return buf;
}

export function encodeAttrOut(attr: Attr, ttlMs: number): Buffer {
  const buf = Buffer.allocUnsafe(ATTR_OUT_SIZE);
  const [s, ns] = ttlParts(ttlMs);
  AttrOutHead.encodeInto({ attrValid: s, attrValidNsec: ns }, buf, 0);
  encodeAttrInto(attr, buf, AttrOutHead.size);
  return buf;
}

export function encodeStatfs(st: StatfsReply): Buffer {
  return Kstatfs.encode(st);
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * Packs entries into at most `size` bytes of fuse_dirent (or fuse_direntplus) records.
 * Returns the buffer and how many entries fitted: only those were handed to the kernel.
 */
export function packDirents(entries: DirEntry[], size: number, plus: boolean, defaults: { entryTtlMs: number; attrTtlMs: number }): { data: Buffer; count: number } {
  const buf = Buffer.alloc(size);
  let at = 0;
  let count = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, "utf8");
    const head = plus ? ENTRY_OUT_SIZE + DirentHead.size : DirentHead.size;
    const rec = align8(head + name.length);
    if (at + rec > size) break;
    if (plus) {
      if (e.entry) encodeEntryInto(e.entry, defaults, buf, at);
      // An entry without attributes (or "."/"..") is sent with nodeid 0: the kernel skips it.
      else buf.fill(0, at, at + ENTRY_OUT_SIZE);
    }
    const d = at + (plus ? ENTRY_OUT_SIZE : 0);
    DirentHead.encodeInto({ ino: e.ino, off: e.offset, namelen: name.length, type: e.type }, buf, d);
    name.copy(buf, d + DirentHead.size);
    at += rec;
    count++;
  }
  return { data: buf.subarray(0, at), count };
}
