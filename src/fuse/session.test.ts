// Byte-level tests of FuseSession through a MemoryTransport: no kernel involved. Requests are
// built with the same struct layouts the kernel uses; replies are decoded and checked field by field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Errno, FsError } from "../base/errno.js";
import type { Attr, FuseHandler, RequestContext } from "./handler.js";
import { FuseSession } from "./session.js";
import { MemoryTransport } from "./transport.js";
import {
  AttrOutHead, BatchForgetIn, CreateIn, DirentHead, ENTRY_OUT_SIZE, EntryOutHead, FallocateIn, ForgetIn, ForgetOne,
  FuseAttr, GetattrIn, GetxattrIn, GetxattrOut, InHeader, InitFlag, InitIn, InitOut, InterruptIn, LkIn, LseekIn,
  LseekOut, MkdirIn, Opcode, OpenIn, OpenOut, OutHeader, ReadIn, Rename2In, SetattrIn, SetxattrIn, StatxIn, StatxOutHead,
  Statx, WriteIn, WriteOut, FATTR, NotifyCode, NotifyInvalEntryOut, FUSE_GETATTR_FH,
} from "./abi/kernel.js";

let unique = 100n;

function request(opcode: number, nodeid: bigint, ...body: (Buffer | string)[]): { msg: Buffer; unique: bigint } {
  const parts = body.map((b) => (typeof b === "string" ? Buffer.from(b + "\0") : b));
  const len = InHeader.size + parts.reduce((a, b) => a + b.length, 0);
  const u = unique++;
  const head = InHeader.encode({ len, opcode, unique: u, nodeid, uid: 1000, gid: 1000, pid: 4242 });
  return { msg: Buffer.concat([head, ...parts]), unique: u };
}

function parseReply(buf: Buffer): { len: number; error: number; unique: bigint; body: Buffer } {
  const h = OutHeader.decode(buf);
  assert.equal(h.len, buf.length, "reply header len must equal bytes written");
  return { ...h, body: buf.subarray(OutHeader.size) };
}

const T = 1_700_000_000_123_456_789n;
function attr(ino: bigint, mode: number, size = 0n): Attr {
  return { ino, size, blocks: (size + 511n) / 512n, atimeNs: T, mtimeNs: T + 1n, ctimeNs: T + 2n, mode, nlink: 1, uid: 1000, gid: 1000, rdev: 0, blksize: 4096 };
}

async function started(handler: FuseHandler, opts: ConstructorParameters<typeof FuseSession>[2] = {}, minor = 45, flags = 0xffffffffn) {
  const t = new MemoryTransport();
  const logs: string[] = [];
  const logger = { info: (m: string) => logs.push(m), warn: (m: string) => logs.push(m), error: (m: string) => logs.push(m) };
  const s = new FuseSession(t, handler, { logger, ...opts });
  s.start();
  const init = request(Opcode.INIT, 0n, InitIn.encode({
    major: 7, minor, maxReadahead: 131072, flags: Number(flags & 0xffffffffn), flags2: Number(flags >> 32n),
  }));
  t.push(init.msg);
  await s.ready;
  const [r] = await t.waitForReplies(1);
  const rep = parseReply(r!);
  assert.equal(rep.error, 0);
  const out = InitOut.decode(rep.body);
  return { t, s, logs, out, next: async () => parseReply((await t.waitForReplies(t.sent.length + 1)).at(-1)!) };
}

async function roundTrip(t: MemoryTransport, msg: Buffer) {
  const before = t.sent.length;
  t.push(msg);
  const all = await t.waitForReplies(before + 1);
  return parseReply(all[before]!);
}

