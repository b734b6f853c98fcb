// Replays every captured 1.17.1 retryrpc request (src/proto/testing/captured-messages.ts) against a
// fresh proxyfsd, in capture order, over raw TLS connections (PassID first, the captured requestid
// and highestReplySeen kept, so a captured retransmit is a real retransmit), and checks each reply
// against the captured one.
//
// What is compared:
//   * error or not, and the exact errstr when it is an error;
//   * the SHAPE of the result: field names in order, JSON types (number/string/array/object/null),
//     recursively; arrays compare their first elements' shapes (lengths are not compared: the
//     capture holds only some of the 200 creates behind its readdir replies);
//   * exact values where they do not depend on allocation or the clock: RpcLease, RpcPing,
//     RpcReadSymlink, RpcStatVFS, RpcListXAttr, RpcGetXAttr, RpcAccess, RpcWrote; except that
//     RpcStatVFS free/avail counts track usage here (1.17.1 reported free = total): they must be
//     at most the captured ones and within a small usage of them;
//   * every captured upcall arrives (type and inode), ignoring repeats of the same interrupt.
// What is normalised (differs by design): MountIDs (each captured one is replaced by a fresh mount;
// "AAAA…==" stays unknown), inode numbers (mapped from captured to ours as replies reveal them),
// log-segment container/object names (mapped from RpcProvisionObject replies), and times.
// Replies the 1.17.1 server never sent (it deadlocked, §9.2) must still arrive (an errno is fine:
// e.g. its LookupPlus of "big" names a file that only the captured server's volume had).
import { test } from "node:test";
import assert from "node:assert/strict";
import { RawJson, stringifyJson } from "../../base/json/index.js";
import { decodeReplyBody, decodeRequestBody, encodeFrame, encodePassIdBody, encodeRequestBody, MsgType } from "../../rpc/index.js";
import { RawClient } from "../../rpc/testing/raw-client.js";
import { testCredentials } from "../../rpc/testing/test-credentials.js";
import { decodeUpcall, proxyFsRpcMethods, isRetryRpcMethod } from "../../proto/index.js";
import { capturedMessages, type CapturedMessage } from "../../proto/testing/captured-messages.js";
import { startVolumeServer } from "./volume-server.js";
import { mountViaJsonRpc } from "./testing/jsonrpc-call.js";

const EXACT = new Set(["RpcLease", "RpcPing", "RpcReadSymlink", "RpcStatVFS", "RpcListXAttr", "RpcGetXAttr", "RpcAccess", "RpcWrote"]);
const INODE_FIELDS = ["InodeNumber", "TargetInodeNumber", "SrcDirInodeNumber", "DstDirInodeNumber"];
const UNKNOWN_MOUNT = "AAAAAAAAAAAAAAAAAAAAAA==";
/** RpcStatVFS fields that drop with usage on our server (1.17.1 kept them equal to the totals). */
const USAGE_FIELDS = ["FreeBlocks", "AvailBlocks", "FreeInodes", "AvailInodes"];

/** `ours` with its usage fields replaced by the captured ones, after checking ours <= captured. */
function withoutUsage(ours: Record<string, unknown>, theirs: Record<string, unknown>, what: string): Record<string, unknown> {
  const out = { ...ours };
  for (const f of USAGE_FIELDS) {
    const o = BigInt(String(ours[f]));
    const t = BigInt(String(theirs[f]));
    // The captured workload is small: a few thousand inodes and blocks at most.
    assert.ok(o <= t && t - o < 100_000n, `${what}: ${f} ${o} vs captured ${t}`);
    out[f] = theirs[f];
  }
  return out;
}

function shape(v: unknown): unknown {
  if (v === null) return "null";
  if (Array.isArray(v)) return v.length === 0 ? ["array"] : ["array", shape(v[0])];
  if (typeof v === "object") return Object.entries(v as object).map(([k, x]) => [k, shape(x)]);
  if (typeof v === "bigint") return "number";
  return typeof v;
}

