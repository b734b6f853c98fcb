// resolveResendFailure: what to make of an error on a call re-sent under a new MountID.
//
// A call that failed with "unknown MountID" may still have run on the previous proxyfsd
// incarnation: it was sent before the crash, the server executed (and journaled) it, and died
// before the reply got out; the retryrpc client then redialled the restarted server and re-sent
// it, was refused, and RemountingRpc re-sends it once more under the new MountID. The reply cache
// that makes retransmits exactly-once died with the old process, so a non-idempotent call runs a
// second time and fails the way a repeat fails: RpcCreate/RpcMkdir/RpcSymlink/RpcMknod/RpcLink
// with EEXIST, RpcUnlink/RpcRmdir/RpcRename with ENOENT, RpcRemoveXAttr with ENODATA, an
// exclusive RpcSetXAttr or RpcRename2(RENAME_NOREPLACE) with EEXIST.
//
// For those (and only those) this module looks at the namespace and answers "success" when it
// shows exactly what the first execution would have left:
//   * create/mkdir/symlink/mknod: the name is an inode of the requested type, permission bits and
//     owner, as made fresh (files: empty, 1 link; directories: 2 links; symlinks: same target),
//     born (CRTimeNs) no earlier than CREATION_SLACK_MS before the call was first issued;
//   * link: the name is the requested target inode;
//   * unlink/rmdir: the name is gone (nothing to check: that is the requested end state);
//   * rename: the source name is gone and the destination name exists;
//   * removexattr: the attribute is gone; setxattr(XATTR_CREATE): the value is the requested one.
// Otherwise the error stands. The remaining window (SEMANTICS.md): a competing client making the
// same change in the instant between the crash and the re-send is reported as our success; a
// RENAME_EXCHANGE run twice is undone silently; other calls are idempotent (attribute changes,
// RpcWrote of the same extents, reads) or harmless twice (RpcProvisionObject).
import { Errno } from "../../base/errno.js";
import type { ProxyFsRpcMethod, ReplyOf, RequestOf, StatStruct } from "../../proto/index.js";
import { RpcReplyError } from "../../rpc/index.js";

/** What the resolver needs: typed calls on the new mount (RemountingRpc's current client). */
export interface TypedCaller {
  call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>>;
}

/** Clock difference between agent and server tolerated when judging "made by this call". */
export const CREATION_SLACK_MS = 2000;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const XATTR_CREATE = 1;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;

const ZERO_REPLY = { RequestTimeSec: 0n, RequestTimeNsec: 0n, SendTimeSec: 0n, SendTimeNsec: 0n };

/** How the re-sent call's error was resolved (for logs and counters). */
export interface ResendResolution {
  reply: unknown;
  why: string;
}

/**
 * `err` is what the re-sent `method` failed with; `issuedAtMs` is when the call was first issued.
 * Resolves with the reply to hand back when the failure is explained by a double execution,
 * undefined when `err` must stand. Never throws (a failed check leaves the error standing).
 */
