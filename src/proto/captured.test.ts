// Every retryrpc message captured between the original 1.17.1 agent and server parses into our
// types and re-serialises to exactly the captured bytes; the JSON-RPC mount traffic too.
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawJson } from "../base/json/index.js";
import { decodePassIdBody, decodeReplyBody, decodeRequestBody, encodeFrame, encodeReplyBody, encodeRequestBody, MsgType, HEADER_SIZE } from "../rpc/index.js";
import { retryRpcMethods, isRetryRpcMethod, jsonRpcMethods, type JsonRpcMethodName } from "./methods.js";
import { decodeUpcall, encodeUpcall, RPCInterruptType } from "./lease.js";
import { decodeJsonRpcRequest, decodeJsonRpcResponse, encodeJsonRpcRequest, encodeJsonRpcResponse } from "./jsonrpc.js";
import { unmountNotFoundError, leaseNonExistentErrstr, leaseTypeNotSupportedErrstr, leaseUnknownMountErrstr } from "./errors.js";
import type { StatStruct, LookupPlusReply, WroteRequest } from "./types.js";
import type { MountByAccountNameReply } from "./mount.js";
import { capturedMessages, capturedJsonRpc } from "./testing/captured-messages.js";

type Codec = { decode(v: unknown, p?: string): unknown; encode(v: unknown, p?: string): string };

test("every captured retryrpc request and reply round-trips byte for byte through the typed codecs", () => {
  const methodsSeen = new Set<string>();
  let rpcs = 0;
  for (const rec of capturedMessages.filter((r) => r.msgtype === "RPC")) {
    const what = `${rec.source}/${rec.op}/${rec.method}`;
    const req = decodeRequestBody(rec.request_raw!);
    assert.equal(req.method, rec.method, what);
    assert.equal(encodeFrame(MsgType.RPC, rec.request_raw!).subarray(0, HEADER_SIZE).toString("hex"), rec.request_header_hex, what);
    if (!isRetryRpcMethod(req.method)) {
      assert.equal(req.method, "RpcNoSuchMethod", `uncovered method ${what}`);
      continue;
    }
    methodsSeen.add(req.method);
    rpcs++;
    const spec = retryRpcMethods[req.method] as unknown as { request: Codec; reply: Codec };
    const typedReq = spec.request.decode(req.params);
    const reqText = encodeRequestBody(req.myuniqueid, req.requestid, req.highestReplySeen, req.method, new RawJson(spec.request.encode(typedReq)));
    assert.equal(reqText, rec.request_raw, `request ${what}`);
    if (rec.reply_raw === undefined) continue; // the deadlocked server never answered
    const rep = decodeReplyBody(rec.reply_raw);
    assert.equal(rep.requestid, req.requestid, what);
    const result = rep.errstr === "" ? new RawJson(spec.reply.encode(spec.reply.decode(rep.result))) : null;
    assert.equal(encodeReplyBody(rep.myuniqueid, rep.requestid, rep.errstr, result), rec.reply_raw, `reply ${what}`);
    assert.equal(encodeFrame(MsgType.RPC, rec.reply_raw).subarray(0, HEADER_SIZE).toString("hex"), rec.reply_header_hex, what);
  }
  assert.ok(rpcs > 300, `only ${rpcs} RPCs checked`);
  const agentMethods = Object.keys(retryRpcMethods).filter((m) => m !== "RpcPing");
  assert.equal(agentMethods.length, 27);
  assert.deepEqual([...methodsSeen].sort(), Object.keys(retryRpcMethods).sort(), "every method has at least one capture");
});

