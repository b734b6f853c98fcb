// proxyfsd RPC server end to end over real sockets: JSON-RPC mount on TCP, retryrpc over TLS with
// the CA from the mount reply, several clients at once, error strings, capability-gated
// extensions, and exactly-once under connection cuts (through a byte relay).
import { test } from "node:test";
import assert from "node:assert/strict";
import { RetryRpcClient, RpcReplyError } from "../../rpc/index.js";
import { TcpProxy } from "../../rpc/testing/tcp-proxy.js";
import { testCredentials } from "../../rpc/testing/test-credentials.js";
import { Capability, unmountNotFoundError, SEEK_DATA, SEEK_HOLE } from "../../proto/index.js";
import { MemoryObjectStore } from "../../objstore/index.js";
import { startVolumeServer, type VolumeServer } from "./volume-server.js";
import { jsonRpcCall, jsonRpcRaw, mountClient, type MountedClient } from "./testing/jsonrpc-call.js";

const quiet = () => {};

async function start(extra: Partial<Parameters<typeof startVolumeServer>[0]> = {}): Promise<VolumeServer> {
  return startVolumeServer({ volumes: [{ name: "CommonVolume", accountName: "AUTH_test" }], credentials: await testCredentials(), log: quiet, ...extra });
}

async function errOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof RpcReplyError) return err.errstr;
    throw err;
  }
  assert.fail("expected the call to fail");
}

test("JSON-RPC: mount reply fields, ping, unmount, unknown account/method, bad stream", async () => {
  const s = await start();
  try {
    const m = await jsonRpcCall(s.jsonRpcPort, "Server.RpcMountByAccountName", { AccountName: "AUTH_test", MountOptions: 0, AuthUserID: 0, AuthGroupID: 0 });
    assert.equal(m.error, null);
    const r = m.result as Record<string, unknown>;
    assert.deepEqual(Object.keys(r), ["MountID", "RootDirInodeNumber", "RetryRPCPublicIPAddr", "RetryRPCPort", "RootCAx509CertificatePEM"]);
    assert.match(r.MountID as string, /^[A-Za-z0-9+/]{22}==$/);
    assert.equal(BigInt(r.RootDirInodeNumber as number), 1n);
    assert.equal(r.RetryRPCPublicIPAddr, "127.0.0.1");
    assert.equal(Number(r.RetryRPCPort), s.retryRpcPort);
    assert.equal(Buffer.from(r.RootCAx509CertificatePEM as string, "base64").toString(), s.caCertPem);
    assert.deepEqual(s.mountIds(), [r.MountID]);

    // Byte-exact ping as proxyfsd's own liveness checker sends it.
    assert.equal(await jsonRpcRaw(s.jsonRpcPort, '{"jsonrpc":"2.0","method":"Server.RpcPing","params":[{"Message":"Ping at 2026-11-25T20:37:49Z"}],"id":0}'),
      '{"id":0,"result":{"Message":"pong 28 bytes"},"error":null}\n');
    // Two requests back to back on one connection (Go's streaming decoder accepts that).
    const both = await jsonRpcRaw(s.jsonRpcPort, '{"method":"Server.RpcPing","params":[{"Message":"a"}],"id":"x"}{"method":"Server.RpcPing","params":[{"Message":"bb"}],"id":"y"}');
    assert.match(both, /^\{"id":"x","result":\{"Message":"pong 1 bytes"\},"error":null\}\n$/);

    const bad = await jsonRpcCall(s.jsonRpcPort, "Server.RpcMountByAccountName", { AccountName: "AUTH_nope" });
    assert.deepEqual([Number(bad.id), bad.result, bad.error], [2, null, "errno: 2"]);
    assert.equal((await jsonRpcCall(s.jsonRpcPort, "Server.RpcNoSuch", {})).error, "rpc: can't find method Server.RpcNoSuch");
    await assert.rejects(jsonRpcRaw(s.jsonRpcPort, "not json"), /connection closed/);

    const un = await jsonRpcCall(s.jsonRpcPort, "Server.RpcUnmount", { MountID: r.MountID, AccountName: "AUTH_test" }, 3);
    assert.equal(Number(un.id), 3);
    assert.equal(un.error, null);
    assert.deepEqual(Object.entries(un.result as object).map(([k, v]) => [k, Number(v)]), [["RequestTimeSec", 0], ["RequestTimeNsec", 0], ["SendTimeSec", 0], ["SendTimeNsec", 0]]);
    assert.deepEqual(s.mountIds(), []);
    const again = await jsonRpcCall(s.jsonRpcPort, "Server.RpcUnmount", { MountID: r.MountID }, 4);
    assert.equal(again.error, unmountNotFoundError(r.MountID as string));
  } finally {
    await s.close();
  }
});

