// RetryRpcServer + RetryRpcClient over real TLS on 127.0.0.1.
import { test } from "node:test";
import tls from "node:tls";
import assert from "node:assert/strict";
import { FsError, Errno } from "../base/errno.js";
import { RetryRpcServer } from "./server.js";
import { RetryRpcClient } from "./client.js";
import { RpcClosedError, RpcConnectError, RpcHandlerError, RpcReplyError, UNKNOWN_CLIENT_ERRSTR } from "./errors.js";
import { encodeFrame, MsgType } from "./frame.js";
import { generateServerCredentials } from "./tls-credentials.js";
import { testCredentials } from "./testing/test-credentials.js";
import { RawClient } from "./testing/raw-client.js";

const quiet = () => {};

async function startServer(opts: Partial<ConstructorParameters<typeof RetryRpcServer>[0]> = {}) {
  const credentials = await testCredentials();
  const server = new RetryRpcServer({ credentials, log: quiet, ...opts });
  server.register("RpcEcho", async (_m, req, client) => ({ Client: client.clientId, Req: req }));
  server.register("RpcFail", async (_m, req) => {
    const r = req as { Kind: string };
    if (r.Kind === "errno") throw new FsError(Errno.ENOTEMPTY);
    if (r.Kind === "text") throw new RpcHandlerError("LeaseRequestType 9 not supported");
    throw new Error("boom");
  });
  const port = await server.listen();
  return { server, port, credentials };
}

function client(port: number, caCertPem: string, clientId: string, extra: Partial<ConstructorParameters<typeof RetryRpcClient>[0]> = {}) {
  return new RetryRpcClient({ host: "127.0.0.1", port, clientId, caCertPem, log: quiet, ...extra });
}

test("calls round-trip over TLS with bigint-safe params and results, and errors carry 1.17.1 errstr", async () => {
  const { server, port, credentials } = await startServer();
  const c = client(port, credentials.caCertPem, "p6VhGdnVn3Z3ijWHzaXWTw==");
  try {
    assert.equal(server.stats.connections, 0, "the client dials lazily");
    const r = await c.call("RpcEcho", { MountID: "x<y", InodeNumber: 1795639066580707229n, Small: 3 });
    assert.deepEqual(r, { Client: "p6VhGdnVn3Z3ijWHzaXWTw==", Req: { MountID: "x<y", InodeNumber: 1795639066580707229n, Small: 3 } });
    const expectErr = async (params: unknown, method: string, errstr: string, errno: number | undefined) => {
      await assert.rejects(c.call(method, params), (e: unknown) => {
        assert.ok(e instanceof RpcReplyError);
        assert.equal(e.errstr, errstr);
        assert.equal(e.errno, errno);
        return true;
      });
    };
    await expectErr({ Kind: "errno" }, "RpcFail", "errno: 39", 39);
    await expectErr({ Kind: "text" }, "RpcFail", "LeaseRequestType 9 not supported", undefined);
    await expectErr({ Kind: "other" }, "RpcFail", "errno: 5", 5);
    await expectErr({}, "RpcNoSuchMethod", "errno: 2", 2);
    assert.equal(c.highestReplySeen, 5);
    assert.equal(server.stats.connections, 1);
  } finally {
    await c.close();
    await server.close();
  }
});

test("several clients with many concurrent calls each get their own replies; acks trim the cache", async () => {
  const { server, port, credentials } = await startServer({ ackTrimMs: 20 });
  server.register("RpcSlowAdd", async (_m, req) => {
    const r = req as { A: number; B: bigint };
    await new Promise((res) => setTimeout(res, Math.random() * 5)); // replies come back out of order
    return { Sum: BigInt(r.A) + r.B };
  });
  const clients = ["A", "B", "C", "D"].map((id) => client(port, credentials.caCertPem, `mount-${id}`));
  try {
    await Promise.all(clients.map(async (c, ci) => {
      const calls = [];
      for (let i = 0; i < 100; i++) calls.push(c.call("RpcSlowAdd", { A: i, B: 10n ** 18n * BigInt(ci + 1) }));
      const results = (await Promise.all(calls)) as Array<{ Sum: bigint }>;
      results.forEach((r, i) => assert.equal(r.Sum, BigInt(i) + 10n ** 18n * BigInt(ci + 1)));
      assert.equal(c.highestReplySeen, 100);
    }));
    assert.equal(server.stats.executed, 400);
    assert.deepEqual(server.clientIds.sort(), ["mount-A", "mount-B", "mount-C", "mount-D"]);
    // One more call per client acknowledges all 100 earlier replies; the trim timer drops them.
    await Promise.all(clients.map((c) => c.call("RpcEcho", {})));
    await new Promise((r) => setTimeout(r, 80));
    for (const id of server.clientIds) assert.equal(server.cachedReplies(id), 1, `cache of ${id}`);
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  }
});

