// The request and reply structs of every RPC the ProxyFS 1.17.1 agent sends over retryrpc
// (protocol doc §7), as TS types whose property names are the Go field names on the wire.
// Go embeds (InodeHandle, StatStruct…) are flattened here exactly where Go declares them, which is
// also where their keys appear in the JSON. Go int64/uint64 -> bigint; 32/16-bit -> number;
// []byte -> Buffer. The codecs in structs.ts are checked against these types at compile time.

/** Embedded first in most requests: `{"MountID","InodeNumber"}`. */
export interface InodeHandle {
  MountID: string;
  InodeNumber: bigint;
}

/** jrpcfs StatStruct. FileMode is the full st_mode including the type bits. */
export interface StatStruct {
  CTimeNs: bigint;
  CRTimeNs: bigint;
  MTimeNs: bigint;
  ATimeNs: bigint;
  Size: bigint;
  NumLinks: bigint;
  StatInodeNumber: bigint;
  FileMode: number;
  UserID: number;
  GroupID: number;
  /**
   * Extension (capability pfs-stat-extended-v1; absent otherwise): bytes allocated to the inode,
   * for st_blocks. Regular files: bytes their extents cover (holes excluded); others: Size.
   */
  AllocatedBytes?: bigint;
  /** Extension (pfs-stat-extended-v1): st_rdev of a device node (Linux new_encode_dev), else 0. */
  Rdev?: number;
}

/** The generic reply (only RpcFlush fills it in; everything else answers zeros). */
export interface Reply {
  RequestTimeSec: bigint;
  RequestTimeNsec: bigint;
  SendTimeSec: bigint;
  SendTimeNsec: bigint;
}

export interface MountIdRequest {
  MountID: string;
}

export interface InodeReply {
  InodeNumber: bigint;
}

export interface LeaseRequest extends InodeHandle {
  /** LeaseRequestType (lease.ts): 0 Shared, 1 Promote, 2 Exclusive, 3 Demote, 4 Release. */
  LeaseRequestType: number;
}

export interface LeaseReply {
  /** LeaseReplyType (lease.ts): 0 Denied, 1 Shared, 2 Promoted, 3 Exclusive, 4 Demoted, 5 Released. */
  LeaseReplyType: number;
}

export type GetStatRequest = InodeHandle;

export interface LookupRequest extends InodeHandle {
  Basename: string;
}

/** RpcLookupPlus reply: InodeNumber, then the flattened StatStruct. */
export interface LookupPlusReply extends StatStruct {
  InodeNumber: bigint;
}

export interface CreateRequest extends InodeHandle {
  Basename: string;
  UserID: number;
  GroupID: number;
  /** mode & 0o777 */
  FileMode: number;
}
export type MkdirRequest = CreateRequest;

export interface SymlinkRequest extends InodeHandle {
  Basename: string;
  Target: string;
  UserID: number;
  GroupID: number;
}

export type ReadSymlinkRequest = InodeHandle;
export interface ReadSymlinkReply {
  Target: string;
}

export interface LinkRequest extends InodeHandle {
  Basename: string;
  TargetInodeNumber: bigint;
}

export type UnlinkRequest = LookupRequest;
export type RmdirRequest = LookupRequest;

export interface RenameRequest {
  MountID: string;
  SrcDirInodeNumber: bigint;
  SrcBasename: string;
  DstDirInodeNumber: bigint;
  DstBasename: string;
}

export interface ChmodRequest extends InodeHandle {
  FileMode: number;
}

export interface ChownRequest extends InodeHandle {
  /** -1 leaves the owner unchanged. */
  UserID: number;
  /** -1 leaves the group unchanged. */
  GroupID: number;
}

export interface ResizeRequest extends InodeHandle {
  NewSize: bigint;
}

/** InodeHandle + the whole StatStruct; only MTimeNs/ATimeNs are used, 0 = unchanged. */
export interface SetTimeRequest extends InodeHandle, StatStruct {}

