// Runs every compiled test file under dist/ with node's built-in test runner.
// Usage: node dist/scripts/run-tests.js [substring-filter ...]
// Environment: PFS_TEST_CONCURRENCY (files run at once; default 2 = cores here).
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const distRoot = join(fileURLToPath(new URL(".", import.meta.url)), "..");

function collect(dir: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) collect(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
}

const files: string[] = [];
for (const top of ["src", "test"]) {
  try { collect(join(distRoot, top), files); } catch { /* folder absent */ }
}
const filters = process.argv.slice(2);
const chosen = files
  .filter((f) => filters.length === 0 || filters.some((s) => relative(distRoot, f).includes(s)))
  .sort();
if (chosen.length === 0) {
  console.error("run-tests: no test files matched");
  process.exit(1);
}
const concurrency = process.env.PFS_TEST_CONCURRENCY ?? "2";
const result = spawnSync(
  process.execPath,
  ["--test", `--test-concurrency=${concurrency}`, "--test-reporter=spec", ...chosen],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
