// POSIX permission rules as Linux applies them (generic_permission and friends).
// uid 0 stands for a caller with every capability (CAP_DAC_OVERRIDE, CAP_FOWNER, ...).

import { S_IFDIR, S_IFMT, type Caller, type InodeRecord } from "./types.js";

/** Whether `caller` is `gid` or has it as a supplementary group. */
export function inGroup(caller: Caller, gid: number): boolean {
  if (caller.gid === gid) return true;
  const groups = caller.groups;
  if (groups === undefined) return false;
  for (let i = 0; i < groups.length; i++) if (groups[i] === gid) return true;
  return false;
}

/**
 * Whether `caller` may access `rec` for every bit of `mask` (R_OK 4 | W_OK 2 | X_OK 1).
 * Root may read and write anything; it may execute a directory always and a non-directory
 * only when some execute bit is set. Others get the owner, else group, else other triplet
 * (the first class that matches decides, as in POSIX: an owner with 0 perms is denied).
 */
export function mayAccess(caller: Caller, rec: InodeRecord, mask: number): boolean {
  const mode = rec.mode;
  if (caller.uid === 0) {
    if ((mask & 1) === 0) return true;
    return (mode & S_IFMT) === S_IFDIR || (mode & 0o111) !== 0;
  }
  let bits: number;
  if (caller.uid === rec.uid) bits = (mode >> 6) & 7;
  else if (inGroup(caller, rec.gid)) bits = (mode >> 3) & 7;
  else bits = mode & 7;
  return (bits & mask) === mask;
}

/** inode_owner_or_capable: the owner, or root (CAP_FOWNER). */
export function isOwnerOrRoot(caller: Caller, rec: InodeRecord): boolean {
  return caller.uid === 0 || caller.uid === rec.uid;
}
