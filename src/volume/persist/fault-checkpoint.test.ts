// Object-store faults under a persistent proxyfsd: the real proxyfsd binary persists in a
// disk-backed embedded Swift server reached through a FaultProxy (testing/fault-proxy.ts) that
// answers 500/503, hangs requests (then resets them, as a client timeout would) or applies a
// write and loses its reply, on the metadata objects (header, checkpoint pages, journal batches).
// Checkpoints run every 200 ms so faults hit them constantly. Checked:
//  A. a journal PUT that never completes is never acknowledged: the mutation waits, reads are
//     still served, and after kill -9 + restart the unacknowledged mutation is absent;
//  B. under errors and stalls on every kind of metadata request the workload keeps being
//     acknowledged and proxyfsd stays up; a checkpoint whose header PUT is stuck does not hold
//     up acknowledgements; kill -9 in that state, then a restart while 30% of metadata requests
//     fail, loses no acknowledged mutation;
//  C. faults off: more kill -9 cycles, a clean stop, and `pfs fsck` finds the volume clean.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../objstore/index.js";
import { mountClient, type MountedClient } from "../server/testing/jsonrpc-call.js";
import { Prng, testSeed } from "../../base/testing/prng.js";
import { CrashWorkload, crashCycles, fsckConf, runPfs, startProxyfsd, writeProxyfsdConf, type Proxyfsd } from "./testing/crash-harness.js";
import { FaultProxy, type FaultRule } from "./testing/fault-proxy.js";

const META = /^\/v1\/AUTH_test\/proxyfs_meta\//;
const JOURNAL = /^\/v1\/AUTH_test\/proxyfs_meta\/journal\//;
const NOT_JOURNAL = /^\/v1\/AUTH_test\/proxyfs_meta(\/(?!journal\/)|$|\?)/;
const PAGES = /^\/v1\/AUTH_test\/proxyfs_meta\/ckpt\//;
const HEADER = /^\/v1\/AUTH_test\/proxyfs_meta\/header$/;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errnoOf = (e: unknown): number | undefined => (e as { errno?: number }).errno;