export interface AccessRequest extends InodeHandle {
  UserID: number;
  GroupID: number;
  /** The access(2) mask (R_OK 4, W_OK 2, X_OK 1, F_OK 0). */
  AccessMode: number;
}

export type StatVFSRequest = MountIdRequest;
export interface StatVFS {
  BlockSize: bigint;
  FragmentSize: bigint;
  TotalBlocks: bigint;
  FreeBlocks: bigint;
  AvailBlocks: bigint;
  TotalInodes: bigint;
  FreeInodes: bigint;
  AvailInodes: bigint;
  FileSystemID: bigint;
  MountFlags: bigint;
  MaxFilenameLen: bigint;
}

export interface ReaddirByLocRequest extends InodeHandle {
  MaxEntries: bigint;
  /** -1 to start; else the NextDirLocation of the last entry seen minus… see protocol doc §7.2. */
  PrevDirEntLocation: bigint;
}
export type ReaddirPlusByLocRequest = ReaddirByLocRequest;

export interface DirEntry {
  InodeNumber: bigint;
  /** DT_DIR 4, DT_REG 8, DT_LNK 10 */
  FileType: number;
  Basename: string;
  NextDirLocation: bigint;
}

export interface ReaddirReply {
  DirEnts: DirEntry[];
}

/** DirEnts[i] and StatEnts[i] describe the same entry; the lengths must match. */
export interface ReaddirPlusReply {
  DirEnts: DirEntry[];
  StatEnts: StatStruct[];
}

export interface GetXAttrRequest extends InodeHandle {
  AttrName: string;
}
export interface GetXAttrReply {
  /** Not filled in by the 1.17.1 server (always 0). */
  AttrValueSize: bigint;
  AttrValue: Buffer;
}

export interface SetXAttrRequest extends InodeHandle {
  AttrName: string;
  AttrValue: Buffer;
  /** Go int; the agent always sends 0. */
  AttrFlags: number;
}

export type ListXAttrRequest = InodeHandle;
export interface ListXAttrReply {
  AttrNames: string[];
}

export type RemoveXAttrRequest = GetXAttrRequest;

export type ProvisionObjectRequest = MountIdRequest;
export interface ProvisionObjectReply {
  /** "/v1/<account>/<container>/<object>"; the object name must be hex. */
  PhysPath: string;
}

/** Extents written into one LogSegment: FileOffset[i] -> ObjectOffset[i] for Length[i] bytes. */
export interface WroteRequest extends InodeHandle {
  ContainerName: string;
  ObjectName: string;
  FileOffset: bigint[];
  ObjectOffset: bigint[];
  Length: bigint[];
}
/** Encodes as `{}`. */
export type WroteReply = Record<never, never>;

export interface FetchExtentMapChunkRequest extends InodeHandle {
  FileOffset: bigint;
  MaxEntriesFromFileOffset: bigint;
  MaxEntriesBeforeFileOffset: bigint;
}

export interface ExtentMapEntry {
  FileOffset: bigint;
  LogSegmentOffset: bigint;
  Length: bigint;
  ContainerName: string;
  ObjectName: string;
}

export interface FetchExtentMapChunkReply {
  FileOffsetRangeStart: bigint;
  FileOffsetRangeEnd: bigint;
  FileSize: bigint;
  ExtentMapEntry: ExtentMapEntry[];
}

/** RpcPing (not sent by the agent; proxyfsd's own liveness check and the capture client use it). */
export interface PingRequest {
  Message: string;
}
export interface PingReply {
  /** 1.17.1 answers `pong <len(Message)> bytes`. */
  Message: string;
}

/** Upcall payload (retryrpc message type 2): jrpcfs RPCInterrupt with its embedded type flattened. */
export interface RPCInterrupt {
  /** RPCInterruptType (lease.ts): 0 Unmount, 1 Demote, 2 Release. */
  RPCInterruptType: number;
  InodeNumber: bigint;
}
