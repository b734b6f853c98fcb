// MountTable: the mounts proxyfsd knows, by MountID. A MountID is also the retryrpc client ID,
// so the table answers both "which volume does this request address" and "may this retryrpc
// client connect" (RetryRpcServer authorizeClient).
// MountIDs are as 1.17.1 makes them: base64 (standard, padded) of 16 random bytes, never with
// bytes 1..15 all zero, never equal to a live mount's.

import { randomBytes } from "node:crypto";

export interface Mount<V> {
  readonly mountId: string;
  readonly volume: V;
  /** Extension capabilities agreed at mount (empty for a 1.17.1 agent). */
  readonly capabilities: ReadonlySet<string>;
  readonly mountedAt: number;
}

/** Ended MountIDs remembered for mayBeAlive (oldest forgotten first beyond this). */
const ENDED_MEMORY = 100_000;

export class MountTable<V> {
  readonly #mounts = new Map<string, Mount<V>>();
  /** MountIDs unmounted (or expired) in this process, oldest first: known dead. */
  readonly #ended = new Set<string>();
  readonly #startedAt: number;
  readonly #restartGraceMs: number;

  /**
   * @param restartGraceMs how long after this process started a MountID it never saw still
   *   counts as possibly alive (mayBeAlive): an agent of the previous incarnation may not have
   *   noticed the restart and re-mounted yet (agents probe at least every 10 s when idle).
   */
  constructor(opts: { restartGraceMs?: number; now?: () => number } = {}) {
    this.#now = opts.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#restartGraceMs = opts.restartGraceMs ?? 60_000;
  }

  readonly #now: () => number;

  get size(): number {
    return this.#mounts.size;
  }

  add(volume: V, capabilities: readonly string[]): Mount<V> {
    let id: string;
    for (;;) {
      const b = randomBytes(16);
      if (b.subarray(1).every((x) => x === 0)) continue;
      id = b.toString("base64");
      if (!this.#mounts.has(id)) break;
    }
    const m: Mount<V> = { mountId: id, volume, capabilities: new Set(capabilities), mountedAt: Date.now() };
    this.#mounts.set(id, m);
    return m;
  }

  get(mountId: string): Mount<V> | undefined {
    return this.#mounts.get(mountId);
  }

  has(mountId: string): boolean {
    return this.#mounts.has(mountId);
  }

  delete(mountId: string): boolean {
    if (!this.#mounts.delete(mountId)) return false;
    this.#ended.add(mountId);
    if (this.#ended.size > ENDED_MEMORY) this.#ended.delete(this.#ended.values().next().value as string);
    return true;
  }

  /**
   * False only when `mountId` is certainly gone: it ended in this process, or it is unknown and
   * the restart grace period is over (RpcMountsAlive: an orphan sweep must never remove files a
   * live agent still holds open).
   */
  mayBeAlive(mountId: string): boolean {
    if (this.#mounts.has(mountId)) return true;
    if (this.#ended.has(mountId)) return false;
    return this.#now() - this.#startedAt < this.#restartGraceMs;
  }

  ids(): string[] {
    return [...this.#mounts.keys()];
  }
}
