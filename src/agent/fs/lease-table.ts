// LeaseTable: the agent's side of the ProxyFS lease protocol (pfsagent.md §8, protocol doc §9),
// as 1.17.1 meant it to work and never did. AgentFs asks for a Shared lease on a regular file it
// caches for reading and an Exclusive one on a file it writes; while a lease is held, the file's
// attributes, extent map and kernel page cache may be trusted without asking the server. When the
// server interrupts (another mount wants a conflicting lease) the holder flushes dirty data
// (Demote and Release of an Exclusive lease), drops every cache of the inode (Release) and only
// then answers with RpcLease Demote/Release, so the next holder sees everything.
//
// Per inode a FIFO lock serialises lease transitions (requests, interrupts, voluntary releases);
// users of a lease check it synchronously (held / ticketValid) and never take the lock.
// RpcLease blocks on the server until granted; a Denied reply (or a server error reply) is
// retried per LeaseRetryLimit/Delay/DelayVariance/ExpBackoff and then the operation goes on
// without a lease (revalidating with the server, as with leases off). A transport failure (the
// server is unreachable) is thrown. SharedLeaseLimit / ExclusiveLeaseLimit cap the leases held:
// beyond, the least recently used are released (Exclusive ones flushed first), in the background.
//
// INVARIANTS: a record is in #shared iff its state is SharedGranted and in #exclusive iff it is
// ExclusiveGranted (Map order = LRU order); `gen` changes whenever the inode stops being leased,
// so a Ticket proves the lease was held continuously since it was issued; `stat` is only set
// while a lease is held and only from a stat fetched under the current gen and statEpoch.
import { LeaseReplyType, LeaseRequestType, RPCInterruptType, type StatStruct } from "../../proto/index.js";
import { RpcReplyError } from "../../rpc/index.js";

export type LeaseState =
  | "None" | "SharedRequested" | "SharedGranted" | "SharedPromoting" | "SharedReleasing"
  | "ExclusiveRequested" | "ExclusiveGranted" | "ExclusiveDemoting" | "ExclusiveReleasing";

export const LEASE_STATES: readonly LeaseState[] = [
  "None", "SharedRequested", "SharedGranted", "SharedPromoting", "SharedReleasing",
  "ExclusiveRequested", "ExclusiveGranted", "ExclusiveDemoting", "ExclusiveReleasing",
];

export type LeaseKind = "shared" | "exclusive";

/** Proof of a lease: valid while the inode stays leased (same gen). */
export interface Ticket {
  readonly ino: bigint;
  readonly gen: number;
  /** True when this acquire obtained the lease (nothing was held before). */
  readonly fresh: boolean;
}

export interface LeaseOptions {
  /** SharedLeaseLimit / ExclusiveLeaseLimit (>= 1). */
  sharedLimit?: number;
  exclusiveLimit?: number;
  /** LeaseRetryLimit: retries after the first attempt. */
  retryLimit?: number;
  retryDelayMs?: number;
  /** LeaseRetryDelayVariance, 1..100 percent. */
  retryVariancePercent?: number;
  retryExpBackoff?: number;
}

export interface LeaseHooks {
  /** Makes the inode's dirty data durable (PUT + RpcWrote); must not need a lease. */
  flush(ino: bigint): Promise<void>;
  /**
   * Drops the agent's caches of the inode (extent map, sizes). With `kernel` (the lease is
   * going) the kernel's too; not at a grant: that would make the kernel discard the reply of a
   * GETATTR in flight, which is how the kernel learns a changed mtime and drops stale pages.
   */
  dropCaches(ino: bigint, kernel: boolean): void;
  warn(msg: string): void;
}

export interface LeaseCall {
  (ino: bigint, type: number): Promise<number>;
}

export interface LeaseStats {
  LeaseRequests_Shared: number;
  LeaseRequests_Promote: number;
  LeaseRequests_Exclusive: number;
  LeaseRequests_Demote: number;
  LeaseRequests_Release: number;
  LeaseRequestRetries: number;
  LeaseRequestFallbacks: number;
  LeaseInterrupts_Unmount: number;
  LeaseInterrupts_Demote: number;
  LeaseInterrupts_Release: number;
  LeaseEvictions: number;
  LeasesShared: number;
  LeasesExclusive: number;
}