test("upcalls reach the named client only; an unknown client gets nothing and no crash", async () => {
  const { server, port, credentials } = await startServer();
  const got: Record<string, string[]> = { a: [], b: [] };
  const a = client(port, credentials.caCertPem, "a", { onUpcall: (p) => got.a!.push(p.toString()) });
  const b = client(port, credentials.caCertPem, "b", { onUpcall: (p) => got.b!.push(p.toString()) });
  try {
    await a.connect();
    await b.call("RpcEcho", {});
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.sendUpcall("a", { RPCInterruptType: 2, InodeNumber: 1 }), true);
    assert.equal(server.sendUpcall("b", '{"RPCInterruptType":1,"InodeNumber":9223372036854775807}'), true);
    assert.equal(server.sendUpcall("nobody", { RPCInterruptType: 0, InodeNumber: 1 }), false);
    for (let i = 0; i < 100 && (got.a!.length < 1 || got.b!.length < 1); i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, { a: ['{"RPCInterruptType":2,"InodeNumber":1}'], b: ['{"RPCInterruptType":1,"InodeNumber":9223372036854775807}'] });
    assert.equal(server.stats.upcallsDropped, 1);
  } finally {
    await a.close();
    await b.close();
    await server.close();
  }
});

test("a client with the wrong CA fails with RpcConnectError; the server keeps serving", async () => {
  const { server, port, credentials } = await startServer();
  const other = await generateServerCredentials({ publicAddress: "127.0.0.1" });
  const bad = client(port, other.caCertPem, "bad", { connectRetryLimit: 2, connectRetryDelayMs: 5 });
  const good = client(port, credentials.caCertPem, "good");
  try {
    await assert.rejects(bad.call("RpcEcho", {}), (e: unknown) => e instanceof RpcConnectError && /after 3 attempts/.test(e.message));
    assert.deepEqual(await good.call("RpcEcho", 1), { Client: "good", Req: 1 });
  } finally {
    await bad.close();
    await good.close();
    await server.close();
  }
});

test("connecting to a closed port fails after the retry limit, and a later call tries again", async () => {
  const { server, port, credentials } = await startServer();
  await server.close();
  const c = client(port, credentials.caCertPem, "x", { connectRetryLimit: 3, connectRetryDelayMs: 5 });
  const t0 = Date.now();
  await assert.rejects(c.call("RpcEcho", {}), RpcConnectError);
  assert.ok(Date.now() - t0 >= 5 + 10 + 20, "backoff doubled between attempts");
  const again = new RetryRpcServer({ credentials, port, log: quiet });
  again.register("RpcEcho", async () => "back");
  await again.listen();
  try {
    assert.equal(await c.call("RpcEcho", {}), "back");
  } finally {
    await c.close();
    await again.close();
  }
});

test("a reconnect from a client the server does not know gets a clean error, never a crash", async () => {
  const known = new Set(["mounted"]);
  const { server, port, credentials } = await startServer({ authorizeClient: (id) => known.has(id) });
  let executed = 0;
  server.register("RpcCount", async () => ++executed);
  const stranger = client(port, credentials.caCertPem, "AAAAAAAAAAAAAAAAAAAAAA==");
  const friend = client(port, credentials.caCertPem, "mounted");
  try {
    await assert.rejects(stranger.call("RpcCount", {}), (e: unknown) => e instanceof RpcReplyError && e.errstr === UNKNOWN_CLIENT_ERRSTR && e.errno === Errno.ESTALE);
    assert.equal(await friend.call("RpcCount", {}), 1);
    // The mount goes away (e.g. unmounted, or the server restarted and lost it); the same client reconnects.
    known.delete("mounted");
    server.forgetClient("mounted");
    await assert.rejects(friend.call("RpcCount", {}), (e: unknown) => e instanceof RpcReplyError && e.errno === Errno.ESTALE);
    assert.equal(executed, 1, "refused requests are never executed");
    assert.equal(server.stats.rejectedRequests, 2);
    known.add("later");
    const later = client(port, credentials.caCertPem, "later");
    assert.equal(await later.call("RpcCount", {}), 2);
    await later.close();
  } finally {
    await stranger.close();
    await friend.close();
    await server.close();
  }
});

