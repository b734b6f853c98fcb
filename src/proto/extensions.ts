// Our protocol extensions (not in 1.17.1): new retryrpc methods an agent may call only after the
// capability that covers it was agreed at mount time (README.md "Extensions"). A server answers a
// call whose capability was not agreed for that MountID exactly as 1.17.1 answers an unknown
// method ("errno: 2"), so nothing changes for a peer that did not negotiate.

import { arrayOf, defineStruct } from "./schema.js";
import { Capability } from "./mount.js";

/** RpcRename2: renameat2(2) with flags (RENAME_NOREPLACE 1, RENAME_EXCHANGE 2; WHITEOUT is EINVAL). */
export interface Rename2Request {
  MountID: string;
  SrcDirInodeNumber: bigint;
  SrcBasename: string;
  DstDirInodeNumber: bigint;
  DstBasename: string;
  Flags: number;
}

/** RpcFallocate: fallocate(2) (mode 0 allocate, 1 KEEP_SIZE, 3 PUNCH_HOLE|KEEP_SIZE). */
export interface FallocateRequest {
  MountID: string;
  InodeNumber: bigint;
  Mode: number;
  Offset: bigint;
  Length: bigint;
}

/** RpcSeek: lseek(2) SEEK_DATA (3) / SEEK_HOLE (4) against the server's extent map. */
export interface SeekRequest {
  MountID: string;
  InodeNumber: bigint;
  Offset: bigint;
  Whence: number;
}
export interface SeekReply {
  Offset: bigint;
}

/**
 * RpcMknod: mknod(2) of a fifo, socket or device node in directory InodeNumber, run as
 * UserID/GroupID (devices need root: EPERM). FileMode carries the type bits; Rdev is the device
 * number (Linux new_encode_dev, as FUSE gives it), stored for devices only. Reply: InodeReply.
 */
export interface MknodRequest {
  MountID: string;
  InodeNumber: bigint;
  Basename: string;
  UserID: number;
  GroupID: number;
  FileMode: number;
  Rdev: number;
}

/**
 * RpcMountsAlive: for each MountID of the request's list, whether the server has it mounted now.
 * Answers only about IDs the caller names, so no MountID (the retryrpc identity) ever leaks.
 */
export interface MountsAliveRequest {
  MountID: string;
  MountIDs: string[];
}
export interface MountsAliveReply {
  Alive: boolean[];
}

/**
 * RpcSetAttrPlus: the attribute changes of one setattr(2) applied as one transaction, as root
 * (like RpcChmod/RpcChown/RpcResize/RpcSetTime). Valid says which fields count (SETATTR_* bits);
 * times are nanoseconds since the epoch. Reply: the new StatStruct.
 */
export interface SetAttrPlusRequest {
  MountID: string;
  InodeNumber: bigint;
  Valid: number;
  FileMode: number;
  UserID: number;
  GroupID: number;
  Size: bigint;
  ATimeNs: bigint;
  MTimeNs: bigint;
}
export const SETATTR_MODE = 1;
export const SETATTR_UID = 2;
export const SETATTR_GID = 4;
export const SETATTR_SIZE = 8;
export const SETATTR_ATIME = 16;
export const SETATTR_MTIME = 32;

/** RpcSync: resolves once every change this mount was answered for is durable in the object store. */
export interface SyncRequest {
  MountID: string;
}

/**
 * One operation of RpcReplay: the method it was sent as, its request as that method's JSON
 * encoding (MountID inside is ignored: the caller's is used) and the inode it created or acted on
 * as the agent was told (0 when none).
 */
export interface ReplayOp {
  Method: string;
  Request: string;
  InodeNumber: bigint;
}
export interface ReplayRequest {
  MountID: string;
  Ops: ReplayOp[];
}
/** Per op: "applied", "present" (already in effect), "skipped" (superseded) or "error: <errno>". */
export interface ReplayReply {
  Outcomes: string[];
}

export const SEEK_DATA = 3;
export const SEEK_HOLE = 4;

export const Rename2RequestCodec = defineStruct<Rename2Request>()("Rename2Request", {
  MountID: "string", SrcDirInodeNumber: "i64", SrcBasename: "string", DstDirInodeNumber: "i64", DstBasename: "string", Flags: "u32",
});
export const FallocateRequestCodec = defineStruct<FallocateRequest>()("FallocateRequest", {
  MountID: "string", InodeNumber: "i64", Mode: "u32", Offset: "u64", Length: "u64",
});
export const SeekRequestCodec = defineStruct<SeekRequest>()("SeekRequest", { MountID: "string", InodeNumber: "i64", Offset: "u64", Whence: "u32" });
export const SeekReplyCodec = defineStruct<SeekReply>()("SeekReply", { Offset: "u64" });
export const MountsAliveRequestCodec = defineStruct<MountsAliveRequest>()("MountsAliveRequest", { MountID: "string", MountIDs: arrayOf("string") });
export const MountsAliveReplyCodec = defineStruct<MountsAliveReply>()("MountsAliveReply", { Alive: arrayOf("bool") });
export const MknodRequestCodec = defineStruct<MknodRequest>()("MknodRequest", {
  MountID: "string", InodeNumber: "i64", Basename: "string", UserID: "i32", GroupID: "i32", FileMode: "u32", Rdev: "u32",
});

export const SetAttrPlusRequestCodec = defineStruct<SetAttrPlusRequest>()("SetAttrPlusRequest", {
  MountID: "string", InodeNumber: "i64", Valid: "u32", FileMode: "u32", UserID: "i32", GroupID: "i32", Size: "u64", ATimeNs: "u64", MTimeNs: "u64",
});
export const SyncRequestCodec = defineStruct<SyncRequest>()("SyncRequest", { MountID: "string" });
export const ReplayOpCodec = defineStruct<ReplayOp>()("ReplayOp", { Method: "string", Request: "string", InodeNumber: "i64" });
export const ReplayRequestCodec = defineStruct<ReplayRequest>()("ReplayRequest", { MountID: "string", Ops: arrayOf(ReplayOpCodec) });
export const ReplayReplyCodec = defineStruct<ReplayReply>()("ReplayReply", { Outcomes: arrayOf("string") });

/** Which capability each extension method needs. */
export const extensionMethodCapability = {
  RpcRename2: Capability.Rename2,
  RpcFallocate: Capability.Fallocate,
  RpcSeek: Capability.SeekDataHole,
  RpcMknod: Capability.Mknod,
  RpcMountsAlive: Capability.MountsAlive,
  RpcCreatePlus: Capability.Plus,
  RpcMkdirPlus: Capability.Plus,
  RpcSymlinkPlus: Capability.Plus,
  RpcMknodPlus: Capability.Plus,
  RpcLinkPlus: Capability.Plus,
  RpcSetAttrPlus: Capability.Plus,
  RpcSync: Capability.EarlyReply,
  RpcReplay: Capability.EarlyReply,
} as const;
