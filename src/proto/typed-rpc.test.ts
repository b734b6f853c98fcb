// Typed client and server over a real TLS retryrpc connection: the server's bytes equal the
// captured 1.17.1 bytes for the same data, malformed requests get EINVAL, upcalls decode.
import { test } from "node:test";
import assert from "node:assert/strict";
import tls from "node:tls";
import { Errno, FsError } from "../base/errno.js";
import { RetryRpcServer, RetryRpcClient, RpcReplyError, generateServerCredentials, encodeFrame, decodeReplyBody, MsgType, FrameDecoder } from "../rpc/index.js";
import { registerProxyFsHandlers } from "./typed-server.js";
import { ProxyFsRpcClient } from "./typed-client.js";
import { retryRpcMethods } from "./methods.js";
import { decodeUpcall, encodeUpcall, LeaseReplyType, LeaseRequestType, RPCInterruptType } from "./lease.js";
import type { RPCInterrupt, StatStruct } from "./types.js";
import { capturedMessages } from "./testing/captured-messages.js";

const quiet = () => {};

test("typed handlers answer with exactly the bytes 1.17.1 sent; typed client gets bigint values", async () => {
  const creds = await generateServerCredentials({ publicAddress: "127.0.0.1" });
  const server = new RetryRpcServer({ credentials: creds, log: quiet });
  // Replay the captured stat of the root as the server's answer.
  const rec = capturedMessages.find((r) => r.method === "RpcGetStat" && r.reply_raw?.includes('"requestid":3,'))!;
  const capturedStat = retryRpcMethods.RpcGetStat.reply.decode(decodeReplyBody(rec.reply_raw!).result) as StatStruct;
  registerProxyFsHandlers(server, {
    RpcGetStat: async (req) => {
      if (req.InodeNumber !== 1n) throw new FsError(Errno.ENOENT);
      return capturedStat;
    },
    RpcLease: async (req) => ({ LeaseReplyType: req.LeaseRequestType === LeaseRequestType.Exclusive ? LeaseReplyType.Exclusive : LeaseReplyType.Released }),
  });
  const port = await server.listen();
  const upcalls: RPCInterrupt[] = [];
  const rpc = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "p6VhGdnVn3Z3ijWHzaXWTw==", caCertPem: creds.caCertPem, log: quiet,
    onUpcall: (p) => upcalls.push(decodeUpcall(p)) });
  const client = new ProxyFsRpcClient(rpc);
  try {
    const lease = await client.call("RpcLease", { MountID: "p6VhGdnVn3Z3ijWHzaXWTw==", InodeNumber: 1n, LeaseRequestType: LeaseRequestType.Exclusive });
    assert.deepEqual(lease, { LeaseReplyType: 3 });
    await client.call("RpcLease", { MountID: "p6VhGdnVn3Z3ijWHzaXWTw==", InodeNumber: 1n, LeaseRequestType: LeaseRequestType.Release });
    const stat = await client.call("RpcGetStat", { MountID: "p6VhGdnVn3Z3ijWHzaXWTw==", InodeNumber: 1n });
    assert.deepEqual(stat, capturedStat);
    assert.equal(stat.CTimeNs, 1795639066580707229n);
    await assert.rejects(client.call("RpcGetStat", { MountID: "m", InodeNumber: 99n }), (e: unknown) => e instanceof RpcReplyError && e.errno === Errno.ENOENT);
    await assert.rejects(client.call("RpcReadSymlink", { MountID: "m", InodeNumber: 1n }), (e: unknown) => e instanceof RpcReplyError && e.errstr === "errno: 2");
    assert.ok(server.sendUpcall("p6VhGdnVn3Z3ijWHzaXWTw==", encodeUpcall({ RPCInterruptType: RPCInterruptType.Release, InodeNumber: 1n })));
    for (let i = 0; i < 100 && upcalls.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(upcalls, [{ RPCInterruptType: 2, InodeNumber: 1n }]);

    // The captured request bytes, sent raw, get the captured reply bytes back (requestid 3).
    const raw = tls.connect({ host: "127.0.0.1", port, ca: creds.caCertPem });
    await new Promise((r) => raw.once("secureConnect", r));
    const got: string[] = [];
    const d = new FrameDecoder();
    raw.on("data", (c: Buffer) => d.push(c, (_t, b) => got.push(b.toString())));
    raw.write(encodeFrame(MsgType.PassID, '"p7"'));
    raw.write(encodeFrame(MsgType.RPC, rec.request_raw!));
    raw.write(encodeFrame(MsgType.RPC, '{"myuniqueid":"p7","requestid":4,"highestReplySeen":3,"method":"RpcGetStat","params":[{"MountID":"m","InodeNumber":"one"}]}'));
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    raw.destroy();
    got.sort((a, b) => Number(decodeReplyBody(a).requestid) - Number(decodeReplyBody(b).requestid)); // replies come in completion order
    assert.equal(got[0], rec.reply_raw);
    assert.equal(got[1], '{"myuniqueid":"p7","requestid":4,"errstr":"errno: 22","result":null}', "malformed params -> EINVAL, handler not run");
  } finally {
    await rpc.close();
    await server.close();
  }
});
