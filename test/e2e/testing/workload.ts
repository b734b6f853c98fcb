// Shared workloads for end-to-end tests on a mount: a real source tree unpacked with tar and
// checked by SHA-256, and a git repository committed to and fsck'd.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

export const haveWorkloadTools = spawnSync("sh", ["-c", "command -v tar && command -v git"]).status === 0;

/** The typescript package beside this repository: a real tree of .js, .d.ts and json files. */
export function findSourceTree(): string | undefined {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  for (let i = 0; i < 7; i++) {
    const p = join(dir, "node_modules", "typescript");
    if (existsSync(join(p, "package.json"))) return p;
    dir = join(dir, "..");
  }
  return undefined;
}

/** SHA-256 of every regular file below root, keyed by relative path. */
export function sha256Tree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.set(relative(root, p), createHash("sha256").update(readFileSync(p)).digest("hex"));
    }
  };
  walk(root);
  return out;
}

export function run(cmd: string, args: string[], cwd: string): string {
  const env = { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" };
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000, env });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Unpacks `tree` into `dest` with tar (through a tarball in `scratch`); returns the expected sums. */
export function unpackTree(tree: string, dest: string, scratch: string): Map<string, string> {
  const want = sha256Tree(tree);
  assert.ok(want.size > 50, `source tree has ${want.size} files`);
  mkdirSync(dest);
  const tarball = join(scratch, "tree.tar");
  run("tar", ["-C", tree, "-cf", tarball, "."], scratch);
  run("tar", ["-C", dest, "-xf", tarball], scratch);
  return want;
}

/** Asserts every file of `want` is in `dir` with the same SHA-256, and nothing is missing. */
export function assertTree(dir: string, want: Map<string, string>, when = ""): void {
  const got = sha256Tree(dir);
  assert.equal(got.size, want.size, `every file unpacked ${when}`);
  for (const [path, sum] of want) assert.equal(got.get(path), sum, `checksum of ${path} ${when}`);
}

/** Creates a git repository at `repo` with two commits and a gc, and fsck's it. */
export function makeGitRepo(repo: string): void {
  mkdirSync(repo);
  run("git", ["init", "-q", "-b", "main"], repo);
  for (let i = 0; i < 20; i++) writeFileSync(join(repo, `f${i}.txt`), `file ${i}\n`.repeat(i * 50 + 1));
  run("git", ["add", "-A"], repo);
  run("git", ["commit", "-q", "-m", "first"], repo);
  writeFileSync(join(repo, "f3.txt"), "changed\n");
  run("git", ["commit", "-q", "-am", "second"], repo);
  run("git", ["gc", "-q"], repo);
  run("git", ["fsck", "--full", "--strict"], repo);
}
