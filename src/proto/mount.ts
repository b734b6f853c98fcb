// Mount and unmount messages (1.17.1: sent as JSON-RPC through the PROXYFS HTTP method, protocol
// doc §3) and the capability negotiation that lets our agent and server use extensions only when
// both ends have them (README.md in this folder).

import { arrayOf, defineStruct, optional } from "./schema.js";

export interface MountByAccountNameRequest {
  AccountName: string;
  MountOptions: bigint;
  AuthUserID: bigint;
  AuthGroupID: bigint;
  /** Extension: capabilities the agent supports. Absent from a 1.17.1 agent. */
  Capabilities?: string[];
}

export interface MountByAccountNameReply {
  /** base64 of 16 random bytes (24 characters); also the retryrpc client ID. */
  MountID: string;
  RootDirInodeNumber: bigint;
  RetryRPCPublicIPAddr: string;
  RetryRPCPort: number;
  /** PEM text of the root CA (base64 on the wire, as Go []byte). */
  RootCAx509CertificatePEM: Buffer;
  /** Extension: the capabilities this mount will use (offered by the agent AND supported here). */
  Capabilities?: string[];
}

export interface UnmountRequest {
  MountID: string;
}

export const MountByAccountNameRequestCodec = defineStruct<MountByAccountNameRequest>()("MountByAccountNameRequest", {
  AccountName: "string", MountOptions: "u64", AuthUserID: "u64", AuthGroupID: "u64", Capabilities: optional(arrayOf("string")),
});
export const MountByAccountNameReplyCodec = defineStruct<MountByAccountNameReply>()("MountByAccountNameReply", {
  MountID: "string", RootDirInodeNumber: "i64", RetryRPCPublicIPAddr: "string", RetryRPCPort: "u16",
  RootCAx509CertificatePEM: "bytes", Capabilities: optional(arrayOf("string")),
});
export const UnmountRequestCodec = defineStruct<UnmountRequest>()("UnmountRequest", { MountID: "string" });

/**
 * Capability names. A name is added here together with the code that uses it; both ends use a
 * capability only if it is in the mount reply's Capabilities. Names are never reused or renamed.
 */
export const Capability = {
  /** This very negotiation (always offered by our agent, always granted by our server). */
  Negotiation: "pfs-capabilities-v1",
  /** RpcRename2: rename with renameat2 flags (NOREPLACE, EXCHANGE). */
  Rename2: "pfs-rename2-v1",
  /** RpcFallocate: allocate, KEEP_SIZE and PUNCH_HOLE. */
  Fallocate: "pfs-fallocate-v1",
  /** RpcSeek: SEEK_DATA / SEEK_HOLE. */
  SeekDataHole: "pfs-seek-data-hole-v1",
  /** RpcMknod: fifos, sockets and device nodes (the server stores mode and rdev). */
  Mknod: "pfs-mknod-v1",
  /** RpcMountsAlive: which of some MountIDs are mounted (the agent's sweep of stale orphans). */
  MountsAlive: "pfs-mounts-alive-v1",
  /** Every StatStruct the server sends this mount also carries AllocatedBytes and Rdev. */
  StatExtended: "pfs-stat-extended-v1",
  /**
   * RpcCreatePlus, RpcMkdirPlus, RpcSymlinkPlus, RpcMknodPlus, RpcLinkPlus (reply: InodeNumber and
   * the StatStruct, like RpcLookupPlus) and RpcSetAttrPlus (several attribute changes, one reply
   * with the new StatStruct): one round trip where 1.17.1 needs two or more.
   */
  Plus: "pfs-plus-v1",
  /**
   * Early replies: mutations of this mount are answered once applied in memory, before their
   * journal batch is durable. RpcSync waits until everything the mount was answered is durable;
   * RpcReplay re-applies, after a proxyfsd restart, operations that may not have become durable
   * (conditionally, with the inode numbers the agent was told). A reply to ANY mount waits until
   * the changes of other mounts it could reveal are durable (SEMANTICS.md "Early replies").
   */
  EarlyReply: "pfs-early-reply-v1",
  /**
   * The server revokes (interrupts with Release) the leases other mounts hold on a directory
   * before any change of its entries, and on a directory under which such a mount learned an
   * inode's attributes before any change of that inode: a Shared lease on a directory lets an
   * agent cache its entries, negative lookups and its children's attributes.
   */
  MetaCache: "pfs-meta-cache-v1",
  /**
   * RpcCreatePlus also grants the creating mount an Exclusive lease on the new file (nobody else
   * can know the inode yet, so the grant is immediate): the agent writes, closes and sets the
   * attributes of a new file without an RpcLease and an RpcGetStat first.
   */
  CreateLease: "pfs-create-lease-v1",
} as const;

/** Server side: the capabilities a mount gets = offered by the agent ∩ supported here, in the agent's order. */
export function negotiateCapabilities(offered: readonly string[] | undefined, supported: readonly string[]): string[] {
  if (!offered) return [];
  const ok = new Set(supported);
  return [...new Set(offered)].filter((c) => ok.has(c));
}

/** Agent side: the agreed set (empty for a 1.17.1 server, whose reply has no Capabilities). */
export function agreedCapabilities(reply: MountByAccountNameReply): ReadonlySet<string> {
  return new Set(reply.Capabilities ?? []);
}