test("INIT negotiates the kernel's minor and the chosen capabilities", async () => {
  const { out, s } = await started({}, { maxWrite: 1 << 20, capabilities: ["ASYNC_READ", "MAX_PAGES", "WRITEBACK_CACHE", "INIT_EXT", "HAS_EXPIRE_ONLY"] }, 45, 0xffffffffn | InitFlag.HAS_EXPIRE_ONLY);
  assert.equal(out.major, 7);
  assert.equal(out.minor, 45);
  assert.equal(out.maxWrite, 1 << 20);
  assert.equal(out.maxPages, 256);
  const flags = BigInt(out.flags) | (BigInt(out.flags2) << 32n);
  assert.equal(flags, InitFlag.ASYNC_READ | InitFlag.MAX_PAGES | InitFlag.WRITEBACK_CACHE | InitFlag.INIT_EXT | InitFlag.HAS_EXPIRE_ONLY);
  assert.equal(s.protocolMinor, 45);
});

test("INIT with an older kernel (7.31) answers 7.31 and never sets flags it did not offer", async () => {
  const offered = InitFlag.ASYNC_READ | InitFlag.BIG_WRITES;
  const { out } = await started({}, { maxWrite: 1 << 20 }, 31, offered);
  assert.equal(out.minor, 31);
  assert.equal(BigInt(out.flags) & ~offered, 0n);
  // Without MAX_PAGES the kernel caps writes at 32 pages.
  assert.equal(out.maxWrite, 128 * 1024);
  assert.equal(out.maxPages, 0);
});

test("INIT from a kernel older than 7.31 is refused with EPROTO", async () => {
  const t = new MemoryTransport();
  const s = new FuseSession(t, {});
  s.start();
  t.push(request(Opcode.INIT, 0n, InitIn.encode({ major: 7, minor: 26, maxReadahead: 4096 })).msg);
  const [r] = await t.waitForReplies(1);
  assert.equal(parseReply(r!).error, -Errno.EPROTO);
  await assert.rejects(s.ready);
});

test("a request before INIT gets EIO, not a crash", async () => {
  const t = new MemoryTransport();
  const s = new FuseSession(t, {}, { logger: { info() {}, warn() {}, error() {} } });
  s.start();
  const r = await roundTrip(t, request(Opcode.GETATTR, 1n, GetattrIn.encode({})).msg);
  assert.equal(r.error, -Errno.EIO);
});

test("unknown opcodes and unimplemented ops get ENOSYS", async () => {
  const { t } = await started({});
  assert.equal((await roundTrip(t, request(9999, 1n).msg)).error, -Errno.ENOSYS);
  assert.equal((await roundTrip(t, request(Opcode.LOOKUP, 1n, "x").msg)).error, -Errno.ENOSYS);
  assert.equal((await roundTrip(t, request(Opcode.BMAP, 1n, Buffer.alloc(16)).msg)).error, -Errno.ENOSYS);
});

test("short and malformed requests get an error reply and a log line", async () => {
  const { t, logs } = await started({ async getattr() { return { attr: attr(1n, 0o40755) }; }, async lookup() { return { attr: attr(2n, 0o100644) }; } });
  // GETATTR body too short for fuse_getattr_in.
  const short = await roundTrip(t, request(Opcode.GETATTR, 1n, Buffer.alloc(4)).msg);
  assert.equal(short.error, -Errno.EIO);
  // LOOKUP name without its NUL terminator.
  const noNul = await roundTrip(t, request(Opcode.LOOKUP, 1n, Buffer.from("abc")).msg);
  assert.equal(noNul.error, -Errno.EIO);
  // WRITE declaring more data than present.
  const w = await roundTrip(t, request(Opcode.WRITE, 2n, WriteIn.encode({ size: 100 }), Buffer.alloc(10)).msg);
  assert.equal(w.error, -Errno.EIO);
  // A message shorter than a header is dropped with a log line (there is no unique to answer).
  const before = t.sent.length;
  t.push(Buffer.alloc(10));
  assert.equal(t.sent.length, before);
  assert.ok(logs.some((l) => /short request/.test(l)));
  assert.ok(logs.filter((l) => /malformed/.test(l)).length >= 3);
});

