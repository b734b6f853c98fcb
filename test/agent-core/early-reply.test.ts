// Early replies (EarlyReply capability) and RpcReplay: an agent keeps the mutations it was answered
// for early in its UnsafeLog; when proxyfsd "loses" them (we undo them on the Volume behind the
// agent's back, as a recovery that lost the non-durable suffix would), the re-mount replays them:
// creates come back with the SAME inode numbers, lost unlinks and renames are re-applied, ops that
// survived are not applied twice; RpcSync (syncMeta) empties the log. Also Volume.withInodeNumber.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno, FsError } from "../../src/base/errno.js";
import { Capability, type ProxyFsRpcMethod, type ReplayOp, type ReplyOf, type RequestOf } from "../../src/proto/index.js";
import { MemoryVolumeStore, Volume } from "../../src/volume/index.js";
import { ROOT_CALLER } from "../../src/volume/types.js";
import { AgentFs, type AgentRpc } from "../../src/agent/fs/index.js";
import { ALL_CAPABILITIES, InProcessServer, type InProcessMount } from "./in-process-server.js";

const ROOT = 1n;
const O_RDWR = 2;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const caller = { uid: 0, gid: 0 };
const T = { timeout: 30_000 };

/**
 * The agent's RPC port with a switch that holds RpcSync (a proxyfsd whose journal is not durable
 * yet: RpcSync would wait) and can fail the held calls (proxyfsd died), and a record of RpcReplay.
 */
class GatedRpc implements AgentRpc {
  holdSync = true;
  /** RpcReplay calls still to fail (proxyfsd died again during the replay). */
  failReplays = 0;
  readonly held: Array<{ go: () => void; fail: (e: Error) => void }> = [];
  readonly replays: Array<{ ops: ReplayOp[]; outcomes: string[] }> = [];
  constructor(readonly inner: AgentRpc) {}
  async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>> {
    if (method === "RpcSync" && this.holdSync) {
      await new Promise<void>((go, fail) => this.held.push({ go, fail }));
    }
    if (method === "RpcReplay" && this.failReplays > 0) {
      this.failReplays--;
      throw new Error("connection lost during RpcReplay (proxyfsd restarted again)");
    }
    const reply = await this.inner.call(method, request);
    if (method === "RpcReplay") {
      this.replays.push({ ops: (request as RequestOf<"RpcReplay">).Ops, outcomes: (reply as ReplyOf<"RpcReplay">).Outcomes ?? [] });
    }
    return reply;
  }
  /** proxyfsd went away: every held RpcSync fails. */
  failHeld(): void {
    for (const h of this.held.splice(0)) h.fail(new Error("connection lost (proxyfsd restarted)"));
  }
}

/** name -> "ino type" for every entry of `dir` on the server, and symlink targets. */
function snapshot(v: Volume, dir: bigint): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of v.readdirByLoc(ROOT_CALLER, dir, -1n, 1000, true)) {
    if (e.name === "." || e.name === "..") continue;
    const mode = e.attr!.mode;
    out[e.name] = `${e.ino} 0o${(mode & S_IFMT).toString(8)}${(mode & S_IFMT) === S_IFLNK ? ` -> ${v.readlink(e.ino)}` : ""}`;
  }
  return out;
}

function errno(n: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof FsError, `expected an FsError, got ${String(err)}`);
    assert.equal(err.errno, n, err.message);
    return true;
  };
}

/** An in-process server and one agent mounted through a GatedRpc (EarlyReply agreed). */
function gatedAgent(): { s: InProcessServer; mount: InProcessMount; rpc: GatedRpc; fs: AgentFs } {
  const s = new InProcessServer({ lease: { minLeaseDurationMs: 5, leaseInterruptIntervalMs: 20 } });
  const mount = s.mount(ALL_CAPABILITIES);
  assert.ok(mount.capabilities.has(Capability.EarlyReply));
  const rpc = new GatedRpc(mount.rpc);
  const fs = new AgentFs({ rpc, store: s.store, mountId: mount.mountId, capabilities: mount.capabilities, leases: { retryDelayMs: 5 } });
  mount.attach(fs);
  return { s, mount, rpc, fs };
}

