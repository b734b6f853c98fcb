import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseReplyType as R, LeaseRequestType as Q, RPCInterruptType as I } from "../../proto/index.js";
import { RpcReplyError } from "../../rpc/index.js";
import { LeaseTable, type LeaseOptions } from "./lease-table.js";

/** A scripted server: answers RpcLease from `answer`, records every call and hook. */
function setup(answer: (ino: bigint, type: number) => number | Promise<number>, options: LeaseOptions = {}) {
  const calls: string[] = [];
  const events: string[] = [];
  const table = new LeaseTable(
    async (ino, type) => {
      calls.push(`${ino}:${type}`);
      return answer(ino, type);
    },
    {
      flush: async (ino) => { events.push(`flush ${ino}`); },
      dropCaches: (ino, kernel) => { events.push(`drop ${ino}${kernel ? " +kernel" : ""}`); },
      warn: (m) => events.push(`warn ${m}`),
    },
    { retryDelayMs: 1, ...options },
  );
  return { table, calls, events };
}

const grantAsked = (_ino: bigint, type: number): number =>
  type === Q.Shared ? R.Shared : type === Q.Exclusive ? R.Exclusive : type === Q.Promote ? R.Promoted : type === Q.Demote ? R.Demoted : R.Released;

test("a Shared lease answered Exclusive is held Exclusive; a second acquire needs no RPC", async () => {
  const { table, calls } = setup((_i, t) => (t === Q.Shared ? R.Exclusive : R.Released));
  const t = await table.acquire(7n, "shared");
  assert.ok(t?.fresh);
  assert.equal(table.held(7n), "exclusive");
  const t2 = await table.acquire(7n, "exclusive");
  assert.equal(t2?.fresh, false);
  assert.deepEqual(calls, [`7:${Q.Shared}`]);
  assert.ok(table.ticketValid(t!, "exclusive"));
});

test("Denied is retried LeaseRetryLimit times, then the operation goes on without a lease", async () => {
  const { table, calls } = setup(() => R.Denied, { retryLimit: 3 });
  assert.equal(await table.acquire(1n, "shared"), undefined);
  assert.equal(calls.length, 4);
  assert.equal(table.held(1n), undefined);
  assert.equal(table.stats.LeaseRequestRetries, 3);
  assert.equal(table.stats.LeaseRequestFallbacks, 1);
});

test("a server without RpcLease turns leases off after one call; transport errors are thrown", async () => {
  const { table, calls } = setup(() => { throw new RpcReplyError("RpcLease", "errno: 38"); });
  assert.equal(await table.acquire(1n, "shared"), undefined);
  assert.equal(await table.acquire(2n, "exclusive"), undefined);
  assert.equal(calls.length, 1);
  assert.equal(table.enabled, false);
  const down = setup(() => { throw new Error("connection refused"); });
  await assert.rejects(down.table.acquire(1n, "shared"), /connection refused/);
  assert.equal(down.table.held(1n), undefined);
});

test("Release interrupt of an Exclusive lease: flush, drop caches (kernel too), then RpcLease Release", async () => {
  const { table, calls, events } = setup(grantAsked);
  const t = await table.acquire(5n, "exclusive");
  table.cacheStat(t!, table.statMark(5n), { Size: 3n } as never);
  assert.ok(table.cachedStat(5n));
  events.length = 0;
  await table.interrupt(I.Release, 5n);
  assert.deepEqual(events, ["flush 5", "drop 5 +kernel"]);
  assert.equal(calls.at(-1), `5:${Q.Release}`);
  assert.equal(table.held(5n), undefined);
  assert.equal(table.cachedStat(5n), undefined);
  assert.equal(table.ticketValid(t!), false, "the old ticket is dead");
  // A repeated interrupt for an inode no longer held does nothing.
  await table.interrupt(I.Release, 5n);
  assert.equal(calls.filter((c) => c === `5:${Q.Release}`).length, 1);
});

test("Demote interrupt: flush, then Demote; caches stay valid under the Shared lease", async () => {
  const { table, calls, events } = setup(grantAsked);
  const t = await table.acquire(9n, "exclusive");
  events.length = 0;
  await table.interrupt(I.Demote, 9n);
  assert.deepEqual(events, ["flush 9"]);
  assert.equal(calls.at(-1), `9:${Q.Demote}`);
  assert.equal(table.held(9n), "shared");
  assert.ok(table.ticketValid(t!, "shared"));
  assert.equal(table.ticketValid(t!, "exclusive"), false);
  // Writing again promotes.
  await table.acquire(9n, "exclusive");
  assert.equal(calls.at(-1), `9:${Q.Promote}`);
  assert.equal(table.held(9n), "exclusive");
});

test("an interrupt that raced a grant does not hit the new lease; the server's repeat does", async () => {
  let grant!: (r: number) => void;
  const { table, events } = setup((_i, t) => (t === Q.Shared ? new Promise<number>((r) => (grant = r)) : R.Released));
  const p = table.acquire(3n, "shared");
  await new Promise((r) => setImmediate(r));
  const q = table.interrupt(I.Release, 3n); // aimed at whatever was held before the grant
  grant(R.Shared);
  const t = await p;
  assert.ok(t);
  await q;
  assert.equal(table.held(3n), "shared");
  await table.interrupt(I.Release, 3n); // the server repeats it: now it applies
  assert.equal(table.held(3n), undefined);
  assert.ok(events.includes("drop 3 +kernel"));
});

test("a stat fetched before a local change is not cached", async () => {
  const { table: t2 } = setup(grantAsked);
  const tk = await t2.acquire(4n, "shared");
  const mark = t2.statMark(4n);
  t2.forgetStat(4n);
  t2.cacheStat(tk!, mark, { Size: 1n } as never);
  assert.equal(t2.cachedStat(4n), undefined);
});

test("SharedLeaseLimit / ExclusiveLeaseLimit release the least recently used leases", async () => {
  const { table, events } = setup(grantAsked, { sharedLimit: 2, exclusiveLimit: 1 });
  // Shared requests granted Shared (another holder exists on the server).
  await table.acquire(1n, "shared");
  await table.acquire(2n, "shared");
  await table.acquire(1n, "shared"); // touch: 2 is now the least recently used
  await table.acquire(3n, "shared");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(table.report().SharedGranted, [1n, 3n]);
  await table.acquire(10n, "exclusive");
  await table.acquire(11n, "exclusive");
  await new Promise((r) => setTimeout(r, 10));
  assert.deepEqual(table.report().ExclusiveGranted, [11n]);
  assert.ok(events.includes("flush 10"), "an Exclusive lease is flushed before it is given back");
  assert.equal(table.stats.LeaseEvictions, 2);
});

test("releaseAll gives every lease back", async () => {
  const { table, calls } = setup(grantAsked);
  await table.acquire(1n, "shared");
  await table.acquire(2n, "exclusive");
  await table.releaseAll();
  assert.equal(calls.filter((c) => c.endsWith(`:${Q.Release}`)).length, 2);
  const rep = table.report();
  assert.equal(rep.SharedGranted.length + rep.ExclusiveGranted.length, 0);
});
