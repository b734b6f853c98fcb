// The smallest useful file system: a root directory holding one read-only file "hello" whose
// content is fixed. Used by the FUSE benchmark (it is the same file system as libfuse's hello_ll)
// and by smoke tests.
import { Errno, FsError } from "../../base/errno.js";
import type { Attr, DirEntry, FuseHandler, RequestContext } from "../handler.js";

const ROOT = 1n;
const FILE = 2n;

export class HelloFs implements FuseHandler {
  readonly content: Buffer;
  readonly name: string;
  readonly #t = BigInt(Date.now()) * 1_000_000n;

  constructor(opts: { name?: string; size?: number; content?: Buffer } = {}) {
    this.name = opts.name ?? "hello";
    this.content = opts.content ?? Buffer.alloc(opts.size ?? 13, "Hello World!\n");
  }

  #attr(ino: bigint): Attr {
    const t = this.#t;
    const dir = ino === ROOT;
    return {
      ino, size: dir ? 0n : BigInt(this.content.length), blocks: dir ? 0n : BigInt(Math.ceil(this.content.length / 512)),
      atimeNs: t, mtimeNs: t, ctimeNs: t, mode: dir ? 0o040755 : 0o100444, nlink: dir ? 2 : 1,
      uid: 0, gid: 0, rdev: 0, blksize: 4096,
    };
  }

  async lookup(_ctx: RequestContext, parent: bigint, name: string) {
    if (parent !== ROOT || name !== this.name) throw new FsError(Errno.ENOENT);
    return { attr: this.#attr(FILE) };
  }

  async getattr(_ctx: RequestContext, nodeid: bigint) {
    if (nodeid !== ROOT && nodeid !== FILE) throw new FsError(Errno.ENOENT);
    return { attr: this.#attr(nodeid) };
  }

  async open(_ctx: RequestContext, nodeid: bigint, flags: number) {
    if (nodeid !== FILE) throw new FsError(Errno.EISDIR);
    if ((flags & 3) !== 0) throw new FsError(Errno.EACCES);
    return { fh: 0n, keepCache: true };
  }

  async read(_ctx: RequestContext, _nodeid: bigint, req: { offset: bigint; size: number }) {
    const off = Number(req.offset);
    return this.content.subarray(Math.min(off, this.content.length), Math.min(off + req.size, this.content.length));
  }

  async readdir(_ctx: RequestContext, nodeid: bigint, req: { offset: bigint }): Promise<DirEntry[]> {
    if (nodeid !== ROOT) throw new FsError(Errno.ENOTDIR);
    const all: DirEntry[] = [
      { name: ".", ino: ROOT, type: 4, offset: 1n },
      { name: "..", ino: ROOT, type: 4, offset: 2n },
      { name: this.name, ino: FILE, type: 8, offset: 3n, entry: { attr: this.#attr(FILE) } },
    ];
    return all.slice(Number(req.offset));
  }
}