class LeaseRec {
  state: LeaseState = "None";
  gen = 0;
  /** Bumped by forgetStat: a stat fetched before a local change must not be cached after it. */
  statEpoch = 0;
  stat: StatStruct | undefined;
  /** The kernel was allowed to cache pages of the inode under the current lease (keep_cache). */
  kernelMayCache = false;
  /** A voluntary release (LRU limit) is queued. */
  evicting = false;
  #tail: Promise<void> = Promise.resolve();
  users = 0;

  constructor(readonly ino: bigint) {}

  /** Runs fn after every earlier holder of this inode's lock (FIFO). */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    this.users++;
    const prev = this.#tail;
    let done!: () => void;
    this.#tail = new Promise<void>((r) => (done = r));
    try {
      await prev;
      return await fn();
    } finally {
      this.users--;
      done();
    }
  }

  get kind(): LeaseKind | undefined {
    return this.state === "SharedGranted" ? "shared" : this.state === "ExclusiveGranted" ? "exclusive" : undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class LeaseTable {
  readonly #call: LeaseCall;
  readonly #hooks: LeaseHooks;
  readonly #o: Required<LeaseOptions>;
  readonly #recs = new Map<bigint, LeaseRec>();
  readonly #shared = new Map<bigint, LeaseRec>();
  readonly #exclusive = new Map<bigint, LeaseRec>();
  #disabled = false;
  #stats: LeaseStats = {
    LeaseRequests_Shared: 0, LeaseRequests_Promote: 0, LeaseRequests_Exclusive: 0, LeaseRequests_Demote: 0, LeaseRequests_Release: 0,
    LeaseRequestRetries: 0, LeaseRequestFallbacks: 0, LeaseInterrupts_Unmount: 0, LeaseInterrupts_Demote: 0, LeaseInterrupts_Release: 0,
    LeaseEvictions: 0, LeasesShared: 0, LeasesExclusive: 0,
  };

  constructor(call: LeaseCall, hooks: LeaseHooks, options: LeaseOptions = {}) {
    this.#call = call;
    this.#hooks = hooks;
    this.#o = {
      sharedLimit: options.sharedLimit ?? 1000,
      exclusiveLimit: options.exclusiveLimit ?? 100,
      retryLimit: options.retryLimit ?? 10,
      retryDelayMs: options.retryDelayMs ?? 1000,
      retryVariancePercent: options.retryVariancePercent ?? 25,
      retryExpBackoff: options.retryExpBackoff ?? 1.4,
    };
    if (!(this.#o.sharedLimit >= 1) || !(this.#o.exclusiveLimit >= 1)) throw new RangeError("SharedLeaseLimit and ExclusiveLeaseLimit must be at least 1");
    if (!(this.#o.retryExpBackoff >= 1)) throw new RangeError(`LeaseRetryExpBackoff ${this.#o.retryExpBackoff} must be at least 1`);
  }

  get stats(): LeaseStats {
    return { ...this.#stats, LeasesShared: this.#shared.size, LeasesExclusive: this.#exclusive.size };
  }

  /** False once the server showed it has no RpcLease: everything then runs unleased. */
  get enabled(): boolean {
    return !this.#disabled;
  }

  /** What is held on ino right now (granted states only). */
  held(ino: bigint): LeaseKind | undefined {
    return this.#recs.get(ino)?.kind;
  }

  /** The inode is in the table in any state but None (a lease held or changing). */
  involved(ino: bigint): boolean {
    const r = this.#recs.get(ino);
    return r !== undefined && r.state !== "None";
  }

  /** The ticket's lease is still held (exclusive: still Exclusive). */
  ticketValid(t: Ticket, kind: LeaseKind = "shared"): boolean {
    const r = this.#recs.get(t.ino);
    if (r === undefined || r.gen !== t.gen) return false;
    const k = r.kind;
    return kind === "shared" ? k !== undefined : k === "exclusive";
  }

  // ---- attribute cache ----

  cachedStat(ino: bigint): StatStruct | undefined {
    const r = this.#recs.get(ino);
    if (r === undefined || r.kind === undefined) return undefined;
    this.#touch(r);
    return r.stat;
  }

  /** Where a stat fetch starts: cacheStat accepts its result only if nothing changed meanwhile. */
  statMark(ino: bigint): number {
    return this.#recs.get(ino)?.statEpoch ?? 0;
  }

  cacheStat(t: Ticket, mark: number, st: StatStruct): void {
    const r = this.#recs.get(t.ino);
    if (r !== undefined && r.gen === t.gen && r.statEpoch === mark && r.kind !== undefined) r.stat = st;
  }

  /** A local operation changed the inode's attributes: stop trusting the cached ones. */
  forgetStat(ino: bigint): void {
    const r = this.#recs.get(ino);
    if (r === undefined) return;
    r.statEpoch++;
    r.stat = undefined;
  }

  /** Link counts may have changed anywhere (unlink/rename/link): forget every cached stat. */
  forgetAllStats(): void {
    for (const r of this.#recs.values()) {
      r.statEpoch++;
      r.stat = undefined;
    }
  }

  /**
   * OPEN under a lease: whether the kernel may keep the pages it has (FOPEN_KEEP_CACHE), which is
   * true only if they were cached under this same lease. From now on it may cache them.
   */
  openKeepCache(t: Ticket | undefined): boolean {
    if (t === undefined || !this.ticketValid(t)) return false;
    const r = this.#recs.get(t.ino)!;
    const keep = r.kernelMayCache;
    r.kernelMayCache = true;
    return keep;
  }

  // ---- acquiring ----

  /**
   * Ensures `want` (or better) is held on ino. Resolves with a Ticket, or undefined when the
   * operation must go on without a lease (leases off, Denied after every retry).
   * @throws what the RPC layer threw when the server is unreachable.
   */
  async acquire(ino: bigint, want: LeaseKind): Promise<Ticket | undefined> {
    if (this.#disabled) return undefined;
    let r = this.#recs.get(ino);
    if (r !== undefined && (r.kind === "exclusive" || (r.kind === "shared" && want === "shared"))) {
      this.#touch(r);
      return { ino, gen: r.gen, fresh: false };
    }
    if (r === undefined) {
      r = new LeaseRec(ino);
      this.#recs.set(ino, r);
    }
    const rec = r;
    try {
      return await rec.locked(async () => {
        const had = rec.kind;
        if (had === "exclusive" || (had === "shared" && want === "shared")) return { ino, gen: rec.gen, fresh: false };
        if (had === "shared") {
          // Promote; Denied (another promotion is pending) ⇒ release ours and ask for Exclusive.
          this.#setState(rec, "SharedPromoting");
          this.#stats.LeaseRequests_Promote++;
          const reply = await this.#once(ino, LeaseRequestType.Promote).catch((err: unknown) => {
            this.#setState(rec, "SharedGranted");
            throw err;
          });
          if (reply === LeaseReplyType.Promoted || reply === LeaseReplyType.Exclusive) {
            this.#setState(rec, "ExclusiveGranted");
            this.#enforceLimits(rec);
            return { ino, gen: rec.gen, fresh: false };
          }
          this.#setState(rec, "SharedGranted");
          await this.#releaseLocked(rec, false);
        }
        if (this.#disabled) return undefined;
        const type = want === "shared" ? LeaseRequestType.Shared : LeaseRequestType.Exclusive;
        this.#setState(rec, want === "shared" ? "SharedRequested" : "ExclusiveRequested");
        let reply: number;
        try {
          reply = await this.#request(ino, type);
        } catch (err) {
          this.#setState(rec, "None");
          throw err;
        }
        if (reply === LeaseReplyType.Exclusive) this.#setState(rec, "ExclusiveGranted");
        else if (reply === LeaseReplyType.Shared && want === "shared") this.#setState(rec, "SharedGranted");
        else {
          this.#setState(rec, "None");
          if (reply !== LeaseReplyType.Denied) this.#hooks.warn(`RpcLease ${want} of inode ${ino} answered ${reply}; going on without a lease`);
          return undefined;
        }
        rec.gen++;
        rec.stat = undefined;
        rec.kernelMayCache = false;
        // Whatever the agent cached before the grant may be stale.
        this.#hooks.dropCaches(ino, false);
        this.#enforceLimits(rec);
        return { ino, gen: rec.gen, fresh: true };
      });
    } finally {
      this.#gc(rec);
    }
  }

  /**
   * The server granted this mount an Exclusive lease on `ino` with another reply (CreateLease:
   * RpcCreatePlus of a new file); `stat` is the inode's stat from that reply. Nothing can be
   * cached of a new inode, so nothing is dropped. Given back at once when leases are off or the
   * inode's lease is already being worked on.
   */
  adoptExclusive(ino: bigint, stat: StatStruct): void {
    let r = this.#recs.get(ino);
    if (this.#disabled || (r !== undefined && (r.state !== "None" || r.users > 0))) {
      // Not ours to track: give it back, or the server would wait for a Release that never comes.
      this.#stats.LeaseRequests_Release++;
      void this.#call(ino, LeaseRequestType.Release).catch(() => {});
      return;
    }
    if (r === undefined) {
      r = new LeaseRec(ino);
      this.#recs.set(ino, r);
    }
    this.#setState(r, "ExclusiveGranted");
    r.gen++;
    r.stat = stat;
    r.kernelMayCache = false;
    this.#enforceLimits(r);
  }

  /** One RpcLease with the LeaseRetry* policy for Denied / error replies; Denied after the last. */
  async #request(ino: bigint, type: number): Promise<number> {
    let delay = this.#o.retryDelayMs;
    for (let attempt = 0; ; attempt++) {
      if (type === LeaseRequestType.Shared) this.#stats.LeaseRequests_Shared++;
      else this.#stats.LeaseRequests_Exclusive++;
      const reply = await this.#once(ino, type);
      if (reply !== LeaseReplyType.Denied || this.#disabled) return reply;
      if (attempt >= this.#o.retryLimit) {
        this.#stats.LeaseRequestFallbacks++;
        return LeaseReplyType.Denied;
      }
      this.#stats.LeaseRequestRetries++;
      // nominal - uniform[0, nominal × variance%), as the Swift retries (pfsagent.md §9).
      await sleep(Math.max(0, delay - Math.random() * delay * (this.#o.retryVariancePercent / 100)));
      delay *= this.#o.retryExpBackoff;
    }
  }

  /** One RpcLease. An error reply counts as Denied; one saying the method is unknown turns leases off. */
  async #once(ino: bigint, type: number): Promise<number> {
    try {
      return await this.#call(ino, type);
    } catch (err) {
      if (!(err instanceof RpcReplyError)) throw err;
      if (err.errno === 2 || err.errno === 38 || /method/i.test(err.errstr)) {
        if (!this.#disabled) this.#hooks.warn(`the server does not serve RpcLease (${err.errstr}): running without leases`);
        this.#disabled = true;
      } else {
        this.#hooks.warn(`RpcLease type ${type} of inode ${ino} failed: ${err.errstr}`);
      }
      return LeaseReplyType.Denied;
    }
  }

  // ---- giving up leases ----

  /** Under rec's lock: flush (exclusive), drop caches, then RpcLease Release. */
  async #releaseLocked(rec: LeaseRec, flush: boolean): Promise<void> {
    const kind = rec.kind;
    if (kind === undefined) return;
    this.#setState(rec, kind === "exclusive" ? "ExclusiveReleasing" : "SharedReleasing");
    try {
      if (kind === "exclusive" && flush) await this.#hooks.flush(rec.ino);
    } catch (err) {
      this.#hooks.warn(`flushing inode ${rec.ino} before releasing its lease: ${(err as Error).message}`);
    }
    this.#lose(rec);
    this.#stats.LeaseRequests_Release++;
    try {
      const reply = await this.#call(rec.ino, LeaseRequestType.Release);
      if (reply !== LeaseReplyType.Released) this.#hooks.warn(`RpcLease Release of inode ${rec.ino} answered ${reply}`);
    } catch (err) {
      this.#hooks.warn(`RpcLease Release of inode ${rec.ino} failed: ${(err as Error).message}`);
    } finally {
      this.#setState(rec, "None");
    }
  }

  /** The lease ends here for this agent: nothing cached under it may be used any more. */
  #lose(rec: LeaseRec): void {
    rec.gen++;
    rec.stat = undefined;
    rec.kernelMayCache = false;
    this.#hooks.dropCaches(rec.ino, true);
  }

  /** Upcall from the server (RPCInterrupt). Never throws. */
  async interrupt(type: number, ino: bigint): Promise<void> {
    if (type === RPCInterruptType.Unmount) {
      this.#stats.LeaseInterrupts_Unmount++;
      this.#hooks.warn("the server is unmounting this agent (Unmount interrupt): dropping every lease");
      for (const r of this.#recs.values()) {
        if (r.kind === undefined) continue;
        this.#lose(r);
        this.#setState(r, "None");
      }
      return;
    }
    if (type === RPCInterruptType.Demote) this.#stats.LeaseInterrupts_Demote++;
    else if (type === RPCInterruptType.Release) this.#stats.LeaseInterrupts_Release++;
    else {
      this.#hooks.warn(`unknown lease interrupt type ${type} for inode ${ino} ignored`);
      return;
    }
    const rec = this.#recs.get(ino);
    if (rec === undefined) return; // already released: a repeated interrupt
    // An interrupt aimed at a lease we gave up while it waited for the lock must not hit the
    // lease granted after it (the server repeats interrupts that are still wanted).
    const gen = rec.gen;
    try {
      await rec.locked(async () => {
        const kind = rec.kind;
        if (kind === undefined || rec.gen !== gen) return;
        if (type === RPCInterruptType.Release) {
          await this.#releaseLocked(rec, true);
          return;
        }
        if (kind !== "exclusive") return; // Demote of a Shared lease: nothing to do
        this.#setState(rec, "ExclusiveDemoting");
        try {
          await this.#hooks.flush(ino);
        } catch (err) {
          this.#hooks.warn(`flushing inode ${ino} before demoting its lease: ${(err as Error).message}`);
        }
        this.#stats.LeaseRequests_Demote++;
        let reply: number;
        try {
          reply = await this.#call(ino, LeaseRequestType.Demote);
        } catch (err) {
          this.#hooks.warn(`RpcLease Demote of inode ${ino} failed: ${(err as Error).message}`);
          reply = LeaseReplyType.Denied;
        }
        if (reply === LeaseReplyType.Demoted) {
          this.#setState(rec, "SharedGranted");
        } else {
          // The server no longer sees us as the holder: we hold nothing.
          this.#lose(rec);
          this.#setState(rec, "None");
        }
      });
    } catch (err) {
      this.#hooks.warn(`handling lease interrupt ${type} of inode ${ino}: ${(err as Error).message}`);
    } finally {
      this.#gc(rec);
    }
  }

  /** Voluntary release (LRU limit, shutdown). */
  async release(ino: bigint): Promise<void> {
    const rec = this.#recs.get(ino);
    if (rec === undefined) return;
    try {
      await rec.locked(() => this.#releaseLocked(rec, true));
    } finally {
      rec.evicting = false;
      this.#gc(rec);
    }
  }

  /** Unmount/shutdown: releases every lease (Exclusive ones flushed first). */
  async releaseAll(): Promise<void> {
    await Promise.all([...this.#recs.keys()].map((ino) => this.release(ino)));
  }

  /**
   * SharedLeaseLimit / ExclusiveLeaseLimit: once over a limit, releases least recently used leases
   * down to 3/4 of it, in one go. Releasing an Exclusive lease flushes the file, which ends the
   * LogSegment small files share: evicting in batches keeps many files per PUT where evicting
   * one per new lease would end the shared segment for every file.
   */
  #enforceLimits(keep: LeaseRec): void {
    for (const [map, limit] of [[this.#shared, this.#o.sharedLimit], [this.#exclusive, this.#o.exclusiveLimit]] as const) {
      let count = 0;
      for (const r of map.values()) if (!r.evicting) count++;
      if (count <= limit) continue;
      const target = limit - Math.floor(limit / 4);
      for (const r of map.values()) {
        if (count <= target) break;
        if (r === keep || r.evicting) continue;
        r.evicting = true;
        count--;
        this.#stats.LeaseEvictions++;
        void this.release(r.ino);
      }
    }
  }

  #touch(r: LeaseRec): void {
    const map = r.kind === "shared" ? this.#shared : r.kind === "exclusive" ? this.#exclusive : undefined;
    if (map === undefined) return;
    map.delete(r.ino);
    map.set(r.ino, r);
  }

  #setState(r: LeaseRec, s: LeaseState): void {
    this.#shared.delete(r.ino);
    this.#exclusive.delete(r.ino);
    r.state = s;
    if (s === "SharedGranted") this.#shared.set(r.ino, r);
    else if (s === "ExclusiveGranted") this.#exclusive.set(r.ino, r);
  }

  /** Forgets a record nobody uses that holds nothing. */
  #gc(r: LeaseRec): void {
    if (r.state === "None" && r.users === 0 && this.#recs.get(r.ino) === r) this.#recs.delete(r.ino);
  }

  /** Inode numbers per client state, LRU order for the granted ones (the /leases page). */
  report(): Record<LeaseState, bigint[]> {
    const out = Object.fromEntries(LEASE_STATES.map((s) => [s, [] as bigint[]])) as Record<LeaseState, bigint[]>;
    for (const r of this.#recs.values()) if (r.state !== "SharedGranted" && r.state !== "ExclusiveGranted") out[r.state].push(r.ino);
    out.SharedGranted = [...this.#shared.keys()];
    out.ExclusiveGranted = [...this.#exclusive.keys()];
    return out;
  }
}
