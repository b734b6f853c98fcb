// proxyfsd over real sockets: the StatExtended capability (AllocatedBytes and Rdev in every
// StatStruct, only for a mount that agreed it) and RpcStatVFS tracking usage (plain 1.17.1 wire).
import { test } from "node:test";
import assert from "node:assert/strict";
import { testCredentials } from "../../rpc/testing/test-credentials.js";
import { Capability, type StatStruct } from "../../proto/index.js";
import { MemoryObjectStore } from "../../objstore/index.js";
import { S_IFBLK } from "../types.js";
import { startVolumeServer } from "./volume-server.js";
import { mountClient, type MountedClient } from "./testing/jsonrpc-call.js";

const quiet = () => {};
const MiB = 1n << 20n;

/** Records [fileOffset, length] extents as written into a freshly provisioned log segment. */
async function wrote(c: MountedClient, ino: bigint, extents: Array<[bigint, bigint]>): Promise<void> {
  const prov = await c.client.call("RpcProvisionObject", { MountID: c.mountId });
  const [, , , container, object] = prov.PhysPath.split("/");
  let objOff = 0n;
  const objOffs = extents.map(([, len]) => {
    const o = objOff;
    objOff += len;
    return o;
  });
  await c.client.call("RpcWrote", {
    MountID: c.mountId, InodeNumber: ino, ContainerName: container!, ObjectName: object!,
    FileOffset: extents.map((e) => e[0]), ObjectOffset: objOffs, Length: extents.map((e) => e[1]),
  });
}

