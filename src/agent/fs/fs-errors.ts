// Turning failures of the layers below (RPC, object store) into the one errno a file-system
// request fails with. pfsagent.md §5.1: a server "errno: N" is passed through; anything else gets
// the operation's default (ENOENT for lookups, EIO otherwise). Never throws anything but FsError.
import { Errno, FsError } from "../../base/errno.js";
import { RpcReplyError } from "../../rpc/index.js";

export function toFsError(err: unknown, defaultErrno: number, what: string): FsError {
  if (err instanceof FsError) return err;
  if (err instanceof RpcReplyError) {
    const errno = err.errno !== undefined && err.errno > 0 ? err.errno : defaultErrno;
    return new FsError(errno, `${what}: ${err.errstr}`, { cause: err });
  }
  const msg = err instanceof Error ? err.message : String(err);
  return new FsError(defaultErrno === Errno.ENOENT ? Errno.EIO : defaultErrno, `${what}: ${msg}`, { cause: err });
}

/** A bigint the agent must handle as a JS number (a file offset or size), or EFBIG/EIO. */
export function safeNumber(v: bigint, what: string, errno: number = Errno.EIO): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new FsError(errno, `${what} ${v} is outside 0..2^53-1`);
  return Number(v);
}
