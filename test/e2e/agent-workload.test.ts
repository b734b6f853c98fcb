// Real workloads on a pfsagentd mount: unpacking a real source tree (the TypeScript compiler's
// package, hundreds of files) and checking every file's SHA-256, and a git repository created,
// committed to, cloned and `git fsck`'d on the mount. Needs root, /dev/fuse, tar and git.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { canMount, cleanupSetup, killAllChildren, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers } from "./testing/agent-harness.js";

const tools = spawnSync("sh", ["-c", "command -v tar && command -v git"]).status === 0;
// The source tree: the typescript package installed beside this repository (a real tree of .js,
// .d.ts and json files), found from this file's compiled location upwards.
function findTree(): string | undefined {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, "node_modules", "typescript");
    if (existsSync(join(p, "package.json"))) return p;
    dir = join(dir, "..");
  }
  return undefined;
}
const tree = findTree();
const skip = !canMount ? "needs root and /dev/fuse" : !tools ? "needs tar and git" : !tree ? "needs node_modules/typescript" : false;

let servers: Servers | undefined;
let setup: AgentSetup | undefined;
after(async () => {
  killAllChildren();
  if (setup) cleanupSetup(setup);
  await servers?.stop();
});

function sha256Tree(root: string): Map<string, string> {
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

function run(cmd: string, args: string[], cwd: string): string {
  const r = spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 120_000, env: { ...process.env, GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@example.com", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@example.com" } });
  assert.equal(r.status, 0, `${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

test("pfsagentd: unpack a real source tree and verify every checksum; git init/commit/clone/fsck on the mount", { skip, timeout: 240_000 }, async () => {
  servers = await startServers();
  setup = writeAgentConf(servers.swiftPort);
  const mnt = setup.mountpoint;
  const agent = await startAgent(setup.confPath);

  // 1. Unpack through tar (many creates, writes of every size, directories, modes).
  const want = sha256Tree(tree!);
  assert.ok(want.size > 50, `source tree has ${want.size} files`);
  const dest = join(mnt, "src-tree");
  mkdirSync(dest);
  const tarball = join(setup.root, "tree.tar");
  run("tar", ["-C", tree!, "-cf", tarball, "."], setup.root);
  run("tar", ["-C", dest, "-xf", tarball], setup.root);
  const got = sha256Tree(dest);
  assert.equal(got.size, want.size, "every file unpacked");
  for (const [path, sum] of want) assert.equal(got.get(path), sum, `checksum of ${path}`);

  // 2. git: init, commit twice, clone on the mount, fsck both.
  const repo = join(mnt, "repo");
  mkdirSync(repo);
  run("git", ["init", "-q", "-b", "main"], repo);
  for (let i = 0; i < 20; i++) writeFileSync(join(repo, `f${i}.txt`), `file ${i}\n`.repeat(i * 50 + 1));
  run("git", ["add", "-A"], repo);
  run("git", ["commit", "-q", "-m", "first"], repo);
  writeFileSync(join(repo, "f3.txt"), "changed\n");
  run("git", ["commit", "-q", "-am", "second"], repo);
  run("git", ["gc", "-q"], repo);
  run("git", ["fsck", "--full", "--strict"], repo);
  run("git", ["clone", "-q", repo, join(mnt, "clone")], mnt);
  run("git", ["fsck", "--full", "--strict"], join(mnt, "clone"));
  assert.equal(run("git", ["log", "--format=%s"], join(mnt, "clone")).trim(), "second\nfirst");
  assert.equal(readFileSync(join(mnt, "clone", "f3.txt"), "utf8"), "changed\n");

  // 3. After a restart of the agent (empty caches), the tree still checks out.
  assert.equal(await agent.stop(), 0);
  await startAgent(setup.confPath);
  const again = sha256Tree(dest);
  for (const [path, sum] of want) assert.equal(again.get(path), sum, `checksum of ${path} after remount`);
  run("git", ["fsck", "--full", "--strict"], repo);
});
