// Codecs of the structs in types.ts: field order = Go declaration order = wire order.
// defineStruct<T>() fails to compile if a field list and its type drift apart.

import { arrayOf, defineStruct, optional, type FieldKinds } from "./schema.js";
import type * as T from "./types.js";

const inodeHandle = { MountID: "string", InodeNumber: "i64" } as const satisfies FieldKinds;
const statStruct = {
  CTimeNs: "u64", CRTimeNs: "u64", MTimeNs: "u64", ATimeNs: "u64", Size: "u64", NumLinks: "u64",
  StatInodeNumber: "i64", FileMode: "u32", UserID: "u32", GroupID: "u32",
  // Extension fields (capability StatExtended), left out when unset: 1.17.1 bytes otherwise.
  AllocatedBytes: optional("u64"), Rdev: optional("u32"),
} as const satisfies FieldKinds;

export const InodeHandleCodec = defineStruct<T.InodeHandle>()("InodeHandle", inodeHandle);
export const StatStructCodec = defineStruct<T.StatStruct>()("StatStruct", statStruct);
export const ReplyCodec = defineStruct<T.Reply>()("Reply", { RequestTimeSec: "i64", RequestTimeNsec: "i64", SendTimeSec: "i64", SendTimeNsec: "i64" });
export const MountIdRequestCodec = defineStruct<T.MountIdRequest>()("MountIDRequest", { MountID: "string" });
export const InodeReplyCodec = defineStruct<T.InodeReply>()("InodeReply", { InodeNumber: "i64" });

export const LeaseRequestCodec = defineStruct<T.LeaseRequest>()("LeaseRequest", { ...inodeHandle, LeaseRequestType: "u32" });
export const LeaseReplyCodec = defineStruct<T.LeaseReply>()("LeaseReply", { LeaseReplyType: "u32" });

export const LookupRequestCodec = defineStruct<T.LookupRequest>()("LookupRequest", { ...inodeHandle, Basename: "string" });
export const LookupPlusReplyCodec = defineStruct<T.LookupPlusReply>()("LookupPlusReply", { InodeNumber: "i64", ...statStruct });
export const CreateRequestCodec = defineStruct<T.CreateRequest>()("CreateRequest", { ...inodeHandle, Basename: "string", UserID: "i32", GroupID: "i32", FileMode: "u32" });
export const SymlinkRequestCodec = defineStruct<T.SymlinkRequest>()("SymlinkRequest", { ...inodeHandle, Basename: "string", Target: "string", UserID: "i32", GroupID: "i32" });
export const ReadSymlinkReplyCodec = defineStruct<T.ReadSymlinkReply>()("ReadSymlinkReply", { Target: "string" });
export const LinkRequestCodec = defineStruct<T.LinkRequest>()("LinkRequest", { ...inodeHandle, Basename: "string", TargetInodeNumber: "i64" });
export const RenameRequestCodec = defineStruct<T.RenameRequest>()("RenameRequest", {
  MountID: "string", SrcDirInodeNumber: "i64", SrcBasename: "string", DstDirInodeNumber: "i64", DstBasename: "string",
});
export const ChmodRequestCodec = defineStruct<T.ChmodRequest>()("ChmodRequest", { ...inodeHandle, FileMode: "u32" });
export const ChownRequestCodec = defineStruct<T.ChownRequest>()("ChownRequest", { ...inodeHandle, UserID: "i32", GroupID: "i32" });
export const ResizeRequestCodec = defineStruct<T.ResizeRequest>()("ResizeRequest", { ...inodeHandle, NewSize: "u64" });
export const SetTimeRequestCodec = defineStruct<T.SetTimeRequest>()("SetTimeRequest", { ...inodeHandle, ...statStruct });
export const AccessRequestCodec = defineStruct<T.AccessRequest>()("AccessRequest", { ...inodeHandle, UserID: "i32", GroupID: "i32", AccessMode: "u32" });
export const StatVFSCodec = defineStruct<T.StatVFS>()("StatVFS", {
  BlockSize: "u64", FragmentSize: "u64", TotalBlocks: "u64", FreeBlocks: "u64", AvailBlocks: "u64", TotalInodes: "u64",
  FreeInodes: "u64", AvailInodes: "u64", FileSystemID: "u64", MountFlags: "u64", MaxFilenameLen: "u64",
});

export const ReaddirByLocRequestCodec = defineStruct<T.ReaddirByLocRequest>()("ReaddirByLocRequest", { ...inodeHandle, MaxEntries: "u64", PrevDirEntLocation: "i64" });
export const DirEntryCodec = defineStruct<T.DirEntry>()("DirEntry", { InodeNumber: "i64", FileType: "u16", Basename: "string", NextDirLocation: "i64" });
export const ReaddirReplyCodec = defineStruct<T.ReaddirReply>()("ReaddirReply", { DirEnts: arrayOf(DirEntryCodec) });
export const ReaddirPlusReplyCodec = defineStruct<T.ReaddirPlusReply>()("ReaddirPlusReply", { DirEnts: arrayOf(DirEntryCodec), StatEnts: arrayOf(StatStructCodec) });

export const GetXAttrRequestCodec = defineStruct<T.GetXAttrRequest>()("GetXAttrRequest", { ...inodeHandle, AttrName: "string" });
export const GetXAttrReplyCodec = defineStruct<T.GetXAttrReply>()("GetXAttrReply", { AttrValueSize: "u64", AttrValue: "bytes" });
export const SetXAttrRequestCodec = defineStruct<T.SetXAttrRequest>()("SetXAttrRequest", { ...inodeHandle, AttrName: "string", AttrValue: "bytes", AttrFlags: "int" });
export const ListXAttrReplyCodec = defineStruct<T.ListXAttrReply>()("ListXAttrReply", { AttrNames: arrayOf("string") });

export const ProvisionObjectReplyCodec = defineStruct<T.ProvisionObjectReply>()("ProvisionObjectReply", { PhysPath: "string" });
export const WroteRequestCodec = defineStruct<T.WroteRequest>()("WroteRequest", {
  ...inodeHandle, ContainerName: "string", ObjectName: "string", FileOffset: arrayOf("u64"), ObjectOffset: arrayOf("u64"), Length: arrayOf("u64"),
});
export const WroteReplyCodec = defineStruct<T.WroteReply>()("WroteReply", {});
export const FetchExtentMapChunkRequestCodec = defineStruct<T.FetchExtentMapChunkRequest>()("FetchExtentMapChunkRequest", {
  ...inodeHandle, FileOffset: "u64", MaxEntriesFromFileOffset: "i64", MaxEntriesBeforeFileOffset: "i64",
});
export const ExtentMapEntryCodec = defineStruct<T.ExtentMapEntry>()("ExtentMapEntry", {
  FileOffset: "u64", LogSegmentOffset: "u64", Length: "u64", ContainerName: "string", ObjectName: "string",
});
export const FetchExtentMapChunkReplyCodec = defineStruct<T.FetchExtentMapChunkReply>()("FetchExtentMapChunkReply", {
  FileOffsetRangeStart: "u64", FileOffsetRangeEnd: "u64", FileSize: "u64", ExtentMapEntry: arrayOf(ExtentMapEntryCodec),
});

export const PingRequestCodec = defineStruct<T.PingRequest>()("PingReq", { Message: "string" });
export const PingReplyCodec = defineStruct<T.PingReply>()("PingReply", { Message: "string" });
export const RPCInterruptCodec = defineStruct<T.RPCInterrupt>()("RPCInterrupt", { RPCInterruptType: "u32", InodeNumber: "i64" });
