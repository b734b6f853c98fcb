// The StatExtended capability on the wire: a StatStruct carries AllocatedBytes and Rdev only when
// they are set (the server sets them only for a mount that agreed the capability), appended after
// the 1.17.1 fields; without them every stat-bearing message is 1.17.1's byte for byte.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJson } from "../base/json/index.js";
import { decodeReplyBody } from "../rpc/index.js";
import { retryRpcMethods } from "./methods.js";
import { Capability } from "./mount.js";
import { StatStructCodec, SetTimeRequestCodec } from "./structs.js";
import type { StatStruct } from "./types.js";
import { capturedMessages } from "./testing/captured-messages.js";

type Codec = { decode(v: unknown): unknown; encode(v: unknown): string };

/** The result text of the first captured reply of `method` whose result contains `marker`. */
function capturedResult(method: string, marker: string): string {
  const rec = capturedMessages.find((r) => r.method === method && r.reply_raw?.includes(marker));
  assert.ok(rec, `a captured ${method} reply containing ${marker}`);
  const raw = rec.reply_raw!;
  // The reply body is {"myuniqueid":…,"requestid":…,"errstr":"","result":<result>}.
  const at = raw.indexOf('"result":');
  return raw.slice(at + '"result":'.length, raw.length - 1);
}

test("StatExtended: the capability name is fixed", () => {
  assert.equal(Capability.StatExtended, "pfs-stat-extended-v1");
});

test("StatExtended absent: captured 1.17.1 stat replies decode without the fields and re-encode byte for byte", () => {
  for (const [method, marker] of [["RpcGetStat", "CTimeNs"], ["RpcLookupPlus", "StatInodeNumber"], ["RpcReaddirPlusByLoc", "StatEnts\":[{"]] as const) {
    const text = capturedResult(method, marker);
    const codec = retryRpcMethods[method].reply as unknown as Codec;
    const v = codec.decode(parseJson(text)) as Record<string, unknown>;
    const stats = (method === "RpcReaddirPlusByLoc" ? v.StatEnts : [v]) as StatStruct[];
    assert.ok(stats.length > 0, method);
    for (const st of stats) {
      assert.equal(st.AllocatedBytes, undefined, `${method}: no AllocatedBytes`);
      assert.equal(st.Rdev, undefined, `${method}: no Rdev`);
      assert.equal("AllocatedBytes" in st, false, `${method}: key absent, not undefined-valued`);
    }
    assert.equal(codec.encode(v), text, `${method} re-encodes as captured`);
  }
  // A SetTime request (which embeds StatStruct) built by our agent carries no extension field.
  const st = {
    MountID: "m", InodeNumber: 5n, CTimeNs: 0n, CRTimeNs: 0n, MTimeNs: 7n, ATimeNs: 8n, Size: 0n, NumLinks: 0n, StatInodeNumber: 0n, FileMode: 0, UserID: 0, GroupID: 0,
  };
  assert.doesNotMatch(SetTimeRequestCodec.encode(st), /AllocatedBytes|Rdev/);
});

test("StatExtended present: fields follow GroupID in every stat-bearing reply and decode to bigint / number", () => {
  const getStat = parseJson(capturedResult("RpcGetStat", "CTimeNs")) as unknown;
  const base = StatStructCodec.decode(getStat);
  const big = (1n << 60n) + 3n; // beyond 2^53: must survive exactly
  const ext: StatStruct = { ...base, AllocatedBytes: big, Rdev: 0x11170103 };
  const text = StatStructCodec.encode(ext);
  assert.equal(text, StatStructCodec.encode(base).replace(/}$/, `,"AllocatedBytes":${big},"Rdev":${0x11170103}}`));
  const back = StatStructCodec.decode(parseJson(text));
  assert.equal(back.AllocatedBytes, big);
  assert.equal(back.Rdev, 0x11170103);
  assert.deepEqual(back, ext);

  // LookupPlus: InodeNumber first, then the StatStruct with the extension last.
  const lpCodec = retryRpcMethods.RpcLookupPlus.reply;
  const lp = lpCodec.encode({ InodeNumber: 9n, ...ext });
  assert.ok(lp.startsWith('{"InodeNumber":9,"CTimeNs":'), lp);
  assert.ok(lp.endsWith(`"GroupID":${base.GroupID},"AllocatedBytes":${big},"Rdev":${0x11170103}}`), lp);
  assert.equal(lpCodec.decode(parseJson(lp)).AllocatedBytes, big);

  // ReaddirPlus: each StatEnts element carries its own fields; a zero AllocatedBytes is still sent.
  const rp = retryRpcMethods.RpcReaddirPlusByLoc.reply;
  const entry = { InodeNumber: 9n, FileType: 8, Basename: "f", NextDirLocation: 0n };
  const rpText = rp.encode({ DirEnts: [entry, entry], StatEnts: [ext, { ...base, AllocatedBytes: 0n, Rdev: 0 }] });
  assert.equal((rpText.match(/"AllocatedBytes":/g) ?? []).length, 2);
  assert.match(rpText, /"AllocatedBytes":0,"Rdev":0\}\]\}$/);
  const rpBack = rp.decode(parseJson(rpText));
  assert.deepEqual(rpBack.StatEnts.map((s) => s.AllocatedBytes), [big, 0n]);

  // Go-style decoding rules apply: case-insensitive keys, range checks name the field.
  assert.equal(StatStructCodec.decode(parseJson('{"allocatedbytes":5,"RDEV":1}')).AllocatedBytes, 5n);
  assert.throws(() => StatStructCodec.decode(parseJson('{"AllocatedBytes":-1}')), /StatStruct\.AllocatedBytes: -1 is out of range for u64/);
  assert.throws(() => StatStructCodec.decode(parseJson('{"Rdev":4294967296}')), /StatStruct\.Rdev: 4294967296 is out of range for u32/);
});

test("decodeReplyBody keeps 64-bit AllocatedBytes exact (lossless JSON)", () => {
  const body = '{"myuniqueid":"x","requestid":1,"errstr":"","result":{"Size":1099511627776,"AllocatedBytes":18446744073709551615}}';
  const st = StatStructCodec.decode(decodeReplyBody(body).result);
  assert.equal(st.AllocatedBytes, 18446744073709551615n);
  assert.equal(st.Size, 1099511627776n);
});