test("close() fails outstanding calls with RpcClosedError and later calls at once", async () => {
  const { server, port, credentials } = await startServer();
  server.register("RpcHang", () => new Promise(() => {}));
  const c = client(port, credentials.caCertPem, "h");
  try {
    const p = assert.rejects(c.call("RpcHang", {}), RpcClosedError);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(c.outstanding, 1);
    await c.close();
    await p;
    await assert.rejects(c.call("RpcEcho", {}), RpcClosedError);
  } finally {
    await server.close();
  }
});

test("records of gone clients are forgotten after the TTL", async () => {
  const { server, port, credentials } = await startServer({ ttlCompletedMs: 60 });
  const c = client(port, credentials.caCertPem, "ttl");
  await c.call("RpcEcho", {});
  assert.deepEqual(server.clientIds, ["ttl"]);
  await c.close();
  for (let i = 0; i < 50 && server.clientIds.length > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.deepEqual(server.clientIds, []);
  await server.close();
});

test("I/O deadline: a half-sent frame or a missing PassID closes the connection; an idle one stays", async () => {
  const { server, port, credentials } = await startServer({ deadlineIoMs: 150 });
  try {
    const half = await RawClient.connect(port, credentials.caCertPem);
    half.write(encodeFrame(MsgType.PassID, '"half"'));
    half.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"half","requestid":1,"highestReplySeen":0,"method":"RpcEcho","params":[{}]}').subarray(0, 20));
    const silent = await RawClient.connect(port, credentials.caCertPem);
    const idle = await RawClient.connect(port, credentials.caCertPem);
    idle.write(encodeFrame(MsgType.PassID, '"idle"'));
    assert.equal(await half.waitClosed(2000), true, "half frame -> closed");
    assert.equal(await silent.waitClosed(2000), true, "no PassID -> closed");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(idle.closed, false, "idle connection is left open");
    idle.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"idle","requestid":1,"highestReplySeen":0,"method":"RpcEcho","params":[{}]}'));
    await idle.waitFrames(1);
    assert.equal(idle.frames[0]!.body, '{"myuniqueid":"idle","requestid":1,"errstr":"","result":{"Client":"idle","Req":{}}}');
    idle.destroy();
  } finally {
    await server.close();
  }
});

test("an idle client connection outlives the I/O deadline (timeouts while idle are ignored)", async () => {
  const { server, port, credentials } = await startServer({ deadlineIoMs: 100 });
  const c = client(port, credentials.caCertPem, "idle", { deadlineIoMs: 100 });
  try {
    await c.call("RpcEcho", {});
    await new Promise((r) => setTimeout(r, 350));
    await c.call("RpcEcho", {});
    assert.equal(c.stats.connects, 1);
    assert.equal(server.stats.connections, 1);
  } finally {
    await c.close();
    await server.close();
  }
});

test("a server that drops every connection at once makes calls fail with RpcConnectError, not spin", async () => {
  const credentials = await testCredentials();
  let accepted = 0;
  const dropper = tls.createServer({ cert: credentials.certPem, key: credentials.keyPem }, (s) => {
    accepted++;
    s.on("error", () => {});
    s.once("data", () => s.destroy()); // reads PassID, answers nothing, closes (as 1.17.1 does on a bad first frame)
  });
  await new Promise<void>((r) => dropper.listen(0, "127.0.0.1", () => r()));
  const port = (dropper.address() as { port: number }).port;
  const c = client(port, credentials.caCertPem, "churn", { connectRetryLimit: 3, connectRetryDelayMs: 5 });
  try {
    await assert.rejects(c.call("RpcEcho", {}), (e: unknown) => e instanceof RpcConnectError && /closed 4 connections in a row/.test(e.message));
    assert.equal(accepted, 4);
  } finally {
    await c.close();
    await new Promise<void>((r) => dropper.close(() => r()));
  }
});