test("lost early-answered changes are replayed after a re-mount, with the same inode numbers, exactly once", T, async () => {
  const g = gatedAgent();
  const { s, rpc, fs } = g;
  try {
    let mount = g.mount;
    const v = s.volume;

    // A durable prefix.
    rpc.holdSync = false;
    const D = (await fs.mkdir(caller, ROOT, "D", 0o755)).ino;
    const mk = async (name: string): Promise<bigint> => {
      const r = await fs.create(caller, D, name, 0o644, O_RDWR);
      await fs.release(r.ino, r.fh);
      return r.ino;
    };
    const u = await mk("u");
    const r1 = await mk("r1");
    await fs.syncMeta();
    assert.equal(fs.stats.unsafePending, 0, "syncMeta confirms everything");

    // Early-answered, never confirmed (RpcSync held).
    rpc.holdSync = true;
    const survivor = await mk("survivor");
    const f1 = await mk("f1");
    const sub = (await fs.mkdir(caller, D, "sub", 0o700)).ino;
    const ln = (await fs.symlink(caller, D, "ln", "some/target")).ino;
    await fs.unlink(D, "u");
    await fs.rename(D, "r1", D, "r2");
    assert.equal(fs.stats.unsafePending, 6, "six unconfirmed ops");
    const expected = snapshot(v, D);
    assert.deepEqual(Object.keys(expected).sort(), ["f1", "ln", "r2", "sub", "survivor"]);

    // proxyfsd restarts and recovery lost everything after `survivor`.
    v.unlink(ROOT_CALLER, D, "f1");
    v.rmdir(ROOT_CALLER, D, "sub");
    v.unlink(ROOT_CALLER, D, "ln");
    v.withInodeNumber(u, () => v.create(ROOT_CALLER, D, "u", 0o644));
    v.rename(ROOT_CALLER, D, "r2", D, "r1", 0);
    assert.deepEqual(Object.keys(snapshot(v, D)).sort(), ["r1", "survivor", "u"]);
    rpc.failHeld();
    rpc.holdSync = false;

    mount = s.remount(mount, fs);
    await fs.remounted(mount.mountId);
    assert.equal(rpc.replays.length, 1, "the re-mount sent one RpcReplay");
    assert.deepEqual(rpc.replays[0]!.outcomes, ["present", "applied", "applied", "applied", "applied", "applied"]);
    assert.deepEqual(snapshot(v, D), expected, "every lost change is back, with the same inode numbers");
    assert.equal(v.lookup(ROOT_CALLER, D, "f1").ino, f1);
    assert.equal(v.lookup(ROOT_CALLER, D, "sub").ino, sub);
    assert.equal(v.lookup(ROOT_CALLER, D, "sub").mode & S_IFMT, S_IFDIR);
    assert.equal(v.lookup(ROOT_CALLER, D, "ln").ino, ln);
    assert.equal(v.lookup(ROOT_CALLER, D, "r2").ino, r1);
    assert.equal(v.lookup(ROOT_CALLER, D, "survivor").ino, survivor);
    assert.throws(() => v.getattr(u), "the replayed unlink destroyed u again");
    assert.equal(fs.stats.replayedOps, 5);
    // Replayed ops stay until an RpcSync to the new proxyfsd confirms them (it may crash again).
    assert.equal(fs.stats.unsafePending, 6);
    await fs.syncMeta();
    assert.equal(fs.stats.unsafePending, 0);
    // The agent sees the same through its (re-leased) caches.
    assert.equal((await fs.lookup(D, "f1")).ino, f1);
    assert.equal((await fs.lookupEntry(D, "u")).found, false);

    // Replaying the same ops again changes nothing.
    const again = await mount.rpc.call("RpcReplay", { MountID: mount.mountId, Ops: rpc.replays[0]!.ops });
    assert.deepEqual(again.Outcomes, ["present", "present", "present", "present", "skipped", "skipped"]);
    assert.deepEqual(snapshot(v, D), expected);

    // Later changes are confirmed by syncMeta; a later re-mount replays nothing.
    const late = await mk("late");
    assert.ok(fs.stats.unsafePending >= 1 || fs.stats.syncRpcs > 0);
    await fs.syncMeta();
    assert.equal(fs.stats.unsafePending, 0);
    const replaysBefore = mount.rpc.calls.get("RpcReplay") ?? 0;
    const stateBefore = snapshot(v, D);
    mount = s.remount(mount, fs);
    await fs.remounted(mount.mountId);
    assert.equal(rpc.replays.length, 1, "nothing to replay");
    assert.equal(mount.rpc.calls.get("RpcReplay") ?? 0, 0);
    assert.ok(replaysBefore >= 1);
    assert.deepEqual(snapshot(v, D), stateBefore);
    assert.equal(v.lookup(ROOT_CALLER, D, "late").ino, late);
  } finally {
    s.close();
  }
});