test("StatExtended: agreed mounts get AllocatedBytes and Rdev in GetStat, LookupPlus and ReaddirPlus; others get 1.17.1 stats", async () => {
  const s = await startVolumeServer({ volumes: [{ name: "V", accountName: "AUTH_test", objectStore: new MemoryObjectStore() }], credentials: await testCredentials(), log: quiet });
  const ext = await mountClient(s.jsonRpcPort, "AUTH_test", { capabilities: [Capability.Negotiation, Capability.StatExtended, Capability.Mknod, Capability.Fallocate] });
  const plain = await mountClient(s.jsonRpcPort, "AUTH_test", { capabilities: [Capability.Negotiation, Capability.Mknod] });
  const legacy = await mountClient(s.jsonRpcPort, "AUTH_test"); // a 1.17.1 agent: offers nothing
  try {
    assert.ok(ext.reply.Capabilities?.includes(Capability.StatExtended));
    assert.equal(plain.reply.Capabilities?.includes(Capability.StatExtended), false);
    const M = ext.mountId;
    const f = (await ext.client.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: "sparse", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    await wrote(ext, f, [[MiB, 4096n], [3n * MiB, 4096n]]);
    await ext.client.call("RpcResize", { MountID: M, InodeNumber: f, NewSize: 8n * MiB });
    const rdev = (259 << 8) | (70000 & 0xff) | ((70000 & ~0xff) << 12);
    const dev = (await ext.client.call("RpcMknod", { MountID: M, InodeNumber: 1n, Basename: "blk", UserID: 0, GroupID: 0, FileMode: S_IFBLK | 0o600, Rdev: rdev })).InodeNumber;

    const st = await ext.client.call("RpcGetStat", { MountID: M, InodeNumber: f });
    assert.equal(st.Size, 8n * MiB);
    assert.equal(st.AllocatedBytes, 8192n, "the holes are not allocated");
    assert.equal(st.Rdev, 0);
    const lp = await ext.client.call("RpcLookupPlus", { MountID: M, InodeNumber: 1n, Basename: "blk" });
    assert.equal(lp.InodeNumber, dev);
    assert.equal(lp.Rdev, rdev);
    assert.equal(lp.AllocatedBytes, 0n);
    const rp = await ext.client.call("RpcReaddirPlusByLoc", { MountID: M, InodeNumber: 1n, MaxEntries: 100n, PrevDirEntLocation: -1n });
    const byName = new Map(rp.DirEnts.map((d, i) => [d.Basename, rp.StatEnts[i]!]));
    assert.equal(byName.get("sparse")!.AllocatedBytes, 8192n);
    assert.equal(byName.get("blk")!.Rdev, rdev);
    assert.equal(byName.get(".")!.AllocatedBytes, 0n, "a directory allocates its size (0)");

    // Punch, truncate and fallocate move AllocatedBytes; a 1 TiB size costs nothing.
    await ext.client.call("RpcFallocate", { MountID: M, InodeNumber: f, Mode: 3, Offset: MiB, Length: 1024n });
    assert.equal((await ext.client.call("RpcGetStat", { MountID: M, InodeNumber: f })).AllocatedBytes, 8192n - 1024n);
    await ext.client.call("RpcResize", { MountID: M, InodeNumber: f, NewSize: 2n * MiB });
    assert.equal((await ext.client.call("RpcGetStat", { MountID: M, InodeNumber: f })).AllocatedBytes, 4096n - 1024n);
    await ext.client.call("RpcResize", { MountID: M, InodeNumber: f, NewSize: 1n << 40n });
    await ext.client.call("RpcFallocate", { MountID: M, InodeNumber: f, Mode: 1, Offset: 0n, Length: MiB });
    const big = await ext.client.call("RpcGetStat", { MountID: M, InodeNumber: f });
    assert.deepEqual([big.Size, big.AllocatedBytes], [1n << 40n, MiB + 4096n - 1024n]);

    // Mounts without the capability see exactly 1.17.1's StatStruct: no extra keys at all.
    for (const c of [plain, legacy]) {
      const stats: StatStruct[] = [
        await c.client.call("RpcGetStat", { MountID: c.mountId, InodeNumber: f }),
        await c.client.call("RpcLookupPlus", { MountID: c.mountId, InodeNumber: 1n, Basename: "blk" }),
        ...(await c.client.call("RpcReaddirPlusByLoc", { MountID: c.mountId, InodeNumber: 1n, MaxEntries: 100n, PrevDirEntLocation: -1n })).StatEnts,
      ];
      for (const x of stats) {
        assert.equal("AllocatedBytes" in x, false, "no AllocatedBytes without the capability");
        assert.equal("Rdev" in x, false, "no Rdev without the capability");
      }
      assert.equal(stats[0]!.Size, 1n << 40n);
    }
  } finally {
    for (const c of [ext, plain, legacy]) await c.rpc.close();
    await s.close();
  }
});

test("RpcStatVFS tracks usage: free blocks drop by what is written, free inodes by what is created; unlink returns both", async () => {
  const s = await startVolumeServer({ volumes: [{ name: "V", accountName: "AUTH_test", objectStore: new MemoryObjectStore() }], credentials: await testCredentials(), log: quiet });
  const legacy = await mountClient(s.jsonRpcPort, "AUTH_test"); // plain 1.17.1 wire: no capability needed
  const M = legacy.mountId;
  try {
    const s0 = await legacy.client.call("RpcStatVFS", { MountID: M });
    assert.equal(s0.FreeBlocks, s0.TotalBlocks);
    assert.equal(s0.AvailBlocks, s0.TotalBlocks);
    const f = (await legacy.client.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: "f", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    await wrote(legacy, f, [[0n, 8n * MiB]]);
    const s1 = await legacy.client.call("RpcStatVFS", { MountID: M });
    assert.equal(s1.TotalBlocks, s0.TotalBlocks, "the total stays the configured capacity");
    assert.equal((s0.FreeBlocks - s1.FreeBlocks) * s1.FragmentSize, 8n * MiB);
    assert.equal(s0.AvailBlocks - s1.AvailBlocks, s0.FreeBlocks - s1.FreeBlocks);
    assert.equal(s0.FreeInodes - s1.FreeInodes, 1n);
    assert.equal(s1.TotalInodes, s0.TotalInodes);
    await legacy.client.call("RpcResize", { MountID: M, InodeNumber: f, NewSize: 1n << 40n });
    assert.equal((await legacy.client.call("RpcStatVFS", { MountID: M })).FreeBlocks, s1.FreeBlocks, "a sparse terabyte does not consume space");
    await legacy.client.call("RpcUnlink", { MountID: M, InodeNumber: 1n, Basename: "f" });
    assert.deepEqual(await legacy.client.call("RpcStatVFS", { MountID: M }), s0);
  } finally {
    await legacy.rpc.close();
    await s.close();
  }
});
