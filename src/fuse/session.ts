// FuseSession: serves one FUSE connection. It decodes each request, negotiates INIT, dispatches
// to the FuseHandler with bounded concurrency, tracks lookup counts for FORGET, turns INTERRUPT into
// an AbortSignal, encodes replies, and sends notifications (cache invalidation) to the kernel.
//
// INVARIANT: every request that expects a reply gets exactly one, even when it is malformed or the
// handler throws (then EIO, logged); FORGET, BATCH_FORGET and INTERRUPT never get one.
// INVARIANT: lookupCounts[nodeid] equals the references the kernel holds: +1 for every entry the
// kernel received (LOOKUP, MKNOD, MKDIR, SYMLINK, LINK, CREATE, TMPFILE, READDIRPLUS except "."
// and ".."), minus what FORGET/BATCH_FORGET returned.
import { isUtf8 } from "node:buffer";
import { EventEmitter } from "node:events";
import { Errno, FsError, errnoByName, errnoName } from "../base/errno.js";
import type { Attr, Entry, FuseHandler, InitInfo, NegativeEntry, RequestContext, SetattrRequest } from "./handler.js";
import {
  AccessIn, BatchForgetIn, BmapIn, BmapOut, CopyFileRangeIn, CreateIn, FallocateIn, FATTR,
  FlushIn, FOPEN, ForgetIn, ForgetOne, FsyncIn, FUSE_FSYNC_FDATASYNC, FUSE_GETATTR_FH, FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION, FUSE_LK_FLOCK, FUSE_MIN_MINOR_VERSION, FUSE_RELEASE_FLOCK_UNLOCK, FUSE_RELEASE_FLUSH,
  FUSE_EXPIRE_ONLY, FUSE_ROOT_ID, FileLockStruct, GetattrIn, GetxattrIn, GetxattrOut, InHeader, InitFlag, InitIn, InitInCompat,
  InitOut, InterruptIn, IoctlIn, IoctlOut, LinkIn, LkIn, LseekIn, LseekOut, MkdirIn, MknodIn, NotifyCode,
  NotifyDeleteOut, NotifyInvalEntryOut, NotifyInvalInodeOut, NotifyStoreOut, OpenIn, OpenOut, Opcode, OutHeader,
  PollIn, PollOut, ReadIn, ReleaseIn, Rename2In, RenameIn, SetattrIn, SetxattrIn, SetxattrInCompat, StatxIn,
  StatxOutHead, Statx, WriteIn, WriteOut, opcodeName, type InitFlagName,
} from "./abi/kernel.js";
import { encodeAttrOut, encodeEntry, encodeStatfs, packDirents, ttlParts } from "./abi/reply.js";
import type { FuseTransport } from "./transport.js";

export interface SessionLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  debug?(msg: string): void;
}

export interface SessionOptions {
  /** Requests served at once; reading pauses beyond it. Default 64. */
  maxConcurrency?: number;
  /** Largest WRITE payload asked of the kernel (4 KiB .. 1 MiB). Default 1 MiB. */
  maxWrite?: number;
  /** max_readahead to grant (capped by the kernel's offer). Default 1 MiB. */
  maxReadahead?: number;
  maxBackground?: number;
  congestionThreshold?: number;
  /** Timestamp granularity in ns reported to the kernel. Default 1. */
  timeGran?: number;
  /** Capabilities to enable when the kernel offers them. Default: see DEFAULT_CAPABILITIES. */
  capabilities?: InitFlagName[];
  entryTtlMs?: number;
  attrTtlMs?: number;
  /** Log one line per request and reply. */
  debug?: boolean;
  logger?: SessionLogger;
}

export const DEFAULT_CAPABILITIES: InitFlagName[] = [
  "ASYNC_READ", "ATOMIC_O_TRUNC", "BIG_WRITES", "POSIX_LOCKS", "FLOCK_LOCKS", "DO_READDIRPLUS",
  "READDIRPLUS_AUTO", "PARALLEL_DIROPS", "AUTO_INVAL_DATA", "HANDLE_KILLPRIV", "CACHE_SYMLINKS",
  "MAX_PAGES", "EXPORT_SUPPORT", "ASYNC_DIO", "SETXATTR_EXT", "INIT_EXT", "HAS_IOCTL_DIR",
];

/**
 * How an asynchronous notification ended. "done": the kernel applied it. "not-cached": the kernel
 * answered ENOENT (it caches nothing under that node or name). "not-connected": there was no
 * kernel to tell (before INIT, after the session ended, or ENODEV/ENOTCONN/EBADF from the write),
 * so it caches nothing of this mount either. None of them is an error for an invalidation.
 */
export type NotifyResult = "done" | "not-cached" | "not-connected";

/**
 * Asynchronous notifications written at once, at most. Each blocked one holds a libuv thread-pool
 * thread (UV_THREADPOOL_SIZE, default 4, shared with fs, crypto, dns and zlib): two leave the
 * other threads to the file I/O that the requests they wait for may need.
 */
export const MAX_NOTIFY_IN_FLIGHT = 2;

interface QueuedNotify {
  message: Buffer;
  resolve: (r: NotifyResult) => void;
  reject: (err: Error) => void;
}

const MAX_PAGES_LIMIT = 256;
const PAGE = 4096;

/**
 * The RequestContext handed to handlers, also the session's record of a pending request (for
 * INTERRUPT). The signal getter is on the prototype, so a request costs one object, no closures;
 * the AbortController is made only when a handler reads `signal`: most never do.
 */
class Pending implements RequestContext {
  controller: AbortController | undefined = undefined;
  interrupted = false;
  done = false;
  constructor(
    readonly unique: bigint, readonly nodeid: bigint, readonly opcode: number,
    readonly uid: number, readonly gid: number, readonly pid: number,
  ) {}

  get signal(): AbortSignal {
    if (this.done) return AbortSignal.abort();
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.interrupted) this.controller.abort(new FsError(Errno.EINTR, "interrupted"));
    }
    return this.controller.signal;
  }
}

const silentLogger: SessionLogger = { info() {}, warn() {}, error() {} };

