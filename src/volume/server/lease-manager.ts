// LeaseManager: the 1.17.1 per-inode lease state machine (protocol doc §9.2, server doc §5) for one
// volume. Leases are advisory: no other RPC checks them.
//
// Per inode: the holders (mount -> shared|exclusive, with grant time), at most one pending
// promotion, and a FIFO of waiting Shared/Exclusive requests. A request that cannot be granted
// waits (the RPC blocks) and makes the holders in its way get interrupts (retryrpc upcalls):
//   * a waiting Shared at the head of the queue: the Exclusive holder gets Demote;
//   * a waiting Exclusive at the head, or a pending Promote: every (other) holder gets Release.
// A grant younger than minLeaseDurationMs is never interrupted. Interrupts repeat every
// leaseInterruptIntervalMs; after leaseInterruptLimit of them the holder's lease is expired
// (removed) and `onExpired(mountId)` is called (1.17.1 then unmounts that mount at the next RpcLease).
//
// 1.17.1 quirks kept on purpose (captured): Shared on an inode nobody holds or waits for is
// granted Exclusive; Promote by an Exclusive holder is Denied; Promote/Demote/Release on an inode
// that never had a lease object is an error (plain text), on one that has one it is Denied.
// 1.17.1's Promote deadlock (it answers the wrong request) is NOT kept: the waiting Promote itself
// gets Promoted once the other holders released.
//
// INVARIANTS: a mount appears at most once among holders, queue and promoter of one inode; an
// Exclusive holder is the only holder; every waiting request's promise is settled exactly once
// (granted, Denied by releaseAll, or Denied at close()).

import { RpcHandlerError } from "../../rpc/index.js";
import { LEASE_TIMING, LeaseReplyType, LeaseRequestType, RPCInterruptType, leaseNonExistentErrstr, leaseTypeNotSupportedErrstr } from "../../proto/index.js";

export interface LeaseManagerOptions {
  /** Delivers an interrupt (best effort, as retryrpc SendCallback); false when not delivered. */
  sendInterrupt: (mountId: string, type: number, ino: bigint) => boolean;
  /** A holder ignored leaseInterruptLimit interrupts; its lease was expired. */
  onExpired?: (mountId: string, ino: bigint) => void;
  minLeaseDurationMs?: number;
  leaseInterruptIntervalMs?: number;
  leaseInterruptLimit?: number;
  /** Idle lease objects are evicted down to the low limit when their count passes the high limit. */
  evictLowLimit?: number;
  evictHighLimit?: number;
  now?: () => number;
}

type Kind = "shared" | "exclusive";

interface Holder {
  kind: Kind;
  grantedAt: number;
  /** Interrupts sent for the current conflict, and when the last went out. */
  interrupts: number;
  lastInterruptAt: number;
}

interface Waiter {
  mountId: string;
  kind: Kind;
  resolve: (reply: number) => void;
}

class InodeLease {
  readonly holders = new Map<string, Holder>();
  readonly queue: Waiter[] = [];
  /** Mutations by a mount waiting for every OTHER holder to go (LeaseManager.fence). */
  readonly fences: Array<{ mountId: string; resolve: () => void }> = [];
  promoting: { mountId: string; resolve: (reply: number) => void } | null = null;
  timer: NodeJS.Timeout | null = null;

  constructor(readonly ino: bigint) {}

  get idle(): boolean {
    return this.holders.size === 0 && this.queue.length === 0 && this.promoting === null && this.fences.length === 0;
  }

  /** Whether a mount other than `mountId` holds this lease. */
  heldByOther(mountId: string): boolean {
    for (const m of this.holders.keys()) if (m !== mountId) return true;
    return false;
  }

  involves(mountId: string): boolean {
    return this.holders.has(mountId) || this.promoting?.mountId === mountId || this.queue.some((w) => w.mountId === mountId);
  }

  get hasExclusive(): boolean {
    for (const h of this.holders.values()) if (h.kind === "exclusive") return true;
    return false;
  }
}

export interface LeaseStats {
  leases: number;
  interruptsSent: number;
  expired: number;
  evicted: number;
  /** fence() calls, and those that had to wait for other mounts to release. */
  fences: number;
  fenceWaits: number;
}

