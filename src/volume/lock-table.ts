// Advisory POSIX byte-range locks (fcntl F_GETLK/F_SETLK), held in memory per inode as
// ProxyFS's RpcFlock does. Not persisted: locks vanish with the server, like a crashed host's.
//
// INVARIANT: the locks of one owner on one inode never overlap (setting a lock replaces the
// owner's locks in that range, unlocking trims or splits them). Ranges are [start, end) with
// end = MAX (no limit) for len 0 ("to EOF, however far it grows").

import { fsError } from "../base/index.js";

export const F_RDLCK = 0;
export const F_WRLCK = 1;
export const F_UNLCK = 2;

const INF = 1n << 64n;

export interface LockRange {
  /** F_RDLCK, F_WRLCK or F_UNLCK. */
  readonly type: number;
  readonly start: bigint;
  /** 0n = to the end of the file, however far. */
  readonly len: bigint;
  readonly pid: number;
}

interface Held {
  owner: string;
  type: number;
  start: bigint;
  end: bigint;
  pid: number;
}

export class LockTable {
  readonly #byInode = new Map<bigint, Held[]>();

  /** F_GETLK: the first lock of another owner that conflicts, else the request with F_UNLCK. */
  test(ino: bigint, owner: string, req: LockRange): LockRange {
    const [start, end] = range(req);
    if (req.type !== F_RDLCK && req.type !== F_WRLCK) throw fsError("EINVAL", `F_GETLK needs F_RDLCK or F_WRLCK, got ${req.type}`);
    for (const h of this.#byInode.get(ino) ?? []) {
      if (h.owner !== owner && h.start < end && start < h.end && (h.type === F_WRLCK || req.type === F_WRLCK)) {
        return { type: h.type, start: h.start, len: h.end >= INF ? 0n : h.end - h.start, pid: h.pid };
      }
    }
    return { ...req, type: F_UNLCK };
  }

  /** F_SETLK: takes, converts or releases (F_UNLCK) a range; EAGAIN on conflict. */
  set(ino: bigint, owner: string, req: LockRange): void {
    const [start, end] = range(req);
    if (req.type !== F_UNLCK && this.test(ino, owner, req).type !== F_UNLCK) {
      throw fsError("EAGAIN", `range ${start}..${end} of inode ${ino} is locked by another owner`);
    }
    if (req.type !== F_RDLCK && req.type !== F_WRLCK && req.type !== F_UNLCK) throw fsError("EINVAL", `bad lock type ${req.type}`);
    const kept: Held[] = [];
    for (const h of this.#byInode.get(ino) ?? []) {
      if (h.owner !== owner || h.end <= start || end <= h.start) {
        kept.push(h);
        continue;
      }
      if (h.start < start) kept.push({ ...h, end: start });
      if (h.end > end) kept.push({ ...h, start: end });
    }
    if (req.type !== F_UNLCK) kept.push({ owner, type: req.type, start, end, pid: req.pid });
    if (kept.length === 0) this.#byInode.delete(ino);
    else this.#byInode.set(ino, kept);
  }

  /** Drops every lock of `owner` (unmount, or the inode's last close by that owner). */
  releaseOwner(owner: string): void {
    for (const [ino, list] of this.#byInode) {
      const kept = list.filter((h) => h.owner !== owner);
      if (kept.length === 0) this.#byInode.delete(ino);
      else if (kept.length !== list.length) this.#byInode.set(ino, kept);
    }
  }

  /** Drops every lock on an inode (it was destroyed). */
  dropInode(ino: bigint): void {
    this.#byInode.delete(ino);
  }
}

function range(r: LockRange): [bigint, bigint] {
  if (typeof r.start !== "bigint" || typeof r.len !== "bigint" || r.start < 0n || r.len < 0n) {
    throw fsError("EINVAL", "lock start and len must be non-negative bigints");
  }
  return [r.start, r.len === 0n ? INF : r.start + r.len];
}