test("LOOKUP encodes fuse_entry_out exactly and counts lookups; FORGET and BATCH_FORGET release them", async () => {
  const forgotten: bigint[] = [];
  const h: FuseHandler = {
    async lookup(_c, parent, name) {
      assert.equal(parent, 1n);
      if (name === "nope") throw new FsError(Errno.ENOENT);
      return { attr: attr(name === "a" ? 5n : 6n, 0o100644, 1234n), generation: 7n, entryTtlMs: 1500, attrTtlMs: 250 };
    },
    forget(id) { forgotten.push(id); },
  };
  const { t, s } = await started(h);
  const r = await roundTrip(t, request(Opcode.LOOKUP, 1n, "a").msg);
  assert.equal(r.error, 0);
  assert.equal(r.body.length, ENTRY_OUT_SIZE);
  const e = EntryOutHead.decode(r.body);
  assert.deepEqual(e, { nodeid: 5n, generation: 7n, entryValid: 1n, attrValid: 0n, entryValidNsec: 500_000_000, attrValidNsec: 250_000_000 });
  const a = FuseAttr.decode(r.body, EntryOutHead.size);
  assert.equal(a.ino, 5n);
  assert.equal(a.size, 1234n);
  assert.equal(a.mtime, T / 1_000_000_000n);
  assert.equal(a.mtimensec, Number((T + 1n) % 1_000_000_000n));
  assert.equal(a.mode, 0o100644);
  await roundTrip(t, request(Opcode.LOOKUP, 1n, "a").msg);
  await roundTrip(t, request(Opcode.LOOKUP, 1n, "b").msg);
  assert.equal((await roundTrip(t, request(Opcode.LOOKUP, 1n, "nope").msg)).error, -Errno.ENOENT);
  assert.equal(s.lookupCount(5n), 2);
  assert.equal(s.lookupCount(6n), 1);
  const sent = t.sent.length;
  t.push(request(Opcode.FORGET, 5n, ForgetIn.encode({ nlookup: 1n })).msg);
  assert.equal(s.lookupCount(5n), 1);
  assert.deepEqual(forgotten, []);
  t.push(request(Opcode.BATCH_FORGET, 0n, BatchForgetIn.encode({ count: 2 }), ForgetOne.encode({ nodeid: 5n, nlookup: 1n }), ForgetOne.encode({ nodeid: 6n, nlookup: 1n })).msg);
  assert.deepEqual(forgotten, [5n, 6n]);
  assert.equal(t.sent.length, sent, "FORGET and BATCH_FORGET are never answered");
});

test("SETATTR decodes each valid bit; times become nanoseconds or 'now'", async () => {
  let seen: unknown;
  const { t } = await started({ async setattr(_c, n, ch) { seen = ch; return { attr: attr(n, 0o100600, 10n), attrTtlMs: 0 }; } });
  const body = SetattrIn.encode({
    valid: FATTR.MODE | FATTR.SIZE | FATTR.ATIME | FATTR.ATIME_NOW | FATTR.MTIME | FATTR.FH | FATTR.UID,
    fh: 9n, size: 10n, mtime: 1_600_000_000n, mtimensec: 5, mode: 0o600, uid: 33,
  });
  const r = await roundTrip(t, request(Opcode.SETATTR, 5n, body).msg);
  assert.equal(r.error, 0);
  assert.deepEqual(seen, { fh: 9n, mode: 0o600, uid: 33, size: 10n, atime: "now", mtime: 1_600_000_000_000_000_005n });
  const head = AttrOutHead.decode(r.body);
  assert.equal(head.attrValid, 0n);
  assert.equal(FuseAttr.decode(r.body, AttrOutHead.size).size, 10n);
});

