// RpcReplay (EarlyReply extension): after a proxyfsd restart, an agent re-sends the operations it
// was answered for early but never saw become durable (RpcSync). Some of them may be in the
// recovered state, some lost. Each op is applied only if its effect is missing, judged from the
// namespace and the inode number the agent was told, so replaying twice, or replaying an op that
// did survive, changes nothing:
//   * create/mkdir/symlink/mknod: if the name exists, "present" (same inode) or "skipped" (another
//     inode: a later op replaced it); else the node is re-created WITH THE SAME INODE NUMBER (the
//     kernel and the agent know it; recovery never hands an old number out again);
//   * link: applied when the name is absent and the inode exists;
//   * unlink/rmdir/rename: applied when the source name still names the op's inode;
//   * attribute, xattr, fallocate and RpcWrote ops: re-applied when the inode exists (they set
//     absolute values, so re-applying the ops in their original order gives the same result).
// Ops are applied in order; other mounts never saw their effects before they were durable
// (volume-server.ts: replies wait for other mounts' early changes), so nothing seen elsewhere
// depended on the lost suffix.
import { Errno, FsError } from "../../base/errno.js";
import { parseJson } from "../../base/json/index.js";
import { proxyFsRpcMethods, type ProxyFsHandlers, type ProxyFsRpcMethod, type ReplayOp } from "../../proto/index.js";
import type { ClientInfo } from "../../rpc/index.js";
import { ROOT_CALLER, type Caller } from "../types.js";
import type { Volume } from "../volume.js";

export interface ReplayContext {
  mountId: string;
  volume: Volume;
  handlers: ProxyFsHandlers;
  /** LeaseManager.fence for the replaying mount. */
  fence: (inos: readonly bigint[]) => Promise<void> | undefined;
}

const CREATES = new Set(["RpcCreate", "RpcCreatePlus", "RpcMkdir", "RpcMkdirPlus", "RpcSymlink", "RpcSymlinkPlus", "RpcMknod", "RpcMknodPlus"]);
const REMOVES = new Set(["RpcUnlink", "RpcRmdir"]);
const RENAMES = new Set(["RpcRename", "RpcRename2"]);
const LINKS = new Set(["RpcLink", "RpcLinkPlus"]);
const INODE_OPS = new Set([
  "RpcChmod", "RpcChown", "RpcResize", "RpcSetTime", "RpcSetAttrPlus", "RpcSetXAttr", "RpcRemoveXAttr", "RpcFallocate", "RpcWrote",
]);
/** At most this many ops per RpcReplay (the agent sends longer logs in several calls). */
export const MAX_REPLAY_OPS = 65536;

type Req = Record<string, unknown> & { MountID: string };

function entry(v: Volume, dir: bigint, name: string): bigint | undefined {
  try {
    return v.lookup(ROOT_CALLER, dir, name).ino;
  } catch {
    return undefined;
  }
}

function exists(v: Volume, ino: bigint): boolean {
  try {
    v.getattr(ino);
    return true;
  } catch {
    return false;
  }
}

function errnoOutcome(err: unknown): string {
  const e = err as { errno?: unknown; code?: unknown };
  return `error: ${typeof e.errno === "number" ? e.errno : Errno.EIO}`;
}

function callerOf(req: Req): Caller {
  const uid = req.UserID as number;
  const gid = req.GroupID as number;
  if (uid < 0 || gid < 0) throw new FsError(Errno.EINVAL, `negative UserID/GroupID ${uid}/${gid}`);
  return { uid, gid };
}

/** Re-creates the node of a create-type op under its original inode number. */
function recreate(v: Volume, method: string, req: Req, ino: bigint): void {
  const dir = req.InodeNumber as bigint;
  const name = req.Basename as string;
  v.withInodeNumber(ino, () => {
    if (method.startsWith("RpcCreate")) v.create(callerOf(req), dir, name, (req.FileMode as number) & 0o7777);
    else if (method.startsWith("RpcMkdir")) v.mkdir(callerOf(req), dir, name, (req.FileMode as number) & 0o7777);
    else if (method.startsWith("RpcSymlink")) v.symlink(callerOf(req), dir, name, req.Target as string);
    else v.mknod(callerOf(req), dir, name, req.FileMode as number, req.Rdev as number);
  });
}

async function replayOne(op: ReplayOp, c: ReplayContext): Promise<string> {
  const method = op.Method;
  if (!Object.prototype.hasOwnProperty.call(proxyFsRpcMethods, method)) return `error: ${Errno.EINVAL}`;
  const spec = proxyFsRpcMethods[method as ProxyFsRpcMethod] as unknown as { request: { decode(v: unknown, p: string): unknown } };
  let req: Req;
  try {
    req = { ...(spec.request.decode(parseJson(op.Request), `RpcReplay ${method} request`) as Req), MountID: c.mountId };
  } catch {
    return `error: ${Errno.EINVAL}`;
  }
  const v = c.volume;
  const ino = op.InodeNumber;
  if (CREATES.has(method)) {
    const dir = req.InodeNumber as bigint;
    const now = entry(v, dir, req.Basename as string);
    if (now !== undefined) return now === ino ? "present" : "skipped";
    if (exists(v, ino)) return "skipped";
    const wait = c.fence([dir]);
    if (wait !== undefined) await wait;
    try {
      recreate(v, method, req, ino);
      return "applied";
    } catch (err) {
      return errnoOutcome(err);
    }
  }
  let apply: boolean;
  if (LINKS.has(method)) apply = entry(v, req.InodeNumber as bigint, req.Basename as string) === undefined && exists(v, ino);
  else if (REMOVES.has(method)) apply = entry(v, req.InodeNumber as bigint, req.Basename as string) === ino;
  else if (RENAMES.has(method)) apply = entry(v, req.SrcDirInodeNumber as bigint, req.SrcBasename as string) === ino;
  else if (INODE_OPS.has(method)) apply = exists(v, ino);
  else return `error: ${Errno.EINVAL}`;
  if (!apply) return "skipped";
  const h = c.handlers[method as ProxyFsRpcMethod] as ((r: unknown, client: ClientInfo) => Promise<unknown>) | undefined;
  if (h === undefined) return `error: ${Errno.EINVAL}`;
  try {
    await h(req, { clientId: c.mountId } as ClientInfo);
    return "applied";
  } catch (err) {
    return errnoOutcome(err);
  }
}

/** Applies `ops` in order (see the header); one outcome per op. */
export async function replayOps(ops: readonly ReplayOp[], c: ReplayContext): Promise<string[]> {
  if (ops.length > MAX_REPLAY_OPS) throw new FsError(Errno.EINVAL, `RpcReplay: ${ops.length} ops, at most ${MAX_REPLAY_OPS}`);
  const out: string[] = [];
  for (const op of ops) out.push(await replayOne(op, c));
  return out;
}
