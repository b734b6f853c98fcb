// fsck of the checkpoint B+tree: damaged pages (key order), unreachable pages and missing pages
// are found, --repair rewrites the tree and deletes the orphans; progress lines while loading a
// volume of many pages, through the library and through `pfs fsck` (with and without --quiet)
// against the embedded Swift server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryObjectStore, SwiftApiServer, SwiftObjectStore, tempAuth, type ObjectStore } from "../../objstore/index.js";
import { ROOT_INO } from "../types.js";
import type { TreeLeaf, TreeNode } from "./cow-tree.js";
import { fsckCommand } from "./admin-commands.js";
import { PersistentVolume, PersistError, fsck } from "./index.js";
import { dumpState } from "./persist-testing.js";

const C = { uid: 0, gid: 0 };
const base = { accountName: "AUTH_test", checkpointIntervalMs: 0, autoFormat: true } as const;

function leaves(n: TreeNode, out: TreeLeaf[] = []): TreeLeaf[] {
  if (n.leaf) out.push(n);
  else for (const c of n.children) leaves(c, out);
  return out;
}

async function volumeWith(os: ObjectStore, files: number, pageBytes: number): Promise<PersistentVolume> {
  const pv = await PersistentVolume.open({ ...base, objectStore: os, pageBytes });
  for (let i = 0; i < files; i++) pv.volume.create(C, ROOT_INO, `file-${i}`, 0o644);
  await pv.close();
  return pv;
}

test("fsck finds a page with keys out of order and an unreachable page; --repair rewrites the tree and deletes the orphan", async () => {
  const os = new MemoryObjectStore();
  const pv = await volumeWith(os, 300, 1024);
  const state = dumpState(pv.store);
  const leaf = leaves(pv.tree.root).slice(1).find((l) => l.keys.length >= 4)!;
  const body = (await os.getObject(pv.container, leaf.name)).body.toString("utf8").split("\n");
  [body[2], body[3]] = [body[3]!, body[2]!]; // two records swapped (the page is rewritten in place: damage)
  await os.putObject(pv.container, leaf.name, Buffer.from(body.join("\n")));
  const stray = "ckpt/0000000000000001-00000000000000ff/00000000";
  await os.putObject(pv.container, stray, Buffer.from('{"t":"leaf","n":0}\n'));

  const r = await fsck({ objectStore: os, accountName: "AUTH_test" });
  assert.equal(r.clean, false);
  assert.ok(r.problems.some((p) => p.startsWith("checkpoint tree: ") && p.includes(leaf.name) && p.includes("is not above the previous key")), r.problems.join("\n"));
  assert.ok(r.orphans.some((o) => o.includes(stray) && o.includes("a page the tree does not reach")), r.orphans.join("\n"));

  const fixed = await fsck({ objectStore: os, accountName: "AUTH_test", repair: true });
  assert.equal(fixed.clean, true, fixed.problems.join("\n"));
  assert.ok(fixed.repaired.some((x) => x.startsWith("rewrote the checkpoint tree")), fixed.repaired.join("\n"));
  assert.deepEqual(await os.listObjects(pv.container, { prefix: stray }), [], "stray page deleted");
  const after = await fsck({ objectStore: os, accountName: "AUTH_test" });
  assert.deepEqual([after.problems, after.orphans, after.clean], [[], [], true]);
  const again = await PersistentVolume.open({ ...base, objectStore: os, readOnly: true });
  assert.equal(dumpState(again.store), state, "the repair kept every record");
});

test("a missing page is an error naming it", async () => {
  const os = new MemoryObjectStore();
  const pv = await volumeWith(os, 200, 1024);
  const victim = leaves(pv.tree.root)[3]!.name;
  await os.deleteObject(pv.container, victim);
  await assert.rejects(fsck({ objectStore: os, accountName: "AUTH_test" }), (e: unknown) => e instanceof PersistError && e.message.includes(victim) && /missing/.test(e.message));
  await assert.rejects(PersistentVolume.open({ ...base, objectStore: os }), (e: unknown) => e instanceof PersistError && e.message.includes(victim));
});

test("fsck reports progress while loading a volume of many pages", async () => {
  const os = new MemoryObjectStore();
  const pv = await volumeWith(os, 3000, 512);
  const total = pv.header.pageCount;
  assert.ok(total > 1000, `pages: ${total}`);
  const lines: string[] = [];
  const r = await fsck({ objectStore: os, accountName: "AUTH_test", progress: (l) => lines.push(l), progressIntervalMs: 0 });
  assert.equal(r.clean, true, [...r.problems, ...r.orphans].join("\n"));
  const loading = lines.filter((l) => /^loaded \d+\/\d+ pages, \d+ inodes$/.test(l));
  assert.ok(loading.length >= total - 1, `${loading.length} loading lines for ${total} pages`);
  assert.ok(loading.every((l) => l.includes(`/${total} pages`)));
  assert.ok(lines.includes(`loaded ${total} pages (tree height ${pv.header.height}, ${pv.header.records} records), 3001 inodes`), lines.slice(-5).join("\n"));
  assert.ok(lines.some((l) => /^checked 3001 inodes$/.test(l)));
});

test("pfs fsck prints progress on stderr, --quiet silences it", async () => {
  const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }] });
  try {
    const store = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing" }) });
    await volumeWith(store, 500, 512);
    await store.close();
    const args = ["--auth-url", swift.authUrl, "--user", "test:tester", "--key", "testing", "--account", "AUTH_test"];
    for (const quiet of [false, true]) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await fsckCommand(quiet ? [...args, "--quiet"] : args, { out: (l) => out.push(l), err: (l) => err.push(l) });
      assert.equal(code, 0, [...out, ...err].join("\n"));
      assert.match(out.at(-1)!, /^clean: 501 inodes/);
      if (quiet) assert.deepEqual(err, []);
      else assert.ok(err.some((l) => /^fsck: loaded \d+ pages \(tree height \d+, \d+ records\), 501 inodes$/.test(l)), err.join("\n"));
    }
  } finally {
    await swift.close();
  }
});
