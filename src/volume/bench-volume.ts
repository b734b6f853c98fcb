// Measures the in-process Volume: creates/s, lookups/s, getattr/s, readdir entries/s,
// unlinks/s, Wrote extents/s. Run: node <outDir>/src/volume/bench-volume.js [files]

import { ROOT_CALLER, Volume } from "./index.js";

function rate(label: string, n: number, fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const r = n / s;
  console.log(`${label.padEnd(34)} ${String(n).padStart(8)} ops  ${s.toFixed(3)} s  ${Math.round(r).toLocaleString("en-US").padStart(12)} ops/s`);
  return r;
}

export function benchVolume(n: number): Record<string, number> {
  const v = new Volume();
  const c = { uid: 1000, gid: 1000 };
  const d = v.mkdir(ROOT_CALLER, 1n, "big", 0o777).ino;
  const names = Array.from({ length: n }, (_, i) => `file_${i.toString(36)}_${(i * 2654435761) % 1000003}`);
  const out: Record<string, number> = {};
  out["create"] = rate("create (one directory)", n, () => {
    for (const name of names) v.create(c, d, name, 0o644);
  });
  const order = names.map((_, i) => names[(i * 7919) % n]!);
  out["lookup"] = rate("lookup (random order, plus attrs)", n, () => {
    for (const name of order) v.lookup(c, d, name);
  });
  const inos = order.map((name) => v.lookup(c, d, name).ino);
  out["getattr"] = rate("getattr", n, () => {
    for (const ino of inos) v.getattr(ino);
  });
  out["readdir"] = rate("readdirByLoc entries (batches of 164)", n + 2, () => {
    let prev = -1n;
    for (;;) {
      const b = v.readdirByLoc(c, d, prev, 164);
      if (b.length === 0) break;
      prev = b[b.length - 1]!.nextLoc - 1n;
    }
  });
  const seg = v.provisionObject();
  out["wrote"] = rate("wrote (one 64 KiB extent each)", n, () => {
    for (let i = 0; i < n; i++) {
      v.wrote(ROOT_CALLER, inos[i % inos.length]!, { containerName: seg.containerName, objectName: seg.objectName, extents: [{ fileOffset: BigInt(i >> 4) * 65536n, objectOffset: BigInt(i) * 65536n, length: 65536n }] });
    }
  });
  const dirs = Array.from({ length: 100 }, (_, i) => v.mkdir(ROOT_CALLER, 1n, `d${i}`, 0o777).ino);
  out["create100"] = rate("create (100 directories)", n, () => {
    for (let i = 0; i < n; i++) v.create(c, dirs[i % 100]!, `f${i}`, 0o644);
  });
  out["unlink"] = rate("unlink (one directory)", n, () => {
    for (const name of names) v.unlink(c, d, name);
  });
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  benchVolume(Number(process.argv[2] ?? 200_000));
}
