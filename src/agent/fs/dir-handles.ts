// DirHandles: OPENDIR, READDIR(PLUS), RELEASEDIR. The server's directory locations are the
// cookies; ORPHAN_DIR (orphan-dir.ts) is hidden from readdir of the root.
import { Errno, FsError } from "../../base/errno.js";
import type { AttrCache } from "./attr-cache.js";
import type { AgentContext } from "./context.js";
import { ORPHAN_DIR } from "./orphan-dir.js";
import { ROOT_INO, S_IFDIR, S_IFMT, type AgentDirEntry } from "./ports.js";

export class DirHandles {
  readonly #ctx: AgentContext;
  readonly #attrs: AttrCache;

  constructor(ctx: AgentContext, attrs: AttrCache) {
    this.#ctx = ctx;
    this.#attrs = attrs;
  }

  async opendir(ino: bigint, flags: number): Promise<bigint> {
    const c = this.#ctx;
    const st = await this.#attrs.getStat(ino);
    if ((st.FileMode & S_IFMT) !== S_IFDIR) throw new FsError(Errno.ENOTDIR, `inode ${ino} is not a directory`);
    const fh = c.newFh();
    c.handles.set(fh, { ino, flags, dir: true });
    return fh;
  }

  /**
   * Up to `maxEntries` entries after cookie `offset` (0 = from the start, "." and ".." first).
   * The server's locations are the cookies: entry i has NextDirLocation i+1.
   */
  async readdir(ino: bigint, fh: bigint, offset: bigint, maxEntries: number, plus: boolean): Promise<AgentDirEntry[]> {
    for (;;) {
      const ents = await this.#readdirRaw(ino, fh, offset, maxEntries, plus);
      if (ino !== ROOT_INO) return ents;
      const shown = ents.filter((e) => e.name !== ORPHAN_DIR);
      // An empty reply means end of directory: never return one while entries follow.
      if (shown.length > 0 || ents.length === 0) return shown;
      offset = ents[ents.length - 1]!.offset;
    }
  }

  async #readdirRaw(ino: bigint, fh: bigint, offset: bigint, maxEntries: number, plus: boolean): Promise<AgentDirEntry[]> {
    const c = this.#ctx;
    c.handle(fh, ino, true);
    const req = { ...c.h(ino), MaxEntries: BigInt(Math.max(1, maxEntries)), PrevDirEntLocation: offset - 1n };
    if (!plus) {
      const r = await c.call("RpcReaddirByLoc", req);
      return (r.DirEnts ?? []).map((d) => ({ name: d.Basename, ino: d.InodeNumber, type: d.FileType, offset: d.NextDirLocation }));
    }
    // MetaCache: under the directory's lease the entries and attributes are cached (and may be
    // handed to the kernel long); the server recorded that this mount learned them.
    const t = c.meta !== undefined ? await c.leases!.acquire(ino, "shared") : undefined;
    const r = await c.call("RpcReaddirPlusByLoc", req);
    const dirs = r.DirEnts ?? [];
    const stats = r.StatEnts ?? [];
    if (dirs.length !== stats.length) {
      throw new FsError(Errno.EIO, `RpcReaddirPlusByLoc of inode ${ino} returned ${dirs.length} entries but ${stats.length} stats`);
    }
    return dirs.map((d, i) => {
      const dot = d.Basename === "." || d.Basename === "..";
      const leased = t !== undefined && !dot && c.meta!.noteEntry(ino, d.Basename, d.InodeNumber, stats[i]!, t);
      return { name: d.Basename, ino: d.InodeNumber, type: d.FileType, offset: d.NextDirLocation, stat: this.#attrs.noteStat(d.InodeNumber, stats[i]!), leased };
    });
  }

  releasedir(ino: bigint, fh: bigint): void {
    const c = this.#ctx;
    c.handle(fh, ino, true);
    c.handles.delete(fh);
  }
}
