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

/** Which capability each extension method needs. */
export const extensionMethodCapability = {
  RpcRename2: Capability.Rename2,
  RpcFallocate: Capability.Fallocate,
  RpcSeek: Capability.SeekDataHole,
  RpcMknod: Capability.Mknod,
  RpcMountsAlive: Capability.MountsAlive,
} as const;