export class LeaseManager {
  readonly #o: Required<Omit<LeaseManagerOptions, "onExpired">> & Pick<LeaseManagerOptions, "onExpired">;
  /** Insertion order = least recently used first (re-inserted on every request). */
  readonly #leases = new Map<bigint, InodeLease>();
  #closed = false;
  readonly #stats: LeaseStats = { leases: 0, interruptsSent: 0, expired: 0, evicted: 0, fences: 0, fenceWaits: 0 };
  /**
   * MetaCache coverage: inode -> directories under whose lease some mount learned its attributes
   * (cover()). A change of the inode revokes other mounts' leases on those directories too.
   * Entries whose directory nobody holds any more are dropped lazily (fence, #sweepCovers).
   */
  readonly #covers = new Map<bigint, Set<bigint>>();

  constructor(options: LeaseManagerOptions) {
    this.#o = {
      sendInterrupt: options.sendInterrupt,
      onExpired: options.onExpired,
      minLeaseDurationMs: options.minLeaseDurationMs ?? LEASE_TIMING.minLeaseDurationMs,
      leaseInterruptIntervalMs: options.leaseInterruptIntervalMs ?? LEASE_TIMING.leaseInterruptIntervalMs,
      leaseInterruptLimit: options.leaseInterruptLimit ?? LEASE_TIMING.leaseInterruptLimit,
      evictLowLimit: options.evictLowLimit ?? 500_000,
      evictHighLimit: options.evictHighLimit ?? 500_010,
      now: options.now ?? Date.now,
    };
    if (this.#o.evictLowLimit > this.#o.evictHighLimit) throw new RangeError("lease evictLowLimit must not exceed evictHighLimit");
  }

