// objectStoreConformance(name, factory): the behaviour every ObjectStore must show, as node:test
// cases. Run against every implementation (memory, disk, Swift client -> embedded server, Swift
// client -> real Swift). Containers get a random per-run prefix and are removed afterwards, so the
// suite can run repeatedly against a persistent service. Assertions never depend on account-level
// object/byte counts, which real Swift updates lazily (container-updater).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import type { ObjectEntry, ObjectStore } from "../object-store.js";
import { ObjectStoreError, type ObjectStoreErrorCode } from "../object-store-error.js";

export interface ConformanceOptions {
  /** Skip the whole suite (string = reason shown). */
  skip?: string | false;
}

const md5 = (b: Uint8Array): string => createHash("md5").update(b).digest("hex");

async function rejectsWith(p: Promise<unknown>, code: ObjectStoreErrorCode): Promise<ObjectStoreError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ObjectStoreError, `expected ObjectStoreError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, `expected code ${code}, got ${err.code}: ${err.message}`);
    return err;
  }
  assert.fail(`expected rejection with ${code}, but the call succeeded`);
}

async function collect(s: AsyncIterable<Buffer | string>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(typeof c === "string" ? Buffer.from(c) : c);
  return Buffer.concat(parts);
}

function names(entries: ObjectEntry[]): string[] {
  return entries.map((e) => (e.kind === "object" ? e.name : `[${e.subdir}]`));
}

export function objectStoreConformance(name: string, factory: () => Promise<ObjectStore>, opts: ConformanceOptions = {}): void {
  describe(`ObjectStore conformance: ${name}`, { skip: opts.skip || false }, () => {
    let store: ObjectStore;
    const runId = randomBytes(4).toString("hex");
    const created = new Set<string>();
    let seq = 0;
    const newContainer = async (meta?: Record<string, string>): Promise<string> => {
      const c = `conf-${runId}-${++seq}`;
      const r = await store.putContainer(c, meta ? { metadata: meta } : {});
      assert.equal(r.created, true);
      created.add(c);
      return c;
    };

    before(async () => {
      store = await factory();
    });
    after(async () => {
      if (!store) return;
      for (const c of created) {
        try {
          for (;;) {
            const page = await store.listObjects(c);
            if (page.length === 0) break;
            for (const e of page) if (e.kind === "object") await store.deleteObject(c, e.name).catch(() => undefined);
          }
          await store.deleteContainer(c);
        } catch { /* best effort */ }
      }
      await store.close();
    });

    it("creates, heads, updates metadata of and deletes containers", async () => {
      const c = await newContainer({ Color: "red", shape: "round" });
      const again = await store.putContainer(c, { metadata: { size: "big" } });
      assert.equal(again.created, false);
      let info = await store.headContainer(c);
      assert.equal(info.objectCount, 0n);
      assert.equal(info.bytesUsed, 0n);
      assert.match(info.timestamp, /^\d{10}\.\d{5}$/);
      assert.deepEqual(info.metadata, { color: "red", shape: "round", size: "big" });
      await store.postContainer(c, { color: "blue", shape: "" });
      info = await store.headContainer(c);
      assert.deepEqual(info.metadata, { color: "blue", size: "big" });
      const listed = await store.listContainers({ prefix: c });
      assert.deepEqual(listed.map((e) => e.name), [c]);
      await store.putObject(c, "x", Buffer.from("abc"));
      await rejectsWith(store.deleteContainer(c), "Conflict");
      await store.deleteObject(c, "x");
      await store.deleteContainer(c);
      created.delete(c);
      await rejectsWith(store.headContainer(c), "NotFound");
      await rejectsWith(store.deleteContainer(c), "NotFound");
      await rejectsWith(store.postContainer(c, { a: "b" }), "NotFound");
      await rejectsWith(store.listObjects(c), "NotFound");
    });

    it("puts, gets and heads objects with ETag, size, type, timestamps and metadata", async () => {
      const c = await newContainer();
      const data = randomBytes(100_003);
      const before = Date.now();
      const put = await store.putObject(c, "dir/obj one", data, { contentType: "application/x-test", metadata: { Owner: "alice", "X-Y": "1 2" } });
      assert.equal(put.etag, md5(data));
      const got = await store.getObject(c, "dir/obj one");
      assert.ok(got.body.equals(data));
      assert.equal(got.range, undefined);
      assert.equal(got.info.size, data.length);
      assert.equal(got.info.etag, put.etag);
      assert.equal(got.info.contentType, "application/x-test");
      assert.deepEqual(got.info.metadata, { owner: "alice", "x-y": "1 2" });
      assert.match(got.info.timestamp, /^\d{10}\.\d{5}$/);
      assert.equal(got.info.lastModified.getTime(), put.lastModified.getTime());
      const head = await store.headObject(c, "dir/obj one");
      assert.deepEqual(head, got.info);
      // Last-Modified is whole seconds rounded up from the timestamp.
      assert.ok(head.lastModified.getTime() >= before - 1000 && head.lastModified.getTime() <= Date.now() + 2000);
      assert.equal(head.lastModified.getTime() % 1000, 0);
      const cinfo = await store.headContainer(c);
      assert.equal(cinfo.objectCount, 1n);
      assert.equal(cinfo.bytesUsed, BigInt(data.length));
    });

    it("stores zero-byte objects, arrays of buffers and factory bodies (known and unknown length)", async () => {
      const c = await newContainer();
      const empty = await store.putObject(c, "empty", Buffer.alloc(0));
      assert.equal(empty.etag, md5(Buffer.alloc(0)));
      assert.equal((await store.getObject(c, "empty")).body.length, 0);
      assert.equal((await store.headObject(c, "empty")).size, 0);

      const parts = [randomBytes(10), Buffer.alloc(0), randomBytes(70_000), new Uint8Array([1, 2, 3])];
      const whole = Buffer.concat(parts);
      assert.equal((await store.putObject(c, "parts", parts)).etag, md5(whole));
      assert.ok((await store.getObject(c, "parts")).body.equals(whole));

      const chunk = randomBytes(65536);
      const gen = async function* (): AsyncGenerator<Buffer> {
        for (let i = 0; i < 40; i++) { yield chunk; await new Promise((r) => setImmediate(r)); }
      };
      const expected = md5(Buffer.concat(new Array(40).fill(chunk)));
      assert.equal((await store.putObject(c, "chunked", gen)).etag, expected);
      assert.equal((await store.putObject(c, "sized", gen, { contentLength: 40 * 65536 })).etag, expected);
      for (const n of ["chunked", "sized"]) {
        const s = await store.getObjectStream(c, n);
        assert.equal(s.info.size, 40 * 65536);
        assert.equal(md5(await collect(s.body)), expected);
      }
    });

    it("rejects a factory body whose length differs from contentLength and keeps the old version", async () => {
      const c = await newContainer();
      await store.putObject(c, "o", Buffer.from("old"));
      const gen = async function* (): AsyncGenerator<Buffer> { yield Buffer.from("12345"); };
      await rejectsWith(store.putObject(c, "o", gen, { contentLength: 9 }), "InvalidArgument");
      assert.equal((await store.getObject(c, "o")).body.toString(), "old");
    });

    it("reads single ranges, open-ended ranges and suffix ranges, buffered and streamed", async () => {
      const c = await newContainer();
      const data = randomBytes(5000);
      await store.putObject(c, "r", data);
      const cases: Array<[Parameters<ObjectStore["getObject"]>[2], number, number]> = [
        [{ range: { offset: 10, length: 20 } }, 10, 29],
        [{ range: { offset: 0, length: 1 } }, 0, 0],
        [{ range: { offset: 4990, length: 100 } }, 4990, 4999],
        [{ range: { offset: 4000 } }, 4000, 4999],
        [{ range: { suffix: 100 } }, 4900, 4999],
        [{ range: { suffix: 9999 } }, 0, 4999],
      ];
      for (const [o, start, end] of cases) {
        const g = await store.getObject(c, "r", o);
        assert.deepEqual(g.range, { start, end }, JSON.stringify(o));
        assert.equal(g.info.size, 5000);
        assert.ok(g.body.equals(data.subarray(start, end + 1)), JSON.stringify(o));
        const s = await store.getObjectStream(c, "r", o);
        assert.deepEqual(s.range, { start, end });
        assert.ok((await collect(s.body)).equals(data.subarray(start, end + 1)));
      }
      await rejectsWith(store.getObject(c, "r", { range: { offset: 5000, length: 1 } }), "RangeNotSatisfiable");
      await rejectsWith(store.getObjectStream(c, "r", { range: { offset: 9000 } }), "RangeNotSatisfiable");
      await rejectsWith(store.getObject(c, "r", { range: { offset: -1, length: 1 } }), "InvalidArgument");
      await rejectsWith(store.getObject(c, "r", { range: { suffix: 0 } }), "RangeNotSatisfiable");
      // Swift answers a suffix range of an empty object with the whole (empty) object, not 206.
      await store.putObject(c, "empty", Buffer.alloc(0));
      const e = await store.getObject(c, "empty", { range: { suffix: 5 } });
      assert.equal(e.range, undefined);
      assert.equal(e.body.length, 0);
      await rejectsWith(store.getObject(c, "empty", { range: { offset: 0, length: 10 } }), "RangeNotSatisfiable");
    });

    it("honours If-None-Match: * and ETag verification", async () => {
      const c = await newContainer();
      await store.putObject(c, "once", Buffer.from("first"), { ifNoneMatch: "*" });
      await rejectsWith(store.putObject(c, "once", Buffer.from("second"), { ifNoneMatch: "*" }), "PreconditionFailed");
      assert.equal((await store.getObject(c, "once")).body.toString(), "first");
      const data = Buffer.from("checked body");
      await store.putObject(c, "etag-ok", data, { etag: md5(data) });
      await rejectsWith(store.putObject(c, "etag-bad", data, { etag: md5(Buffer.from("other")) }), "ChecksumMismatch");
      await rejectsWith(store.headObject(c, "etag-bad"), "NotFound");
    });

    it("replaces objects and their metadata, posts metadata and deletes", async () => {
      const c = await newContainer();
      await store.putObject(c, "o", Buffer.from("version one"), { metadata: { a: "1" } });
      const v2 = await store.putObject(c, "o", Buffer.from("v2"), { metadata: { b: "2" } });
      const h = await store.headObject(c, "o");
      assert.equal(h.size, 2);
      assert.equal(h.etag, v2.etag);
      assert.deepEqual(h.metadata, { b: "2" });
      let ci = await store.headContainer(c);
      assert.equal(ci.objectCount, 1n);
      assert.equal(ci.bytesUsed, 2n);
      await store.postObject(c, "o", { c: "3", d: "4" });
      const h2 = await store.headObject(c, "o");
      assert.deepEqual(h2.metadata, { c: "3", d: "4" });
      assert.equal(h2.etag, v2.etag);
      assert.equal((await store.getObject(c, "o")).body.toString(), "v2");
      await store.deleteObject(c, "o");
      await rejectsWith(store.getObject(c, "o"), "NotFound");
      await rejectsWith(store.getObjectStream(c, "o"), "NotFound");
      await rejectsWith(store.headObject(c, "o"), "NotFound");
      await rejectsWith(store.deleteObject(c, "o"), "NotFound");
      await rejectsWith(store.postObject(c, "o", { a: "b" }), "NotFound");
      ci = await store.headContainer(c);
      assert.equal(ci.objectCount, 0n);
      await rejectsWith(store.putObject(`${c}-missing`, "o", Buffer.from("x")), "NotFound");
      await rejectsWith(store.getObject(`${c}-missing`, "o"), "NotFound");
    });

    it("lists with prefix, marker, end_marker, limit and delimiter in code-point order", async () => {
      const c = await newContainer();
      const all = ["a", "a/1", "a/2", "a/b/1", "b", "b/x", "c", "é", "\u{1F600}", "\uFFFD", "z z"];
      for (const n of all) await store.putObject(c, n, Buffer.from(n));
      const sorted = [...all].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      const full = await store.listObjects(c);
      assert.deepEqual(names(full), sorted);
      const e = full.find((x) => x.kind === "object" && x.name === "a/1");
      assert.ok(e && e.kind === "object");
      assert.equal(e.bytes, 3);
      assert.equal(e.hash, md5(Buffer.from("a/1")));
      assert.equal(e.contentType, "application/octet-stream");
      assert.match(e.lastModified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
      assert.deepEqual(names(await store.listObjects(c, { prefix: "a/" })), ["a/1", "a/2", "a/b/1"]);
      assert.deepEqual(names(await store.listObjects(c, { marker: "b" })), sorted.slice(sorted.indexOf("b") + 1));
      assert.deepEqual(names(await store.listObjects(c, { endMarker: "b" })), ["a", "a/1", "a/2", "a/b/1"]);
      assert.deepEqual(names(await store.listObjects(c, { limit: 2 })), ["a", "a/1"]);
      assert.deepEqual(names(await store.listObjects(c, { limit: 0 })), []);
      assert.deepEqual(names(await store.listObjects(c, { delimiter: "/" })), sorted.filter((n) => !n.includes("/")).flatMap((n) => (n === "a" ? ["a", "[a/]"] : n === "b" ? ["b", "[b/]"] : [n])));
      assert.deepEqual(names(await store.listObjects(c, { prefix: "a/", delimiter: "/" })), ["a/1", "a/2", "[a/b/]"]);
      // A subdir equal to the marker is not repeated (paging through a delimited listing).
      assert.deepEqual(names(await store.listObjects(c, { delimiter: "/", marker: "a/" })), ["b", "[b/]", "c", "z z", "é", "\uFFFD", "\u{1F600}"]);
      assert.deepEqual(names(await store.listObjects(c, { prefix: "a", marker: "a/1", endMarker: "a/b" })), ["a/2"]);
      assert.deepEqual(names(await store.listObjects(c, { prefix: "nothing" })), []);
      await rejectsWith(store.listObjects(c, { limit: 10001 }), "PreconditionFailed");
    });

    it("round-trips names with URL-special and non-ASCII characters", async () => {
      const c = await newContainer();
      const odd = ["a b?c#d%e+f&g=h;i", "ünï/cödé/😀", "..", ".", "./x", "../../etc/passwd", "a//b", "/lead", "trail/", "%2F", "~!*'()"];
      for (const n of odd) await store.putObject(c, n, Buffer.from(`body of ${n}`));
      for (const n of odd) assert.equal((await store.getObject(c, n)).body.toString(), `body of ${n}`, n);
      const listed = names(await store.listObjects(c));
      assert.deepEqual(listed, [...odd].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
      const weird = `conf-${runId}-ü ?#%`;
      await store.putContainer(weird);
      created.add(weird);
      await store.putObject(weird, "k", Buffer.from("v"));
      assert.equal((await store.getObject(weird, "k")).body.toString(), "v");
    });

    it("rejects invalid names and metadata before any I/O", async () => {
      const c = await newContainer();
      await rejectsWith(store.putContainer(""), "InvalidName");
      await rejectsWith(store.putContainer("a/b"), "InvalidName");
      await rejectsWith(store.putContainer("x".repeat(257)), "InvalidName");
      await rejectsWith(store.putObject(c, "", Buffer.from("x")), "InvalidName");
      await rejectsWith(store.putObject(c, "x".repeat(1025), Buffer.from("x")), "InvalidName");
      await rejectsWith(store.putObject(c, "nul\0", Buffer.from("x")), "InvalidName");
      await rejectsWith(store.putObject(c, "bad\uD800", Buffer.from("x")), "InvalidName");
      await rejectsWith(store.getObject(c, ""), "InvalidName");
      await rejectsWith(store.putObject(c, "m", Buffer.from("x"), { metadata: { "bad key": "v" } }), "InvalidArgument");
      await rejectsWith(store.putObject(c, "m", Buffer.from("x"), { metadata: { k: "x".repeat(257) } }), "InvalidArgument");
      await rejectsWith(store.putObject(c, "m", Buffer.from("x"), { metadata: { k: "caf\u00e9" } }), "InvalidArgument");
      // Longest valid names work.
      const long = "ü".repeat(512);
      await store.putObject(c, long, Buffer.from("x"));
      assert.equal((await store.headObject(c, long)).size, 1);
    });

    it("keeps account metadata and counts containers", async () => {
      const c = await newContainer();
      const key = `conf-${runId}`;
      await store.postAccount({ [key]: "yes" });
      const a = await store.headAccount();
      assert.equal(a.metadata[key], "yes");
      assert.ok(a.containerCount >= 1n);
      await store.postAccount({ [key]: "" });
      assert.equal((await store.headAccount()).metadata[key], undefined);
      assert.ok((await store.listContainers({ prefix: c })).some((e) => e.name === c));
    });

    it("serves concurrent PUTs of one name as one whole version", async () => {
      const c = await newContainer();
      const bodies = Array.from({ length: 6 }, (_, i) => Buffer.alloc(200_000, i + 1));
      await Promise.all(bodies.map((b) => store.putObject(c, "race", b)));
      const got = await store.getObject(c, "race");
      assert.equal(got.body.length, 200_000);
      const v = got.body[0]!;
      assert.ok(got.body.every((x) => x === v), "object mixes bytes of different PUTs");
      assert.equal(got.info.etag, md5(got.body));
      const ci = await store.headContainer(c);
      assert.equal(ci.objectCount, 1n);
    });

    it("streams a multi-megabyte object in and out", async () => {
      const c = await newContainer();
      const chunk = randomBytes(1 << 20);
      const n = 12;
      const gen = async function* (): AsyncGenerator<Buffer> { for (let i = 0; i < n; i++) yield chunk; };
      const put = await store.putObject(c, "big", gen);
      const h = createHash("md5");
      for (let i = 0; i < n; i++) h.update(chunk);
      assert.equal(put.etag, h.digest("hex"));
      const s = await store.getObjectStream(c, "big");
      let total = 0;
      const h2 = createHash("md5");
      for await (const part of s.body) { total += (part as Buffer).length; h2.update(part as Buffer); }
      assert.equal(total, n << 20);
      assert.equal(h2.digest("hex"), put.etag);
      const mid = await store.getObject(c, "big", { range: { offset: (1 << 20) - 5, length: 10 } });
      assert.ok(mid.body.equals(Buffer.concat([chunk.subarray(-5), chunk.subarray(0, 5)])));
    });

    it("aborts with an already-aborted signal", async () => {
      const c = await newContainer();
      const ac = new AbortController();
      ac.abort();
      await rejectsWith(store.headContainer(c, { signal: ac.signal }), "Aborted");
      await rejectsWith(store.putObject(c, "a", Buffer.from("x"), { signal: ac.signal }), "Aborted");
    });
  });
}
