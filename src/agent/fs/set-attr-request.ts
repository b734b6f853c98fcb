// One RpcSetAttrPlus request from a set of attribute changes: SETATTR from the kernel
// (InodeOps) and the changes WriteBack deferred behind a file's data in flight both send it.
import { SETATTR_ATIME, SETATTR_GID, SETATTR_MODE, SETATTR_MTIME, SETATTR_SIZE, SETATTR_UID, type RequestOf } from "../../proto/index.js";
import type { SetAttrChanges } from "./ports.js";

/** Attribute changes with the times resolved to nanoseconds (UTIME_NOW already the agent's clock). */
export interface ResolvedAttrChanges {
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly size?: bigint;
  readonly atime?: bigint;
  readonly mtime?: bigint;
}

/** `ch` with "now" replaced by the agent's clock; only the fields `ch` sets are present. */
export function resolveAttrChanges(ch: SetAttrChanges): ResolvedAttrChanges {
  const now = BigInt(Date.now()) * 1_000_000n;
  const at = (v: bigint | "now"): bigint => (v === "now" ? now : v);
  return {
    ...(ch.mode !== undefined ? { mode: ch.mode & 0o7777 } : {}),
    ...(ch.uid !== undefined ? { uid: ch.uid } : {}),
    ...(ch.gid !== undefined ? { gid: ch.gid } : {}),
    ...(ch.size !== undefined ? { size: ch.size } : {}),
    ...(ch.atime !== undefined ? { atime: at(ch.atime) } : {}),
    ...(ch.mtime !== undefined ? { mtime: at(ch.mtime) } : {}),
  };
}

export function setAttrPlusRequest(header: { MountID: string; InodeNumber: bigint }, ch: ResolvedAttrChanges): RequestOf<"RpcSetAttrPlus"> {
  const valid = (ch.mode !== undefined ? SETATTR_MODE : 0) | (ch.uid !== undefined ? SETATTR_UID : 0) | (ch.gid !== undefined ? SETATTR_GID : 0)
    | (ch.size !== undefined ? SETATTR_SIZE : 0) | (ch.atime !== undefined ? SETATTR_ATIME : 0) | (ch.mtime !== undefined ? SETATTR_MTIME : 0);
  return {
    ...header, Valid: valid, FileMode: (ch.mode ?? 0) & 0o7777, UserID: ch.uid ?? 0, GroupID: ch.gid ?? 0, Size: ch.size ?? 0n,
    ATimeNs: ch.atime ?? 0n, MTimeNs: ch.mtime ?? 0n,
  };
}