/** A decoded request's place in the message: header plus body view. */
interface Req {
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  body: Buffer;
  ctx: Pending;
}

export class FuseSession extends EventEmitter {
  readonly #transport: FuseTransport;
  readonly #handler: FuseHandler;
  readonly #opts: Required<Omit<SessionOptions, "logger" | "capabilities">> & { capabilities: InitFlagName[] };
  readonly #log: SessionLogger;
  readonly #pending = new Map<bigint, Pending>();
  readonly #lookupCounts = new Map<bigint, number>();
  readonly #bound = new Map<keyof FuseHandler, unknown>();
  /** Reply header, reused: transports consume the chunks before send() returns. */
  readonly #head = Buffer.alloc(16);
  #inFlight = 0;
  #paused = false;
  #initialized = false;
  #closed = false;
  #minor = 0;
  #flags = 0n;
  #setxattrExt = false;
  #ttl: { entryTtlMs: number; attrTtlMs: number };
  /**
   * Asynchronous notifications not yet written, by the node the kernel locks for them; a node's
   * list stays here (possibly empty) while one of its notifications is being written.
   */
  readonly #notifyByNode = new Map<bigint, QueuedNotify[]>();
  /** Nodes with queued notifications and none being written, in the order they became ready. */
  #notifyReady: bigint[] = [];
  #notifyReadyHead = 0;
  #notifyInFlight = 0;
  /** Resolves when the session ends; the value says why. */
  readonly closed: Promise<{ reason: "unmounted" | "destroyed" | "closed" | "error"; error?: Error }>;
  #resolveClosed!: (v: { reason: "unmounted" | "destroyed" | "closed" | "error"; error?: Error }) => void;
  readonly ready: Promise<InitInfo>;
  #resolveReady!: (info: InitInfo) => void;
  #rejectReady!: (err: Error) => void;

