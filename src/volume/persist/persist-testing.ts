// Test helpers for persist/: a canonical text dump of a store's whole state (two stores hold the
// same state exactly when their dumps are equal) and an object store wrapper counting PUTs.
import type { ObjectStore, PutBody, PutOptions, PutResult } from "../../objstore/index.js";
import type { MemoryVolumeStore } from "../memory-volume-store.js";
import { encodeExtent, encodeInode } from "./codec.js";

export function dumpState(store: MemoryVolumeStore): string {
  const s = store.exportState();
  const out: string[] = [];
  for (const r of [...s.inodes].sort((a, b) => (a.ino < b.ino ? -1 : 1))) out.push(JSON.stringify(encodeInode(r)));
  for (const [d, es] of [...s.dirs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out.push(`dir ${d}: ${[...es].map(([n, e]) => `${n}=${e.ino}/${e.type}`).join(",")}`);
  // An empty extent map reads as none (extentMap() returns an empty one), and is not persisted.
  for (const [i, m] of [...s.extentMaps].filter(([, m]) => m.count > 0).sort((a, b) => (a[0] < b[0] ? -1 : 1))) out.push(`ext ${i}: ${JSON.stringify([...m.extents()].map(encodeExtent))}`);
  for (const [g, c] of [...s.segments].sort((a, b) => (a[0] < b[0] ? -1 : 1))) out.push(`seg ${g} ${c} refs ${store.segmentRefBytes(g)}`);
  out.push(`unref ${[...s.unreferenced].sort().join(",")}`);
  return out.join("\n");
}

/** Counts putObject calls per container (and can add latency). */
export function countingStore(inner: ObjectStore, putDelayMs = 0): ObjectStore & { puts: Map<string, number> } {
  const puts = new Map<string, number>();
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "puts") return puts;
      if (prop === "putObject") {
        return (c: string, n: string, b: PutBody, o?: PutOptions): Promise<PutResult> => {
          puts.set(c, (puts.get(c) ?? 0) + 1);
          if (putDelayMs === 0) return target.putObject(c, n, b, o);
          return new Promise((r) => setTimeout(r, putDelayMs)).then(() => target.putObject(c, n, b, o));
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as ObjectStore & { puts: Map<string, number> };
}