test("READ and WRITE move bytes; write data is copied out of the transport buffer", async () => {
  let stored = Buffer.alloc(0);
  const { t } = await started({
    async read(_c, _n, req) { return stored.subarray(Number(req.offset), Number(req.offset) + req.size); },
    async write(_c, _n, req) { stored = Buffer.from(req.data); return req.data.length; },
  });
  const payload = Buffer.from("hello, fuse");
  const msg = request(Opcode.WRITE, 2n, WriteIn.encode({ fh: 1n, offset: 0n, size: payload.length }), payload).msg;
  const before = t.sent.length;
  t.push(msg);
  msg.fill(0); // the transport would reuse its buffer
  const w = parseReply((await t.waitForReplies(before + 1))[before]!);
  assert.equal(WriteOut.decode(w.body).size, payload.length);
  assert.equal(stored.toString(), "hello, fuse");
  const r = await roundTrip(t, request(Opcode.READ, 2n, ReadIn.encode({ fh: 1n, offset: 7n, size: 100 })).msg);
  assert.equal(r.body.toString(), "fuse");
});

test("READDIR packs dirents to the byte, READDIRPLUS counts lookups except . and ..", async () => {
  const { t, s } = await started({
    async readdir(_c, _n, req) {
      const all = [".", "..", "alpha", "b"].map((name, i) => ({
        name, ino: BigInt(10 + i), type: 8, offset: BigInt(i + 1),
        entry: { attr: attr(BigInt(10 + i), 0o100644) },
      }));
      return all.slice(Number(req.offset));
    },
  });
  const r = await roundTrip(t, request(Opcode.READDIR, 1n, ReadIn.encode({ size: 4096 })).msg);
  // 24-byte header + name, each record rounded up to 8 bytes.
  assert.equal(r.body.length, 4 * 32);
  const third = DirentHead.decode(r.body, 64);
  assert.deepEqual(third, { ino: 12n, off: 3n, namelen: 5, type: 8 });
  assert.equal(r.body.toString("utf8", 64 + 24, 64 + 29), "alpha");
  // A buffer with room for two records gets exactly two.
  const small = await roundTrip(t, request(Opcode.READDIR, 1n, ReadIn.encode({ size: 70 })).msg);
  assert.equal(small.body.length, 64);
  const plus = await roundTrip(t, request(Opcode.READDIRPLUS, 1n, ReadIn.encode({ size: 4096 })).msg);
  assert.equal(plus.body.length, 4 * (ENTRY_OUT_SIZE + 32));
  assert.equal(s.lookupCount(10n), 0);
  assert.equal(s.lookupCount(12n), 1);
  assert.equal(s.lookupCount(13n), 1);
});

test("GETXATTR and LISTXATTR answer size probes and ERANGE", async () => {
  const { t } = await started({
    async getxattr(_c, _n, name) { if (name !== "user.k") throw new FsError(Errno.ENODATA); return Buffer.from("value"); },
    async listxattr() { return ["user.a", "user.bb"]; },
    async setxattr(_c, _n, name, value, flags) { assert.equal(name, "user.k"); assert.equal(value.toString(), "vv"); assert.equal(flags, 1); },
  });
  const probe = await roundTrip(t, request(Opcode.GETXATTR, 2n, GetxattrIn.encode({ size: 0 }), "user.k").msg);
  assert.equal(GetxattrOut.decode(probe.body).size, 5);
  assert.equal((await roundTrip(t, request(Opcode.GETXATTR, 2n, GetxattrIn.encode({ size: 3 }), "user.k").msg)).error, -Errno.ERANGE);
  assert.equal((await roundTrip(t, request(Opcode.GETXATTR, 2n, GetxattrIn.encode({ size: 64 }), "user.k").msg)).body.toString(), "value");
  assert.equal((await roundTrip(t, request(Opcode.GETXATTR, 2n, GetxattrIn.encode({ size: 64 }), "user.x").msg)).error, -Errno.ENODATA);
  const list = await roundTrip(t, request(Opcode.LISTXATTR, 2n, GetxattrIn.encode({ size: 64 })).msg);
  assert.equal(list.body.toString(), "user.a\0user.bb\0");
  // The session negotiated SETXATTR_EXT (offered by this kernel): 16-byte setxattr_in.
  const set = await roundTrip(t, request(Opcode.SETXATTR, 2n, SetxattrIn.encode({ size: 2, flags: 1 }), "user.k", Buffer.from("vv")).msg);
  assert.equal(set.error, 0);
});

