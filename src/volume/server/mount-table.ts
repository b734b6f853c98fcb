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

export class MountTable<V> {
  readonly #mounts = new Map<string, Mount<V>>();

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
    return this.#mounts.delete(mountId);
  }

  ids(): string[] {
    return [...this.#mounts.keys()];
  }
}
