// LeaseManager.fence and cover() (MetaCache capability): a mutation revokes OTHER mounts' leases on
// the inodes it changes and on directories covering them, interrupting young grants at once, never
// the fencing mount itself; new grants wait behind a fence; an unresponsive holder is expired.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseReplyType as R, LeaseRequestType as Q, RPCInterruptType } from "../../proto/index.js";
import { LeaseManager, type LeaseManagerOptions } from "./lease-manager.js";

interface Sent { mountId: string; type: number; ino: bigint }

function manager(o: Partial<LeaseManagerOptions> = {}): { lm: LeaseManager; sent: Sent[]; expired: Array<[string, bigint]> } {
  const sent: Sent[] = [];
  const expired: Array<[string, bigint]> = [];
  const lm = new LeaseManager({
    // Young grants are protected for a long time: a fence must not wait for that.
    minLeaseDurationMs: 60_000,
    leaseInterruptIntervalMs: 60_000,
    ...o,
    sendInterrupt: (mountId, type, ino) => {
      sent.push({ mountId, type, ino });
      return true;
    },
    onExpired: (mountId, ino) => expired.push([mountId, ino]),
  });
  return { lm, sent, expired };
}

/** A and B both hold Shared on `ino` (A first gets Exclusive on the free inode, then demotes). */
async function bothShared(lm: LeaseManager, ino: bigint, a = "A", b = "B"): Promise<void> {
  assert.equal(await lm.request(a, ino, Q.Shared), R.Exclusive);
  assert.equal(await lm.request(a, ino, Q.Demote), R.Demoted);
  assert.equal(await lm.request(b, ino, Q.Shared), R.Shared);
}

