// ReplyCache: the per-client exactly-once memory of the server (protocol doc §5.6).
//
// An entry is created when a request starts executing (pending) and holds the encoded reply frame
// once it completes. A retransmit of a pending request waits for the same execution; a retransmit
// of a completed one gets the cached bytes. So each (client, requestid) runs at most once while its
// entry lives, even when the retransmit arrives on a new connection while the original still runs.
//
// Trimming, as 1.17.1:
// * acknowledgement: every request carries highestReplySeen (every id <= it got its reply at the
//   client); ack() raises the client's mark (never lowers it) and trimAcked() drops completed
//   entries at or below it;
// * age: trimOlderThan() drops completed entries completed before a cut-off (RetryRPCTTLCompleted).
// INVARIANT: ids are numbers when safe and bigint otherwise (envelope.ts), so Map keys never mix
// types for the same value.

import type { RequestId } from "./envelope.js";

interface Entry {
  /** The encoded reply frame, once the execution completed. */
  frame: Buffer | null;
  /** Resolves with the frame; present while executing. */
  pending: Promise<Buffer> | null;
  completedAt: number;
}

export type CacheLookup =
  | { state: "absent" }
  | { state: "pending"; pending: Promise<Buffer> }
  | { state: "completed"; frame: Buffer };

export class ReplyCache {
  #entries = new Map<RequestId, Entry>();
  #highestReplySeen: RequestId = 0;
  #trimmedTo: RequestId = 0;

  get size(): number {
    return this.#entries.size;
  }

  /** The client's acknowledgement mark: every reply up to it was delivered. */
  get highestReplySeen(): RequestId {
    return this.#highestReplySeen;
  }

  lookup(id: RequestId): CacheLookup {
    const e = this.#entries.get(id);
    if (e === undefined) return { state: "absent" };
    if (e.frame !== null) return { state: "completed", frame: e.frame };
    return { state: "pending", pending: e.pending! };
  }

  /** Records an execution in progress. */
  begin(id: RequestId, pending: Promise<Buffer>): void {
    this.#entries.set(id, { frame: null, pending, completedAt: 0 });
  }

  /** Stores the reply of a finished execution (unless the entry was trimmed meanwhile). */
  complete(id: RequestId, frame: Buffer, now: number): void {
    const e = this.#entries.get(id);
    if (e === undefined) return;
    e.frame = frame;
    e.pending = null;
    e.completedAt = now;
  }

  /** Raises the acknowledgement mark; returns true if it moved. */
  ack(highestReplySeen: RequestId): boolean {
    if (highestReplySeen > this.#highestReplySeen) {
      this.#highestReplySeen = highestReplySeen;
      return true;
    }
    return false;
  }

  /** True when `id` was acknowledged by the client (so it will never legitimately resend it). */
  isAcknowledged(id: RequestId): boolean {
    return id <= this.#highestReplySeen;
  }

  /** Drops completed entries the client has acknowledged. Returns how many were dropped. */
  trimAcked(): number {
    if (this.#highestReplySeen <= this.#trimmedTo) return 0;
    const mark = this.#highestReplySeen;
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (e.frame !== null && id <= mark) {
        this.#entries.delete(id);
        n++;
      }
    }
    this.#trimmedTo = mark;
    return n;
  }

  /** Drops completed entries that completed before `cutoff` (ms). Returns how many were dropped. */
  trimOlderThan(cutoff: number): number {
    let n = 0;
    for (const [id, e] of this.#entries) {
      if (e.frame !== null && e.completedAt < cutoff) {
        this.#entries.delete(id);
        n++;
      }
    }
    return n;
  }
}
