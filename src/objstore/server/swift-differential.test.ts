// Differential test: the same raw HTTP requests against real Swift (SAIO, PFS_TEST_SWIFT=1) and
// the embedded server; every client-visible difference (status, the listed headers, bodies with
// timestamps masked) fails the test. Each case names the Swift behaviour it pins down.
import { describe, it, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SwiftApiServer } from "./swift-api-server.js";
import { rawAuth, rawRequest, type RawReply } from "../testing/raw-http.js";

const enabled = process.env.PFS_TEST_SWIFT === "1";

interface Side { name: string; base: string; prefix: string; token: string }
interface Case {
  what: string;
  method?: string;
  /** Path below /v1/<account>; "{c}" is replaced with the side's container. */
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Headers whose values must be equal. */
  same?: string[];
  /** Headers that must be present on both (values may differ, e.g. timestamps). */
  present?: string[];
  /** Compare bodies after masking timestamps. */
  body_equal?: boolean;
}

function mask(b: Buffer, container: string): string {
  return b.toString("utf8")
    .split(container).join("{c}")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}/g, "<time>")
    .replace(/\d{10}\.\d{5}/g, "<ts>");
}

describe("embedded server vs real Swift (differential)", { skip: enabled ? false : "set PFS_TEST_SWIFT=1 to compare with real Swift" }, () => {
  const run = randomBytes(4).toString("hex");
  let server: SwiftApiServer;
  let dir: string;
  const sides: Side[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "objstore-diff-"));
    server = await SwiftApiServer.start({ dir, users: [{ account: "test", user: "tester", key: "testing" }] });
    for (const [name, authUrl] of [["swift", "http://127.0.0.1:8080/auth/v1.0"], ["embedded", server.authUrl]] as const) {
      const a = await rawAuth(authUrl, "test:tester", "testing");
      const u = new URL(a.storageUrl);
      sides.push({ name, base: `${u.protocol}//${u.host}`, prefix: u.pathname, token: a.token });
    }
  });
  after(async () => {
    for (const s of sides) {
      for (const o of ["o", "empty", "chunk", "x", "a/1", "a/2", "b", "é"]) await rawRequest(s.base, { method: "DELETE", path: `${s.prefix}/diff-${run}/${encodeURIComponent(o)}`, headers: { "X-Auth-Token": s.token } });
      await rawRequest(s.base, { method: "DELETE", path: `${s.prefix}/diff-${run}`, headers: { "X-Auth-Token": s.token } });
    }
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const c = (): string => `diff-${run}`;
  const cases: Case[] = [
    { what: "PUT container creates (201)", method: "PUT", path: "/{c}", headers: { "X-Container-Meta-Color": "red" } },
    { what: "PUT existing container accepts (202)", method: "PUT", path: "/{c}", same: ["content-type"], body_equal: true },
    { what: "HEAD container", method: "HEAD", path: "/{c}", same: ["content-type", "x-container-object-count", "x-container-bytes-used", "x-container-meta-color", "accept-ranges", "x-storage-policy", "vary"], present: ["x-timestamp", "last-modified"] },
    { what: "empty plain listing is 204", path: "/{c}", same: ["content-type", "content-length"] },
    { what: "empty JSON listing is []", path: "/{c}?format=json", same: ["content-type"], body_equal: true },
    { what: "POST container metadata", method: "POST", path: "/{c}", headers: { "X-Container-Meta-Shape": "round", "X-Remove-Container-Meta-Color": "x" } },
    { what: "container metadata after POST", method: "HEAD", path: "/{c}", same: ["x-container-meta-shape", "x-container-meta-color"] },
    { what: "PUT object", method: "PUT", path: "/{c}/o", headers: { "X-Object-Meta-Color": "blue", "Content-Type": "text/plain" }, body: "hello world", same: ["etag", "content-type", "content-length"], present: ["last-modified"] },
    { what: "PUT zero-byte object", method: "PUT", path: "/{c}/empty", headers: { "Content-Type": "application/octet-stream" }, body: "", same: ["etag"] },
    { what: "GET object", path: "/{c}/o", same: ["content-type", "etag", "accept-ranges", "content-length", "x-object-meta-color"], present: ["x-timestamp", "last-modified"], body_equal: true },
    { what: "HEAD object", method: "HEAD", path: "/{c}/o", same: ["content-type", "etag", "accept-ranges", "content-length", "x-object-meta-color"], present: ["x-timestamp", "last-modified"] },
    { what: "single range", path: "/{c}/o", headers: { Range: "bytes=2-4" }, same: ["content-range", "content-length", "etag"], body_equal: true },
    { what: "open range", path: "/{c}/o", headers: { Range: "bytes=6-" }, same: ["content-range", "content-length"], body_equal: true },
    { what: "suffix range", path: "/{c}/o", headers: { Range: "bytes=-3" }, same: ["content-range", "content-length"], body_equal: true },
    { what: "range past the end is clipped", path: "/{c}/o", headers: { Range: "bytes=8-100" }, same: ["content-range", "content-length"], body_equal: true },
    { what: "unsatisfiable range (416)", path: "/{c}/o", headers: { Range: "bytes=20-30" }, same: ["content-range", "content-type"], body_equal: true },
    { what: "malformed range is ignored (200)", path: "/{c}/o", headers: { Range: "bytes=x-y" }, same: ["content-length"], body_equal: true },
    { what: "range on a zero-byte object", path: "/{c}/empty", headers: { Range: "bytes=0-10" }, same: ["content-range", "content-length"] },
    { what: "suffix range on a zero-byte object", path: "/{c}/empty", headers: { Range: "bytes=-5" }, same: ["content-length"] },
    { what: "If-None-Match: * on existing object (412)", method: "PUT", path: "/{c}/o", headers: { "If-None-Match": "*" }, body: "x", body_equal: true },
    { what: "ETag mismatch (422)", method: "PUT", path: "/{c}/x", headers: { ETag: "00000000000000000000000000000000" }, body: "x", body_equal: true },
    { what: "ETag match (201)", method: "PUT", path: "/{c}/x", headers: { ETag: "9dd4e461268c8034f5c8564e155c67a6" }, body: "x", same: ["etag"] },
    { what: "POST object metadata (202)", method: "POST", path: "/{c}/o", headers: { "X-Object-Meta-Shape": "square" }, body_equal: true },
    { what: "POST replaced object metadata", method: "HEAD", path: "/{c}/o", same: ["x-object-meta-shape", "x-object-meta-color", "etag"] },
    { what: "GET missing object (404)", path: "/{c}/nope", same: ["content-type"], body_equal: true },
    { what: "DELETE missing object (404)", method: "DELETE", path: "/{c}/nope" },
    { what: "HEAD missing container (404)", method: "HEAD", path: "/nocontainer-{c}" },
    { what: "PUT into missing container (404)", method: "PUT", path: "/nocontainer-{c}/x", body: "x" },
    { what: "DELETE non-empty container (409)", method: "DELETE", path: "/{c}", body_equal: true },
    { what: "object name not UTF-8 (412)", method: "PUT", path: "/{c}/%FF", body: "x" },
    { what: "object name with NUL (412)", method: "PUT", path: "/{c}/a%00b", body: "x" },
    { what: "object name of 1025 bytes (400)", method: "PUT", path: `/{c}/${"n".repeat(1025)}`, body: "x" },
    { what: "object name of 1024 bytes (201)", method: "PUT", path: `/{c}/${"n".repeat(1024)}`, body: "x" },
    { what: "DELETE object of 1024 bytes", method: "DELETE", path: `/{c}/${"n".repeat(1024)}` },
    { what: "container name of 257 bytes (400)", method: "PUT", path: `/${"k".repeat(257)}` },
    { what: "metadata value too long (400)", method: "PUT", path: "/{c}/x", headers: { "X-Object-Meta-Long": "v".repeat(257) }, body: "x" },
    { what: "listing limit above 10000 (412)", path: "/{c}?limit=10001" },
    { what: "listing limit 0", path: "/{c}?limit=0&format=json", body_equal: true },
    { what: "objects for listings", method: "PUT", path: "/{c}/a%2F1", body: "1" },
    { what: "objects for listings", method: "PUT", path: "/{c}/a%2F2", body: "22" },
    { what: "objects for listings", method: "PUT", path: "/{c}/b", body: "333" },
    { what: "objects for listings", method: "PUT", path: "/{c}/%C3%A9", body: "4444" },
    { what: "plain listing", path: "/{c}", same: ["content-type", "x-container-object-count", "x-container-bytes-used"], body_equal: true },
    { what: "JSON listing", path: "/{c}?format=json", same: ["content-type"], body_equal: true },
    { what: "JSON listing via Accept", path: "/{c}", headers: { Accept: "application/json" }, same: ["content-type"], body_equal: true },
    { what: "delimiter listing", path: "/{c}?format=json&delimiter=/", body_equal: true },
    { what: "prefix + delimiter listing", path: "/{c}?prefix=a/&delimiter=/", body_equal: true },
    { what: "marker / end_marker / limit", path: "/{c}?marker=a/1&end_marker=%C3%A9&limit=2", body_equal: true },
    { what: "unknown method (405)", method: "PATCH", path: "/{c}/o" },
    { what: "account HEAD", method: "HEAD", path: "", same: ["content-type", "accept-ranges"], present: ["x-account-container-count", "x-account-object-count", "x-account-bytes-used"] },
    { what: "account POST metadata", method: "POST", path: "", headers: { [`X-Account-Meta-Diff${run}`]: "1" } },
    { what: "account metadata reads back", method: "HEAD", path: "", same: [`x-account-meta-diff${run}`] },
    { what: "account metadata removed", method: "POST", path: "", headers: { [`X-Remove-Account-Meta-Diff${run}`]: "x" } },
    { what: "no token (401)", path: "/{c}", headers: { "X-Auth-Token": "" }, same: ["www-authenticate"], body_equal: true },
    { what: "bad token (401)", path: "/{c}", headers: { "X-Auth-Token": "AUTH_tkinvalid" }, same: ["www-authenticate"] },
  ];

  it("answers every case like real Swift", async () => {
    const diffs: string[] = [];
    for (const k of cases) {
      const replies: RawReply[] = [];
      for (const s of sides) {
        const headers: Record<string, string> = { "X-Auth-Token": s.token, ...(k.headers ?? {}) };
        if (headers["X-Auth-Token"] === "") delete headers["X-Auth-Token"];
        if (k.method === "PUT" && k.path.split("/").length > 2 && !headers["Content-Type"]) headers["Content-Type"] = "application/octet-stream";
        replies.push(await rawRequest(s.base, {
          method: k.method ?? "GET",
          path: `${s.prefix}${k.path.replace("{c}", c())}`,
          headers,
          ...(k.body !== undefined ? { body: k.body } : {}),
        }));
      }
      const [sw, em] = replies as [RawReply, RawReply];
      const tag = `${k.what} [${k.method ?? "GET"} ${k.path.slice(0, 40)}]`;
      if (sw.status !== em.status) diffs.push(`${tag}: status swift ${sw.status} vs embedded ${em.status}`);
      for (const h of k.same ?? []) if (sw.headers[h] !== em.headers[h]) diffs.push(`${tag}: header ${h} swift ${JSON.stringify(sw.headers[h])} vs embedded ${JSON.stringify(em.headers[h])}`);
      for (const h of k.present ?? []) if ((sw.headers[h] === undefined) !== (em.headers[h] === undefined)) diffs.push(`${tag}: header ${h} present on one side only`);
      if (k.body_equal && mask(sw.body, c()) !== mask(em.body, c())) diffs.push(`${tag}: body swift ${JSON.stringify(mask(sw.body, c()).slice(0, 300))} vs embedded ${JSON.stringify(mask(em.body, c()).slice(0, 300))}`);
    }
    assert.deepEqual(diffs, []);
  });
});
