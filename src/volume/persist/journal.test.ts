// JournalWriter under a failing object store: it never gives up and never reorders. Syncs wait
// while PUTs fail and resolve once the store answers again; the durable journal is always a
// gap-free prefix, batches in seq order, each line in exactly one batch.
import { test } from "node:test";
import assert from "node:assert/strict";
import { MemoryObjectStore, ObjectStoreError, type ObjectStore } from "../../objstore/index.js";
import { JournalWriter } from "./journal.js";
import { journalName } from "./layout.js";

/** The real in-memory store, with PUTs failing while `down` is true (fault injection). */
function flaky(inner: MemoryObjectStore): { store: ObjectStore; setDown(v: boolean): void; failures(): number } {
  let down = false;
  let failures = 0;
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === "putObject") {
        return async (...args: Parameters<ObjectStore["putObject"]>) => {
          if (down) {
            failures++;
            throw new ObjectStoreError("ServerError", `injected 503 for ${args[1]}`, { status: 503 });
          }
          return target.putObject(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
  return { store, setDown: (v) => (down = v), failures: () => failures };
}

test("syncs wait through a store outage of many attempts, then resolve in order with a gap-free journal", async () => {
  const mem = new MemoryObjectStore();
  await mem.putContainer("m");
  const f = flaky(mem);
  const j = new JournalWriter({ store: f.store, container: "m", epoch: 1, seq: 0 });
  j.append("a");
  await j.sync();
  f.setDown(true);
  const settled: string[] = [];
  j.append("b");
  const pb = j.sync().then(() => settled.push("b"));
  await new Promise((r) => setTimeout(r, 20));
  j.append("c");
  const pc = j.sync().then(() => settled.push("c"));
  while (f.failures() < 6) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(settled, [], "nothing is acknowledged while the store is down");
  assert.equal(j.durablePosition, 1);
  f.setDown(false);
  await Promise.all([pb, pc]);
  assert.deepEqual(settled, ["b", "c"]);
  assert.equal(j.durablePosition, 3);
  const lines: string[] = [];
  for (let seq = 0; ; seq++) {
    const r = await mem.getObject("m", journalName(1, seq)).catch(() => undefined);
    if (!r) break;
    lines.push(...r.body.toString("utf8").trimEnd().split("\n"));
  }
  assert.deepEqual(lines, ["a", "b", "c"]);
});