  get stats(): LeaseStats {
    return { ...this.#stats, leases: this.#leases.size };
  }

  /** What `mountId` holds on `ino` (for tests and reports). */
  holding(mountId: string, ino: bigint): Kind | undefined {
    return this.#leases.get(ino)?.holders.get(mountId)?.kind;
  }

  /**
   * RpcLease. Resolves with a LeaseReplyType (possibly after waiting for other holders).
   * @throws RpcHandlerError with 1.17.1's plain-text errstr (bad type, no lease object).
   */
  request(mountId: string, ino: bigint, type: number): Promise<number> | number {
    if (!Number.isInteger(type) || type < LeaseRequestType.Shared || type > LeaseRequestType.Release) {
      throw new RpcHandlerError(leaseTypeNotSupportedErrstr(type));
    }
    let l = this.#leases.get(ino);
    if (l === undefined) {
      if (type !== LeaseRequestType.Shared && type !== LeaseRequestType.Exclusive) throw new RpcHandlerError(leaseNonExistentErrstr(type));
      l = new InodeLease(ino);
      this.#leases.set(ino, l);
      this.#evict();
    } else {
      this.#leases.delete(ino); // LRU touch
      this.#leases.set(ino, l);
    }
    if (this.#closed) return LeaseReplyType.Denied;
    switch (type) {
      case LeaseRequestType.Shared:
      case LeaseRequestType.Exclusive: {
        const kind: Kind = type === LeaseRequestType.Shared ? "shared" : "exclusive";
        if (l.involves(mountId)) return LeaseReplyType.Denied; // duplicate request from one mount
        const free = l.queue.length === 0 && l.promoting === null && l.fences.length === 0;
        if (free && l.holders.size === 0) {
          this.#grant(l, mountId, "exclusive"); // Shared on a free inode is granted Exclusive (1.17.1)
          return LeaseReplyType.Exclusive;
        }
        if (free && kind === "shared" && !l.hasExclusive) {
          this.#grant(l, mountId, "shared");
          return LeaseReplyType.Shared;
        }
        return new Promise<number>((resolve) => {
          l.queue.push({ mountId, kind, resolve });
          this.#interrupt(l);
        });
      }
      case LeaseRequestType.Promote: {
        const h = l.holders.get(mountId);
        if (h === undefined || h.kind !== "shared" || l.promoting !== null) return LeaseReplyType.Denied;
        if (l.holders.size === 1) {
          this.#grant(l, mountId, "exclusive");
          return LeaseReplyType.Promoted;
        }
        return new Promise<number>((resolve) => {
          l.promoting = { mountId, resolve };
          this.#interrupt(l);
        });
      }
      case LeaseRequestType.Demote: {
        const h = l.holders.get(mountId);
        if (h === undefined || h.kind !== "exclusive") return LeaseReplyType.Denied;
        h.kind = "shared";
        h.interrupts = 0;
        this.#advance(l);
        return LeaseReplyType.Demoted;
      }
      default: { // Release
        let had = false;
        if (l.promoting?.mountId === mountId) {
          l.promoting.resolve(LeaseReplyType.Denied);
          l.promoting = null;
        }
        if (l.holders.delete(mountId)) had = true;
        this.#advance(l);
        return had ? LeaseReplyType.Released : LeaseReplyType.Denied;
      }
    }
  }

  /** #covers size that triggers the next #sweepCovers. */
  #coverSweepAt = 1024;

  /**
   * MetaCache: `mountId`, holding a lease on directory `dir`, was just told the attributes of
   * `child` (lookup, readdir-plus, create-plus in `dir`); until that lease goes, a change of
   * `child` by another mount must revoke it. Nothing is recorded when `dir` is not held.
   */
  cover(mountId: string, dir: bigint, child: bigint): void {
    if (dir === child || this.#leases.get(dir)?.holders.has(mountId) !== true) return;
    let dirs = this.#covers.get(child);
    if (dirs === undefined) {
      dirs = new Set();
      this.#covers.set(child, dirs);
      if (this.#covers.size > this.#coverSweepAt) this.#sweepCovers();
    }
    dirs.add(dir);
  }

  /**
   * Before mount `mountId` changes inodes `inos` (directory entries or attributes): every other
   * mount's lease on them, and on directories covering them (cover()), is revoked with Release
   * interrupts. Returns undefined when nothing had to be revoked (the caller goes on in the same
   * tick), else a promise that resolves once those leases are gone (released or expired).
   * The caller must apply its change synchronously when it resolves: no grant can reach a reader
   * in between, as grants only become visible to other mounts in later I/O callbacks.
   * Unlike lease requests, a fence interrupts young grants at once (minLeaseDurationMs is for
   * lease ping-pong; a mutation must not wait for it).
   */
  fence(mountId: string, inos: readonly bigint[]): Promise<void> | undefined {
    this.#stats.fences++;
    let waits: Promise<void>[] | undefined;
    const seen = new Set<bigint>();
    const visit = (ino: bigint): void => {
      if (seen.has(ino)) return;
      seen.add(ino);
      const l = this.#leases.get(ino);
      if (l === undefined || this.#closed || !l.heldByOther(mountId)) return;
      (waits ??= []).push(new Promise<void>((resolve) => {
        l.fences.push({ mountId, resolve });
        this.#interrupt(l);
      }));
    };
    for (const ino of inos) {
      visit(ino);
      const dirs = this.#covers.get(ino);
      if (dirs === undefined) continue;
      for (const d of dirs) {
        if (this.#leases.get(d)?.holders.size) visit(d);
        else dirs.delete(d);
      }
      if (dirs.size === 0) this.#covers.delete(ino);
    }
    if (waits === undefined) return undefined;
    this.#stats.fenceWaits++;
    return Promise.all(waits).then(() => undefined);
  }

  /**
   * Drops coverage by directories nobody holds (bounds #covers by the leases in force). The next
   * sweep waits until #covers doubled: covers of held directories survive a sweep, and sweeping
   * again on every new child of a big held directory would be quadratic.
   */
  #sweepCovers(): void {
    for (const [child, dirs] of this.#covers) {
      for (const d of dirs) if (!this.#leases.get(d)?.holders.size) dirs.delete(d);
      if (dirs.size === 0) this.#covers.delete(child);
    }
    this.#coverSweepAt = Math.max(2 * this.#leases.size + 1024, 2 * this.#covers.size);
  }

  /** Drops every lease, promotion and waiting request of a mount (unmount). Waiters get Denied. */
  releaseAll(mountId: string): void {
    for (const l of this.#leases.values()) {
      if (!l.involves(mountId)) continue;
      if (l.promoting?.mountId === mountId) {
        l.promoting.resolve(LeaseReplyType.Denied);
        l.promoting = null;
      }
      for (let i = l.queue.length - 1; i >= 0; i--) {
        if (l.queue[i]!.mountId === mountId) l.queue.splice(i, 1)[0]!.resolve(LeaseReplyType.Denied);
      }
      l.holders.delete(mountId);
      this.#advance(l);
    }
  }

  /** Stops timers; every waiting request is answered Denied. */
  close(): void {
    this.#closed = true;
    for (const l of this.#leases.values()) {
      if (l.timer) clearTimeout(l.timer);
      l.timer = null;
      l.promoting?.resolve(LeaseReplyType.Denied);
      l.promoting = null;
      for (const w of l.queue.splice(0)) w.resolve(LeaseReplyType.Denied);
      for (const f of l.fences.splice(0)) f.resolve();
    }
  }

  #grant(l: InodeLease, mountId: string, kind: Kind): void {
    l.holders.set(mountId, { kind, grantedAt: this.#o.now(), interrupts: 0, lastInterruptAt: 0 });
  }

  /** Hands the lease to whoever can have it now, then re-evaluates interrupts. */
  #advance(l: InodeLease): void {
    if (l.fences.length > 0) {
      for (let i = l.fences.length - 1; i >= 0; i--) {
        const f = l.fences[i]!;
        if (!l.heldByOther(f.mountId)) {
          l.fences.splice(i, 1);
          f.resolve();
        }
      }
      // Waiting mutations go first: no new grant may make them wait again.
      if (l.fences.length > 0) {
        this.#interrupt(l);
        return;
      }
    }
    const p = l.promoting;
    if (p !== null && l.holders.size === 1 && l.holders.has(p.mountId)) {
      l.promoting = null;
      this.#grant(l, p.mountId, "exclusive");
      p.resolve(LeaseReplyType.Promoted);
    }
    while (l.promoting === null && l.queue.length > 0) {
      const head = l.queue[0]!;
      if (head.kind === "exclusive") {
        if (l.holders.size > 0) break;
        l.queue.shift();
        this.#grant(l, head.mountId, "exclusive");
        head.resolve(LeaseReplyType.Exclusive);
        break;
      }
      if (l.hasExclusive) break;
      l.queue.shift();
      this.#grant(l, head.mountId, "shared");
      head.resolve(LeaseReplyType.Shared);
    }
    this.#interrupt(l);
  }

  /** Who must be interrupted, and with what, for the request at the head to proceed. */
  #targets(l: InodeLease): Array<[string, Holder, number]> {
    const out: Array<[string, Holder, number]> = [];
    if (l.fences.length > 0) {
      const owner = l.fences[0]!.mountId;
      for (const [m, h] of l.holders) if (m !== owner) out.push([m, h, RPCInterruptType.Release]);
      return out;
    }
    if (l.promoting !== null) {
      for (const [m, h] of l.holders) if (m !== l.promoting.mountId) out.push([m, h, RPCInterruptType.Release]);
    } else if (l.queue.length > 0) {
      const shared = l.queue[0]!.kind === "shared";
      for (const [m, h] of l.holders) {
        if (shared && h.kind === "exclusive") out.push([m, h, RPCInterruptType.Demote]);
        else if (!shared) out.push([m, h, RPCInterruptType.Release]);
      }
    }
    return out;
  }

  /** Sends due interrupts, expires holders past the limit, and arms the timer for the next step. */
  #interrupt(l: InodeLease): void {
    if (l.timer) {
      clearTimeout(l.timer);
      l.timer = null;
    }
    if (this.#closed) return;
    const targets = this.#targets(l);
    if (targets.length === 0) {
      for (const h of l.holders.values()) h.interrupts = 0;
      return;
    }
    const now = this.#o.now();
    const { minLeaseDurationMs: minMs, leaseInterruptIntervalMs: everyMs, leaseInterruptLimit: limit } = this.#o;
    let next = Infinity;
    let expiredAny = false;
    for (const [mountId, h, type] of targets) {
      const eligible = l.fences.length > 0 ? h.grantedAt : h.grantedAt + minMs;
      if (now < eligible) {
        next = Math.min(next, eligible);
        continue;
      }
      const due = h.interrupts === 0 ? eligible : h.lastInterruptAt + everyMs;
      if (now < due) {
        next = Math.min(next, due);
        continue;
      }
      if (h.interrupts >= limit) {
        // The holder ignored every interrupt: expire its lease (1.17.1 ...Expired).
        l.holders.delete(mountId);
        this.#stats.expired++;
        expiredAny = true;
        this.#o.onExpired?.(mountId, l.ino);
        continue;
      }
      h.interrupts++;
      h.lastInterruptAt = now;
      this.#stats.interruptsSent++;
      this.#o.sendInterrupt(mountId, type, l.ino);
      next = Math.min(next, now + everyMs);
    }
    if (expiredAny) {
      this.#advance(l);
      return;
    }
    if (next !== Infinity) {
      l.timer = setTimeout(() => {
        l.timer = null;
        this.#interrupt(l);
      }, Math.max(1, next - now));
      l.timer.unref();
    }
  }

  /** LRU eviction of idle lease objects (1.17.1 also evicts active ones; we never revoke for it). */
  #evict(): void {
    if (this.#leases.size <= this.#o.evictHighLimit) return;
    for (const [ino, l] of this.#leases) {
      if (this.#leases.size <= this.#o.evictLowLimit) break;
      if (!l.idle) continue;
      this.#leases.delete(ino);
      this.#stats.evicted++;
    }
  }
}
