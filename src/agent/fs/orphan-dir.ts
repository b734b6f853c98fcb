// OrphanDir: the hidden root directory ORPHAN_DIR where the agent keeps files that lost their
// last name while open here (the server would destroy the inode at once). Hidden names embed the
// MountID (orphanName), so a later mount can tell which agent an entry belongs to:
//  - hide(): the last name of an open file is renamed into ORPHAN_DIR;
//  - reap(): at its last close the file is flushed and its hidden name removed;
//  - rehome(): after a re-mount, hidden names move under the new MountID (the old one is dead, and
//    a sweep by another agent would remove them);
//  - sweep(): at mount, entries of dead mounts (RpcMountsAlive says so) are removed; names that
//    are not orphanName()s and this mount's own entries are never touched.
// Invariant: `#hidden` maps exactly the inodes this mount has in ORPHAN_DIR to their names there.
import { Errno } from "../../base/errno.js";
import type { ProxyFsRpcMethod, ReplyOf, RequestOf } from "../../proto/index.js";
import { toFsError } from "./fs-errors.js";

export const ORPHAN_DIR = ".pfsagent-orphans";
const ROOT_INO = 1n;

/**
 * The hidden name of an unlinked-but-open file in ORPHAN_DIR. The MountID is base64, whose "/"
 * is never allowed in a name (the server answers EINVAL): it and "+" are mapped to base64url.
 */
export function orphanName(mountId: string, ino: bigint): string {
  return `${mountId.replace(/\//g, "_").replace(/\+/g, "-")}-${ino}`;
}

/** The MountID an orphanName() embeds, or undefined when `name` is not one. */
export function orphanMountId(name: string): string | undefined {
  const m = /^([A-Za-z0-9_-]{22}==)-(\d+)$/.exec(name);
  return m ? m[1]!.replace(/_/g, "/").replace(/-/g, "+") : undefined;
}

export interface OrphanDirDeps {
  /** `ino`: the inode the name holds, for removes and renames (what a replay after a proxyfsd restart checks). */
  call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>, ino?: bigint): Promise<ReplyOf<M>>;
  /** The current MountID (it changes when the agent re-mounts). */
  mountId(): string;
  log: { info(msg: string): void; warn(msg: string): void };
}

const message = (err: unknown): string => (err as Error)?.message ?? String(err);

export class OrphanDir {
  readonly #d: OrphanDirDeps;
  readonly #hidden = new Map<bigint, string>();
  #dir: Promise<bigint> | undefined;

  constructor(deps: OrphanDirDeps) {
    this.#d = deps;
  }

  has(ino: bigint): boolean {
    return this.#hidden.has(ino);
  }

  #h(ino: bigint): { MountID: string; InodeNumber: bigint } {
    return { MountID: this.#d.mountId(), InodeNumber: ino };
  }