test("a replay cut short keeps its ops: the next re-mount replays them; a confirmed replay empties the log", T, async () => {
  const g = gatedAgent();
  const { s, rpc, fs } = g;
  try {
    let mount = g.mount;
    const v = s.volume;
    rpc.holdSync = false;
    const D = (await fs.mkdir(caller, ROOT, "D", 0o755)).ino;
    await fs.syncMeta();
    rpc.holdSync = true;
    const r = await fs.create(caller, D, "x", 0o644, O_RDWR);
    await fs.release(r.ino, r.fh);
    assert.equal(fs.stats.unsafePending, 1);
    v.unlink(ROOT_CALLER, D, "x"); // the crash lost the create
    rpc.failHeld();
    rpc.holdSync = false;
    rpc.failReplays = 1;
    mount = s.remount(mount, fs);
    await assert.rejects(fs.remounted(mount.mountId), /during RpcReplay/);
    assert.equal(fs.stats.unsafePending, 1, "the op the failed replay did not confirm is kept");
    assert.throws(() => v.lookup(ROOT_CALLER, D, "x"));
    mount = s.remount(mount, fs);
    await fs.remounted(mount.mountId);
    assert.equal(v.lookup(ROOT_CALLER, D, "x").ino, r.ino, "the next re-mount re-created x with its inode number");
    await fs.syncMeta();
    assert.equal(fs.stats.unsafePending, 0);
  } finally {
    s.close();
  }
});

test("Volume.withInodeNumber: refuses numbers never handed out and numbers in use", () => {
  const store = new MemoryVolumeStore();
  const v = new Volume({ store });
  const a = v.create(ROOT_CALLER, ROOT, "a", 0o644).ino;
  const b = v.create(ROOT_CALLER, ROOT, "b", 0o644).ino;
  const next = store.peekNonce();
  assert.ok(next > b);
  assert.throws(() => v.withInodeNumber(next, () => v.create(ROOT_CALLER, ROOT, "x", 0o644)), errno(Errno.EINVAL));
  assert.throws(() => v.withInodeNumber(next + 100n, () => v.create(ROOT_CALLER, ROOT, "x", 0o644)), errno(Errno.EINVAL));
  assert.throws(() => v.withInodeNumber(1n, () => v.mkdir(ROOT_CALLER, ROOT, "x", 0o755)), errno(Errno.EINVAL));
  assert.throws(() => v.withInodeNumber(a, () => v.create(ROOT_CALLER, ROOT, "x", 0o644)), errno(Errno.EEXIST));
  assert.throws(() => v.lookup(ROOT_CALLER, ROOT, "x"), errno(Errno.ENOENT), "a refused call created nothing");
  assert.equal(store.peekNonce(), next, "a refused call consumed no number");
  // A number handed out before and free again (its inode destroyed) is accepted.
  v.unlink(ROOT_CALLER, ROOT, "b");
  assert.equal(v.withInodeNumber(b, () => v.create(ROOT_CALLER, ROOT, "b2", 0o600)).ino, b);
  assert.equal(v.lookup(ROOT_CALLER, ROOT, "b2").ino, b);
  // Only the node made inside gets it: the next create gets a fresh number.
  const c = v.create(ROOT_CALLER, ROOT, "c", 0o644).ino;
  assert.equal(c, next);
});