test("CREATE, MKDIR, RENAME2, LSEEK, FALLOCATE, SETLK decode their structs", async () => {
  const calls: unknown[] = [];
  const { t, s } = await started({
    async create(_c, parent, name, o) { calls.push(["create", parent, name, o]); return { entry: { attr: attr(20n, 0o100600) }, open: { fh: 77n, directIo: true } }; },
    async mkdir(_c, parent, name, o) { calls.push(["mkdir", parent, name, o]); return { attr: attr(21n, 0o40700) }; },
    async rename(_c, from, to, flags) { calls.push(["rename", from, to, flags]); },
    async lseek(_c, _n, r) { calls.push(["lseek", r]); return 8192n; },
    async fallocate(_c, _n, r) { calls.push(["fallocate", r]); },
    async setlk(_c, _n, r, wait) { calls.push(["setlk", r, wait]); },
  });
  const c = await roundTrip(t, request(Opcode.CREATE, 1n, CreateIn.encode({ flags: 0o101, mode: 0o100644, umask: 0o22 }), "f").msg);
  assert.equal(c.body.length, ENTRY_OUT_SIZE + OpenOut.size);
  assert.deepEqual(OpenOut.decode(c.body, ENTRY_OUT_SIZE), { fh: 77n, openFlags: 1, backingId: 0 });
  assert.equal(s.lookupCount(20n), 1);
  await roundTrip(t, request(Opcode.MKDIR, 1n, MkdirIn.encode({ mode: 0o755, umask: 0o22 }), "d").msg);
  await roundTrip(t, request(Opcode.RENAME2, 1n, Rename2In.encode({ newdir: 21n, flags: 2 }), "f", "g").msg);
  const l = await roundTrip(t, request(Opcode.LSEEK, 20n, LseekIn.encode({ fh: 77n, offset: 1n, whence: 3 })).msg);
  assert.equal(LseekOut.decode(l.body).offset, 8192n);
  await roundTrip(t, request(Opcode.FALLOCATE, 20n, FallocateIn.encode({ fh: 77n, offset: 5n, length: 1n << 40n, mode: 3 })).msg);
  await roundTrip(t, request(Opcode.SETLKW, 20n, LkIn.encode({ fh: 77n, owner: 0xdeadbeefcafen, start: 0n, end: 0xffffffffffffffffn, type: 1, pid: 99, lkFlags: 1 })).msg);
  assert.deepEqual(calls, [
    ["create", 1n, "f", { mode: 0o100644, umask: 0o22, flags: 0o101 }],
    ["mkdir", 1n, "d", { mode: 0o755, umask: 0o22 }],
    ["rename", { parent: 1n, name: "f" }, { parent: 21n, name: "g" }, 2],
    ["lseek", { fh: 77n, offset: 1n, whence: 3 }],
    ["fallocate", { fh: 77n, offset: 5n, length: 1n << 40n, mode: 3 }],
    ["setlk", { fh: 77n, owner: 0xdeadbeefcafen, lock: { start: 0n, end: 0xffffffffffffffffn, type: 1, pid: 99 }, flock: true }, true],
  ]);
});

