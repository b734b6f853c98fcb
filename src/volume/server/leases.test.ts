// The 1.17.1 lease state machine through real retryrpc connections: conflicting requests block,
// the holder gets the right interrupt as an upcall, the waiter is granted after the holder
// complies; Promote with another sharer (which deadlocks 1.17.1) answers the waiting Promote;
// holders that ignore interrupts are expired and their mount unmounted at the next RpcLease.
import { test } from "node:test";
import assert from "node:assert/strict";
import { testCredentials } from "../../rpc/testing/test-credentials.js";
import { decodeUpcall, LeaseReplyType as R, LeaseRequestType as Q, RPCInterruptType, type RPCInterrupt } from "../../proto/index.js";
import { RpcReplyError } from "../../rpc/index.js";
import { startVolumeServer } from "./volume-server.js";
import { LeaseManager } from "./lease-manager.js";
import { mountClient, type MountedClient } from "./testing/jsonrpc-call.js";

const quiet = () => {};

interface Peer extends MountedClient {
  upcalls: RPCInterrupt[];
  lease(ino: bigint, type: number): Promise<number>;
  nextUpcall(): Promise<RPCInterrupt>;
}

async function peer(port: number): Promise<Peer> {
  const upcalls: RPCInterrupt[] = [];
  const waiters: Array<(u: RPCInterrupt) => void> = [];
  const m = await mountClient(port, "AUTH_test", {
    onUpcall: (p) => {
      const u = decodeUpcall(p);
      upcalls.push(u);
      waiters.shift()?.(u);
    },
  });
  return {
    ...m,
    upcalls,
    lease: async (ino, type) => (await m.client.call("RpcLease", { MountID: m.mountId, InodeNumber: ino, LeaseRequestType: type })).LeaseReplyType,
    nextUpcall: () => new Promise((resolve) => waiters.push(resolve)),
  };
}

test("lease matrix as captured from 1.17.1, with upcalls over retryrpc", async () => {
  const s = await startVolumeServer({ volumes: [{ name: "V", accountName: "AUTH_test" }], credentials: await testCredentials(), log: quiet,
    lease: { minLeaseDurationMs: 100, leaseInterruptIntervalMs: 100 } });
  const A = await peer(s.jsonRpcPort);
  const B = await peer(s.jsonRpcPort);
  try {
    // Shared on a free inode is granted Exclusive; Promote by an Exclusive holder is Denied.
    assert.equal(await A.lease(1n, Q.Shared), R.Exclusive);
    assert.equal(await A.lease(1n, Q.Promote), R.Denied);
    assert.equal(await A.lease(1n, Q.Demote), R.Demoted);
    assert.equal(await A.lease(1n, Q.Release), R.Released);
    assert.equal(await A.lease(1n, Q.Release), R.Denied);
    assert.equal(await B.lease(1n, Q.Demote), R.Denied);

    // Exclusive vs Exclusive: B waits, A gets Release (not before A's grant is 100 ms old).
    const t0 = Date.now();
    assert.equal(await A.lease(2n, Q.Exclusive), R.Exclusive);
    const up = A.nextUpcall();
    const bWants = B.lease(2n, Q.Exclusive);
    assert.deepEqual(await up, { RPCInterruptType: RPCInterruptType.Release, InodeNumber: 2n });
    assert.ok(Date.now() - t0 >= 90, "a recent grant is not interrupted");
    assert.equal(await A.lease(2n, Q.Exclusive), R.Denied, "duplicate request from a holder");
    assert.equal(await A.lease(2n, Q.Release), R.Released);
    assert.equal(await bWants, R.Exclusive);

    // Shared vs Exclusive: the holder gets Demote; after demoting both share.
    const up2 = B.nextUpcall();
    const aShared = A.lease(2n, Q.Shared);
    assert.deepEqual(await up2, { RPCInterruptType: RPCInterruptType.Demote, InodeNumber: 2n });
    assert.equal(await B.lease(2n, Q.Demote), R.Demoted);
    assert.equal(await aShared, R.Shared);

    // Promote while another mount shares: the other gets Release; the waiting Promote is answered.
    await new Promise((r) => setTimeout(r, 110));
    const up3 = B.nextUpcall();
    const aPromote = A.lease(2n, Q.Promote);
    assert.deepEqual(await up3, { RPCInterruptType: RPCInterruptType.Release, InodeNumber: 2n });
    assert.equal(await B.lease(2n, Q.Promote), R.Denied, "a second promotion is denied");
    assert.equal(await B.lease(2n, Q.Release), R.Released);
    assert.equal(await aPromote, R.Promoted);
    assert.equal(await A.lease(2n, Q.Release), R.Released);

    // The 1.17.1 agent's "UNDO" pair works on any inode number, existing or not.
    assert.equal(await B.lease(987654321n, Q.Exclusive), R.Exclusive);
    assert.equal(await B.lease(987654321n, Q.Release), R.Released);
  } finally {
    await A.rpc.close();
    await B.rpc.close();
    await s.close();
  }
});