test("8 clients at once through TLS: namespace operations, each on its own mount", async () => {
  const s = await start();
  const clients: MountedClient[] = [];
  try {
    for (let i = 0; i < 8; i++) clients.push(await mountClient(s.jsonRpcPort, "AUTH_test"));
    await Promise.all(clients.map(async ({ client, mountId: M }, i) => {
      const d = (await client.call("RpcMkdir", { MountID: M, InodeNumber: 1n, Basename: `d${i}`, UserID: 1000 + i, GroupID: 100, FileMode: 0o755 })).InodeNumber;
      const creates = [];
      for (let k = 0; k < 50; k++) creates.push(client.call("RpcCreate", { MountID: M, InodeNumber: d, Basename: `f${k}`, UserID: 1000 + i, GroupID: 100, FileMode: 0o644 }));
      const inos = (await Promise.all(creates)).map((r) => r.InodeNumber);
      assert.equal(new Set(inos).size, 50);
      const st = await client.call("RpcLookupPlus", { MountID: M, InodeNumber: d, Basename: "f7" });
      assert.equal(st.InodeNumber, inos[7]);
      assert.equal(st.FileMode, 0o100644);
      assert.equal(st.UserID, 1000 + i);
      await client.call("RpcRename", { MountID: M, SrcDirInodeNumber: d, SrcBasename: "f0", DstDirInodeNumber: d, DstBasename: "f1" });
      await client.call("RpcUnlink", { MountID: M, InodeNumber: d, Basename: "f2" });
      assert.equal(await errOf(client.call("RpcGetStat", { MountID: M, InodeNumber: inos[1]! })), "errno: 2", "rename destroyed the replaced inode");
      assert.equal(await errOf(client.call("RpcLookup", { MountID: M, InodeNumber: d, Basename: "f2" })), "errno: 2");
      assert.equal(await errOf(client.call("RpcRmdir", { MountID: M, InodeNumber: 1n, Basename: `d${i}` })), "errno: 39");
      const ls = await client.call("RpcReaddirPlusByLoc", { MountID: M, InodeNumber: d, MaxEntries: 1000n, PrevDirEntLocation: -1n });
      assert.equal(ls.DirEnts.length, 2 + 48);
      assert.equal(ls.StatEnts.length, ls.DirEnts.length);
      assert.deepEqual(ls.DirEnts.slice(0, 3).map((e) => [e.Basename, e.NextDirLocation]), [[".", 1n], ["..", 2n], ["f1", 3n]]);
      assert.equal(ls.DirEnts[2]!.InodeNumber, inos[0], "f1 is the renamed f0");
    }));
    const root = await clients[0]!.client.call("RpcReaddirByLoc", { MountID: clients[0]!.mountId, InodeNumber: 1n, MaxEntries: 100n, PrevDirEntLocation: -1n });
    assert.deepEqual(root.DirEnts.map((e) => e.Basename), [".", "..", "d0", "d1", "d2", "d3", "d4", "d5", "d6", "d7"]);
    const rootStat = await clients[3]!.client.call("RpcGetStat", { MountID: clients[3]!.mountId, InodeNumber: 1n });
    assert.equal(rootStat.NumLinks, 10n);
  } finally {
    for (const c of clients) await c.rpc.close();
    await s.close();
  }
});