test("STATX is answered from getattr when the handler has no statx", async () => {
  const { t } = await started({ async getattr(_c, n, fh) { assert.equal(fh, 3n); return { attr: { ...attr(n, 0o100644, 99n), btimeNs: T } }; } });
  const r = await roundTrip(t, request(Opcode.STATX, 4n, StatxIn.encode({ getattrFlags: FUSE_GETATTR_FH, fh: 3n, sxMask: 0xfff })).msg);
  assert.equal(r.error, 0);
  const sx = Statx.decode(r.body, StatxOutHead.size);
  assert.equal(sx.size, 99n);
  assert.equal(sx.ino, 4n);
  assert.equal(sx.btimeSec, T / 1_000_000_000n);
  assert.equal(sx.mask & 0x800, 0x800);
});

test("INTERRUPT aborts the pending request's signal; the request answers EINTR", async () => {
  let entered!: () => void;
  const inside = new Promise<void>((r) => (entered = r));
  const { t } = await started({
    async read(ctx: RequestContext) {
      const signal = ctx.signal;
      entered();
      await new Promise((_res, rej) => signal.addEventListener("abort", () => rej(new FsError(Errno.EINTR))));
      return Buffer.alloc(0);
    },
  });
  const rd = request(Opcode.READ, 2n, ReadIn.encode({ size: 10 }));
  const before = t.sent.length;
  t.push(rd.msg);
  await inside;
  t.push(request(Opcode.INTERRUPT, 0n, InterruptIn.encode({ unique: rd.unique })).msg);
  const r = parseReply((await t.waitForReplies(before + 1))[before]!);
  assert.equal(r.unique, rd.unique);
  assert.equal(r.error, -Errno.EINTR);
  // An interrupt for a request that already finished is ignored.
  t.push(request(Opcode.INTERRUPT, 0n, InterruptIn.encode({ unique: rd.unique })).msg);
  assert.equal(t.sent.length, before + 1);
});

test("concurrency is bounded: reading pauses at maxConcurrency and resumes", async () => {
  const releases: (() => void)[] = [];
  const { t, s } = await started({
    async getattr(_c, n) { await new Promise<void>((r) => releases.push(r)); return { attr: attr(n, 0o100644) }; },
  }, { maxConcurrency: 3 });
  for (let i = 0; i < 3; i++) t.push(request(Opcode.GETATTR, 2n, GetattrIn.encode({})).msg);
  assert.equal(s.inFlight, 3);
  assert.equal(t.paused, true);
  releases.shift()!();
  await t.waitForReplies(2);
  assert.equal(t.paused, false);
  for (const r of releases) r();
  await t.waitForReplies(4);
});

test("a handler throwing a non-FsError gives EIO and a log line; Node system errors keep their errno", async () => {
  const { t, logs } = await started({
    async getattr(_c, n) {
      if (n === 2n) throw new Error("boom");
      const e = new Error("x") as NodeJS.ErrnoException; e.code = "EACCES"; throw e;
    },
  });
  assert.equal((await roundTrip(t, request(Opcode.GETATTR, 2n, GetattrIn.encode({})).msg)).error, -Errno.EIO);
  assert.equal((await roundTrip(t, request(Opcode.GETATTR, 3n, GetattrIn.encode({})).msg)).error, -Errno.EACCES);
  assert.ok(logs.some((l) => l.includes("boom")));
});

test("notifications are written with unique 0 and the notify code as error", async () => {
  const { t, s } = await started({});
  s.notifyInvalEntry(1n, "gone");
  s.notifyInvalInode(5n, 0n, -1n);
  const [e, i] = t.sent.slice(-2).map((b) => OutHeader.decode(b!));
  assert.deepEqual(e, { len: OutHeader.size + NotifyInvalEntryOut.size + 5, error: NotifyCode.INVAL_ENTRY, unique: 0n });
  assert.equal(i!.error, NotifyCode.INVAL_INODE);
  const body = t.sent.at(-2)!.subarray(OutHeader.size);
  assert.deepEqual(NotifyInvalEntryOut.decode(body), { parent: 1n, namelen: 4, flags: 0 });
  assert.equal(body.toString("utf8", NotifyInvalEntryOut.size), "gone\0");
});