test("a holder ignoring interrupts is expired after the limit and unmounted at the next RpcLease", async () => {
  const s = await startVolumeServer({ volumes: [{ name: "V", accountName: "AUTH_test" }], credentials: await testCredentials(), log: quiet,
    lease: { minLeaseDurationMs: 20, leaseInterruptIntervalMs: 20, leaseInterruptLimit: 3 } });
  const A = await peer(s.jsonRpcPort);
  const B = await peer(s.jsonRpcPort);
  try {
    assert.equal(await A.lease(5n, Q.Exclusive), R.Exclusive);
    assert.equal(await B.lease(5n, Q.Exclusive), R.Exclusive, "granted once A's lease expired");
    assert.equal(A.upcalls.length, 3);
    assert.ok(A.upcalls.every((u) => u.RPCInterruptType === RPCInterruptType.Release && u.InodeNumber === 5n));
    assert.equal(s.stats().leases.V!.expired, 1);
    assert.equal(await B.lease(5n, Q.Release), R.Released); // runs the delayed unmount of A
    assert.deepEqual(s.mountIds(), [B.mountId]);
    await assert.rejects(A.lease(6n, Q.Exclusive), (err: unknown) => err instanceof RpcReplyError && err.errstr === "errno: 116");
  } finally {
    await A.rpc.close();
    await B.rpc.close();
    await s.close();
  }
});

test("LeaseManager: FIFO hand-over, releaseAll denies waiters, idle eviction within limits", async () => {
  const sent: Array<[string, number, bigint]> = [];
  const lm = new LeaseManager({ sendInterrupt: (m, t, i) => (sent.push([m, t, i]), true), minLeaseDurationMs: 0, leaseInterruptIntervalMs: 1000, evictLowLimit: 2, evictHighLimit: 4 });
  try {
    assert.equal(lm.request("a", 1n, Q.Exclusive), R.Exclusive);
    const b = lm.request("b", 1n, Q.Shared);
    const c = lm.request("c", 1n, Q.Shared);
    const d = lm.request("d", 1n, Q.Exclusive);
    assert.ok(d instanceof Promise);
    assert.deepEqual(sent, [["a", RPCInterruptType.Demote, 1n]]);
    assert.equal(lm.request("a", 1n, Q.Release), R.Released);
    assert.equal(await b, R.Shared);
    assert.equal(await c, R.Shared, "consecutive Shared waiters are granted together");
    assert.equal(lm.holding("d", 1n), undefined);
    assert.deepEqual(sent.slice(1).sort(), [["b", RPCInterruptType.Release, 1n], ["c", RPCInterruptType.Release, 1n]]);
    const e = lm.request("e", 1n, Q.Shared); // queued behind d
    lm.releaseAll("d");
    assert.equal(await d, R.Denied, "an unmounted waiter is denied");
    lm.releaseAll("b");
    assert.equal(await e, R.Shared);
    lm.releaseAll("c");
    lm.releaseAll("e");
    for (let i = 10n; i < 20n; i++) {
      assert.equal(lm.request("x", i, Q.Exclusive), R.Exclusive);
      assert.equal(lm.request("x", i, Q.Release), R.Released);
    }
    assert.ok(lm.stats.leases <= 4 && lm.stats.evicted > 0, JSON.stringify(lm.stats));
    assert.throws(() => lm.request("x", 10n, Q.Release), /not allowed for non-existent Lease/, "an evicted lease object is gone");
    const waiting = (lm.request("y", 19n, Q.Exclusive), lm.request("z", 19n, Q.Exclusive));
    lm.close();
    assert.equal(await waiting, R.Denied);
  } finally {
    lm.close();
  }
});
