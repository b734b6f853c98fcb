// Exactly-once under connection loss: connections are cut (through a TCP relay) after the server
// executed a call but before the reply reached the client, or while the call is still running.
// Every call must resolve with its own result, and every handler must have run exactly once.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RetryRpcServer } from "./server.js";
import { RetryRpcClient } from "./client.js";
import { encodeFrame, MsgType } from "./frame.js";
import { testCredentials } from "./testing/test-credentials.js";
import { TcpProxy } from "./testing/tcp-proxy.js";
import { RawClient } from "./testing/raw-client.js";

const quiet = () => {};

async function setup(serverOpts: Partial<ConstructorParameters<typeof RetryRpcServer>[0]> = {}) {
  const credentials = await testCredentials();
  const server = new RetryRpcServer({ credentials, log: quiet, ...serverOpts });
  const port = await server.listen();
  const proxy = new TcpProxy(port);
  const proxyPort = await proxy.listen();
  return { server, port, proxy, proxyPort, credentials };
}

test("cut after execution, before the reply: the retransmit is answered from the reply cache", async () => {
  const { server, proxy, proxyPort, credentials } = await setup();
  const runs = new Map<string, number>();
  server.register("RpcCreate", async (_m, req) => {
    const name = (req as { Basename: string }).Basename;
    runs.set(name, (runs.get(name) ?? 0) + 1);
    if (name.endsWith("!")) proxy.cutAll(); // executed, and the reply cannot get through
    return { InodeNumber: 1795639066580707229n + BigInt(runs.size) };
  });
  const c = new RetryRpcClient({ host: "127.0.0.1", port: proxyPort, clientId: "m1", caCertPem: credentials.caCertPem, log: quiet });
  try {
    assert.deepEqual(await c.call("RpcCreate", { Basename: "a" }), { InodeNumber: 1795639066580707230n });
    assert.deepEqual(await c.call("RpcCreate", { Basename: "b!" }), { InodeNumber: 1795639066580707231n });
    assert.deepEqual(await c.call("RpcCreate", { Basename: "c" }), { InodeNumber: 1795639066580707232n });
    assert.deepEqual([...runs], [["a", 1], ["b!", 1], ["c", 1]]);
    assert.equal(server.stats.repliedFromCache, 1);
    assert.equal(c.stats.connects, 2);
    assert.equal(c.stats.resent, 1);
  } finally {
    await c.close();
    await proxy.close();
    await server.close();
  }
});

test("cut while calls are running, 200 concurrent calls, repeated cuts: each runs once", async () => {
  const { server, proxy, proxyPort, credentials } = await setup();
  const runs = new Map<number, number>();
  let cuts = 0;
  server.register("RpcWork", async (_m, req) => {
    const n = Number((req as { N: number }).N);
    runs.set(n, (runs.get(n) ?? 0) + 1);
    if (n % 40 === 7) {
      proxy.cutAll();
      cuts++;
    }
    await new Promise((r) => setTimeout(r, 1 + (n % 7) * 3)); // still running when the retransmit arrives
    return { Double: BigInt(n) * 2n + 10n ** 17n };
  });
  const c = new RetryRpcClient({ host: "127.0.0.1", port: proxyPort, clientId: "m2", caCertPem: credentials.caCertPem, log: quiet });
  try {
    const calls = [];
    for (let n = 0; n < 200; n++) calls.push(c.call("RpcWork", { N: n }));
    const results = (await Promise.all(calls)) as Array<{ Double: bigint }>;
    results.forEach((r, n) => assert.equal(r.Double, BigInt(n) * 2n + 10n ** 17n));
    assert.equal(runs.size, 200);
    for (const [n, k] of runs) assert.equal(k, 1, `call ${n} ran ${k} times`);
    assert.ok(cuts >= 5);
    assert.ok(c.stats.connects >= 2);
    const s = server.stats;
    assert.equal(s.executed, 200);
    assert.ok(s.repliedFromCache + s.joinedPending > 0, "some retransmits were deduplicated");
    assert.equal(c.highestReplySeen, 200);
  } finally {
    await c.close();
    await proxy.close();
    await server.close();
  }
});