/** Whether `p` has settled after the pending callbacks ran. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => { done = true; }, () => { done = true; });
  await new Promise((r) => setImmediate(r));
  return done;
}

test("fence: nothing held by another mount -> undefined (synchronous), no interrupts", async () => {
  const { lm, sent } = manager();
  try {
    assert.equal(lm.fence("A", [5n]), undefined, "no lease object at all");
    assert.equal(await lm.request("A", 6n, Q.Exclusive), R.Exclusive);
    assert.equal(lm.fence("A", [6n, 7n]), undefined, "only the fencing mount holds");
    assert.deepEqual(sent, []);
    assert.equal(lm.holding("A", 6n), "exclusive", "own lease untouched");
    assert.equal(lm.stats.fences, 2);
    assert.equal(lm.stats.fenceWaits, 0);
  } finally {
    lm.close();
  }
});

test("fence: another mount's young Shared gets Release at once; the fence resolves only after it releases", async () => {
  const { lm, sent } = manager();
  try {
    await bothShared(lm, 9n);
    const wait = lm.fence("B", [9n]);
    assert.ok(wait instanceof Promise, "A holds: the fence must wait");
    // Sent synchronously inside fence(), although A's grant is far younger than minLeaseDurationMs.
    assert.deepEqual(sent, [{ mountId: "A", type: RPCInterruptType.Release, ino: 9n }]);
    assert.equal(await settled(wait), false, "resolved before A released");
    assert.equal(lm.stats.fenceWaits, 1);
    assert.equal(await lm.request("A", 9n, Q.Release), R.Released);
    assert.equal(await settled(wait), true, "not resolved after A released");
    // The fencing mount's own lease was never interrupted, and it still holds it.
    assert.ok(sent.every((s) => s.mountId !== "B"), JSON.stringify(sent, (_k, v) => (typeof v === "bigint" ? String(v) : v)));
    assert.equal(lm.holding("B", 9n), "shared");
    assert.equal(lm.holding("A", 9n), undefined);
  } finally {
    lm.close();
  }
});

test("fence: the fencing mount is never interrupted, even across repeated interrupts", async () => {
  const { lm, sent } = manager({ leaseInterruptIntervalMs: 5, leaseInterruptLimit: 1000 });
  try {
    await bothShared(lm, 3n);
    const wait = lm.fence("A", [3n])!;
    assert.ok(wait instanceof Promise);
    await new Promise((r) => setTimeout(r, 40)); // several interrupt rounds
    assert.ok(sent.length >= 2, `interrupts repeat (${sent.length})`);
    assert.ok(sent.every((s) => s.mountId === "B" && s.type === RPCInterruptType.Release && s.ino === 3n));
    assert.equal(lm.holding("A", 3n), "shared");
    assert.equal(await lm.request("B", 3n, Q.Release), R.Released);
    await wait;
    assert.equal(lm.holding("A", 3n), "shared");
  } finally {
    lm.close();
  }
});

test("fence: new Shared (and Exclusive) requests of other mounts wait while a fence waits", async () => {
  const { lm, sent } = manager();
  try {
    await bothShared(lm, 4n);
    const wait = lm.fence("B", [4n])!;
    const c = lm.request("C", 4n, Q.Shared);
    assert.ok(c instanceof Promise, "C's Shared must not be granted while B's fence waits");
    const d = lm.request("D", 4n, Q.Exclusive);
    assert.ok(d instanceof Promise);
    assert.equal(await settled(c), false);
    assert.equal(lm.holding("C", 4n), undefined);
    // C and D are not holders: only A gets interrupts.
    assert.ok(sent.every((s) => s.mountId === "A"));
    assert.equal(await lm.request("A", 4n, Q.Release), R.Released);
    await wait;
    assert.equal(await c, R.Shared, "C is granted once the fence is through");
    assert.equal(lm.holding("C", 4n), "shared");
    assert.equal(await settled(d), false, "D's Exclusive still waits for B and C");
  } finally {
    lm.close();
  }
});

test("cover: a change of a child revokes another mount's lease on the covering directory", async () => {
  const { lm, sent } = manager();
  const D = 10n;
  const child = 11n;
  try {
    // Nothing is recorded when the mount does not hold the directory.
    lm.cover("A", D, child);
    assert.equal(await lm.request("A", D, Q.Shared), R.Exclusive);
    assert.equal(lm.fence("B", [child]), undefined, "cover() without a lease on D recorded nothing");
    lm.cover("A", D, child);
    const wait = lm.fence("B", [child]);
    assert.ok(wait instanceof Promise, "A covers the child under its lease on D: the fence must wait");
    assert.deepEqual(sent, [{ mountId: "A", type: RPCInterruptType.Release, ino: D }]);
    assert.equal(await settled(wait), false);
    assert.equal(await lm.request("A", D, Q.Release), R.Released);
    await wait;
    // Coverage is per directory (not per mount) and dropped once nobody holds the directory:
    // after that, a new holder of D that never learned the child is not revoked for it.
    assert.equal(lm.fence("B", [child]), undefined, "nobody holds D: nothing to revoke");
    assert.equal(await lm.request("C", D, Q.Shared), R.Exclusive);
    assert.equal(lm.fence("B", [child]), undefined, "coverage must not outlive every lease on D");
    // The covering mount's own change of the child does not revoke its own directory lease.
    assert.equal(await lm.request("C", D, Q.Release), R.Released);
    assert.equal(await lm.request("A", D, Q.Shared), R.Exclusive);
    lm.cover("A", D, child);
    assert.equal(lm.fence("A", [child]), undefined);
    assert.equal(sent.length, 1);
  } finally {
    lm.close();
  }
});

test("fence: an unresponsive holder is expired after the interrupt limit, then the fence resolves", async () => {
  const { lm, sent, expired } = manager({ leaseInterruptIntervalMs: 5, leaseInterruptLimit: 3 });
  try {
    await bothShared(lm, 12n);
    const t0 = Date.now();
    const wait = lm.fence("B", [12n])!;
    assert.ok(wait instanceof Promise);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([wait, new Promise((_r, rej) => { timer = setTimeout(() => rej(new Error("fence never resolved")), 5_000); })]);
    clearTimeout(timer);
    assert.ok(Date.now() - t0 >= 10, "resolved before the interrupts ran out");
    assert.equal(sent.length, 3, `exactly leaseInterruptLimit interrupts (${sent.length})`);
    assert.ok(sent.every((s) => s.mountId === "A" && s.type === RPCInterruptType.Release));
    assert.deepEqual(expired, [["A", 12n]]);
    assert.equal(lm.holding("A", 12n), undefined);
    assert.equal(lm.holding("B", 12n), "shared");
    assert.equal(lm.stats.expired, 1);
  } finally {
    lm.close();
  }
});
