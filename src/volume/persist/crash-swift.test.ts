// The crash test of crash.test.ts against the real OpenStack Swift of scripts/swift-saio.sh
// (127.0.0.1:8080). Runs only when PFS_TEST_SWIFT=1. Each run uses a fresh account
// AUTH_crash<random> (reachable with the SAIO's reseller admin admin:admin; account_autocreate is
// on), so neither the metadata container nor the log-segment containers (named from the volume's
// own nonce sequence) can collide with another run or with the volumes of other tests; the
// account's containers are deleted at the end. PROXYFS_CRASH_SWIFT_KILLS sets the kills (default 50).
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwiftObjectStore, emptyAccount, tempAuth } from "../../objstore/index.js";
import { mountClient, type MountedClient } from "../server/testing/jsonrpc-call.js";
import { Prng, testSeed } from "../../base/testing/prng.js";
import { CrashWorkload, crashCycles, fsckConf, runPfs, startProxyfsd, writeProxyfsdConf, type Proxyfsd } from "./testing/crash-harness.js";

const enabled = process.env.PFS_TEST_SWIFT === "1";
const KILLS = Number(process.env.PROXYFS_CRASH_SWIFT_KILLS ?? 50);
const AUTH_URL = "http://127.0.0.1:8080/auth/v1.0";

test(`crash on real Swift: ${KILLS} x kill -9 of proxyfsd under load loses no synced mutation; fsck clean`, { skip: enabled ? false : "needs PFS_TEST_SWIFT=1 (real Swift from scripts/swift-saio.sh)", timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "persist-crash-swift-"));
  const account = `AUTH_crash${randomBytes(6).toString("hex")}`;
  const segStore = new SwiftObjectStore({
    authenticate: tempAuth({ authUrl: AUTH_URL, user: "admin:admin", key: "admin", transformStorageUrl: (u) => u.replace(/\/v1\/[^/]+$/, `/v1/${account}`) }),
    retry: { limit: 3, delayMs: 200 },
    timeoutMs: 30_000,
  });
  const conf = join(dir, "proxyfsd.conf");
  writeProxyfsdConf(conf, { authUrl: AUTH_URL, user: "admin:admin", key: "admin", account, tlsDir: join(dir, "tls") });
  const seed = testSeed(Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PROXYFS_TEST_SEED=${seed} replays it), account ${account}`);
  let p: Proxyfsd | undefined;
  let m: MountedClient | undefined;
  try {
    const mk = await runPfs(["mkfs", "--conf", conf]);
    assert.equal(mk.code, 0, mk.out + mk.err);
    assert.match(mk.out, new RegExp(`formatted ${account} container proxyfs_meta`));

    p = await startProxyfsd(conf);
    m = await mountClient(p.port, account);
    const wl = new CrashWorkload({ seed, segStore });
    await wl.setup(m);
    const t0 = performance.now();
    const r = await crashCycles(wl, p, m, {
      conf, account, kills: KILLS, prng: new Prng(seed ^ 0x5eed), fsckEvery: 10, context: `seed ${seed} on Swift`,
      onStart: (np, nm) => { p = np; m = nm; },
    });
    const cyclesMs = performance.now() - t0;
    assert.equal(await r.p.stop(), 0, r.p.log());
    await r.m.rpc.close();
    await fsckConf(conf, false, `seed ${seed} on Swift, after the clean stop`);
    t.diagnostic(`${KILLS} kills in ${(cyclesMs / 1000).toFixed(1)} s, ${wl.acked} acknowledged mutations, ${wl.verified} names verified, ${r.fscks} crashed-state fscks; synced Create median ${wl.medianCreateMs().toFixed(2)} ms over ${wl.createLatencies.length}`);
    assert.ok(wl.acked > KILLS * 3, `seed ${seed}: workload made progress (${wl.acked} acknowledged mutations)`);
  } catch (err) {
    t.diagnostic(`FAILED with seed ${seed}; reproduce with PROXYFS_TEST_SEED=${seed}`);
    if (p) t.diagnostic(`proxyfsd log tail:\n${p.log().slice(-3000)}`);
    throw err;
  } finally {
    await p?.kill9();
    await m?.rpc.close().catch(() => {});
    await emptyAccount(segStore).catch((err) => t.diagnostic(`cleanup of ${account}: ${(err as Error).message}`));
    await segStore.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
