// LockTable: the advisory locks of one MemFs inode. POSIX byte-range locks (fcntl F_SETLK/F_SETLKW/
// F_GETLK) belong to a lock owner (the kernel's id of the process's file table) and are split and
// merged per owner as POSIX requires; flock(2) locks are whole-file and belong to an open file
// description. The two kinds never conflict with each other (as on Linux).
//
// INVARIANT: the POSIX locks of one owner never overlap and never touch with the same type (they
// are merged); locks of different owners overlap only when both are read locks.
// Waiters (F_SETLKW, blocking flock) are woken on every release and re-check; a waiter gives up
// with EINTR when its request's AbortSignal fires (the kernel sent INTERRUPT).
import { Errno, FsError } from "../../base/errno.js";
import type { FileLock } from "../handler.js";

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

interface PosixLock {
  owner: bigint;
  start: bigint;
  /** Inclusive. */
  end: bigint;
  type: number;
  pid: number;
}

interface FlockHold {
  type: number;
  pid: number;
}

function overlaps(a: { start: bigint; end: bigint }, b: { start: bigint; end: bigint }): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export class LockTable {
  #posix: PosixLock[] = [];
  #flock = new Map<bigint, FlockHold>();
  #waiters = new Set<() => void>();

  get empty(): boolean {
    return this.#posix.length === 0 && this.#flock.size === 0 && this.#waiters.size === 0;
  }

  /** F_GETLK: the first lock of another owner that conflicts with `want`, else one of type F_UNLCK. */
  testPosix(owner: bigint, want: FileLock): FileLock {
    const c = this.#posixConflict(owner, want);
    if (!c) return { start: 0n, end: 0n, type: F_UNLCK, pid: 0 };
    return { start: c.start, end: c.end, type: c.type, pid: c.pid };
  }

  /** F_SETLK / F_SETLKW (`wait`). Throws EAGAIN when it would block and !wait, EINTR when aborted. */
  async setPosix(owner: bigint, lock: FileLock, wait: boolean, signal: () => AbortSignal): Promise<void> {
    if (lock.start > lock.end) throw new FsError(Errno.EINVAL, "lock range ends before it starts");
    if (lock.type === F_UNLCK) {
      this.#applyPosix(owner, lock);
      this.#wake();
      return;
    }
    if (lock.type !== F_RDLCK && lock.type !== F_WRLCK) throw new FsError(Errno.EINVAL, `bad lock type ${lock.type}`);
    await this.#waitUntil(() => this.#posixConflict(owner, lock) === undefined, wait, signal);
    this.#applyPosix(owner, lock);
    // A downgrade (write -> read) may let readers in.
    this.#wake();
  }

  /** Drops every POSIX lock of `owner` (close of any descriptor of the file by that process). */
  releasePosixOwner(owner: bigint): void {
    const before = this.#posix.length;
    this.#posix = this.#posix.filter((l) => l.owner !== owner);
    if (this.#posix.length !== before) this.#wake();
  }

  /** flock(2): LOCK_SH (F_RDLCK), LOCK_EX (F_WRLCK) or LOCK_UN (F_UNLCK) for open file `owner`. */
  async setFlock(owner: bigint, type: number, pid: number, wait: boolean, signal: () => AbortSignal): Promise<void> {
    if (type === F_UNLCK) {
      this.releaseFlock(owner);
      return;
    }
    if (type !== F_RDLCK && type !== F_WRLCK) throw new FsError(Errno.EINVAL, `bad flock type ${type}`);
    // A conversion first drops the old lock (flock conversions are not atomic on Linux either).
    const had = this.#flock.get(owner);
    if (had && had.type !== type) {
      this.#flock.delete(owner);
      this.#wake();
    }
    const conflict = () => {
      for (const [o, h] of this.#flock) {
        if (o !== owner && (h.type === F_WRLCK || type === F_WRLCK)) return true;
      }
      return false;
    };
    await this.#waitUntil(() => !conflict(), wait, signal);
    this.#flock.set(owner, { type, pid });
  }

  releaseFlock(owner: bigint): void {
    if (this.#flock.delete(owner)) this.#wake();
  }

  /** Describes the locks held, for debugging and tests. */
  describe(): { posix: PosixLock[]; flock: [bigint, FlockHold][] } {
    return { posix: this.#posix.map((l) => ({ ...l })), flock: [...this.#flock] };
  }

  #posixConflict(owner: bigint, want: { start: bigint; end: bigint; type: number }): PosixLock | undefined {
    for (const l of this.#posix) {
      if (l.owner === owner) continue;
      if (!overlaps(l, want)) continue;
      if (l.type === F_WRLCK || want.type === F_WRLCK) return l;
    }
    return undefined;
  }

  /** Sets [start, end] of `owner` to lock.type (F_UNLCK removes), splitting and merging its own locks. */
  #applyPosix(owner: bigint, lock: FileLock): void {
    const next: PosixLock[] = [];
    for (const l of this.#posix) {
      if (l.owner !== owner || !overlaps(l, lock)) {
        next.push(l);
        continue;
      }
      // Keep the parts of the old lock outside the new range.
      if (l.start < lock.start) next.push({ ...l, end: lock.start - 1n });
      if (l.end > lock.end) next.push({ ...l, start: lock.end + 1n });
    }
    if (lock.type !== F_UNLCK) {
      let merged: PosixLock = { owner, start: lock.start, end: lock.end, type: lock.type, pid: lock.pid };
      const rest: PosixLock[] = [];
      for (const l of next) {
        // Same owner, same type, touching or overlapping: absorb it.
        if (l.owner === owner && l.type === merged.type && l.start <= merged.end + 1n && merged.start <= l.end + 1n) {
          merged = { ...merged, start: l.start < merged.start ? l.start : merged.start, end: l.end > merged.end ? l.end : merged.end };
        } else rest.push(l);
      }
      rest.push(merged);
      this.#posix = rest;
    } else {
      this.#posix = next;
    }
  }

  async #waitUntil(ready: () => boolean, wait: boolean, signal: () => AbortSignal): Promise<void> {
    if (ready()) return;
    if (!wait) throw new FsError(Errno.EAGAIN, "lock is held by another owner");
    const sig = signal();
    while (!ready()) {
      if (sig.aborted) throw new FsError(Errno.EINTR, "lock wait interrupted");
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          this.#waiters.delete(wake);
          reject(new FsError(Errno.EINTR, "lock wait interrupted"));
        };
        const wake = () => {
          sig.removeEventListener("abort", onAbort);
          resolve();
        };
        this.#waiters.add(wake);
        sig.addEventListener("abort", onAbort, { once: true });
      });
    }
  }

  #wake(): void {
    const w = [...this.#waiters];
    this.#waiters.clear();
    for (const f of w) f();
  }
}
