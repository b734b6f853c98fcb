// UnsafeLog: with the EarlyReply capability proxyfsd answers a mutation once it is applied in
// memory, before its journal batch is durable. Until the agent knows it is durable, a proxyfsd
// crash could take it back, so the agent keeps every such operation (method, request, the inode
// it created or acted on) and:
//  - confirms them in the background with RpcSync (one in flight at a time; when it returns,
//    every op answered before it was sent is durable and is dropped);
//  - makes fsync/fdatasync/FSYNCDIR/unmount wait for an RpcSync (sync()): when they return, what
//    they cover is durable in the object store, exactly as without early replies;
//  - after a re-mount (proxyfsd restarted) re-sends the unconfirmed ops with RpcReplay, which
//    applies each only if its effect is missing (server/replay.ts), so each takes effect once.
// Memory is bounded: beyond `limit` unconfirmed ops, record() waits for a confirmation.
//
// INVARIANT: ops are kept in the order their replies arrived; an op leaves the log only when an
// RpcSync sent after its reply (or after its replay) to the same proxyfsd has returned.
import { proxyFsRpcMethods, type ProxyFsRpcMethod, type ReplayOp, type ReplyOf, type RequestOf } from "../../proto/index.js";
import type { AgentFsLogger, AgentRpc } from "./ports.js";

/** Mutating methods and how to find the inode a replay checks (see server/replay.ts). */
const CREATES: ReadonlySet<string> = new Set(["RpcCreate", "RpcCreatePlus", "RpcMkdir", "RpcMkdirPlus", "RpcSymlink", "RpcSymlinkPlus", "RpcMknod", "RpcMknodPlus"]);
const LINKS: ReadonlySet<string> = new Set(["RpcLink", "RpcLinkPlus"]);
const BY_ENTRY: ReadonlySet<string> = new Set(["RpcUnlink", "RpcRmdir", "RpcRename", "RpcRename2"]);
const BY_INODE: ReadonlySet<string> = new Set([
  "RpcChmod", "RpcChown", "RpcResize", "RpcSetTime", "RpcSetAttrPlus", "RpcSetXAttr", "RpcRemoveXAttr", "RpcFallocate", "RpcWrote",
]);

export function isMutation(method: string): boolean {
  return CREATES.has(method) || LINKS.has(method) || BY_ENTRY.has(method) || BY_INODE.has(method);
}

export interface UnsafeLogOptions {
  rpc: AgentRpc;
  mountId: () => string;
  log: AgentFsLogger;
  /** Unconfirmed ops kept at most (then mutations wait for a confirmation). */
  limit?: number;
  /** How long the background confirmation waits to gather ops (ms). */
  delayMs?: number;
}

interface Op {
  method: ProxyFsRpcMethod;
  request: unknown;
  ino: bigint;
}

export class UnsafeLog {
  readonly #o: Required<UnsafeLogOptions>;
  #ops: Op[] = [];
  /** Ops before this index are covered by the RpcSync in flight. */
  #syncing: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #roomWaiters: Array<() => void> = [];
  #replaying: Promise<void> | undefined;
  readonly stats = { unsafeOps: 0, syncRpcs: 0, replayedOps: 0 };

  constructor(o: UnsafeLogOptions) {
    this.#o = { limit: 10_000, delayMs: 20, ...o };
  }

  get pending(): number {
    return this.#ops.length;
  }

