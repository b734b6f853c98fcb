// Embedded server behaviour beyond the ObjectStore contract: tempauth, tokens, URL forms,
// persistence across restarts, crash leftovers, partial PUTs, containment of names, HTTP details.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile, mkdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { SwiftApiServer, parseUserSpec } from "./swift-api-server.js";
import { SwiftObjectStore } from "../swift/swift-object-store.js";
import { tempAuth, proxyfsStorageUrl } from "../swift/tempauth.js";
import { rawAuth, rawRequest } from "../testing/raw-http.js";
import { fileNameFor } from "../disk/object-file.js";

const users = [parseUserSpec("test:tester:testing"), parseUserSpec("other:user:pw")];

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) await walk(p, out);
  }
  return out;
}

describe("SwiftApiServer", () => {
  let root: string;
  let dir: string;
  let server: SwiftApiServer;
  let token: string;
  let base: string;
  const client = (s: SwiftApiServer, transform?: (u: string) => string): SwiftObjectStore =>
    new SwiftObjectStore({ authenticate: tempAuth({ authUrl: s.authUrl, user: "test:tester", key: "testing", ...(transform ? { transformStorageUrl: transform } : {}) }), retry: { limit: 1, delayMs: 10 } });

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "objstore-server-"));
    dir = join(root, "data");
    server = await SwiftApiServer.start({ dir, users });
    base = server.url;
    token = (await rawAuth(server.authUrl, "test:tester", "testing")).token;
    const r = await rawRequest(base, { method: "PUT", path: "/v1/AUTH_test/c", headers: { "X-Auth-Token": token } });
    assert.equal(r.status, 201);
  });
  after(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("authenticates like tempauth and checks the token on every request", async () => {
    const ok = await rawRequest(base, { path: "/auth/v1.0", headers: { "X-Auth-User": "test:tester", "X-Auth-Key": "testing" } });
    assert.equal(ok.status, 200);
    assert.match(String(ok.headers["x-auth-token"]), /^AUTH_tk[0-9a-f]{32}$/);
    assert.equal(ok.headers["x-storage-url"], `${base}/v1/AUTH_test`);
    assert.equal(ok.headers["x-auth-token-expires"], "86400");
    assert.equal((await rawRequest(base, { path: "/auth/v1.0", headers: { "X-Auth-User": "test:tester", "X-Auth-Key": "wrong" } })).status, 401);
    assert.equal((await rawRequest(base, { path: "/auth/v1.0", headers: { "X-Auth-User": "nobody:x", "X-Auth-Key": "testing" } })).status, 401);
    const none = await rawRequest(base, { path: "/v1/AUTH_test/c" });
    assert.equal(none.status, 401);
    assert.equal(none.headers["www-authenticate"], 'Swift realm="AUTH_test"');
    assert.equal((await rawRequest(base, { path: "/v1/AUTH_test/c", headers: { "X-Auth-Token": "AUTH_tkbogus" } })).status, 401);
    assert.equal((await rawRequest(base, { path: "/v1/AUTH_other/c", headers: { "X-Auth-Token": token } })).status, 403);
    assert.equal((await rawRequest(base, { path: "/v1/AUTH_test/c", headers: { "X-Storage-Token": token } })).status, 204);
  });

  it("expires tokens and the client re-authenticates once on 401", async () => {
    const dir2 = join(root, "expiry");
    const s = await SwiftApiServer.start({ dir: dir2, users, tokenLifetimeSec: 1 });
    let calls = 0;
    const auth = tempAuth({ authUrl: s.authUrl, user: "test:tester", key: "testing" });
    const store = new SwiftObjectStore({ authenticate: async () => { calls++; return auth(); }, retry: { limit: 2, delayMs: 10 } });
    try {
      await store.putContainer("x");
      assert.equal(calls, 1);
      await new Promise((r) => setTimeout(r, 1200));
      await Promise.all([store.headContainer("x"), store.headContainer("x"), store.headContainer("x")]);
      assert.equal(calls, 2, "concurrent 401s share one re-authentication");
    } finally {
      await store.close();
      await s.close();
    }
  });

  it("serves /proxyfs/<account>/... exactly like /v1/<account>/...", async () => {
    const viaProxyfs = client(server, proxyfsStorageUrl);
    try {
      await viaProxyfs.putObject("c", "bypass", Buffer.from("through proxyfs path"));
      assert.equal((await rawRequest(base, { path: "/v1/AUTH_test/c/bypass", headers: { "X-Auth-Token": token } })).body.toString(), "through proxyfs path");
      const g = await rawRequest(base, { path: "/proxyfs/AUTH_test/c/bypass", headers: { "X-Auth-Token": token, Range: "bytes=8-14" } });
      assert.equal(g.status, 206);
      assert.equal(g.body.toString(), "proxyfs");
      assert.equal((await rawRequest(base, { path: "/proxyfs/AUTH_other/c/bypass", headers: { "X-Auth-Token": token } })).status, 403);
      assert.equal((await rawRequest(base, { path: "/v2/AUTH_test/c/bypass", headers: { "X-Auth-Token": token } })).status, 404);
    } finally {
      await viaProxyfs.close();
    }
  });

  it("answers malformed requests with Swift's 4xx", async () => {
    const h = { "X-Auth-Token": token };
    const put = (path: string, headers: Record<string, string> = {}, body?: string) => rawRequest(base, { method: "PUT", path, headers: { ...h, ...headers }, ...(body !== undefined ? { body } : {}) });
    assert.equal((await put("/v1/AUTH_test/c/%FF%FE", { "Content-Length": "1" }, "x")).status, 412);
    assert.equal((await put("/v1/AUTH_test/c/a%00b", { "Content-Length": "1" }, "x")).status, 412);
    assert.equal((await put(`/v1/AUTH_test/c/${"x".repeat(1025)}`, { "Content-Length": "1" }, "x")).status, 400);
    assert.equal((await put(`/v1/AUTH_test/${"y".repeat(257)}`)).status, 400);
    assert.equal((await put("/v1/AUTH_test/nocontainer/x", { "Content-Length": "1" }, "x")).status, 404);
    assert.equal((await put("/v1/AUTH_test/c/big", { "Content-Length": "5368709123" })).status, 413);
    assert.equal((await put("/v1/AUTH_test/c/meta", { "Content-Length": "1", "X-Object-Meta-K": "v".repeat(257) }, "x")).status, 400);
    assert.equal((await rawRequest(base, { method: "PATCH", path: "/v1/AUTH_test/c/x", headers: h })).status, 405);
    assert.equal((await rawRequest(base, { path: "/v1/AUTH_test/c?limit=10001", headers: h })).status, 412);
    assert.equal((await put("/v1/AUTH_test/c/once", { "Content-Length": "1" }, "x")).status, 201);
    assert.equal((await put("/v1/AUTH_test/c/once", { "Content-Length": "1", "If-None-Match": "*" }, "y")).status, 412);
    const r416 = await rawRequest(base, { path: "/v1/AUTH_test/c/once", headers: { ...h, Range: "bytes=5-" } });
    assert.equal(r416.status, 416);
    assert.equal(r416.headers["content-range"], "bytes */1");
    // A PUT without Content-Length or chunked encoding: write the request by hand.
    const noLen = await new Promise<string>((resolve, reject) => {
      const u = new URL(base);
      const sock = net.connect(Number(u.port), u.hostname, () => sock.write(`PUT /v1/AUTH_test/c/nolen HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${token}\r\nConnection: close\r\n\r\n`));
      let out = "";
      sock.on("data", (d) => (out += d.toString()));
      sock.on("end", () => resolve(out));
      sock.on("error", reject);
    });
    assert.match(noLen, /^HTTP\/1\.1 411 /);
  });

  it("stores chunked PUTs sent with Expect: 100-continue", async () => {
    const u = new URL(base);
    const body = Buffer.alloc(300_000, 7);
    const reply = await new Promise<string>((resolve, reject) => {
      const sock = net.connect(Number(u.port), u.hostname, () => {
        sock.write(`PUT /v1/AUTH_test/c/chunked HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${token}\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`);
      });
      let out = "";
      let sent = false;
      sock.on("data", (d) => {
        out += d.toString();
        if (!sent && out.startsWith("HTTP/1.1 100")) {
          sent = true;
          for (let off = 0; off < body.length; off += 100_000) sock.write(`${(100_000).toString(16)}\r\n${body.subarray(off, off + 100_000).toString("latin1")}\r\n`, "latin1");
          sock.write("0\r\n\r\n");
        }
      });
      sock.on("end", () => resolve(out));
      sock.on("error", reject);
    });
    assert.match(reply, /HTTP\/1\.1 100 Continue/);
    assert.match(reply, /HTTP\/1\.1 201 Created/);
    assert.match(reply, new RegExp(`Etag: ${createHash("md5").update(body).digest("hex")}`, "i"));
  });

  it("never makes a partial PUT visible and keeps the previous version", async () => {
    const store = client(server);
    try {
      await store.putObject("c", "partial", Buffer.from("old version"));
      const u = new URL(base);
      await new Promise<void>((resolve) => {
        const sock = net.connect(Number(u.port), u.hostname, () => {
          sock.write(`PUT /v1/AUTH_test/c/partial HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${token}\r\nContent-Length: 1000000\r\n\r\n`);
          sock.write(Buffer.alloc(200_000, 1), () => setTimeout(() => { sock.destroy(); resolve(); }, 50));
        });
        sock.on("error", () => resolve());
      });
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await store.getObject("c", "partial")).body.toString(), "old version");
      const tmpFiles = await readdir(join(dir, "accounts", fileNameFor("AUTH_test", "a"), "tmp"));
      assert.deepEqual(tmpFiles, [], "aborted upload left a temp file behind");
    } finally {
      await store.close();
    }
  });

  it("keeps every name inside the data directory", async () => {
    const store = client(server);
    try {
      for (const n of ["../../../escape", "..", "/abs/path", "a/../../b", "x".repeat(1000)]) await store.putObject("c", n, Buffer.from(n));
      await store.putContainer("..");
      await store.putObject("..", "..", Buffer.from("dots"));
      assert.equal((await store.getObject("..", "..")).body.toString(), "dots");
      for (const p of await walk(root)) assert.ok(!relative(dir, p).startsWith("..") || p === dir || relative(root, p).startsWith("expiry"), `${p} is outside ${dir}`);
      await assert.rejects(stat(join(root, "escape")));
      await assert.rejects(stat("/abs/path"));
    } finally {
      await store.close();
    }
  });

  it("serves everything acknowledged after a restart and cleans crash leftovers", async () => {
    const store = client(server);
    await store.putContainer("persist", { metadata: { color: "green" } });
    await store.postAccount({ owner: "me" });
    const big = Buffer.alloc(3 << 20, 9);
    await store.putObject("persist", "big", big, { metadata: { a: "1" } });
    await store.putObject("persist", "small", Buffer.from("small"), { contentType: "text/x-small" });
    await store.postObject("persist", "small", { b: "2" });
    await store.putObject("persist", "gone", Buffer.from("x"));
    await store.deleteObject("persist", "gone");
    const before = await store.headObject("persist", "small");
    await store.close();
    await server.close();
    // Leftovers a crash could leave: a temp file and a container directory without container.json.
    const acct = join(dir, "accounts", fileNameFor("AUTH_test", "a"));
    await writeFile(join(acct, "tmp", "deadbeef"), "partial");
    await mkdir(join(acct, fileNameFor("half-made", "c")));
    server = await SwiftApiServer.start({ dir, users });
    base = server.url;
    token = (await rawAuth(server.authUrl, "test:tester", "testing")).token;
    const s2 = client(server);
    try {
      assert.ok((await s2.getObject("persist", "big")).body.equals(big));
      assert.deepEqual((await s2.headObject("persist", "big")).metadata, { a: "1" });
      const small = await s2.headObject("persist", "small");
      assert.deepEqual(small, before);
      assert.equal(small.contentType, "text/x-small");
      await assert.rejects(s2.headObject("persist", "gone"));
      const ci = await s2.headContainer("persist");
      assert.deepEqual(ci.metadata, { color: "green" });
      assert.equal(ci.objectCount, 2n);
      assert.equal(ci.bytesUsed, BigInt(big.length + 5));
      assert.equal((await s2.headAccount()).metadata["owner"], "me");
      assert.deepEqual(await readdir(join(acct, "tmp")), []);
      await assert.rejects(s2.headContainer("half-made"));
      assert.deepEqual((await s2.listContainers()).map((c) => c.name).filter((n) => n === "half-made"), []);
    } finally {
      await s2.close();
    }
  });

  it("lists in plain text, JSON (Python's formatting) and XML", async () => {
    const h = { "X-Auth-Token": token };
    await rawRequest(base, { method: "PUT", path: "/v1/AUTH_test/fmt", headers: h });
    const empty = await rawRequest(base, { path: "/v1/AUTH_test/fmt", headers: h });
    assert.equal(empty.status, 204);
    const emptyJson = await rawRequest(base, { path: "/v1/AUTH_test/fmt?format=json", headers: h });
    assert.equal(emptyJson.status, 200);
    assert.equal(emptyJson.body.toString(), "[]");
    for (const n of ["b", "a/1", "é"]) await rawRequest(base, { method: "PUT", path: `/v1/AUTH_test/fmt/${encodeURIComponent(n)}`, headers: { ...h, "Content-Type": "text/plain" }, body: "hi" });
    const plain = await rawRequest(base, { path: "/v1/AUTH_test/fmt", headers: h });
    assert.equal(plain.headers["content-type"], "text/plain; charset=utf-8");
    assert.equal(plain.body.toString(), "a/1\nb\né\n");
    const js = await rawRequest(base, { path: "/v1/AUTH_test/fmt?format=json&delimiter=/", headers: h });
    assert.equal(js.headers["content-type"], "application/json; charset=utf-8");
    assert.match(js.body.toString(), /^\[\{"subdir": "a\/"\}, \{"bytes": 2, "hash": "49f68a5c8493ec2c0bf489821c21fc3b", "name": "b", "content_type": "text\/plain", "last_modified": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}"\}, \{"bytes": 2, "hash": "[0-9a-f]{32}", "name": "\\u00e9", /);
    const xml = await rawRequest(base, { path: "/v1/AUTH_test/fmt?format=xml", headers: h });
    assert.match(xml.body.toString(), /^<\?xml version="1.0" encoding="UTF-8"\?>\n<container name="fmt"><object><bytes>2<\/bytes><hash>[0-9a-f]+<\/hash><name>a\/1<\/name>/);
    const acct = await rawRequest(base, { path: "/v1/AUTH_test?format=json&prefix=fmt", headers: h });
    assert.match(acct.body.toString(), /^\[\{"name": "fmt", "count": 3, "bytes": 6, "last_modified": "[^"]+"\}\]$/);
  });
});