test("a call slower than the client's I/O deadline is resent and joins the running execution", async () => {
  const { server, port, proxy, credentials } = await setup();
  let runs = 0;
  server.register("RpcSlowLease", async () => {
    runs++;
    await new Promise((r) => setTimeout(r, 400));
    return { LeaseReplyType: 3 };
  });
  const c = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "slow", caCertPem: credentials.caCertPem, deadlineIoMs: 120, log: quiet });
  try {
    assert.deepEqual(await c.call("RpcSlowLease", {}), { LeaseReplyType: 3 });
    assert.equal(runs, 1);
    assert.ok(c.stats.connects >= 2, "the client gave up on the silent connection and resent");
    assert.ok(server.stats.joinedPending >= 1);
  } finally {
    await c.close();
    await proxy.close();
    await server.close();
  }
});

test("a duplicate requestid with different params gets the cached reply (as captured lc2_retransmit_same_requestid)", async () => {
  const { server, port, proxy, credentials } = await setup();
  let runs = 0;
  server.register("RpcPing", async (_m, req) => {
    runs++;
    return { Message: `pong ${(req as { Message: string }).Message.length} bytes` };
  });
  const raw = await RawClient.connect(port, credentials.caCertPem);
  try {
    raw.write(encodeFrame(MsgType.PassID, '"dup"'));
    raw.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"dup","requestid":8,"highestReplySeen":7,"method":"RpcPing","params":[{"Message":"first message"}]}'));
    await raw.waitFrames(1);
    raw.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"dup","requestid":8,"highestReplySeen":7,"method":"RpcPing","params":[{"Message":"x"}]}'));
    await raw.waitFrames(2);
    assert.equal(raw.frames[0]!.body, '{"myuniqueid":"dup","requestid":8,"errstr":"","result":{"Message":"pong 13 bytes"}}');
    assert.equal(raw.frames[1]!.body, raw.frames[0]!.body);
    assert.equal(runs, 1);
    // Once acknowledged (and trimmed), the same id is refused rather than run again.
    raw.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"dup","requestid":9,"highestReplySeen":8,"method":"RpcPing","params":[{"Message":"y"}]}'));
    await raw.waitFrames(3);
    await new Promise((r) => setTimeout(r, 250));
    raw.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"dup","requestid":8,"highestReplySeen":7,"method":"RpcPing","params":[{"Message":"z"}]}'));
    await raw.waitFrames(4);
    assert.equal(raw.frames[3]!.body, '{"myuniqueid":"dup","requestid":8,"errstr":"errno: 22","result":null}');
    assert.equal(runs, 2);
    assert.equal(server.stats.staleRequests, 1);
  } finally {
    raw.destroy();
    await proxy.close();
    await server.close();
  }
});

test("the client resends with the original bytes (the old highestReplySeen) after a reconnect", async () => {
  const { server, proxy, proxyPort, credentials } = await setup();
  let gate!: () => void;
  const opened = new Promise<void>((r) => (gate = r));
  server.register("RpcA", async () => {
    await opened;
    return {};
  });
  server.register("RpcB", async () => ({}));
  const c = new RetryRpcClient({ host: "127.0.0.1", port: proxyPort, clientId: "bytes", caCertPem: credentials.caCertPem, log: quiet });
  try {
    await c.call("RpcB", {}); // id 1
    const a = c.call("RpcA", {}); // id 2, carries highestReplySeen 1, held by the gate
    await c.call("RpcB", {}); // id 3
    proxy.cutAll();
    gate();
    await a;
    assert.equal(c.highestReplySeen, 3);
    assert.equal(server.stats.executed, 3);
  } finally {
    await c.close();
    await proxy.close();
    await server.close();
  }
});