  /**
   * Sends a mutation; once answered it is kept until confirmed durable. `ino` is the inode a
   * replay checks: for creates it comes from the reply; for removes and renames the caller says
   * which inode the name held (0 when unknown: the replay then skips the op rather than guess).
   */
  async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>, ino?: bigint): Promise<ReplyOf<M>> {
    if (this.#replaying !== undefined) await this.#replaying;
    while (this.#ops.length >= this.#o.limit) await new Promise<void>((r) => this.#roomWaiters.push(r));
    const reply = await this.#o.rpc.call(method, request);
    let target = ino ?? 0n;
    if (CREATES.has(method)) target = (reply as { InodeNumber: bigint }).InodeNumber;
    else if (LINKS.has(method)) target = (request as { TargetInodeNumber: bigint }).TargetInodeNumber;
    else if (BY_INODE.has(method)) target = (request as { InodeNumber: bigint }).InodeNumber;
    this.#ops.push({ method, request, ino: target });
    this.stats.unsafeOps++;
    this.#schedule();
    return reply;
  }

  #schedule(): void {
    if (this.#timer !== undefined || this.#syncing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.sync().catch((err: unknown) => this.#o.log.warn(`confirming early-answered changes: ${(err as Error).message}`));
    }, this.#o.delayMs);
    this.#timer.unref();
  }

  /** Resolves once every op answered before this call is durable (RpcSync). */
  async sync(): Promise<void> {
    for (;;) {
      if (this.#syncing !== undefined) {
        const covered = this.#syncing;
        await covered.catch(() => {});
        if (this.#ops.length === 0) return;
      }
      if (this.#ops.length === 0) return;
      // The array is captured: a replay meanwhile swaps in a new one, which this must not touch.
      const ops = this.#ops;
      const upTo = ops.length;
      const run = (async () => {
        this.stats.syncRpcs++;
        await this.#o.rpc.call("RpcSync", { MountID: this.#o.mountId() });
        ops.splice(0, upTo);
        for (const w of this.#roomWaiters.splice(0)) w();
      })();
      this.#syncing = run;
      try {
        await run;
        if (this.#ops.length > 0) this.#schedule();
        return;
      } finally {
        if (this.#syncing === run) this.#syncing = undefined;
      }
    }
  }

  /**
   * After a re-mount: re-applies every unconfirmed op (RpcReplay, under the new MountID, in
   * chunks), then forgets them. Mutations wait meanwhile.
   */
  replay(): Promise<void> {
    const run = (async () => {
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      // Not waiting for an RpcSync in flight: it waits for this very re-mount to finish.
      const ops = this.#ops.slice();
      this.#ops = [];
      try {
        await this.#replayAll(ops);
      } finally {
        // Replayed or not, every op stays until an RpcSync confirms it: a replay is answered
        // before its journal batch is stored (proxyfsd may crash again), and an op a failed
        // replay did not reach must be in the next re-mount's replay. Re-applying is harmless
        // (each applies only if its effect is missing). A new array: an RpcSync sent before the
        // re-mount must not confirm these.
        this.#ops = ops.concat(this.#ops);
        this.#schedule();
      }
      for (const w of this.#roomWaiters.splice(0)) w();
    })();
    // Mutations wait for the replay, not for its outcome (the caller of replay() gets that).
    this.#replaying = run.catch(() => {}).finally(() => {
      if (this.#replaying === guarded) this.#replaying = undefined;
    });
    const guarded = this.#replaying;
    return run;
  }

  async #replayAll(ops: readonly Op[]): Promise<void> {
      for (let i = 0; i < ops.length; i += 4096) {
        const chunk: ReplayOp[] = ops.slice(i, i + 4096).map((op) => ({
          Method: op.method,
          Request: (proxyFsRpcMethods[op.method].request as { encode(v: unknown, p: string): string }).encode(op.request, `${op.method} request`),
          InodeNumber: op.ino,
        }));
        const r = await this.#o.rpc.call("RpcReplay", { MountID: this.#o.mountId(), Ops: chunk });
        const outcomes = r.Outcomes ?? [];
        const applied = outcomes.filter((o) => o === "applied").length;
        const failed = outcomes.filter((o) => o.startsWith("error")).length;
        this.stats.replayedOps += applied;
        this.#o.log.warn(`re-mount: replayed ${chunk.length} early-answered changes (${applied} were lost and applied again, ${failed} failed)`);
      }
  }
}