function sameShape(a: unknown, b: unknown): boolean {
  const sa = shape(a);
  const sb = shape(b);
  // An empty array matches any array.
  const eq = (x: unknown, y: unknown): boolean => {
    if (Array.isArray(x) && Array.isArray(y)) {
      if (x[0] === "array" && y[0] === "array") return x.length === 1 || y.length === 1 || eq(x[1], y[1]);
      return x.length === y.length && x.every((e, i) => eq(e, y[i]));
    }
    return x === y;
  };
  return eq(sa, sb);
}

interface Conn {
  raw: RawClient;
}

async function replay(source: CapturedMessage["source"]): Promise<{ rpcs: number; upcalls: number }> {
  const records = capturedMessages.filter((r) => r.source === source);
  const s = await startVolumeServer({ volumes: [{ name: "CommonVolume", accountName: "AUTH_test" }], credentials: await testCredentials(), log: () => {} });
  const mountMap = new Map<string, string>([[UNKNOWN_MOUNT, UNKNOWN_MOUNT]]);
  const inoMap = new Map<string, bigint>([["1", 1n]]);
  const segMap = new Map<string, string>();
  const conns = new Map<string, Conn>();
  const allConns: RawClient[] = [];
  const pending: Array<{ what: string; done: Promise<void> }> = [];
  let upcallsChecked = 0;
  let rpcs = 0;
  const mapMount = async (id: string): Promise<string> => {
    let m = mountMap.get(id);
    if (m === undefined) {
      m = (await mountViaJsonRpc(s.jsonRpcPort, "AUTH_test")).MountID;
      mountMap.set(id, m);
    }
    return m;
  };
  const connect = async (capturedId: string): Promise<Conn> => {
    const id = await mapMount(capturedId);
    const raw = await RawClient.connect(s.retryRpcPort, s.caCertPem);
    raw.write(encodeFrame(MsgType.PassID, encodePassIdBody(id)));
    allConns.push(raw);
    const c = { raw };
    conns.set(capturedId, c);
    return c;
  };
  const receivedUpcalls = () => allConns.flatMap((c) => c.frames.filter((f) => f.type === MsgType.Upcall).map((f) => decodeUpcall(f.body)));
  try {
    for (let i = 0; i < records.length; i++) {
      const rec = records[i]!;
      const what = `${rec.op}/${rec.client}/${rec.method ?? rec.msgtype} (#${i})`;
      if (rec.msgtype === "PassID") {
        await connect(JSON.parse(rec.body_raw!) as string);
        continue;
      }
      if (rec.msgtype === "Upcall") {
        const want = decodeUpcall(rec.body_raw!);
        const deadline = Date.now() + 3000;
        // Distinct interrupts received so far (a holder may be interrupted again before it complies).
        const distinct = () => receivedUpcalls().filter((u, k, all) => k === 0 || u.RPCInterruptType !== all[k - 1]!.RPCInterruptType || u.InodeNumber !== all[k - 1]!.InodeNumber);
        while (distinct().length <= upcallsChecked && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
        const got = distinct()[upcallsChecked];
        assert.ok(got, `${what}: no upcall arrived`);
        assert.equal(got.RPCInterruptType, want.RPCInterruptType, what);
        assert.equal(got.InodeNumber, inoMap.get(String(want.InodeNumber)) ?? want.InodeNumber, what);
        upcallsChecked++;
        continue;
      }
      rpcs++;
      const req = decodeRequestBody(rec.request_raw!);
      const conn = conns.get(req.myuniqueid) ?? (await connect(req.myuniqueid));
      const codec = isRetryRpcMethod(req.method) ? (proxyFsRpcMethods[req.method].request as { encode(v: unknown): string; decode(v: unknown): unknown }) : undefined;
      const params = { ...((codec ? codec.decode(req.params) : req.params) as Record<string, unknown>) };
      if (typeof params.MountID === "string") params.MountID = await mapMount(params.MountID);
      for (const f of INODE_FIELDS) {
        if (params[f] !== undefined) params[f] = inoMap.get(String(params[f])) ?? params[f];
      }
      if (req.method === "RpcWrote") {
        const seg = segMap.get(`${params.ContainerName}/${params.ObjectName}`);
        assert.ok(seg, `${what}: RpcWrote of a segment that was not provisioned in the capture`);
        [params.ContainerName, params.ObjectName] = seg.split("/");
      }
      const encoded = codec ? new RawJson(codec.encode(params)) : params;
      const myId = mountMap.get(req.myuniqueid)!;
      conn.raw.write(encodeFrame(MsgType.RPC, encodeRequestBody(myId, req.requestid, req.highestReplySeen, req.method, encoded)));
      const findReply = () => conn.raw.frames.find((f) => f.type === MsgType.RPC && decodeReplyBody(f.body).requestid === req.requestid);
      const check = (frame: { body: string }): void => {
        const ours = decodeReplyBody(frame.body);
        if (rec.reply_raw === undefined) {
          // 1.17.1 never answered (deadlock); we must answer, and not with a lease error.
          assert.match(ours.errstr, /^$|^errno: \d+$/, `${what}: a request 1.17.1 never answered`);
          return;
        }
        const theirs = decodeReplyBody(rec.reply_raw);
        assert.equal(ours.errstr, theirs.errstr, `${what}: errstr`);
        if (theirs.errstr !== "") return;
        const a = ours.result;
        const b = theirs.result;
        assert.ok(sameShape(a, b), `${what}: shape ${JSON.stringify(shape(a))} != captured ${JSON.stringify(shape(b))}`);
        if (EXACT.has(req.method)) {
          const mine = req.method === "RpcStatVFS" ? withoutUsage(a as Record<string, unknown>, b as Record<string, unknown>, what) : a;
          assert.equal(stringifyJson(mine), stringifyJson(b), `${what}: value`);
        }
        // Learn the mapping of allocated numbers from the captured reply to ours.
        const ao = a as Record<string, unknown>;
        const bo = b as Record<string, unknown>;
        if (typeof bo.InodeNumber !== "undefined" && bo.InodeNumber !== 0 && req.method !== "RpcAccess") inoMap.set(String(bo.InodeNumber), BigInt(ao.InodeNumber as number));
        if (req.method === "RpcProvisionObject") segMap.set((bo.PhysPath as string).split("/").slice(3).join("/"), (ao.PhysPath as string).split("/").slice(3).join("/"));
      };
      // Wait for the reply; a call that blocks (a lease held elsewhere) is left pending while the
      // capture continues with whatever unblocks it.
      const deadline = Date.now() + (records[i + 1]?.msgtype === "Upcall" ? 300 : 1500);
      while (!findReply() && Date.now() < deadline) await conn.raw.waitFrames(conn.raw.frames.length + 1, Math.max(1, deadline - Date.now()));
      const f = findReply();
      if (f) check(f);
      else {
        pending.push({
          what,
          done: (async () => {
            const end = Date.now() + 5000;
            while (!findReply() && Date.now() < end) await conn.raw.waitFrames(conn.raw.frames.length + 1, 200);
            const late = findReply();
            assert.ok(late, `${what}: never answered`);
            check(late);
          })(),
        });
      }
    }
    for (const p of pending) await p.done;
    return { rpcs, upcalls: upcallsChecked };
  } finally {
    for (const c of allConns) c.destroy();
    await s.close();
  }
}

test("replay of the captured 1.17.1 agent workload: every reply has the captured shape and errors", async () => {
  const r = await replay("retryrpc-agent-workload");
  assert.ok(r.rpcs > 280, `${r.rpcs} RPCs replayed`);
});

test("replay of the captured lease/upcall session: matrix, upcalls, the Promote that deadlocked 1.17.1, retransmit", async () => {
  const r = await replay("retryrpc-leases-upcalls");
  assert.equal(r.upcalls, 3);
});
