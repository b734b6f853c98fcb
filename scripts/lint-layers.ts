// Enforces the layering rule of ARCHITECTURE.md on every import in src/:
//   base <- fuse, objstore, rpc, proto <- volume, agent <- cmd
// A folder may import only itself and the folders listed for it below; nothing imports cmd/.
// Test files (*.test.ts) may also import test helpers in the same layer's testing/ folder.
// Exits 1 and names every offending import.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repo = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(repo, "src");

const allowed: Record<string, string[]> = {
  base: [],
  fuse: ["base"],
  objstore: ["base"],
  rpc: ["base"],
  proto: ["base", "rpc"],
  volume: ["base", "objstore", "rpc", "proto"],
  agent: ["base", "fuse", "objstore", "rpc", "proto"],
  cmd: ["base", "fuse", "objstore", "rpc", "proto", "volume", "agent"],
};

function walk(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
}

const files: string[] = [];
walk(src, files);
const problems: string[] = [];
const importRe = /(?:import|export)\s[^'"]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

for (const file of files) {
  const rel = relative(src, file);
  const layer = rel.split("/")[0]!;
  if (!(layer in allowed)) {
    problems.push(`${rel}: folder "${layer}" is not a known layer (add it to scripts/lint-layers.ts)`);
    continue;
  }
  const text = readFileSync(file, "utf8");
  for (const m of text.matchAll(importRe)) {
    const spec = m[1] ?? m[2]!;
    if (!spec.startsWith(".")) continue;
    const target = relative(src, resolve(dirname(file), spec));
    if (target.startsWith("..")) {
      problems.push(`${rel}: import "${spec}" leaves src/`);
      continue;
    }
    const targetLayer = target.split("/")[0]!;
    if (targetLayer === layer) continue;
    if (!allowed[layer]!.includes(targetLayer)) {
      problems.push(`${rel}: layer "${layer}" may not import "${targetLayer}" ("${spec}"); allowed: [${allowed[layer]!.join(", ")}]`);
    }
  }
  // The FS core of the agent never sees FUSE structs: only agent/fuse-adapter may import fuse/.
  if (layer === "agent" && !rel.startsWith("agent/fuse-adapter/")) {
    for (const m of text.matchAll(importRe)) {
      const spec = m[1] ?? m[2]!;
      if (spec.startsWith(".") && relative(src, resolve(dirname(file), spec)).startsWith("fuse/")) {
        problems.push(`${rel}: only agent/fuse-adapter/ may import fuse/ ("${spec}")`);
      }
    }
  }
}

if (problems.length > 0) {
  console.error(`lint-layers: ${problems.length} layering violation(s):`);
  for (const p of problems) console.error("  " + p);
  process.exit(1);
}
console.log(`lint-layers: ${files.length} files, layering ok`);