test("async notifications write exactly the bytes of the sync ones, as one buffer", async () => {
  const { t, s } = await started({});
  const pairs: [() => void, () => Promise<unknown>][] = [
    [() => s.notifyInvalEntry(7n, "été"), () => s.notifyInvalEntryAsync(7n, "été")],
    [() => s.notifyInvalInode(5n, -1n, 0n), () => s.notifyInvalInodeAsync(5n, -1n, 0n)],
    [() => s.notifyInvalInode(5n), () => s.notifyInvalInodeAsync(5n)],
    [() => s.notifyDelete(1n, 9n, "gone"), () => s.notifyDeleteAsync(1n, 9n, "gone")],
    [() => s.notifyStore(9n, 4096n, Buffer.from("data")), () => s.notifyStoreAsync(9n, 4096n, Buffer.from("data"))],
  ];
  const asyncMessages: Buffer[] = [];
  t.onSendAsync = async (msg) => { asyncMessages.push(msg); };
  for (const [sync, async_] of pairs) {
    sync();
    const syncBytes = t.sent.at(-1)!;
    assert.equal(await async_(), "done");
    assert.deepEqual(t.sent.at(-1), syncBytes);
    assert.deepEqual(asyncMessages.at(-1), syncBytes, "the transport gets the whole message as one buffer");
    assert.equal(OutHeader.decode(syncBytes).len, syncBytes.length);
  }
});

test("async notifications: per-node order, at most MAX_NOTIFY_IN_FLIGHT written at once, errors mapped", async () => {
  const { t, s } = await started({});
  const writing: { msg: Buffer; finish: (err?: NodeJS.ErrnoException) => void }[] = [];
  t.onSendAsync = (msg) => new Promise((res, rej) => writing.push({ msg, finish: (err) => (err ? rej(err) : res()) }));
  const nodeOf = (m: Buffer) => m.readBigUInt64LE(OutHeader.size);
  const order: string[] = [];
  const track = (label: string, p: Promise<unknown>) => p.then((r) => order.push(`${label}:${String(r)}`), (e: Error) => order.push(`${label}:${e.message}`));
  const all = [
    track("a1", s.notifyInvalEntryAsync(1n, "x")),
    track("a2", s.notifyInvalInodeAsync(1n)),
    track("b1", s.notifyInvalInodeAsync(2n)),
    track("c1", s.notifyInvalEntryAsync(3n, "y")),
    track("a3", s.notifyInvalEntryAsync(1n, "z")),
  ];
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writing.map((w) => nodeOf(w.msg)), [1n, 2n], "two in flight, different nodes; a2 waits for a1");
  assert.equal(s.notificationsPending, 5);
  writing[1]!.finish(); // b1 done
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writing.map((w) => nodeOf(w.msg)), [1n, 2n, 3n], "c1 takes the free slot; node 1 is still busy");
  const enoent = Object.assign(new Error("no entry"), { code: "ENOENT" });
  writing[0]!.finish(enoent); // a1: nothing cached
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(writing.map((w) => nodeOf(w.msg)), [1n, 2n, 3n, 1n]);
  assert.equal(writing[3]!.msg.readUInt32LE(4), NotifyCode.INVAL_INODE, "a2 follows a1");
  writing[2]!.finish(Object.assign(new Error("gone"), { code: "ENODEV" })); // c1: unmounted
  writing[3]!.finish(Object.assign(new Error("bad message"), { code: "EINVAL" })); // a2
  await new Promise((r) => setImmediate(r));
  assert.equal(writing.length, 5);
  writing[4]!.finish();
  await Promise.all(all);
  assert.deepEqual(order, ["b1:done", "a1:not-cached", "c1:not-connected", "a2:bad message", "a3:done"]);
  assert.equal(s.notificationsPending, 0);
});