test("decoded values have the declared JS types: bigint for 64-bit fields, numbers, Buffers", () => {
  const find = (method: string, pred: (raw: string) => boolean = () => true) =>
    capturedMessages.find((r) => r.method === method && r.reply_raw && pred(r.reply_raw))!;
  const stat = retryRpcMethods.RpcGetStat.reply.decode(decodeReplyBody(find("RpcGetStat", (r) => r.includes("CTimeNs")).reply_raw!).result) as StatStruct;
  assert.equal(stat.CTimeNs, 1795639066580707229n);
  assert.equal(typeof stat.Size, "bigint");
  assert.equal(typeof stat.FileMode, "number");
  const lp = retryRpcMethods.RpcLookupPlus.reply.decode(decodeReplyBody(find("RpcLookupPlus", (r) => r.includes('"InodeNumber"')).reply_raw!).result) as LookupPlusReply;
  assert.equal(typeof lp.InodeNumber, "bigint");
  const xr = capturedMessages.find((r) => r.method === "RpcGetXAttr" && r.reply_raw?.includes("Ymx1ZQ=="))!;
  const x = retryRpcMethods.RpcGetXAttr.reply.decode(decodeReplyBody(xr.reply_raw!).result);
  assert.deepEqual(x.AttrValue, Buffer.from("blue"));
  const wr = capturedMessages.find((r) => r.method === "RpcWrote")!;
  const w = retryRpcMethods.RpcWrote.request.decode(decodeRequestBody(wr.request_raw!).params) as WroteRequest;
  assert.ok(w.FileOffset.every((v) => typeof v === "bigint"));
  const chown = capturedMessages.find((r) => r.method === "RpcChown" && r.request_raw!.includes('"UserID":-1'))!;
  assert.equal(retryRpcMethods.RpcChown.request.decode(decodeRequestBody(chown.request_raw!).params).UserID, -1);
});

test("captured PassIDs and upcalls decode and re-encode exactly", () => {
  const passIds = capturedMessages.filter((r) => r.msgtype === "PassID");
  assert.ok(passIds.length >= 8);
  for (const p of passIds) {
    const id = decodePassIdBody(p.body_raw!);
    assert.equal(id.length, 24, "a MountID is base64 of 16 bytes");
    assert.equal(encodeFrame(MsgType.PassID, p.body_raw!).subarray(0, HEADER_SIZE).toString("hex"), p.header_hex);
  }
  const upcalls = capturedMessages.filter((r) => r.msgtype === "Upcall");
  assert.equal(upcalls.length, 3);
  for (const u of upcalls) {
    const i = decodeUpcall(Buffer.from(u.body_raw!));
    assert.ok(i.RPCInterruptType === RPCInterruptType.Release || i.RPCInterruptType === RPCInterruptType.Demote);
    assert.equal(i.InodeNumber, 1n);
    assert.equal(encodeUpcall(i), u.body_raw);
  }
  assert.throws(() => decodeUpcall("{"), /not JSON/);
  assert.throws(() => decodeUpcall('{"RPCInterruptType":-1}'), /out of range for u32/);
});

test("captured lease error strings match our formatters", () => {
  const errs = new Set(capturedMessages.filter((r) => r.reply_raw).map((r) => decodeReplyBody(r.reply_raw!).errstr).filter((e) => e && !e.startsWith("errno: ")));
  const ours = new Set([leaseTypeNotSupportedErrstr(9), leaseNonExistentErrstr(4), leaseUnknownMountErrstr("AAAAAAAAAAAAAAAAAAAAAA==")]);
  for (const e of errs) assert.ok(ours.has(e), `captured errstr without formatter: ${e}`);
  assert.ok(errs.size >= 2);
});

test("captured JSON-RPC mount, unmount and ping round-trip exactly", () => {
  for (const rec of capturedJsonRpc) {
    const req = decodeJsonRpcRequest(rec.request_raw);
    assert.equal(req.method, rec.method);
    const spec = jsonRpcMethods[req.method as JsonRpcMethodName] as unknown as { request: Codec; reply: Codec };
    const typed = spec.request.decode(req.params);
    if (rec.request_raw.indexOf('"id"') < rec.request_raw.indexOf('"params"')) {
      assert.equal(encodeJsonRpcRequest(req.method, req.id as number, new RawJson(spec.request.encode(typed))), rec.request_raw);
    }
    const rep = decodeJsonRpcResponse(rec.reply_raw);
    assert.equal(rep.id, req.id);
    const result = rep.error === null ? new RawJson(spec.reply.encode(spec.reply.decode(rep.result))) : null;
    assert.equal(encodeJsonRpcResponse(rep.id, result, rep.error), rec.reply_raw);
    if (rep.error !== null) assert.equal(rep.error, unmountNotFoundError((typed as { MountID: string }).MountID));
    if (req.method === "Server.RpcMountByAccountName") {
      const m = spec.reply.decode(rep.result) as MountByAccountNameReply;
      assert.match(m.RootCAx509CertificatePEM.toString(), /^-----BEGIN CERTIFICATE-----\n/);
      assert.equal(m.RootDirInodeNumber, 1n);
      assert.equal(m.RetryRPCPort, 42356);
      assert.equal(m.Capabilities, undefined, "a 1.17.1 server offers no capabilities");
    }
  }
});