/** Resolves with "pending" when `p` has not settled within `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | "pending"> {
  let t: NodeJS.Timeout | undefined;
  const r = await Promise.race([p, new Promise<"pending">((res) => (t = setTimeout(() => res("pending"), ms)))]);
  clearTimeout(t);
  return r;
}

test("object-store faults during checkpoints: nothing unsynced is acknowledged, nothing acknowledged is lost", { timeout: 300_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "persist-fault-"));
  const swift = await SwiftApiServer.start({ dir: join(dir, "swift"), users: [{ account: "test", user: "tester", key: "testing" }] });
  const seed = testSeed(Date.now() % 1_000_000);
  t.diagnostic(`seed ${seed} (PROXYFS_TEST_SEED=${seed} replays the fault and operation choices)`);
  const proxy = await FaultProxy.start(new URL(swift.authUrl).origin, seed);
  const segStore = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing" }) });
  const conf = join(dir, "proxyfsd.conf");
  writeProxyfsdConf(conf, { authUrl: proxy.authUrl, user: "test:tester", key: "testing", account: "AUTH_test", tlsDir: join(dir, "tls"), checkpointInterval: "200ms", checkpointJournalBytes: 4096,
    // Short retry delays, so "acknowledgements go on" does not depend on the seed, and a timeout
    // below the injected hangs (1-1.5 s, or for good), so hung requests end in real client timeouts.
    objectStoreLines: ["SwiftRetryDelay: 50ms", "SwiftRetryExpBackoff: 1.5", "SwiftTimeout: 400ms"] });
  let p: Proxyfsd | undefined;
  let m: MountedClient | undefined;
  const restart = async (): Promise<void> => {
    await p?.kill9();
    await m?.rpc.close();
    p = await startProxyfsd(conf);
    m = await mountClient(p.port, "AUTH_test");
  };
  try {
    const mk = await runPfs(["mkfs", "--auth-url", swift.authUrl, "--user", "test:tester", "--key", "testing", "--account", "AUTH_test"]);
    assert.equal(mk.code, 0, mk.err);
    await restart();
    const wl = new CrashWorkload({ seed, segStore });
    await wl.setup(m!);
    const M = m!.mountId;
    const hangDir = (await m!.client.call("RpcMkdir", { MountID: M, InodeNumber: 1n, Basename: "hang", UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber;
    wl.start(m!);
    await sleep(300);
    wl.halt();
    await wl.join();

    // A. Journal PUTs hang (never reach the store): a Create must not be acknowledged.
    proxy.setRules([{ method: "PUT", path: JOURNAL, probability: 1, action: { kind: "hang", holdMs: 120_000 } }]);
    const hung = m!.client.call("RpcCreate", { MountID: M, InodeNumber: hangDir, Basename: "unsynced", UserID: 0, GroupID: 0, FileMode: 0o644 });
    hung.catch(() => {}); // rejected by the kill below
    assert.equal(await within(hung, 1500), "pending", "a Create was acknowledged while its journal batch could not be written");
    const t0 = performance.now();
    const look = await within(m!.client.call("RpcLookupPlus", { MountID: M, InodeNumber: 1n, Basename: "hang" }), 2000);
    assert.notEqual(look, "pending", "reads stall while a journal PUT hangs");
    t.diagnostic(`A: Create pending 1.5 s with the journal hung; LookupPlus answered in ${(performance.now() - t0).toFixed(1)} ms; ${proxy.counts.hang} hung requests`);
    assert.ok(proxy.counts.hang >= 1);
    assert.ok(p!.alive(), p!.log());
    proxy.setRules([]);
    await restart();
    proxy.release();
    await assert.rejects(hung);
    await assert.rejects(m!.client.call("RpcLookup", { MountID: m!.mountId, InodeNumber: hangDir, Basename: "unsynced" }), (e) => errnoOf(e) === 2);
    await wl.verify(m!, `seed ${seed}, A`);

    // B. Errors and stalls on every kind of metadata request while the workload runs.
    const faults: FaultRule[] = [
      { method: "PUT", path: HEADER, probability: 0.25, action: { kind: "status", status: 503 } },
      { method: "PUT", path: HEADER, probability: 0.1, action: { kind: "status", status: 500 } },
      { method: "PUT", path: HEADER, probability: 0.1, action: { kind: "hang", holdMs: 1500 } },
      { method: "PUT", path: HEADER, probability: 0.1, action: { kind: "lose-reply", holdMs: 1500 } },
      { method: "PUT", path: PAGES, probability: 0.15, action: { kind: "status", status: 503 } },
      { method: "PUT", path: PAGES, probability: 0.05, action: { kind: "hang", holdMs: 1500 } },
      { method: "PUT", path: JOURNAL, probability: 0.1, action: { kind: "status", status: 503 } },
      { method: "PUT", path: JOURNAL, probability: 0.05, action: { kind: "lose-reply", holdMs: 1000 } },
      { method: "PUT", path: JOURNAL, probability: 0.03, action: { kind: "hang", holdMs: 1000 } },
      { method: "DELETE", path: META, probability: 0.2, action: { kind: "status", status: 503 } },
    ];
    proxy.setRules(faults);
    const ackedBefore = wl.acked;
    wl.start(m!);
    await sleep(8000);
    assert.ok(p!.alive(), `proxyfsd died under object-store faults:\n${p!.log()}`);
    const ackedFaulty = wl.acked - ackedBefore;
    // The header PUT is stuck (every attempt hangs, then is reset): acknowledgements go on.
    proxy.setRules([{ method: "PUT", path: HEADER, probability: 1, action: { kind: "hang", holdMs: 1000 } }]);
    await sleep(500);
    const ackedStuck0 = wl.acked;
    await sleep(1500);
    const ackedStuck = wl.acked - ackedStuck0;
    wl.halt();
    assert.ok(p!.alive(), p!.log());
    await p!.kill9();
    await m!.rpc.close();
    await wl.join();
    t.diagnostic(`B: ${ackedFaulty} mutations acknowledged in 8 s of faults, ${ackedStuck} in 1.5 s with the header PUT stuck; proxy ${JSON.stringify(proxy.counts)}`);
    assert.ok(ackedFaulty > 20, `workload stalled under faults (${ackedFaulty} acknowledged)`);
    assert.ok(ackedStuck > 20, `a stuck checkpoint held up acknowledgements (${ackedStuck} acknowledged in 1.5 s)`);
    assert.ok(proxy.counts.status > 0 && proxy.counts.hang > 0 && proxy.counts.loseReply > 0, JSON.stringify(proxy.counts));
    // Recovery itself (GET header/pages/journal, listing, the new epoch's checkpoint, deletes)
    // while 30% of metadata requests fail.
    // (Journal batches get 1%: the stuck checkpoint left hundreds, read and deleted one by one,
    // and each failure costs proxyfsd's SwiftRetryDelay of 1 s.)
    proxy.setRules([
      { path: NOT_JOURNAL, probability: 0.3, action: { kind: "status", status: 503 } },
      { path: JOURNAL, probability: 0.01, action: { kind: "status", status: 503 } },
    ]);
    const s0 = proxy.counts.status;
    const r0 = performance.now();
    p = await startProxyfsd(conf);
    m = await mountClient(p.port, "AUTH_test");
    t.diagnostic(`B: restart with 30% of metadata requests failing took ${((performance.now() - r0) / 1000).toFixed(1)} s (${proxy.counts.status - s0} injected errors)`);
    await wl.verify(m, `seed ${seed}, B (after kill -9 with the header PUT stuck)`);
    proxy.setRules([]);
    proxy.release();

    // C. Faults off: kill -9 cycles, a clean stop, fsck clean.
    const r = await crashCycles(wl, p, m, {
      conf, account: "AUTH_test", kills: 5, prng: new Prng(seed ^ 0xfa17), fsckEvery: 5, context: `seed ${seed}, C`,
      onStart: (np, nm) => { p = np; m = nm; },
    });
    assert.equal(await r.p.stop(), 0, r.p.log());
    await r.m.rpc.close();
    await fsckConf(conf, false, `seed ${seed}, after faults and a clean stop`);
    assert.doesNotMatch(r.p.log(), /fatal|Unhandled/i);
    t.diagnostic(`${wl.acked} acknowledged mutations, ${wl.verified} names verified`);
  } catch (err) {
    t.diagnostic(`FAILED with seed ${seed}; reproduce with PROXYFS_TEST_SEED=${seed}`);
    if (p) t.diagnostic(`proxyfsd log tail:\n${p.log().slice(-3000)}`);
    t.diagnostic(`last object-store requests:\n${proxy.recent().join("\n")}`);
    throw err;
  } finally {
    await p?.kill9();
    await m?.rpc.close().catch(() => {});
    await proxy.close();
    await segStore.close();
    await swift.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
