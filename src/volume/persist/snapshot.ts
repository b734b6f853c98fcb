// Version-1 checkpoints: full paged snapshots of a MemoryVolumeStore (LAYOUT.md §2, "Version 1").
// This build writes copy-on-write B+tree pages instead (cow-tree.ts); loadPage still reads
// version-1 volumes at recovery (the next checkpoint rewrites them as a tree), and snapshotPages
// stays to create such volumes in tests. A snapshot is a sequence of JSON lines cut into pages of
// about `pageBytes`; lines never span pages, so pages load independently and in order. Line kinds:
//   {"t":"inode", ...inode}                   one inode record
//   {"t":"dir","dir":D}                        the (empty) entry table of directory D
//   {"t":"ents","dir":D,"e":[[name,ino,type],...]}   entries of D (a large directory spans lines)
//   {"t":"ext","ino":I,"e":[extent,...]}      extents of file I (may span lines)
//   {"t":"seg","s":S,"c":container}           a log-segment record
//   {"t":"unref","s":[S,...]}                  segments whose references dropped to zero
//   {"t":"nonce","next":N}                     the store's next nonce
import type { Extent } from "../extent-map.js";
import type { MemoryVolumeStore } from "../memory-volume-store.js";
import { PersistFormatError, arr, big, decodeExtent, decodeInode, encodeExtent, encodeInode, int, parseLine, str } from "./codec.js";

const CHUNK = 1000;

/** Serializes the store (synchronously: the state cannot change meanwhile) into pages. */
export function snapshotPages(store: MemoryVolumeStore, pageBytes: number): Buffer[] {
  const pages: Buffer[] = [];
  let lines: string[] = [];
  let bytes = 0;
  const emit = (o: unknown): void => {
    const l = JSON.stringify(o) + "\n";
    lines.push(l);
    bytes += l.length;
    if (bytes >= pageBytes) {
      pages.push(Buffer.from(lines.join(""), "utf8"));
      lines = [];
      bytes = 0;
    }
  };
  const s = store.exportState();
  for (const r of s.inodes) emit({ t: "inode", ...encodeInode(r) });
  for (const [dir, entries] of s.dirs) {
    emit({ t: "dir", dir: dir.toString() });
    let e: unknown[] = [];
    for (const [name, rec] of entries) {
      e.push([name, rec.ino.toString(), rec.type]);
      if (e.length >= CHUNK) {
        emit({ t: "ents", dir: dir.toString(), e });
        e = [];
      }
    }
    if (e.length > 0) emit({ t: "ents", dir: dir.toString(), e });
  }
  for (const [ino, map] of s.extentMaps) {
    let e: unknown[] = [];
    for (const x of map.extents()) {
      e.push(encodeExtent(x));
      if (e.length >= CHUNK) {
        emit({ t: "ext", ino: ino.toString(), e });
        e = [];
      }
    }
    if (e.length > 0) emit({ t: "ext", ino: ino.toString(), e });
  }
  for (const [seg, c] of s.segments) emit({ t: "seg", s: seg.toString(), c });
  if (s.unreferenced.length > 0) emit({ t: "unref", s: s.unreferenced.map(String) });
  emit({ t: "nonce", next: s.nextNonce.toString() });
  if (lines.length > 0) pages.push(Buffer.from(lines.join(""), "utf8"));
  return pages;
}

/**
 * Loads one page into `store` (which must hold nothing the page repeats) as one transaction;
 * the caller suppresses journaling meanwhile. Returns the unreferenced segments and nonce seen.
 */
export function loadPage(store: MemoryVolumeStore, page: Buffer, where: string, out: { unreferenced: bigint[]; nextNonce: bigint }): void {
  const text = page.toString("utf8");
  const tx = store.begin("loadCheckpoint");
  try {
    let n = 0;
    for (const line of text.split("\n")) {
      n++;
      if (line === "") continue;
      const w = `${where} line ${n}`;
      const o = parseLine(line, w);
      switch (o.t) {
        case "inode": tx.putInode(decodeInode(o, w)); break;
        case "dir": tx.createDir(big(o.dir, `${w}.dir`)); break;
        case "ents": {
          const dir = big(o.dir, `${w}.dir`);
          for (const [i, x] of arr(o.e, `${w}.e`).entries()) {
            const a = arr(x, `${w}.e[${i}]`);
            tx.putDirEntry(dir, str(a[0], `${w}.e[${i}] name`), { ino: big(a[1], `${w}.e[${i}] ino`), type: int(a[2], `${w}.e[${i}] type`) });
          }
          break;
        }
        case "ext": {
          const added: Extent[] = arr(o.e, `${w}.e`).map((x, i) => decodeExtent(x, `${w}.e[${i}]`));
          const delta = { removed: [], added };
          tx.updateExtents(big(o.ino, `${w}.ino`), (m) => {
            m.apply(delta);
            return delta;
          });
          break;
        }
        case "seg": tx.putSegment(big(o.s, `${w}.s`), str(o.c, `${w}.c`)); break;
        case "unref": for (const [i, s] of arr(o.s, `${w}.s`).entries()) out.unreferenced.push(big(s, `${w}.s[${i}]`)); break;
        case "nonce": out.nextNonce = big(o.next, `${w}.next`); break;
        default: throw new PersistFormatError(`${w}: unknown line kind ${JSON.stringify(o.t)}`);
      }
    }
    tx.commit();
  } catch (err) {
    tx.abort();
    throw err;
  }
}
