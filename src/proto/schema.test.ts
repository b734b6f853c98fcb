import { test } from "node:test";
import assert from "node:assert/strict";
import { parseJson } from "../base/json/index.js";
import { LookupPlusReplyCodec, SetXAttrRequestCodec, ReaddirReplyCodec, WroteRequestCodec, ChownRequestCodec, StatStructCodec } from "./structs.js";
import { MountByAccountNameRequestCodec, MountByAccountNameReplyCodec, negotiateCapabilities, agreedCapabilities, Capability } from "./mount.js";
import { ProtoDecodeError, ProtoEncodeError } from "./schema.js";

test("decode follows Go: case-insensitive keys, unknown keys ignored, missing and null are zero", () => {
  const v = LookupPlusReplyCodec.decode(parseJson('{"inodenumber":7,"CTIMENS":1795639066580707229,"Extra":[1],"Size":null}'));
  assert.equal(v.InodeNumber, 7n);
  assert.equal(v.CTimeNs, 1795639066580707229n);
  assert.equal(v.Size, 0n);
  assert.equal(v.FileMode, 0);
  // Extension fields (optional) stay absent when the message does not carry them.
  const sent = LookupPlusReplyCodec.fieldNames.filter((n) => n !== "AllocatedBytes" && n !== "Rdev");
  assert.deepEqual(Object.keys(v), sent, "keys come out in Go order");
  assert.deepEqual(StatStructCodec.decode(null), StatStructCodec.zero());
  assert.deepEqual(ReaddirReplyCodec.decode({ DirEnts: null }), { DirEnts: [] });
});

test("decode rejects wrong types and out-of-range integers, naming the field", () => {
  const bad: Array<[unknown, RegExp]> = [
    [{ UserID: 2147483648 }, /ChownRequest\.UserID: 2147483648 is out of range for i32/],
    [{ InodeNumber: "1" }, /InodeNumber: expected an integer \(i64\), got "1"/],
    [{ InodeNumber: 1.5 }, /expected an integer/],
    [{ MountID: 5 }, /MountID: expected a string/],
    [[], /expected a JSON object for ChownRequest/],
  ];
  for (const [v, re] of bad) assert.throws(() => ChownRequestCodec.decode(v), (e: unknown) => e instanceof ProtoDecodeError && re.test(e.message), String(re));
  assert.throws(() => WroteRequestCodec.decode({ FileOffset: [1, -1] }), /WroteRequest\.FileOffset\[1\]: -1 is out of range for u64/);
  assert.throws(() => WroteRequestCodec.decode({ Length: 3 }), /Length: expected a JSON array/);
  assert.throws(() => SetXAttrRequestCodec.decode({ AttrValue: "not base64!" }), /AttrValue: expected base64 bytes/);
  assert.throws(() => LookupPlusReplyCodec.decode({ Size: 18446744073709551616n }), /out of range for u64/);
});

test("encode writes Go's bytes: declaration order whatever the object order, zero for missing, null for nil slices", () => {
  const v = { GroupID: 0, UserID: 0, FileMode: 16877, StatInodeNumber: 103n, NumLinks: 2n, Size: 0n, ATimeNs: 1n, MTimeNs: 1n, CRTimeNs: 1n, CTimeNs: 1n, InodeNumber: 103n };
  assert.equal(LookupPlusReplyCodec.encode(v), '{"InodeNumber":103,"CTimeNs":1,"CRTimeNs":1,"MTimeNs":1,"ATimeNs":1,"Size":0,"NumLinks":2,"StatInodeNumber":103,"FileMode":16877,"UserID":0,"GroupID":0}');
  assert.equal(ReaddirReplyCodec.encode({} as never), '{"DirEnts":null}');
  assert.equal(ReaddirReplyCodec.encode({ DirEnts: [] }), '{"DirEnts":[]}');
  assert.equal(SetXAttrRequestCodec.encode({ MountID: "m<", InodeNumber: 1n, AttrName: "user.x", AttrValue: Buffer.from("blue"), AttrFlags: 0 }),
    '{"MountID":"m\\u003c","InodeNumber":1,"AttrName":"user.x","AttrValue":"Ymx1ZQ==","AttrFlags":0}');
  assert.throws(() => ChownRequestCodec.encode({ MountID: "m", InodeNumber: -1n, UserID: 1.5, GroupID: 0 }), (e: unknown) => e instanceof ProtoEncodeError && /UserID: expected an integer/.test(e.message));
  assert.throws(() => WroteRequestCodec.encode({ MountID: "m", InodeNumber: 1n, ContainerName: "", ObjectName: "", FileOffset: [-1n], ObjectOffset: [], Length: [] }), /FileOffset\[0\]: -1 is out of range for u64/);
});

test("capability extension: absent means byte-identical 1.17.1 messages; present is appended and negotiated", () => {
  const plain = { AccountName: "AUTH_test", MountOptions: 0n, AuthUserID: 0n, AuthGroupID: 0n };
  assert.equal(MountByAccountNameRequestCodec.encode(plain), '{"AccountName":"AUTH_test","MountOptions":0,"AuthUserID":0,"AuthGroupID":0}');
  const offered = { ...plain, Capabilities: [Capability.Negotiation, "future-x"] };
  const text = MountByAccountNameRequestCodec.encode(offered);
  assert.equal(text, '{"AccountName":"AUTH_test","MountOptions":0,"AuthUserID":0,"AuthGroupID":0,"Capabilities":["pfs-capabilities-v1","future-x"]}');
  const atServer = MountByAccountNameRequestCodec.decode(parseJson(text));
  const granted = negotiateCapabilities(atServer.Capabilities, [Capability.Negotiation, "server-only"]);
  assert.deepEqual(granted, [Capability.Negotiation]);
  assert.deepEqual(negotiateCapabilities(MountByAccountNameRequestCodec.decode(parseJson('{"AccountName":"a"}')).Capabilities, [Capability.Negotiation]), []);
  const reply = { MountID: "m", RootDirInodeNumber: 1n, RetryRPCPublicIPAddr: "127.0.0.1", RetryRPCPort: 1, RootCAx509CertificatePEM: Buffer.from("x"), Capabilities: granted };
  const back = MountByAccountNameReplyCodec.decode(parseJson(MountByAccountNameReplyCodec.encode(reply)));
  assert.deepEqual([...agreedCapabilities(back)], [Capability.Negotiation]);
  const { Capabilities: _omit, ...legacy } = reply;
  assert.equal(agreedCapabilities(MountByAccountNameReplyCodec.decode(parseJson(MountByAccountNameReplyCodec.encode(legacy)))).size, 0);
});
