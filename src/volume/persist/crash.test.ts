// Crash test: the real proxyfsd binary, its state in a disk-backed embedded Swift server, formatted
// by `pfs mkfs`. Four clients drive a mixed workload (create, Wrote of real segment objects,
// truncate, unlink, rename) over retryrpc; proxyfsd is killed with SIGKILL at random moments
// (20-400 ms apart, PROXYFS_CRASH_KILLS times, default 50) and restarted. After every restart each
// acknowledged mutation must be present (an acknowledged mutating RPC is a synced one); every 10th
// crashed state is fsck'ed before recovery (no problems; orphans allowed), and after a last clean
// stop `pfs fsck` must find the volume clean. PROXYFS_TEST_SEED=<seed> replays the same
// operation sequences and kill delays (the interleaving with the kills stays timing-dependent).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../objstore/index.js";
import { mountClient, type MountedClient } from "../server/testing/jsonrpc-call.js";
import { Prng, testSeed } from "../../base/testing/prng.js";
import { CrashWorkload, crashCycles, fsckConf, runPfs, startProxyfsd, writeProxyfsdConf, type Proxyfsd } from "./testing/crash-harness.js";

const KILLS = Number(process.env.PROXYFS_CRASH_KILLS ?? 50);

test(`crash: ${KILLS} x kill -9 of proxyfsd under load (embedded store) loses no synced mutation; fsck clean`, { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "persist-crash-"));
  const swift = await SwiftApiServer.start({ dir: join(dir, "swift"), users: [{ account: "test", user: "tester", key: "testing" }] });
  const segStore = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing" }) });
  const conf = join(dir, "proxyfsd.conf");
  writeProxyfsdConf(conf, { authUrl: swift.authUrl, user: "test:tester", key: "testing", account: "AUTH_test", tlsDir: join(dir, "tls") });
  const seed = testSeed(Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PROXYFS_TEST_SEED=${seed} replays it)`);
  let p: Proxyfsd | undefined;
  let m: MountedClient | undefined;
  try {
    const mk = await runPfs(["mkfs", "--auth-url", swift.authUrl, "--user", "test:tester", "--key", "testing", "--account", "AUTH_test"]);
    assert.equal(mk.code, 0, mk.err);
    assert.match(mk.out, /formatted AUTH_test container proxyfs_meta/);
    const again = await runPfs(["mkfs", "--conf", conf]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already holds a volume.*--force/);

    p = await startProxyfsd(conf);
    m = await mountClient(p.port, "AUTH_test");
    const wl = new CrashWorkload({ seed, segStore });
    await wl.setup(m);
    const t0 = performance.now();
    const r = await crashCycles(wl, p, m, {
      conf, account: "AUTH_test", kills: KILLS, prng: new Prng(seed ^ 0x5eed), fsckEvery: 10, context: `seed ${seed}`,
      onStart: (np, nm) => { p = np; m = nm; },
    });
    const cyclesMs = performance.now() - t0;
    // A last clean stop, then an offline fsck: no problems and no orphans.
    assert.equal(await r.p.stop(), 0, r.p.log());
    await r.m.rpc.close();
    const fsck = await fsckConf(conf, false, `seed ${seed}, after the clean stop`);
    assert.match(fsck.err, /fsck: checked \d+ inodes/);
    t.diagnostic(`${KILLS} kills in ${(cyclesMs / 1000).toFixed(1)} s, ${wl.acked} acknowledged mutations, ${wl.verified} names verified, ${r.fscks} crashed-state fscks; synced Create median ${wl.medianCreateMs().toFixed(2)} ms over ${wl.createLatencies.length}`);
    assert.ok(wl.acked > KILLS * 5, `seed ${seed}: workload made progress (${wl.acked} acknowledged mutations)`);
  } catch (err) {
    t.diagnostic(`FAILED with seed ${seed}; reproduce with PROXYFS_TEST_SEED=${seed}`);
    if (p) t.diagnostic(`proxyfsd log tail:\n${p.log().slice(-3000)}`);
    throw err;
  } finally {
    await p?.kill9();
    await m?.rpc.close().catch(() => {});
    await segStore.close();
    await swift.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