test("async notifications before INIT or after the session ended resolve 'not-connected'; queued ones too", async () => {
  const early = new FuseSession(new MemoryTransport(), {});
  early.start();
  assert.equal(await early.notifyInvalEntryAsync(1n, "x"), "not-connected");
  const { t, s } = await started({});
  const writing: (() => void)[] = [];
  t.onSendAsync = () => new Promise<void>((res) => writing.push(res));
  const ps = [1n, 2n, 3n, 4n].map((n) => s.notifyInvalInodeAsync(n));
  await new Promise((r) => setImmediate(r));
  assert.equal(writing.length, 2);
  t.end();
  assert.deepEqual(await Promise.all(ps.slice(2)), ["not-connected", "not-connected"], "queued ones settle at once");
  for (const f of writing) f();
  assert.deepEqual(await Promise.all(ps.slice(0, 2)), ["done", "done"]);
  assert.equal(await s.notifyInvalInodeAsync(1n), "not-connected");
});

test("the end of the channel (ENODEV) ends the session with reason 'unmounted' and calls destroy", async () => {
  let destroyed = false;
  const { t, s } = await started({ destroy() { destroyed = true; } });
  t.end();
  assert.deepEqual(await s.closed, { reason: "unmounted" });
  assert.equal(destroyed, true);
});

test("OPEN without an open handler returns fh 0 (stateless file systems)", async () => {
  const { t } = await started({});
  const r = await roundTrip(t, request(Opcode.OPEN, 2n, OpenIn.encode({ flags: 0 })).msg);
  assert.deepEqual(OpenOut.decode(r.body), { fh: 0n, openFlags: 0, backingId: 0 });
});

test("names that are not UTF-8 are refused, never decoded lossily: EINVAL to create, ENOENT to look up", async () => {
  const seen: string[] = [];
  const entry = async (_c: RequestContext, _p: bigint, name: string) => { seen.push(name); return { attr: attr(5n, 0o100644) }; };
  const { t } = await started({
    lookup: entry,
    async mkdir(c, p, name) { return entry(c, p, name); },
    async unlink(_c, _p, name) { seen.push(name); },
    async rename(_c, from, to) { seen.push(from.name, to.name); },
    async setxattr(_c, _n, name) { seen.push(name); },
  });
  // 0xff is never UTF-8; lossy decoding made "x\xffy" and "x\xfey" the same "x\uFFFDy".
  const bad = Buffer.from([0x78, 0xff, 0x79, 0]);
  assert.equal((await roundTrip(t, request(Opcode.LOOKUP, 1n, bad).msg)).error, -Errno.ENOENT);
  assert.equal((await roundTrip(t, request(Opcode.MKDIR, 1n, MkdirIn.encode({ mode: 0o755, umask: 0 }), bad).msg)).error, -Errno.EINVAL);
  assert.equal((await roundTrip(t, request(Opcode.UNLINK, 1n, bad).msg)).error, -Errno.ENOENT);
  assert.equal((await roundTrip(t, request(Opcode.RENAME2, 1n, Rename2In.encode({ newdir: 1n, flags: 0 }), "ok", bad).msg)).error, -Errno.EINVAL);
  assert.equal((await roundTrip(t, request(Opcode.RENAME2, 1n, Rename2In.encode({ newdir: 1n, flags: 0 }), bad, "ok").msg)).error, -Errno.ENOENT);
  // A truncated multi-byte sequence (é without its second byte) is invalid too.
  assert.equal((await roundTrip(t, request(Opcode.LOOKUP, 1n, Buffer.from([0x61, 0xc3, 0])).msg)).error, -Errno.ENOENT);
  assert.deepEqual(seen, [], "no handler may see a mangled name");
  // Valid UTF-8 (and U+FFFD written as real UTF-8) still reaches the handler unchanged.
  assert.equal((await roundTrip(t, request(Opcode.LOOKUP, 1n, "été\uFFFD").msg)).error, 0);
  assert.deepEqual(seen, ["été\uFFFD"]);
});