test("error strings: unknown MountID, refused client ID, unknown method, permissions by request uid", async () => {
  const s = await start();
  const c = await mountClient(s.jsonRpcPort, "AUTH_test");
  const M = c.mountId;
  const stranger = new RetryRpcClient({ host: "127.0.0.1", port: s.retryRpcPort, clientId: "AAAAAAAAAAAAAAAAAAAAAA==", caCertPem: s.caCertPem, log: quiet });
  try {
    assert.equal(await errOf(c.client.call("RpcGetStat", { MountID: "AAAAAAAAAAAAAAAAAAAAAA==", InodeNumber: 1n })), "errno: 22");
    assert.equal(await errOf(c.client.call("RpcLease", { MountID: "AAAAAAAAAAAAAAAAAAAAAA==", InodeNumber: 1n, LeaseRequestType: 0 })),
      "MountID AAAAAAAAAAAAAAAAAAAAAA== not found in jrpcfs globals.mountMapByMountIDAsString");
    assert.equal(await errOf(c.client.call("RpcLease", { MountID: M, InodeNumber: 1n, LeaseRequestType: 9 })), "LeaseRequestType 9 not supported");
    assert.equal(await errOf(c.client.call("RpcLease", { MountID: M, InodeNumber: 424242n, LeaseRequestType: 4 })), "LeaseRequestType 4 not allowed for non-existent Lease [case 1]");
    assert.equal(await errOf(c.rpc.call("RpcNoSuchMethod", { MountID: M })), "errno: 2");
    assert.equal(await errOf(c.client.call("RpcGetStat", { MountID: M, InodeNumber: 999999n })), "errno: 2");
    // A connection whose PassID is not a live MountID: every RPC is refused with ESTALE, never run.
    assert.equal(await errOf(stranger.call("RpcGetStat", { MountID: M, InodeNumber: 1n })), "errno: 116");
    // Create runs as the request's uid: uid 1000 cannot create in a 0755 root-owned directory.
    const d = (await c.client.call("RpcMkdir", { MountID: M, InodeNumber: 1n, Basename: "locked", UserID: 0, GroupID: 0, FileMode: 0o755 })).InodeNumber;
    assert.equal(await errOf(c.client.call("RpcCreate", { MountID: M, InodeNumber: d, Basename: "x", UserID: 1000, GroupID: 1000, FileMode: 0o644 })), "errno: 13");
    const f = (await c.client.call("RpcCreate", { MountID: M, InodeNumber: d, Basename: "x", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    assert.deepEqual(await c.client.call("RpcAccess", { MountID: M, InodeNumber: f, UserID: 0, GroupID: 0, AccessMode: 2 }), { InodeNumber: 0n });
    assert.equal(await errOf(c.client.call("RpcAccess", { MountID: M, InodeNumber: f, UserID: 0, GroupID: 0, AccessMode: 1 })), "errno: 13");
    assert.equal(await errOf(c.client.call("RpcAccess", { MountID: M, InodeNumber: f, UserID: 1000, GroupID: 1000, AccessMode: 2 })), "errno: 13");
    // Other RPCs run as root, as 1.17.1 (the agent checks permissions itself).
    await c.client.call("RpcChown", { MountID: M, InodeNumber: f, UserID: -1, GroupID: 100 });
    const st = await c.client.call("RpcGetStat", { MountID: M, InodeNumber: f });
    assert.deepEqual([st.UserID, st.GroupID], [0, 100]);
    // Extensions without the capability behave like unknown methods.
    assert.equal(await errOf(c.client.call("RpcSeek", { MountID: M, InodeNumber: f, Offset: 0n, Whence: SEEK_DATA })), "errno: 2");
  } finally {
    await stranger.close();
    await c.rpc.close();
    await s.close();
  }
});

test("extensions after negotiation: RpcRename2 flags, RpcFallocate, RpcSeek; the data path creates containers", async () => {
  const store = new MemoryObjectStore();
  const s = await startVolumeServer({ volumes: [{ name: "V", accountName: "AUTH_test", objectStore: store }], credentials: await testCredentials(), log: quiet });
  const c = await mountClient(s.jsonRpcPort, "AUTH_test", { capabilities: [Capability.Negotiation, "pfs-unknown-v9", Capability.SeekDataHole, Capability.Rename2, Capability.Fallocate] });
  const M = c.mountId;
  try {
    assert.deepEqual(c.reply.Capabilities, [Capability.Negotiation, Capability.SeekDataHole, Capability.Rename2, Capability.Fallocate]);
    const a = (await c.client.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: "a", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    const b = (await c.client.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: "b", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    assert.equal(await errOf(c.client.call("RpcRename2", { MountID: M, SrcDirInodeNumber: 1n, SrcBasename: "a", DstDirInodeNumber: 1n, DstBasename: "b", Flags: 1 })), "errno: 17");
    await c.client.call("RpcRename2", { MountID: M, SrcDirInodeNumber: 1n, SrcBasename: "a", DstDirInodeNumber: 1n, DstBasename: "b", Flags: 2 });
    assert.equal((await c.client.call("RpcLookup", { MountID: M, InodeNumber: 1n, Basename: "a" })).InodeNumber, b);
    assert.equal((await c.client.call("RpcLookup", { MountID: M, InodeNumber: 1n, Basename: "b" })).InodeNumber, a);

    // Write 100 bytes at 1 MiB through the data path, then explore holes and data.
    const prov = await c.client.call("RpcProvisionObject", { MountID: M });
    const [, , account, container, object] = prov.PhysPath.split("/");
    assert.equal(account, "AUTH_test");
    assert.match(object!, /^[0-9A-F]{16}$/);
    await store.headContainer(container!); // created by the server: the agent's PUT will not 404
    await c.client.call("RpcWrote", { MountID: M, InodeNumber: a, ContainerName: container!, ObjectName: object!, FileOffset: [1048576n], ObjectOffset: [0n], Length: [100n] });
    assert.equal((await c.client.call("RpcSeek", { MountID: M, InodeNumber: a, Offset: 0n, Whence: SEEK_DATA })).Offset, 1048576n);
    assert.equal((await c.client.call("RpcSeek", { MountID: M, InodeNumber: a, Offset: 1048576n, Whence: SEEK_HOLE })).Offset, 1048676n);
    assert.equal(await errOf(c.client.call("RpcSeek", { MountID: M, InodeNumber: a, Offset: 1048676n, Whence: SEEK_DATA })), "errno: 6");
    await c.client.call("RpcFallocate", { MountID: M, InodeNumber: a, Mode: 3, Offset: 1048586n, Length: 10n });
    const chunk = await c.client.call("RpcFetchExtentMapChunk", { MountID: M, InodeNumber: a, FileOffset: 0n, MaxEntriesFromFileOffset: 32n, MaxEntriesBeforeFileOffset: 0n });
    assert.equal(chunk.FileSize, 1048676n);
    assert.deepEqual(chunk.ExtentMapEntry.map((e) => [e.FileOffset, e.Length, e.LogSegmentOffset, e.ObjectName]), [[1048576n, 10n, 0n, object], [1048596n, 80n, 20n, object]]);
    await c.client.call("RpcFallocate", { MountID: M, InodeNumber: a, Mode: 0, Offset: 0n, Length: 2097152n });
    assert.equal((await c.client.call("RpcGetStat", { MountID: M, InodeNumber: a })).Size, 2097152n);
    assert.equal(await errOf(c.client.call("RpcFallocate", { MountID: M, InodeNumber: a, Mode: 2, Offset: 0n, Length: 1n })), "errno: 95");
  } finally {
    await c.rpc.close();
    await s.close();
  }
});

test("exactly once under connection cuts: Create/Unlink replies lost, then resent; nothing runs twice", async () => {
  const s = await start();
  const proxy = new TcpProxy(s.retryRpcPort);
  const proxyPort = await proxy.listen();
  const c = await mountClient(s.jsonRpcPort, "AUTH_test", { viaPort: proxyPort });
  const M = c.mountId;
  try {
    await c.client.call("RpcGetStat", { MountID: M, InodeNumber: 1n }); // connected
    const executedBefore = s.stats().retryRpc.executed;
    // Phase 1: the server executes 100 Creates but every reply is lost; then the connection dies.
    proxy.dropServerToClient = true;
    const creates = [];
    for (let k = 0; k < 100; k++) creates.push(c.client.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: `n${k}`, UserID: 0, GroupID: 0, FileMode: 0o644 }));
    while (s.stats().retryRpc.executed < executedBefore + 100) await new Promise((r) => setTimeout(r, 5));
    proxy.cutAll();
    proxy.dropServerToClient = false;
    const inos = (await Promise.all(creates)).map((r) => r.InodeNumber); // an EEXIST here would be a second execution
    assert.equal(new Set(inos).size, 100);
    assert.ok(s.stats().retryRpc.repliedFromCache >= 100, "the resent Creates were answered from the reply cache");
    // Phase 2: Unlinks while the relay is cut repeatedly mid-stream.
    const unlinks = [];
    for (let k = 0; k < 100; k++) unlinks.push(c.client.call("RpcUnlink", { MountID: M, InodeNumber: 1n, Basename: `n${k}` }));
    const cutter = setInterval(() => proxy.cutAll(), 15);
    try {
      await Promise.all(unlinks); // an ENOENT here would be a second execution
    } finally {
      clearInterval(cutter);
    }
    const st = s.stats().retryRpc;
    assert.equal(st.executed, executedBefore + 200, "each call ran exactly once");
    const ls = await c.client.call("RpcReaddirByLoc", { MountID: M, InodeNumber: 1n, MaxEntries: 1000n, PrevDirEntLocation: -1n });
    assert.deepEqual(ls.DirEnts.map((e) => e.Basename), [".", ".."]);
    assert.ok(c.rpc.stats.connects >= 2);
  } finally {
    await c.rpc.close();
    await proxy.close();
    await s.close();
  }
});

test("unmount forgets the client: its retryrpc connection is refused afterwards", async () => {
  const s = await start();
  const c = await mountClient(s.jsonRpcPort, "AUTH_test");
  try {
    await c.client.call("RpcGetStat", { MountID: c.mountId, InodeNumber: 1n });
    assert.equal((await jsonRpcCall(s.jsonRpcPort, "Server.RpcUnmount", { MountID: c.mountId })).error, null);
    assert.equal(await errOf(c.client.call("RpcGetStat", { MountID: c.mountId, InodeNumber: 1n })), "errno: 116");
  } finally {
    await c.rpc.close();
    await s.close();
  }
});



