// Fuzzing the decoders with random and mutated frames over real TLS connections. The server must
// stay up and keep serving a well-behaved client throughout; the client must survive a server
// that sends garbage (it reconnects and resends until a sane reply arrives).
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { RetryRpcServer } from "./server.js";
import { RetryRpcClient } from "./client.js";
import { encodeFrame, HEADER_SIZE, MsgType } from "./frame.js";
import { FrameDecoder } from "./frame-decoder.js";
import { decodeRequestBody, encodeReplyBody } from "./envelope.js";
import { testCredentials } from "./testing/test-credentials.js";
import { RawClient } from "./testing/raw-client.js";
import { capturedFrames } from "./testing/captured-frames.js";

const quiet = () => {};

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s % n;
  };
}

const captured = Object.values(capturedFrames).map((h) => Buffer.from(h, "hex"));
const validSession = () => Buffer.concat([
  encodeFrame(MsgType.PassID, '"fuzz"'),
  ...captured.filter((f) => f.readUInt16BE(8) === MsgType.RPC),
]);

function mutate(buf: Buffer, r: (n: number) => number): Buffer {
  const b = [...buf];
  for (let k = 1 + r(6); k > 0; k--) {
    const at = r(b.length + 1);
    switch (r(5)) {
      case 0: b[at] = r(256); break; // flip a byte (header or body)
      case 1: b.splice(at, 1 + r(8)); break; // delete
      case 2: b.splice(at, 0, ...Array.from({ length: 1 + r(8) }, () => r(256))); break; // insert
      case 3: b.length = Math.max(1, at); break; // truncate
      default: b[at] = "{}[]\":,0-9ae\\".charCodeAt(r(14)); // JSON-ish noise
    }
  }
  return Buffer.from(b.filter((x) => x !== undefined));
}

/** A frame with a correct header around a mutated JSON body: reaches the envelope decoder. */
function mutatedBodyFrame(r: (n: number) => number): Buffer {
  const src = captured[r(captured.length)]!;
  const body = mutate(src.subarray(HEADER_SIZE), r);
  const types = [MsgType.RPC, MsgType.RPC, MsgType.RPC, MsgType.PassID, MsgType.Upcall, r(65536)];
  return body.length > 0 ? encodeFrame(types[r(types.length)]!, body) : encodeFrame(MsgType.RPC, "x");
}

function attack(r: (n: number) => number): Buffer {
  switch (r(7)) {
    case 0: return Buffer.from(Array.from({ length: 1 + r(300) }, () => r(256)));
    case 1: return mutate(validSession(), r);
    case 2: return Buffer.concat([encodeFrame(MsgType.PassID, '"fuzz"'), ...Array.from({ length: 1 + r(5) }, () => mutatedBodyFrame(r))]);
    case 3: { // header claims a huge or zero body
      const h = Buffer.from(encodeFrame(MsgType.RPC, "{}").subarray(0, HEADER_SIZE));
      h.writeUInt32BE(r(2) ? 0 : 0xfffffff0, 0);
      return Buffer.concat([encodeFrame(MsgType.PassID, '"fuzz"'), h]);
    }
    case 4: return Buffer.concat([encodeFrame(MsgType.PassID, '"fuzz"'), encodeFrame(MsgType.PassID, '"again"')]);
    case 5: return Buffer.concat([encodeFrame(MsgType.PassID, JSON.stringify("z".repeat(r(3000)))),
      encodeFrame(MsgType.RPC, `{"myuniqueid":"z","requestid":${["1", "-1", "1e400", "18446744073709551616", '"7"', "null", "[]"][r(7)]},"method":"RpcEcho","params":[{}]}`)]);
    default: return mutatedBodyFrame(r);
  }
}

