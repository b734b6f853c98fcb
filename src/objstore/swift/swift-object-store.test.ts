// SwiftObjectStore's request engine against a scripted HTTP server on 127.0.0.1: retries and
// their schedule, re-authentication, connection resets, timeouts, keep-alive pooling, body replay
// and Expect: 100-continue.
import { describe, it, afterEach } from "node:test";
import assert from "node:assert/strict";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createHash } from "node:crypto";
import { SwiftObjectStore } from "./swift-object-store.js";
import { RetryPolicy } from "./retry-policy.js";
import { ObjectStoreError } from "../object-store-error.js";

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer, n: number) => void;

interface Fake { url: string; requests: Array<{ method: string; url: string; token: string; body: Buffer }>; connections: number; close: () => Promise<void> }

const open: Fake[] = [];
afterEach(async () => { while (open.length) await open.pop()!.close(); });

async function fake(handler: Handler, opts: { readBody?: boolean } = {}): Promise<Fake> {
  const f: Fake = { url: "", requests: [], connections: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    const n = f.requests.length;
    const rec = { method: req.method ?? "", url: req.url ?? "", token: String(req.headers["x-auth-token"] ?? ""), body: Buffer.alloc(0) };
    f.requests.push(rec);
    if (opts.readBody === false) return handler(req, res, Buffer.alloc(0), n);
    req.on("data", (c: Buffer) => parts.push(c));
    req.on("end", () => { rec.body = Buffer.concat(parts); handler(req, res, rec.body, n); });
  });
  server.on("connection", () => f.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  f.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/AUTH_test`;
  f.close = () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
  open.push(f);
  return f;
}

function store(f: Fake, extra: Partial<ConstructorParameters<typeof SwiftObjectStore>[0]> = {}, sleeps: number[] = []): SwiftObjectStore {
  return new SwiftObjectStore({
    authenticate: async () => ({ token: "tok-1", storageUrl: f.url }),
    retry: { limit: 3, delayMs: 100, variancePercent: 25, expBackoff: 2 },
    sleep: async (ms) => { sleeps.push(ms); },
    ...extra,
  });
}

describe("SwiftObjectStore request engine", () => {
  it("computes pfsagentd's retry schedule", () => {
    const p = new RetryPolicy({ limit: 10, delayMs: 1000, variancePercent: 25, expBackoff: 1.4 }, () => 0.999999);
    assert.equal(p.nominalMs(0), 1000);
    assert.ok(Math.abs(p.nominalMs(2) - 1960) < 1e-9);
    assert.ok(p.delayMs(0) > 750 && p.delayMs(0) <= 1000);
    const lo = new RetryPolicy({ delayMs: 1000, variancePercent: 25 }, () => 0);
    assert.equal(lo.delayMs(1), 1400);
    assert.throws(() => new RetryPolicy({ variancePercent: 0 }), RangeError);
    assert.throws(() => new RetryPolicy({ variancePercent: 101 }), RangeError);
    assert.throws(() => new RetryPolicy({ limit: -1 }), RangeError);
  });

  it("retries 503 with backoff and succeeds, resending the whole PUT body from a factory", async () => {
    const f = await fake((_req, res, _body, n) => {
      if (n < 2) { res.writeHead(503); res.end("busy"); return; }
      res.writeHead(201, { Etag: "abc", "Last-Modified": new Date().toUTCString() });
      res.end();
    });
    const sleeps: number[] = [];
    const s = store(f, {}, sleeps);
    let calls = 0;
    const chunks = [Buffer.from("part one "), Buffer.from("part two")];
    const r = await s.putObject("c", "o", () => { calls++; return (async function* () { yield* chunks; })(); });
    assert.equal(r.etag, "abc");
    assert.equal(f.requests.length, 3);
    assert.equal(calls, 3, "the body factory is called once per attempt");
    for (const q of f.requests) assert.equal(q.body.toString(), "part one part two");
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[0]! > 75 && sleeps[0]! <= 100, `first delay ${sleeps[0]}`);
    assert.ok(sleeps[1]! > 150 && sleeps[1]! <= 200, `second delay ${sleeps[1]}`);
    await s.close();
  });

  it("gives up after SwiftRetryLimit retries and does not retry 404", async () => {
    const f = await fake((_req, res) => { res.writeHead(500); res.end("<html>broken</html>"); });
    const s = store(f);
    await assert.rejects(s.getObject("c", "o"), (e: unknown) => e instanceof ObjectStoreError && e.code === "ServerError" && e.status === 500 && /broken/.test(e.message));
    assert.equal(f.requests.length, 4);
    const g = await fake((_req, res) => { res.writeHead(404); res.end(); });
    const s2 = store(g);
    await assert.rejects(s2.getObject("c", "o"), (e: unknown) => ObjectStoreError.is(e, "NotFound"));
    assert.equal(g.requests.length, 1);
    await s.close();
    await s2.close();
  });

  it("re-authenticates once per 401 and retries with the new token", async () => {
    const f = await fake((req, res) => {
      if (req.headers["x-auth-token"] !== "tok-2") { res.writeHead(401); res.end(); return; }
      res.writeHead(204, { "X-Container-Object-Count": "3", "X-Container-Bytes-Used": "12345678901234567890" });
      res.end();
    });
    let authCalls = 0;
    const s = new SwiftObjectStore({
      credentials: { token: "tok-1", storageUrl: f.url },
      authenticate: async () => { authCalls++; await new Promise((r) => setTimeout(r, 20)); return { token: "tok-2", storageUrl: f.url }; },
      retry: { limit: 3, delayMs: 1 },
    });
    const infos = await Promise.all([s.headContainer("c"), s.headContainer("c"), s.headContainer("c")]);
    assert.equal(authCalls, 1);
    assert.equal(infos[0]!.bytesUsed, 12345678901234567890n);
    const bad = await fake((_req, res) => { res.writeHead(401); res.end(); });
    let n = 0;
    const s2 = new SwiftObjectStore({ authenticate: async () => { n++; return { token: `t${n}`, storageUrl: bad.url }; }, retry: { limit: 2, delayMs: 1 } });
    await assert.rejects(s2.headContainer("c"), (e: unknown) => ObjectStoreError.is(e, "Unauthorized"));
    assert.equal(bad.requests.length, 3);
    assert.equal(n, 3, "initial authentication plus one per 401 that had a retry left");
    await s.close();
    await s2.close();
  });

  it("retries connection resets and times out hung requests", async () => {
    const f = await fake((req, res, _b, n) => {
      if (n === 0) { req.socket.destroy(); return; }
      res.writeHead(200, { "Content-Length": "5" });
      res.end("hello");
    });
    const s = store(f);
    assert.equal((await s.getObject("c", "o")).body.toString(), "hello");
    assert.equal(f.requests.length, 2);
    const hang = await fake(() => undefined);
    const s2 = store(hang, { timeoutMs: 100, retry: { limit: 1, delayMs: 1 } });
    const t0 = Date.now();
    await assert.rejects(s2.headObject("c", "o"), (e: unknown) => ObjectStoreError.is(e, "Timeout"));
    assert.equal(hang.requests.length, 2);
    assert.ok(Date.now() - t0 >= 190);
    await s.close();
    await s2.close();
  });

  it("pools keep-alive connections and streams GET bodies", async () => {
    const big = Buffer.alloc(5 << 20, 3);
    const f = await fake((_req, res) => { res.writeHead(200, { "Content-Length": String(big.length), Etag: "e" }); res.end(big); });
    const s = store(f, { connectionPoolSize: 2 });
    for (let i = 0; i < 10; i++) await s.getObject("c", "o");
    assert.equal(f.connections, 1);
    await Promise.all(Array.from({ length: 6 }, () => s.getObject("c", "o")));
    assert.ok(f.connections <= 2, `pool of 2 opened ${f.connections} connections`);
    const st = await s.getObjectStream("c", "o");
    const h = createHash("md5");
    for await (const c of st.body) h.update(c as Buffer);
    assert.equal(h.digest("hex"), createHash("md5").update(big).digest("hex"));
    await s.close();
  });

  it("does not upload a large body the server refuses before 100 Continue", async () => {
    let bodyBytes = 0;
    const server = http.createServer((_req, res) => { res.writeHead(500); res.end(); });
    server.on("checkContinue", (req, res) => {
      req.on("data", (c: Buffer) => { bodyBytes += c.length; });
      res.writeHead(404, { Connection: "close" });
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/AUTH_test`;
    const s = new SwiftObjectStore({ authenticate: async () => ({ token: "t", storageUrl: url }), retry: { limit: 0 } });
    await assert.rejects(s.putObject("c", "o", Buffer.alloc(8 << 20)), (e: unknown) => ObjectStoreError.is(e, "NotFound"));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(bodyBytes, 0);
    await s.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("aborts an in-flight request when the signal fires", async () => {
    const f = await fake(() => undefined);
    const s = store(f);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(s.getObject("c", "o", { signal: ac.signal }), (e: unknown) => ObjectStoreError.is(e, "Aborted"));
    await s.close();
  });
});