export async function resolveResendFailure(
  rpc: TypedCaller, mountId: string, method: string, request: unknown, err: unknown, issuedAtMs: number,
): Promise<ResendResolution | undefined> {
  if (!(err instanceof RpcReplyError) || err.errno === undefined) return undefined;
  const errno = err.errno;
  const r = request as Record<string, unknown>;
  try {
    switch (method) {
      case "RpcCreate":
      case "RpcMkdir":
      case "RpcSymlink":
      case "RpcMknod": {
        if (errno !== Errno.EEXIST) return undefined;
        const q = r as { InodeNumber: bigint; Basename: string; UserID: number; GroupID: number; FileMode?: number; Target?: string };
        const st = await rpc.call("RpcLookupPlus", { MountID: mountId, InodeNumber: q.InodeNumber, Basename: q.Basename });
        if (!madeByThisCall(method, q, st, issuedAtMs)) return undefined;
        if (method === "RpcSymlink") {
          const t = await rpc.call("RpcReadSymlink", { MountID: mountId, InodeNumber: st.InodeNumber });
          if (t.Target !== q.Target) return undefined;
        }
        return { reply: { InodeNumber: st.InodeNumber }, why: `${q.Basename} is the inode ${st.InodeNumber} the first execution made` };
      }
      case "RpcLink": {
        if (errno !== Errno.EEXIST) return undefined;
        const q = r as { InodeNumber: bigint; Basename: string; TargetInodeNumber: bigint };
        const got = await rpc.call("RpcLookup", { MountID: mountId, InodeNumber: q.InodeNumber, Basename: q.Basename });
        if (got.InodeNumber !== q.TargetInodeNumber) return undefined;
        return { reply: ZERO_REPLY, why: `${q.Basename} already links inode ${q.TargetInodeNumber}` };
      }
      case "RpcUnlink":
      case "RpcRmdir":
        if (errno !== Errno.ENOENT) return undefined;
        return { reply: ZERO_REPLY, why: `${String(r.Basename)} is already gone` };
      case "RpcRename":
      case "RpcRename2": {
        const flags = typeof r.Flags === "number" ? r.Flags : 0;
        if (flags & RENAME_EXCHANGE) return undefined;
        if (!(errno === Errno.ENOENT || (errno === Errno.EEXIST && flags & RENAME_NOREPLACE))) return undefined;
        const q = r as { SrcDirInodeNumber: bigint; SrcBasename: string; DstDirInodeNumber: bigint; DstBasename: string };
        const srcGone = await rpc.call("RpcLookup", { MountID: mountId, InodeNumber: q.SrcDirInodeNumber, Basename: q.SrcBasename }).then(
          () => false,
          (e: unknown) => e instanceof RpcReplyError && e.errno === Errno.ENOENT,
        );
        if (!srcGone) return undefined;
        await rpc.call("RpcLookup", { MountID: mountId, InodeNumber: q.DstDirInodeNumber, Basename: q.DstBasename });
        return { reply: ZERO_REPLY, why: `${q.SrcBasename} is gone and ${q.DstBasename} exists` };
      }
      case "RpcRemoveXAttr":
        if (errno !== Errno.ENODATA) return undefined;
        return { reply: ZERO_REPLY, why: `attribute ${String(r.AttrName)} is already gone` };
      case "RpcSetXAttr": {
        const q = r as { InodeNumber: bigint; AttrName: string; AttrValue: Buffer; AttrFlags: number };
        if (errno !== Errno.EEXIST || !(q.AttrFlags & XATTR_CREATE)) return undefined;
        const v = await rpc.call("RpcGetXAttr", { MountID: mountId, InodeNumber: q.InodeNumber, AttrName: q.AttrName });
        if (!Buffer.from(v.AttrValue).equals(Buffer.from(q.AttrValue))) return undefined;
        return { reply: ZERO_REPLY, why: `attribute ${q.AttrName} has the requested value` };
      }
      default:
        return undefined;
    }
  } catch {
    return undefined;
  }
}

function madeByThisCall(
  method: string, q: { UserID: number; GroupID: number; FileMode?: number }, st: StatStruct, issuedAtMs: number,
): boolean {
  const type = st.FileMode & S_IFMT;
  const wantType = method === "RpcCreate" ? S_IFREG : method === "RpcMkdir" ? S_IFDIR : method === "RpcSymlink" ? S_IFLNK : (q.FileMode ?? 0) & S_IFMT;
  if (type !== wantType) return false;
  if (method !== "RpcSymlink" && (st.FileMode & 0o777) !== ((q.FileMode ?? 0) & 0o777)) return false;
  if (st.UserID !== q.UserID || st.GroupID !== q.GroupID) return false;
  if (method === "RpcMkdir" ? st.NumLinks !== 2n : st.NumLinks !== 1n) return false;
  if (method === "RpcCreate" && st.Size !== 0n) return false;
  return st.CRTimeNs >= BigInt(Math.max(0, issuedAtMs - CREATION_SLACK_MS)) * 1_000_000n;
}