  constructor(transport: FuseTransport, handler: FuseHandler, options: SessionOptions = {}) {
    super();
    this.#transport = transport;
    this.#handler = handler;
    const maxWrite = Math.min(Math.max(options.maxWrite ?? 1 << 20, PAGE), MAX_PAGES_LIMIT * PAGE);
    this.#opts = {
      maxConcurrency: options.maxConcurrency ?? 64,
      maxWrite,
      maxReadahead: options.maxReadahead ?? 1 << 20,
      maxBackground: options.maxBackground ?? 64,
      congestionThreshold: options.congestionThreshold ?? 48,
      timeGran: options.timeGran ?? 1,
      capabilities: options.capabilities ?? DEFAULT_CAPABILITIES,
      entryTtlMs: options.entryTtlMs ?? 1000,
      attrTtlMs: options.attrTtlMs ?? 1000,
      debug: options.debug ?? false,
    };
    this.#ttl = { entryTtlMs: this.#opts.entryTtlMs, attrTtlMs: this.#opts.attrTtlMs };
    this.#log = options.logger ?? silentLogger;
    this.closed = new Promise((r) => (this.#resolveClosed = r));
    this.ready = new Promise((res, rej) => { this.#resolveReady = res; this.#rejectReady = rej; });
    this.ready.catch(() => {});
  }

  /** Buffer size a transport needs to read any request this session may receive. */
  static readBufferSize(maxWrite = 1 << 20): number {
    return Math.min(Math.max(maxWrite, PAGE), MAX_PAGES_LIMIT * PAGE) + 2 * PAGE;
  }

  get protocolMinor(): number { return this.#minor; }
  get enabledFlags(): bigint { return this.#flags; }
  get inFlight(): number { return this.#inFlight; }
  /** Current lookup reference count the kernel holds on nodeid (0 when none). */
  lookupCount(nodeid: bigint): number { return this.#lookupCounts.get(nodeid) ?? 0; }

  start(): void {
    this.#transport.start(
      (msg) => this.#onMessage(msg),
      (err) => this.#finish(err ? "error" : "unmounted", err),
    );
  }

  /** Ends the session from our side (the caller unmounts separately). */
  close(): void {
    this.#transport.close();
    this.#finish("closed");
  }

  // ---- notifications (server -> kernel) ----
  // These write synchronously on the event-loop thread: the kernel may hold the write until a
  // request queued to this process is answered, which then never happens (see the *Async methods
  // below, which cannot deadlock). Use them only when no such request can be in flight.

  /** Drops cached data of nodeid in [offset, offset+length) (length 0 = to the end; offset -1 = attributes only). */
  notifyInvalInode(nodeid: bigint, offset = 0n, length = 0n): void {
    this.#notify(NotifyCode.INVAL_INODE, [NotifyInvalInodeOut.encode({ ino: nodeid, off: offset, len: length })]);
  }

  /** Drops the kernel's cached entry `name` in directory `parent`. */
  notifyInvalEntry(parent: bigint, name: string): void {
    const n = Buffer.from(name + "\0", "utf8");
    this.#notify(NotifyCode.INVAL_ENTRY, [NotifyInvalEntryOut.encode({ parent, namelen: n.length - 1 }), n]);
  }

  /** Tells the kernel `name` in `parent` (which was `child`) is gone. */
  notifyDelete(parent: bigint, child: bigint, name: string): void {
    const n = Buffer.from(name + "\0", "utf8");
    this.#notify(NotifyCode.DELETE, [NotifyDeleteOut.encode({ parent, child, namelen: n.length - 1 }), n]);
  }

  /** Pushes data into the kernel's page cache for nodeid. */
  notifyStore(nodeid: bigint, offset: bigint, data: Buffer): void {
    this.#notify(NotifyCode.STORE, [NotifyStoreOut.encode({ nodeid, offset, size: data.length }), data]);
  }

  // Asynchronous notifications. The sync methods above write on the event-loop thread, and the
  // kernel may hold that write: INVAL_ENTRY and DELETE lock the parent directory (which a LOOKUP,
  // CREATE, ... queued to this process holds), INVAL_INODE with offset >= 0 and STORE wait for page
  // locks (which a READ queued to this process holds). Then nothing answers that request: deadlock.
  // These write from libuv's thread pool instead, so the event loop keeps answering requests.
  //
  // Ordering: notifications about one node (the inode for INVAL_INODE and STORE, the parent for
  // INVAL_ENTRY and DELETE) are written one at a time, in call order; notifications about
  // different nodes may be written, and complete, in any order (at most MAX_NOTIFY_IN_FLIGHT at
  // once, nodes taking turns). Sync and async notifications are not ordered with each other.
  //
  // Never await one from a request handler before replying to a request on the same node: the
  // kernel may be waiting for that very reply. The promises never reject for a missing kernel
  // entry or a missing mount (see NotifyResult); they reject only for other write errors (such as
  // EINVAL for a malformed message).

  /** notifyInvalInode without blocking the event loop; see NotifyResult. */
  notifyInvalInodeAsync(nodeid: bigint, offset = 0n, length = 0n): Promise<NotifyResult> {
    return this.#notifyAsync(nodeid, NotifyCode.INVAL_INODE, [NotifyInvalInodeOut.encode({ ino: nodeid, off: offset, len: length })]);
  }

  /**
   * notifyInvalEntry without blocking the event loop; see NotifyResult. With `expireOnly` (and a
   * kernel that agreed HAS_EXPIRE_ONLY) the entry only times out: the next path walk revalidates
   * it with LOOKUP, but the dentry stays hashed, so a process whose working directory it is keeps
   * a working getcwd(2) (a plain INVAL_ENTRY unhashes it: getcwd then fails with ENOENT).
   */
  notifyInvalEntryAsync(parent: bigint, name: string, opts: { expireOnly?: boolean } = {}): Promise<NotifyResult> {
    const n = Buffer.from(name + "\0", "utf8");
    const flags = opts.expireOnly === true && (this.#flags & InitFlag.HAS_EXPIRE_ONLY) !== 0n ? FUSE_EXPIRE_ONLY : 0;
    return this.#notifyAsync(parent, NotifyCode.INVAL_ENTRY, [NotifyInvalEntryOut.encode({ parent, namelen: n.length - 1, flags }), n]);
  }

  /** notifyDelete without blocking the event loop; see NotifyResult. */
  notifyDeleteAsync(parent: bigint, child: bigint, name: string): Promise<NotifyResult> {
    const n = Buffer.from(name + "\0", "utf8");
    return this.#notifyAsync(parent, NotifyCode.DELETE, [NotifyDeleteOut.encode({ parent, child, namelen: n.length - 1 }), n]);
  }

  /** notifyStore without blocking the event loop (`data` is copied at once); see NotifyResult. */
  notifyStoreAsync(nodeid: bigint, offset: bigint, data: Buffer): Promise<NotifyResult> {
    return this.#notifyAsync(nodeid, NotifyCode.STORE, [NotifyStoreOut.encode({ nodeid, offset, size: data.length }), data]);
  }

  /** Notifications queued or being written. */
  get notificationsPending(): number {
    let n = this.#notifyInFlight;
    for (const q of this.#notifyByNode.values()) n += q.length;
    return n;
  }

  #notifyAsync(node: bigint, code: number, body: Buffer[]): Promise<NotifyResult> {
    if (!this.#initialized || this.#closed) return Promise.resolve("not-connected");
    // Header and body in one buffer: /dev/fuse takes a message only as one write.
    const message = Buffer.concat([OutHeader.encode({ len: 0, error: code, unique: 0n }), ...body]);
    message.writeUInt32LE(message.length, 0);
    return new Promise((resolve, reject) => {
      let q = this.#notifyByNode.get(node);
      if (!q) {
        q = [];
        this.#notifyByNode.set(node, q);
        this.#notifyReady.push(node);
      }
      q.push({ message, resolve, reject });
      this.#pumpNotifications();
    });
  }

  #pumpNotifications(): void {
    // Once the session has ended, queued notifications settle without taking a write slot.
    while ((this.#closed || this.#notifyInFlight < MAX_NOTIFY_IN_FLIGHT) && this.#notifyReadyHead < this.#notifyReady.length) {
      const node = this.#notifyReady[this.#notifyReadyHead++]!;
      if (this.#notifyReadyHead > 1024 && this.#notifyReadyHead * 2 > this.#notifyReady.length) {
        this.#notifyReady = this.#notifyReady.slice(this.#notifyReadyHead);
        this.#notifyReadyHead = 0;
      }
      const q = this.#notifyByNode.get(node)!;
      const n = q.shift()!;
      if (this.#closed) {
        n.resolve("not-connected");
      } else {
        this.#notifyInFlight++;
        let sent: Promise<void>;
        try {
          sent = this.#transport.sendAsync(n.message);
        } catch (err) {
          sent = Promise.reject(err);
        }
        sent.then(
          () => n.resolve("done"),
          (err: NodeJS.ErrnoException) => {
            if (err.code === "ENOENT") n.resolve("not-cached");
            else if (err.code === "ENODEV" || err.code === "ENOTCONN" || err.code === "EBADF" || err.code === "ECONNABORTED") n.resolve("not-connected");
            else n.reject(err);
          },
        ).finally(() => {
          this.#notifyInFlight--;
          this.#nodeWritten(node, q);
          this.#pumpNotifications();
        });
        continue;
      }
      this.#nodeWritten(node, q);
    }
  }

  /** `node`'s notification was written: its next one may go (behind the nodes already waiting). */
  #nodeWritten(node: bigint, q: QueuedNotify[]): void {
    if (q.length > 0) this.#notifyReady.push(node);
    else this.#notifyByNode.delete(node);
  }

  #notify(code: number, body: Buffer[]): void {
    if (!this.#initialized || this.#closed) throw new FsError(Errno.ENOTCONN, "FUSE session is not connected");
    const len = OutHeader.size + body.reduce((a, b) => a + b.length, 0);
    const head = OutHeader.encode({ len, error: code, unique: 0n });
    try {
      this.#transport.send([head, ...body]);
    } catch (err) {
      // ENOENT from INVAL_ENTRY/DELETE: the kernel had nothing cached. Not an error for callers.
      const c = (err as NodeJS.ErrnoException).code;
      if (c === "ENOENT") return;
      throw err;
    }
  }

  // ---- request path ----

  #finish(reason: "unmounted" | "destroyed" | "closed" | "error", error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    // Queued notifications resolve "not-connected" as #pumpNotifications reaches them.
    this.#pumpNotifications();
    for (const p of this.#pending.values()) {
      p.interrupted = true;
      p.controller?.abort();
    }
    if (!this.#initialized) this.#rejectReady(error ?? new Error(`FUSE session ended before INIT (${reason})`));
    Promise.resolve(this.#handler.destroy?.()).catch((e) => this.#log.error(`fuse: destroy failed: ${String(e)}`));
    if (error) this.#log.error(`fuse: session ended: ${error.message}`);
    this.#resolveClosed(error ? { reason, error } : { reason });
    this.emit("close", reason, error);
  }

  #onMessage(msg: Buffer): void {
    if (msg.length < InHeader.size) {
      this.#log.error(`fuse: short request of ${msg.length} bytes ignored`);
      return;
    }
    // Read field by field: this runs once per request and an intermediate object costs.
    const h = {
      len: msg.readUInt32LE(0), opcode: msg.readUInt32LE(4), unique: msg.readBigUInt64LE(8), nodeid: msg.readBigUInt64LE(16),
      uid: msg.readUInt32LE(24), gid: msg.readUInt32LE(28), pid: msg.readUInt32LE(32), totalExtlen: msg.readUInt16LE(36),
    };
    let end = Math.min(h.len, msg.length);
    if (h.len !== msg.length) {
      this.#log.warn(`fuse: request ${h.unique} (${opcodeName[h.opcode] ?? h.opcode}) header len ${h.len} != read ${msg.length}`);
    }
    // Request extensions (security context, supplementary groups) trail the body; we negotiate
    // none, but strip them if present so they are never taken for payload.
    if (h.totalExtlen > 0) end = Math.max(InHeader.size, end - h.totalExtlen * 8);
    const ctx = new Pending(h.unique, h.nodeid, h.opcode, h.uid, h.gid, h.pid);
    const req: Req = { opcode: h.opcode, unique: h.unique, nodeid: h.nodeid, uid: h.uid, gid: h.gid, pid: h.pid, body: msg.subarray(InHeader.size, end), ctx };
    if (this.#opts.debug) this.#log.debug?.(`fuse: <- ${opcodeName[h.opcode] ?? h.opcode} unique=${h.unique} nodeid=${h.nodeid} len=${h.len} uid=${h.uid} pid=${h.pid}`);

    // Ops without replies, and INIT, are handled synchronously.
    switch (h.opcode) {
      case Opcode.INIT: return this.#guard(req, () => this.#doInit(req));
      case Opcode.FORGET: return this.#guardNoReply(req, () => {
        this.#forget(req.nodeid, Number(ForgetIn.decode(req.body).nlookup));
      });
      case Opcode.BATCH_FORGET: return this.#guardNoReply(req, () => {
        const { count } = BatchForgetIn.decode(req.body);
        for (let i = 0; i < count; i++) {
          const one = ForgetOne.decode(req.body, BatchForgetIn.size + i * ForgetOne.size);
          this.#forget(one.nodeid, Number(one.nlookup));
        }
      });
      case Opcode.INTERRUPT: return this.#guardNoReply(req, () => {
        const target = InterruptIn.decode(req.body).unique;
        const p = this.#pending.get(target);
        // Not pending: it already finished (the kernel drops the interrupt then).
        if (p) {
          p.interrupted = true;
          p.controller?.abort(new FsError(Errno.EINTR, "interrupted"));
        }
      });
    }
    if (!this.#initialized) {
      this.#log.error(`fuse: ${opcodeName[h.opcode] ?? h.opcode} before INIT`);
      this.#replyError(req, Errno.EIO);
      return;
    }
    if (h.opcode === Opcode.DESTROY) {
      this.#reply(req, []);
      this.#transport.close();
      this.#finish("destroyed");
      return;
    }

    let work: () => Promise<Buffer[]>;
    try {
      work = this.#prepare(req);
    } catch (err) {
      this.#fail(req, err);
      return;
    }
    this.#pending.set(req.unique, ctx);
    this.#inFlight++;
    if (this.#inFlight >= this.#opts.maxConcurrency && !this.#paused) {
      this.#paused = true;
      this.#transport.pause();
    }
    void this.#run(req, work);
  }

  /** Awaits the work and sends its reply; never rejects. */
  async #run(req: Req, work: () => Promise<Buffer[]>): Promise<void> {
    let chunks: Buffer[];
    try {
      chunks = await work();
    } catch (err) {
      this.#done(req);
      this.#fail(req, err);
      return;
    }
    this.#done(req);
    this.#reply(req, chunks);
  }

  #done(req: Req): void {
    this.#pending.delete(req.unique);
    req.ctx.done = true;
    this.#inFlight--;
    if (this.#paused && this.#inFlight < this.#opts.maxConcurrency) {
      this.#paused = false;
      this.#transport.resume();
    }
  }

