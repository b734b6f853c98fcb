// Large PUTs of DiskObjectStore through DirectSink (slabs, the MD5 worker reading them in place,
// O_DIRECT from DIRECT_FROM on) and through BufferedSink: exact bytes and ETags at slab and
// DIRECT_FROM boundaries, bodies of unknown length in odd-sized chunks, more concurrent PUTs than
// slabs, failures mid-body that must leave nothing behind and give every slab back, and streamed
// GETs of ranges across those boundaries (DirectReadStream).
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiskObjectStore } from "./disk-object-store.js";
import { SLAB_BYTES } from "./slab-pool.js";
import { DIRECT_FROM } from "./direct-sink.js";
import { fileNameFor } from "./object-file.js";
import { ObjectStoreError } from "../object-store-error.js";
import type { ByteRange } from "../object-store.js";

const md5 = (b: Uint8Array): string => createHash("md5").update(b).digest("hex");

/** `data` as an async iterable of chunks of varying odd sizes (like socket reads). */
function chunked(data: Buffer): () => AsyncIterable<Uint8Array> {
  return async function* () {
    let off = 0;
    for (let i = 0; off < data.length; i++) {
      const n = [65_536, 1, 4093, 300_000, 1 << 20][i % 5]!;
      yield data.subarray(off, off + n);
      off += n;
    }
  };
}

for (const directIo of [true, false]) {
  describe(`DiskObjectStore large PUTs (${directIo ? "O_DIRECT where supported" : "buffered"})`, () => {
    let root: string;
    let store: DiskObjectStore;
    const data = randomBytes(DIRECT_FROM + 2 * SLAB_BYTES + 12_345);

    before(async () => {
      root = await mkdtemp(join(tmpdir(), "objstore-direct-"));
      store = await DiskObjectStore.open({ dir: join(root, "acct"), directIo });
      await store.putContainer("c");
    });
    after(async () => {
      await store.close();
      await rm(root, { recursive: true, force: true });
    });

    it(directIo ? "uses O_DIRECT on this file system (ext4/xfs), or says why not" : "does not use O_DIRECT when told not to", async (t) => {
      if (!directIo) return assert.equal(store.directIo, false);
      if (!store.directIo) {
        const fs = (await stat(root)).dev;
        t.skip(`O_DIRECT not available for ${root} (device ${fs}), e.g. tmpfs: the buffered path is used`);
        return;
      }
      assert.equal(store.directIo, true);
    });

    it("stores exact bytes and the body's MD5 at and around slab boundaries", async () => {
      for (const size of [SLAB_BYTES - 1, SLAB_BYTES + 1, DIRECT_FROM - 1, DIRECT_FROM, DIRECT_FROM + 1, DIRECT_FROM + SLAB_BYTES, data.length]) {
        const body = data.subarray(0, size);
        for (const [how, put] of [
          ["known length", () => store.putObject("c", `o${size}`, chunked(body), { contentLength: size })],
          ["unknown length", () => store.putObject("c", `u${size}`, chunked(body))],
          ["one buffer", () => store.putObject("c", `b${size}`, body)],
        ] as const) {
          const r = await put();
          assert.equal(r.etag, md5(body), `${how} ${size}: ETag`);
        }
        for (const p of ["o", "u", "b"]) {
          const got = await store.getObject("c", `${p}${size}`);
          assert.equal(got.info.size, size);
          assert.equal(got.info.etag, md5(body));
          assert.ok(got.body.equals(body), `${p}${size}: bytes differ`);
        }
      }
      // The file is the body plus a trailer, nothing more (no padding from O_DIRECT blocks).
      const st = await stat(join(root, "acct", fileNameFor("c", "c"), fileNameFor(`o${data.length}`, "o")));
      assert.ok(st.size > data.length && st.size < data.length + 1024, `file size ${st.size}`);
    });

    it("runs more concurrent large PUTs than there are slabs, each whole", async () => {
      const bodies = Array.from({ length: 12 }, (_, i) => data.subarray(i * 1000, i * 1000 + DIRECT_FROM + SLAB_BYTES + i));
      const rs = await Promise.all(bodies.map((b, i) => store.putObject("c", `par${i}`, chunked(b))));
      for (let i = 0; i < bodies.length; i++) {
        assert.equal(rs[i]!.etag, md5(bodies[i]!));
        assert.ok((await store.getObject("c", `par${i}`)).body.equals(bodies[i]!));
      }
    });

    it("fails a PUT whose body breaks mid-way, keeps the old version and leaves no temp file", async () => {
      await store.putObject("c", "keep", Buffer.from("old"));
      for (let round = 0; round < 10; round++) {
        const broken = async function* (): AsyncGenerator<Uint8Array> {
          yield data.subarray(0, DIRECT_FROM + SLAB_BYTES + 5);
          throw new ObjectStoreError("Network", "client went away");
        };
        await assert.rejects(store.putObject("c", "keep", broken), /client went away/);
        await assert.rejects(store.putObject("c", "keep", data.subarray(0, SLAB_BYTES + 3), { etag: "0".repeat(32) }), /does not match/);
      }
      assert.equal((await store.getObject("c", "keep")).body.toString(), "old");
      assert.deepEqual(await readdir(join(root, "acct", "tmp")), []);
      // Every slab came back: a PUT needing all of them at once still completes.
      const big = randomBytes(DIRECT_FROM + 10 * SLAB_BYTES);
      assert.equal((await store.putObject("c", "after", chunked(big))).etag, md5(big));
    });

    it("streams large objects and ranges of them (O_DIRECT reads across slab boundaries)", async () => {
      await store.putObject("c", "ranged", data);
      const read = async (range?: ByteRange): Promise<Buffer> => {
        const r = await store.getObjectStream("c", "ranged", range ? { range } : {});
        const parts: Buffer[] = [];
        for await (const c of r.body) parts.push(c as Buffer);
        return Buffer.concat(parts);
      };
      assert.ok((await read()).equals(data), "whole object");
      const D = DIRECT_FROM;
      for (const [start, end] of [[0, 0], [1, SLAB_BYTES + 5], [D - 5, D + 5], [D - SLAB_BYTES - 7, D + SLAB_BYTES + 3], [D + 4095, D + SLAB_BYTES + 1],
        [D + 1, data.length - 1], [7, data.length - 1], [D + 2 * SLAB_BYTES, data.length - 1]] as const) {
        assert.ok((await read({ offset: start, length: end - start + 1 })).equals(data.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
      assert.ok((await read({ suffix: SLAB_BYTES + 10 })).equals(data.subarray(data.length - SLAB_BYTES - 10)), "suffix");
      // Readers that stop early give their slabs back.
      for (let i = 0; i < 20; i++) {
        const r = await store.getObjectStream("c", "ranged");
        for await (const _ of r.body) break;
      }
      const big = randomBytes(10 * SLAB_BYTES);
      assert.equal((await store.putObject("c", "after-reads", chunked(big))).etag, md5(big));
    });

    it("replaces a large version and serves the new one after reopening", async () => {
      const v1 = data.subarray(0, DIRECT_FROM + SLAB_BYTES);
      const v2 = data.subarray(7, 7 + SLAB_BYTES + 99);
      await store.putObject("c", "rep", v1);
      await store.putObject("c", "rep", chunked(v2));
      const again = await DiskObjectStore.open({ dir: join(root, "acct"), directIo });
      try {
        const got = await again.getObject("c", "rep");
        assert.equal(got.info.etag, md5(v2));
        assert.ok(got.body.equals(v2));
      } finally {
        await again.close();
      }
    });
  });
}