test("the server survives 400 hostile connections while serving a good client", async () => {
  const { caCertPem, ...rest } = await testCredentials();
  const server = new RetryRpcServer({ credentials: { caCertPem, ...rest }, log: quiet, deadlineIoMs: 300, maxBodyBytes: 1 << 20 });
  let echoes = 0;
  server.register("RpcEcho", async (_m, req) => {
    echoes++;
    return req;
  });
  server.register("RpcLease", async () => ({ LeaseReplyType: 3 }));
  server.register("RpcGetStat", async () => ({ Size: 0 }));
  const port = await server.listen();
  const good = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "good", caCertPem, log: quiet });
  let stop = false;
  let goodCalls = 0;
  const goodLoop = (async () => {
    while (!stop) {
      const n = BigInt(goodCalls) + 10n ** 18n;
      assert.deepEqual(await good.call("RpcEcho", { N: n }), { N: n });
      goodCalls++;
      await new Promise((r) => setTimeout(r, 2));
    }
  })();
  try {
    const r = rng(20240611);
    for (let batch = 0; batch < 20; batch++) {
      await Promise.all(Array.from({ length: 20 }, async () => {
        const raw = await RawClient.connect(port, caCertPem);
        const bytes = attack(r);
        // Send in random slices so frames straddle TLS records.
        for (let i = 0; i < bytes.length;) {
          const n = 1 + r(64);
          raw.write(bytes.subarray(i, i + n));
          i += n;
        }
        await raw.waitFrames(1000, 20 + r(40));
        raw.destroy();
      }));
    }
    stop = true;
    await goodLoop;
    assert.ok(goodCalls > 20, `good client made only ${goodCalls} calls`);
    const s = server.stats;
    assert.ok(s.protocolErrors > 100, `protocol errors seen: ${s.protocolErrors}`);
    assert.ok(s.connections >= 401);
    // Still serving new clients after the storm.
    const late = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "late", caCertPem, log: quiet });
    assert.deepEqual(await late.call("RpcEcho", [1, "x"]), [1, "x"]);
    await late.close();
    assert.ok(echoes >= goodCalls);
  } finally {
    stop = true;
    await goodLoop.catch(() => {});
    await good.close();
    await server.close();
  }
});

test("the client survives a server that answers with garbage, then gets its reply", async () => {
  const creds = await testCredentials();
  const r = rng(99);
  let conns = 0;
  let executed = 0;
  const fake = tls.createServer({ cert: creds.certPem, key: creds.keyPem }, (s) => {
    const n = ++conns;
    const d = new FrameDecoder();
    s.on("error", () => {});
    s.on("data", (chunk: Buffer) => {
      try {
        d.push(chunk, (type, body) => {
          if (type !== MsgType.RPC) return;
          const env = decodeRequestBody(body);
          const good = encodeFrame(MsgType.RPC, encodeReplyBody(env.myuniqueid, env.requestid, "", { Ok: true }));
          if (n <= 12) {
            // Garbage: mutated reply, random bytes, unknown type, bad JSON, wrong id types…
            const variants = [mutate(good, r), Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
              encodeFrame(7, "{}"), encodeFrame(MsgType.RPC, "{not json"), encodeFrame(MsgType.RPC, '{"myuniqueid":"x","requestid":"1"}'),
              encodeFrame(MsgType.RPC, '{"myuniqueid":"x","requestid":999,"errstr":"","result":{}}')];
            s.write(variants[n % variants.length]!);
            if (n % variants.length === 5) s.destroy(); // unknown id is dropped; force the reconnect
          } else {
            executed++;
            s.write(good);
          }
        });
      } catch {
        s.destroy();
      }
    });
  });
  await new Promise<void>((res) => fake.listen(0, "127.0.0.1", () => res()));
  const port = (fake.address() as { port: number }).port;
  const c = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "victim", caCertPem: creds.caCertPem, log: quiet, connectRetryDelayMs: 1, connectRetryLimit: 20, deadlineIoMs: 200 });
  try {
    assert.deepEqual(await c.call("RpcX", {}), { Ok: true });
    assert.ok(conns >= 13, `only ${conns} connections`);
    assert.equal(executed, 1);
  } finally {
    await c.close();
    await new Promise<void>((res) => fake.close(() => res()));
  }
});