  /** ORPHAN_DIR's inode, made (root-only, mode 0700) on first use. */
  #getDir(): Promise<bigint> {
    this.#dir ??= (async () => {
      const find = async () => (await this.#d.call("RpcLookup", { ...this.#h(ROOT_INO), Basename: ORPHAN_DIR })).InodeNumber;
      try {
        return await find();
      } catch {
        try {
          return (await this.#d.call("RpcMkdir", { ...this.#h(ROOT_INO), Basename: ORPHAN_DIR, UserID: 0, GroupID: 0, FileMode: 0o700 })).InodeNumber;
        } catch {
          return await find(); // made concurrently by another agent
        }
      }
    })();
    const p = this.#dir;
    p.catch(() => { if (this.#dir === p) this.#dir = undefined; });
    return p.catch((err: unknown) => { throw toFsError(err, Errno.EIO, `making ${ORPHAN_DIR}`); });
  }

  /** Moves `name` in `dir` (the last name of open regular file `ino`) into ORPHAN_DIR. */
  async hide(dir: bigint, name: string, ino: bigint): Promise<void> {
    const orphans = await this.#getDir();
    const mountId = this.#d.mountId();
    const hidden = orphanName(mountId, ino);
    try {
      await this.#d.call("RpcRename", { MountID: mountId, SrcDirInodeNumber: dir, SrcBasename: name, DstDirInodeNumber: orphans, DstBasename: hidden }, ino);
    } catch (err) {
      throw toFsError(err, Errno.EIO, "RpcRename");
    }
    this.#hidden.set(ino, hidden);
    if (hidden !== orphanName(this.#d.mountId(), ino)) await this.rehome(); // re-mounted meanwhile
  }

  /** Last close of a hidden file: `flush` its data, then remove its hidden name. Never throws. */
  async reap(ino: bigint, flush: () => Promise<void>): Promise<void> {
    const hidden = this.#hidden.get(ino);
    if (hidden === undefined) return;
    this.#hidden.delete(ino);
    try {
      await flush();
      await this.#d.call("RpcUnlink", { ...this.#h(await this.#getDir()), Basename: hidden }, ino);
    } catch (err) {
      this.#d.log.warn(`removing unlinked open file ${ORPHAN_DIR}/${hidden}: ${message(err)}`);
    }
  }

  /** Renames every hidden file whose name embeds another MountID than the current one. */
  async rehome(): Promise<void> {
    for (const [ino, hidden] of [...this.#hidden]) {
      const name = orphanName(this.#d.mountId(), ino);
      if (hidden === name || this.#hidden.get(ino) !== hidden) continue;
      try {
        const dir = await this.#getDir();
        await this.#d.call("RpcRename", { MountID: this.#d.mountId(), SrcDirInodeNumber: dir, SrcBasename: hidden, DstDirInodeNumber: dir, DstBasename: name }, ino);
        if (this.#hidden.get(ino) === hidden) this.#hidden.set(ino, name);
        else await this.#d.call("RpcUnlink", { ...this.#h(dir), Basename: name }, ino); // its last close came meanwhile
      } catch (err) {
        this.#d.log.warn(`renaming unlinked open file ${ORPHAN_DIR}/${hidden} to ${name}: ${message(err)}`);
      }
    }
  }

  /**
   * Removes what dead mounts left in ORPHAN_DIR (an agent killed with unlinked files open): an
   * entry is removed only when its MountID is not this mount's and the server says it is not
   * mounted (a dead mount sends no RPC, so nobody can be using the file). Returns how many were
   * removed; failures are logged, never fatal.
   */
  async sweep(): Promise<number> {
    try {
      let dir: bigint;
      try {
        dir = (await this.#d.call("RpcLookup", { ...this.#h(ROOT_INO), Basename: ORPHAN_DIR })).InodeNumber;
      } catch {
        return 0; // no ORPHAN_DIR: nothing to sweep
      }
      const byMount = new Map<string, string[]>();
      for (let prev = -1n; ;) {
        const r = await this.#d.call("RpcReaddirByLoc", { ...this.#h(dir), MaxEntries: 1024n, PrevDirEntLocation: prev });
        const ents = r.DirEnts ?? [];
        if (ents.length === 0) break;
        for (const e of ents) {
          const id = orphanMountId(e.Basename);
          if (id === undefined || id === this.#d.mountId()) continue;
          if (!byMount.has(id)) byMount.set(id, []);
          byMount.get(id)!.push(e.Basename);
        }
        prev = ents[ents.length - 1]!.NextDirLocation - 1n;
      }
      if (byMount.size === 0) return 0;
      const ids = [...byMount.keys()];
      const alive = (await this.#d.call("RpcMountsAlive", { MountID: this.#d.mountId(), MountIDs: ids })).Alive;
      let removed = 0;
      for (const [i, id] of ids.entries()) {
        if (alive[i] !== false) continue;
        for (const name of byMount.get(id)!) {
          try {
            await this.#d.call("RpcUnlink", { ...this.#h(dir), Basename: name });
            removed++;
          } catch (err) {
            this.#d.log.warn(`removing stale orphan ${ORPHAN_DIR}/${name}: ${message(err)}`);
          }
        }
      }
      if (removed > 0) this.#d.log.info(`removed ${removed} unlinked file(s) left open by dead mounts from ${ORPHAN_DIR}`);
      return removed;
    } catch (err) {
      this.#d.log.warn(`sweeping ${ORPHAN_DIR}: ${message(err)}`);
      return 0;
    }
  }
}