  #guard(req: Req, fn: () => void): void {
    try { fn(); } catch (err) { this.#fail(req, err); }
  }

  #guardNoReply(req: Req, fn: () => void): void {
    try { fn(); } catch (err) { this.#log.error(`fuse: malformed ${opcodeName[req.opcode]} ${req.unique}: ${String(err)}`); }
  }

  #fail(req: Req, err: unknown): void {
    if (err instanceof FsError) {
      this.#replyError(req, err.errno);
      return;
    }
    if (err instanceof RangeError && /Cannot decode|malformed/.test(err.message)) {
      this.#log.error(`fuse: malformed ${opcodeName[req.opcode] ?? req.opcode} request ${req.unique}: ${err.message}`);
      this.#replyError(req, Errno.EIO);
      return;
    }
    const code = (err as { code?: unknown })?.code;
    const known = typeof code === "string" ? errnoByName(code) : undefined;
    if (known !== undefined) {
      this.#replyError(req, known);
      return;
    }
    this.#log.error(`fuse: ${opcodeName[req.opcode] ?? req.opcode} ${req.unique} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    this.#replyError(req, Errno.EIO);
  }

  #replyError(req: Req, errno: number): void {
    if (this.#opts.debug) this.#log.debug?.(`fuse: -> ${req.unique} error ${errnoName(errno)}`);
    this.#send([OutHeader.encode({ len: OutHeader.size, error: -errno, unique: req.unique })]);
  }

  #reply(req: Req, chunks: Buffer[]): void {
    let len = OutHeader.size;
    for (const c of chunks) len += c.length;
    if (this.#opts.debug) this.#log.debug?.(`fuse: -> ${req.unique} ok len=${len}`);
    const head = this.#head;
    head.writeUInt32LE(len, 0);
    head.writeInt32LE(0, 4);
    head.writeBigUInt64LE(req.unique, 8);
    chunks.unshift(head);
    this.#send(chunks);
  }

  #send(chunks: Buffer[]): void {
    if (this.#closed) return;
    try {
      this.#transport.send(chunks);
    } catch (err) {
      this.#log.error(`fuse: cannot write reply: ${String(err)}`);
    }
  }

  #forget(nodeid: bigint, n: number): void {
    if (nodeid === FUSE_ROOT_ID) return;
    const left = (this.#lookupCounts.get(nodeid) ?? 0) - n;
    if (left > 0) {
      this.#lookupCounts.set(nodeid, left);
      return;
    }
    this.#lookupCounts.delete(nodeid);
    this.#handler.forget?.(nodeid);
  }

  #countLookup(entry: Entry | NegativeEntry): void {
    const id = "attr" in entry ? entry.nodeid ?? entry.attr.ino : 0n;
    if (id === 0n || id === FUSE_ROOT_ID) return;
    this.#lookupCounts.set(id, (this.#lookupCounts.get(id) ?? 0) + 1);
  }

  #doInit(req: Req): void {
    const initIn = req.body.length >= InitIn.size ? InitIn.decode(req.body) : { ...InitInCompat.decode(req.body), flags2: 0 };
    if (initIn.major !== FUSE_KERNEL_VERSION) {
      // A newer major: answer with ours so the kernel retries INIT with 7.x.
      this.#log.warn(`fuse: kernel offers protocol ${initIn.major}.${initIn.minor}; answering ${FUSE_KERNEL_VERSION}`);
      if (initIn.major > FUSE_KERNEL_VERSION) {
        this.#reply(req, [InitOut.encode({ major: FUSE_KERNEL_VERSION }).subarray(0, 8)]);
      } else {
        this.#replyError(req, Errno.EPROTO);
      }
      return;
    }
    if (initIn.minor < FUSE_MIN_MINOR_VERSION) {
      this.#log.error(`fuse: kernel protocol 7.${initIn.minor} is older than 7.${FUSE_MIN_MINOR_VERSION}`);
      this.#replyError(req, Errno.EPROTO);
      this.#rejectReady(new Error(`kernel FUSE protocol 7.${initIn.minor} < 7.${FUSE_MIN_MINOR_VERSION}`));
      return;
    }
    const minor = Math.min(initIn.minor, FUSE_KERNEL_MINOR_VERSION);
    let kernelFlags = BigInt(initIn.flags >>> 0);
    if (kernelFlags & InitFlag.INIT_EXT) kernelFlags |= BigInt(initIn.flags2 >>> 0) << 32n;
    let want = 0n;
    for (const name of this.#opts.capabilities) want |= InitFlag[name];
    let flags = want & kernelFlags;
    if (!(flags & InitFlag.INIT_EXT)) flags &= 0xffffffffn;
    const maxPages = Math.ceil(this.#opts.maxWrite / PAGE);
    const maxWrite = flags & InitFlag.MAX_PAGES ? this.#opts.maxWrite : Math.min(this.#opts.maxWrite, 32 * PAGE);
    const maxReadahead = Math.min(this.#opts.maxReadahead, initIn.maxReadahead);
    const out = InitOut.encode({
      major: FUSE_KERNEL_VERSION, minor, maxReadahead,
      flags: Number(flags & 0xffffffffn), flags2: Number(flags >> 32n),
      maxBackground: this.#opts.maxBackground, congestionThreshold: this.#opts.congestionThreshold,
      maxWrite, timeGran: this.#opts.timeGran, maxPages: flags & InitFlag.MAX_PAGES ? maxPages : 0,
    });
    this.#minor = minor;
    this.#flags = flags;
    this.#setxattrExt = (flags & InitFlag.SETXATTR_EXT) !== 0n;
    const info: InitInfo = { major: FUSE_KERNEL_VERSION, minor, kernelFlags, flags, maxWrite, maxReadahead };
    this.#log.info(`fuse: INIT protocol 7.${minor} (kernel 7.${initIn.minor}), max_write=${maxWrite}, flags=0x${flags.toString(16)}`);
    const finishInit = () => {
      this.#initialized = true;
      this.#reply(req, [out]);
      this.#resolveReady(info);
    };
    const r = this.#handler.init?.(info);
    if (r && typeof (r as Promise<void>).then === "function") {
      (r as Promise<void>).then(finishInit, (err) => {
        this.#log.error(`fuse: init handler failed: ${String(err)}`);
        this.#replyError(req, Errno.EIO);
        this.#rejectReady(err instanceof Error ? err : new Error(String(err)));
      });
    } else finishInit();
  }

  readonly #entryReply = async (p: Promise<Entry | NegativeEntry>): Promise<Buffer[]> => {
    const e = await p;
    const buf = encodeEntry(e, this.#ttl);
    this.#countLookup(e);
    return [buf];
  };

  #need<K extends keyof FuseHandler>(name: K): NonNullable<FuseHandler[K]> {
    // Bound once per method, not per request.
    const cached = this.#bound.get(name);
    if (cached) return cached as NonNullable<FuseHandler[K]>;
    const fn = this.#handler[name];
    if (!fn) throw new FsError(Errno.ENOSYS, `${String(name)} is not implemented`);
    const bound = (fn as (...a: unknown[]) => unknown).bind(this.#handler);
    this.#bound.set(name, bound);
    return bound as NonNullable<FuseHandler[K]>;
  }

  /**
   * Decodes the request synchronously (the transport's buffer is reused after this returns) and
   * returns the work that produces the reply chunks.
   */
  #prepare(req: Req): () => Promise<Buffer[]> {
    const b = req.body;
    const n = req.nodeid;
    const ttl = this.#ttl;
    const entryReply = this.#entryReply;
    const open = openOut;
    const ctx = req.ctx;
    switch (req.opcode) {
      case Opcode.LOOKUP: {
        const name = cstring(b, 0, Errno.ENOENT).str;
        const fn = this.#need("lookup");
        return () => entryReply(fn(ctx, n, name));
      }
      case Opcode.GETATTR: {
        const g = GetattrIn.decode(b);
        const fh = g.getattrFlags & FUSE_GETATTR_FH ? g.fh : undefined;
        const fn = this.#need("getattr");
        return async () => {
          const r = await fn(ctx, n, fh);
          return [encodeAttrOut(r.attr, r.attrTtlMs ?? ttl.attrTtlMs)];
        };
      }
      case Opcode.SETATTR: {
        const s = SetattrIn.decode(b);
        const ch: SetattrRequest = {};
        if (s.valid & FATTR.FH) ch.fh = s.fh;
        if (s.valid & FATTR.MODE) ch.mode = s.mode;
        if (s.valid & FATTR.UID) ch.uid = s.uid;
        if (s.valid & FATTR.GID) ch.gid = s.gid;
        if (s.valid & FATTR.SIZE) ch.size = s.size;
        if (s.valid & FATTR.ATIME) ch.atime = s.valid & FATTR.ATIME_NOW ? "now" : s.atime * 1_000_000_000n + BigInt(s.atimensec);
        if (s.valid & FATTR.MTIME) ch.mtime = s.valid & FATTR.MTIME_NOW ? "now" : s.mtime * 1_000_000_000n + BigInt(s.mtimensec);
        if (s.valid & FATTR.CTIME) ch.ctime = s.ctime * 1_000_000_000n + BigInt(s.ctimensec);
        if (s.valid & FATTR.LOCKOWNER) ch.lockOwner = s.lockOwner;
        if (s.valid & FATTR.KILL_SUIDGID) ch.killSuidgid = true;
        const fn = this.#need("setattr");
        return async () => {
          const r = await fn(ctx, n, ch);
          return [encodeAttrOut(r.attr, r.attrTtlMs ?? ttl.attrTtlMs)];
        };
      }
      case Opcode.READLINK: {
        const fn = this.#need("readlink");
        return async () => [Buffer.from(await fn(ctx, n), "utf8")];
      }
      case Opcode.SYMLINK: {
        const name = cstring(b, 0, Errno.EINVAL);
        const target = cstring(b, name.next, Errno.EINVAL).str;
        const fn = this.#need("symlink");
        return () => entryReply(fn(ctx, n, name.str, target));
      }
      case Opcode.MKNOD: {
        const m = MknodIn.decode(b);
        const name = cstring(b, MknodIn.size, Errno.EINVAL).str;
        const fn = this.#need("mknod");
        return () => entryReply(fn(ctx, n, name, { mode: m.mode, rdev: m.rdev, umask: m.umask }));
      }
      case Opcode.MKDIR: {
        const m = MkdirIn.decode(b);
        const name = cstring(b, MkdirIn.size, Errno.EINVAL).str;
        const fn = this.#need("mkdir");
        return () => entryReply(fn(ctx, n, name, { mode: m.mode, umask: m.umask }));
      }
      case Opcode.UNLINK: case Opcode.RMDIR: {
        const name = cstring(b, 0, Errno.ENOENT).str;
        const fn = this.#need(req.opcode === Opcode.UNLINK ? "unlink" : "rmdir");
        return async () => { await fn(ctx, n, name); return []; };
      }
      case Opcode.RENAME: case Opcode.RENAME2: {
        const two = req.opcode === Opcode.RENAME2;
        const r = two ? Rename2In.decode(b) : { ...RenameIn.decode(b), flags: 0 };
        const from = cstring(b, two ? Rename2In.size : RenameIn.size, Errno.ENOENT);
        const to = cstring(b, from.next, Errno.EINVAL).str;
        const fn = this.#need("rename");
        return async () => { await fn(ctx, { parent: n, name: from.str }, { parent: r.newdir, name: to }, r.flags); return []; };
      }
      case Opcode.LINK: {
        const l = LinkIn.decode(b);
        const name = cstring(b, LinkIn.size, Errno.EINVAL).str;
        const fn = this.#need("link");
        return () => entryReply(fn(ctx, l.oldnodeid, { parent: n, name }));
      }
      case Opcode.OPEN: case Opcode.OPENDIR: {
        const o = OpenIn.decode(b);
        const isDir = req.opcode === Opcode.OPENDIR;
        const fn = isDir ? this.#handler.opendir : this.#handler.open;
        // Without open/opendir the kernel still needs a handle: 0 is fine for stateless systems.
        if (!fn) return async () => [open({ fh: 0n })];
        return async () => [open(await fn.call(this.#handler, ctx, n, o.flags))];
      }
      case Opcode.READ: {
        const r = ReadIn.decode(b);
        const fn = this.#need("read");
        return async () => {
          const data = await fn(ctx, n, { fh: r.fh, offset: r.offset, size: r.size, flags: r.flags });
          return [data.length > r.size ? data.subarray(0, r.size) : data];
        };
      }
      case Opcode.WRITE: {
        const w = WriteIn.decode(b);
        if (b.length < WriteIn.size + w.size) throw new RangeError(`malformed WRITE: ${w.size} bytes declared, ${b.length - WriteIn.size} present`);
        // Copied: the transport reuses its read buffer as soon as this returns.
        const data = Buffer.allocUnsafe(w.size);
        b.copy(data, 0, WriteIn.size, WriteIn.size + w.size);
        const fn = this.#need("write");
        return async () => {
          const written = await fn(ctx, n, { fh: w.fh, offset: w.offset, data, flags: w.flags, writeFlags: w.writeFlags });
          return [WriteOut.encode({ size: written })];
        };
      }
      case Opcode.STATFS: {
        const fn = this.#handler.statfs;
        if (!fn) {
          return async () => [encodeStatfs({ blocks: 0n, bfree: 0n, bavail: 0n, files: 0n, ffree: 0n, bsize: 512, namelen: 255, frsize: 0 })];
        }
        return async () => [encodeStatfs(await fn.call(this.#handler, ctx, n))];
      }
      case Opcode.RELEASE: case Opcode.RELEASEDIR: {
        const r = ReleaseIn.decode(b);
        if (req.opcode === Opcode.RELEASEDIR) {
          const fn = this.#handler.releasedir;
          return async () => { await fn?.call(this.#handler, ctx, n, { fh: r.fh, flags: r.flags }); return []; };
        }
        const fn = this.#handler.release;
        const flush = (r.releaseFlags & FUSE_RELEASE_FLUSH) !== 0;
        const flockRelease = (r.releaseFlags & FUSE_RELEASE_FLOCK_UNLOCK) !== 0;
        return async () => {
          await fn?.call(this.#handler, ctx, n, { fh: r.fh, flags: r.flags, lockOwner: flush || flockRelease ? r.lockOwner : undefined, flush, flockRelease });
          return [];
        };
      }
      case Opcode.FSYNC: case Opcode.FSYNCDIR: {
        const f = FsyncIn.decode(b);
        const fn = this.#need(req.opcode === Opcode.FSYNC ? "fsync" : "fsyncdir");
        return async () => { await fn(ctx, n, { fh: f.fh, datasync: (f.fsyncFlags & FUSE_FSYNC_FDATASYNC) !== 0 }); return []; };
      }
      case Opcode.SETXATTR: {
        const head = this.#setxattrExt ? SetxattrIn : SetxattrInCompat;
        const s = head.decode(b);
        const name = cstring(b, head.size, Errno.EINVAL);
        if (b.length < name.next + s.size) throw new RangeError(`malformed SETXATTR: value of ${s.size} bytes truncated`);
        const value = Buffer.from(b.subarray(name.next, name.next + s.size));
        const fn = this.#need("setxattr");
        return async () => { await fn(ctx, n, name.str, value, s.flags); return []; };
      }
      case Opcode.GETXATTR: {
        const g = GetxattrIn.decode(b);
        const name = cstring(b, GetxattrIn.size, Errno.ENODATA).str;
        const fn = this.#need("getxattr");
        return async () => {
          const value = await fn(ctx, n, name);
          if (g.size === 0) return [GetxattrOut.encode({ size: value.length })];
          if (value.length > g.size) throw new FsError(Errno.ERANGE);
          return [value];
        };
      }
      case Opcode.LISTXATTR: {
        const g = GetxattrIn.decode(b);
        const fn = this.#need("listxattr");
        return async () => {
          const names = await fn(ctx, n);
          const value = Buffer.from(names.map((x) => x + "\0").join(""), "utf8");
          if (g.size === 0) return [GetxattrOut.encode({ size: value.length })];
          if (value.length > g.size) throw new FsError(Errno.ERANGE);
          return [value];
        };
      }
      case Opcode.REMOVEXATTR: {
        const name = cstring(b, 0, Errno.ENODATA).str;
        const fn = this.#need("removexattr");
        return async () => { await fn(ctx, n, name); return []; };
      }
      case Opcode.FLUSH: {
        const f = FlushIn.decode(b);
        const fn = this.#handler.flush;
        return async () => { await fn?.call(this.#handler, ctx, n, { fh: f.fh, lockOwner: f.lockOwner }); return []; };
      }
      case Opcode.READDIR: case Opcode.READDIRPLUS: {
        const r = ReadIn.decode(b);
        const plus = req.opcode === Opcode.READDIRPLUS;
        const fn = this.#need("readdir");
        return async () => {
          const entries = await fn(ctx, n, { fh: r.fh, offset: r.offset, size: r.size, plus });
          const { data, count } = packDirents(entries, r.size, plus, ttl);
          if (plus) {
            for (let i = 0; i < count; i++) {
              const e = entries[i]!;
              if (e.entry && e.name !== "." && e.name !== "..") this.#countLookup(e.entry);
            }
          }
          return [data];
        };
      }
      case Opcode.GETLK: case Opcode.SETLK: case Opcode.SETLKW: {
        const l = LkIn.decode(b);
        const lockReq = { fh: l.fh, owner: l.owner, lock: { start: l.start, end: l.end, type: l.type, pid: l.pid }, flock: (l.lkFlags & FUSE_LK_FLOCK) !== 0 };
        if (req.opcode === Opcode.GETLK) {
          const fn = this.#need("getlk");
          return async () => [FileLockStruct.encode(await fn(ctx, n, lockReq))];
        }
        const fn = this.#need("setlk");
        const wait = req.opcode === Opcode.SETLKW;
        return async () => { await fn(ctx, n, lockReq, wait); return []; };
      }
      case Opcode.ACCESS: {
        const a = AccessIn.decode(b);
        const fn = this.#need("access");
        return async () => { await fn(ctx, n, a.mask); return []; };
      }
      case Opcode.CREATE: case Opcode.TMPFILE: {
        const c = CreateIn.decode(b);
        const tmp = req.opcode === Opcode.TMPFILE;
        const name = tmp ? "" : cstring(b, CreateIn.size, Errno.EINVAL).str;
        const opts = { mode: c.mode, umask: c.umask, flags: c.flags };
        const run = tmp
          ? ((f) => () => f(ctx, n, opts))(this.#need("tmpfile"))
          : ((f) => () => f(ctx, n, name, opts))(this.#need("create"));
        return async () => {
          const r = await run();
          const e = encodeEntry(r.entry, ttl);
          this.#countLookup(r.entry);
          return [e, open(r.open)];
        };
      }
      case Opcode.BMAP: {
        const m = BmapIn.decode(b);
        const fn = this.#need("bmap");
        return async () => [BmapOut.encode({ block: await fn(ctx, n, { block: m.block, blocksize: m.blocksize }) })];
      }
      case Opcode.IOCTL: {
        const io = IoctlIn.decode(b);
        const input = Buffer.from(b.subarray(IoctlIn.size, IoctlIn.size + io.inSize));
        const fn = this.#handler.ioctl;
        if (!fn) throw new FsError(Errno.ENOTTY);
        return async () => {
          const r = await fn.call(this.#handler, ctx, n, { fh: io.fh, flags: io.flags, cmd: io.cmd, arg: io.arg, input, outSize: io.outSize });
          return [IoctlOut.encode({ result: r.result }), r.output.subarray(0, io.outSize)];
        };
      }
      case Opcode.POLL: {
        const p = PollIn.decode(b);
        const fn = this.#need("poll");
        return async () => [PollOut.encode({ revents: await fn(ctx, n, { fh: p.fh, kh: p.kh, flags: p.flags, events: p.events }) })];
      }
      case Opcode.FALLOCATE: {
        const f = FallocateIn.decode(b);
        const fn = this.#need("fallocate");
        return async () => { await fn(ctx, n, { fh: f.fh, offset: f.offset, length: f.length, mode: f.mode }); return []; };
      }
      case Opcode.LSEEK: {
        const s = LseekIn.decode(b);
        const fn = this.#need("lseek");
        return async () => [LseekOut.encode({ offset: await fn(ctx, n, { fh: s.fh, offset: s.offset, whence: s.whence }) })];
      }
      case Opcode.COPY_FILE_RANGE: {
        const c = CopyFileRangeIn.decode(b);
        const fn = this.#need("copyFileRange");
        return async () => {
          const copied = await fn(ctx, n, c);
          // The reply is a fuse_write_out: copies are capped below 4 GiB by the kernel.
          return [WriteOut.encode({ size: Number(copied) })];
        };
      }
      case Opcode.SYNCFS: {
        const fn = this.#handler.syncfs;
        return async () => { await fn?.call(this.#handler, ctx, n); return []; };
      }
      case Opcode.STATX: {
        const s = StatxIn.decode(b);
        const fh = s.getattrFlags & FUSE_GETATTR_FH ? s.fh : undefined;
        const statx = this.#handler.statx;
        const getattr = this.#handler.getattr;
        if (!statx && !getattr) throw new FsError(Errno.ENOSYS);
        return async () => {
          const r = statx ? await statx.call(this.#handler, ctx, n, { fh, flags: s.sxFlags, mask: s.sxMask }) : await getattr!.call(this.#handler, ctx, n, fh);
          return encodeStatx(r.attr, r.attrTtlMs ?? ttl.attrTtlMs);
        };
      }
      case Opcode.NOTIFY_REPLY:
        // Answers to NOTIFY_RETRIEVE, which this session never sends.
        return async () => { throw new FsError(Errno.ENOSYS); };
      default:
        throw new FsError(Errno.ENOSYS, `opcode ${req.opcode} is not supported`);
    }
  }
}

/**
 * Reads a NUL-terminated UTF-8 string at `offset`; `next` is the offset after the NUL.
 * Handlers get names as strings, so bytes that are not UTF-8 could only be decoded lossily
 * (each bad byte becoming U+FFFD: "x\xffy" and "x\xfey" would be one file, readdir would list
 * bytes nobody created, and a 255-byte name could grow past NAME_MAX). Such a string fails the
 * request with `invalid` instead: EINVAL where it would create a name (the error Linux file
 * systems with strict encodings give), ENOENT/ENODATA where it looks one up (it cannot exist).
 */
export function cstring(b: Buffer, offset: number, invalid: number): { str: string; next: number } {
  const end = b.indexOf(0, offset);
  if (end < 0) throw new RangeError(`malformed request: name at offset ${offset} is not NUL-terminated`);
  const bytes = b.subarray(offset, end);
  if (!isUtf8(bytes)) throw new FsError(invalid, `name ${JSON.stringify(bytes.toString("latin1"))} is not valid UTF-8`);
  return { str: bytes.toString("utf8"), next: end + 1 };
}

const STATX_BASIC_STATS = 0x7ff;
const STATX_BTIME = 0x800;

function encodeStatx(attr: Attr, ttlMs: number): Buffer[] {
  const [s, ns] = ttlParts(ttlMs);
  const head = StatxOutHead.encode({ attrValid: s, attrValidNsec: ns });
  const sec = (t: bigint) => t / 1_000_000_000n;
  const nsec = (t: bigint) => Number(t % 1_000_000_000n);
  const body = Statx.encode({
    mask: STATX_BASIC_STATS | (attr.btimeNs !== undefined ? STATX_BTIME : 0), blksize: attr.blksize,
    nlink: attr.nlink, uid: attr.uid, gid: attr.gid, mode: attr.mode & 0xffff, ino: attr.ino, size: attr.size,
    blocks: attr.blocks,
    atimeSec: sec(attr.atimeNs), atimeNsec: nsec(attr.atimeNs),
    btimeSec: sec(attr.btimeNs ?? 0n), btimeNsec: nsec(attr.btimeNs ?? 0n),
    ctimeSec: sec(attr.ctimeNs), ctimeNsec: nsec(attr.ctimeNs),
    mtimeSec: sec(attr.mtimeNs), mtimeNsec: nsec(attr.mtimeNs),
    rdevMajor: (attr.rdev >>> 8) & 0xfff, rdevMinor: (attr.rdev & 0xff) | ((attr.rdev >>> 12) & 0xfff00),
  });
  return [head, body];
}


function openOut(o: { fh: bigint; directIo?: boolean; keepCache?: boolean; nonSeekable?: boolean; cacheDir?: boolean; noFlush?: boolean; parallelDirectWrites?: boolean }): Buffer {
  let f = 0;
  if (o.directIo) f |= FOPEN.DIRECT_IO;
  if (o.keepCache) f |= FOPEN.KEEP_CACHE;
  if (o.nonSeekable) f |= FOPEN.NONSEEKABLE;
  if (o.cacheDir) f |= FOPEN.CACHE_DIR;
  if (o.noFlush) f |= FOPEN.NOFLUSH;
  if (o.parallelDirectWrites) f |= FOPEN.PARALLEL_DIRECT_WRITES;
  return OpenOut.encode({ fh: o.fh, openFlags: f });
}
