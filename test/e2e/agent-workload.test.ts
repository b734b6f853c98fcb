// Real workloads on a pfsagentd mount: unpacking a real source tree (the TypeScript compiler's
// package, hundreds of files) and checking every file's SHA-256, and a git repository created,
// committed to, cloned and `git fsck`'d on the mount. Needs root, /dev/fuse, tar and git.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { canMount, cleanupSetup, killAllChildren, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers } from "./testing/agent-harness.js";
import { assertTree, findSourceTree, haveWorkloadTools, makeGitRepo, run, unpackTree } from "./testing/workload.js";

const tree = findSourceTree();
const skip = !canMount ? "needs root and /dev/fuse" : !haveWorkloadTools ? "needs tar and git" : !tree ? "needs node_modules/typescript" : false;

let servers: Servers | undefined;
let setup: AgentSetup | undefined;
after(async () => {
  killAllChildren();
  if (setup) cleanupSetup(setup);
  await servers?.stop();
});

test("pfsagentd: unpack a real source tree and verify every checksum; git init/commit/clone/fsck on the mount", { skip, timeout: 240_000 }, async () => {
  servers = await startServers();
  setup = writeAgentConf(servers.swiftPort);
  const mnt = setup.mountpoint;
  const agent = await startAgent(setup.confPath);

  const dest = join(mnt, "src-tree");
  const want = unpackTree(tree!, dest, setup.root);
  assertTree(dest, want);

  const repo = join(mnt, "repo");
  makeGitRepo(repo);
  run("git", ["clone", "-q", repo, join(mnt, "clone")], mnt);
  run("git", ["fsck", "--full", "--strict"], join(mnt, "clone"));
  assert.equal(run("git", ["log", "--format=%s"], join(mnt, "clone")).trim(), "second\nfirst");
  assert.equal(readFileSync(join(mnt, "clone", "f3.txt"), "utf8"), "changed\n");

  // After a restart of the agent (empty caches), the tree and the repository still check out.
  assert.equal(await agent.stop(), 0);
  await startAgent(setup.confPath);
  assertTree(dest, want, "after remount");
  run("git", ["fsck", "--full", "--strict"], repo);
});
