// Every method of the 1.17.1 protocol with its request and reply codec.
// retryRpcMethods: bare names as sent over retryrpc (`method` in the envelope).
// jsonRpcMethods: "Server."-prefixed names sent as JSON-RPC through PROXYFS / the TCP port.

import * as S from "./structs.js";
import { MountByAccountNameReplyCodec, MountByAccountNameRequestCodec, UnmountRequestCodec } from "./mount.js";
import type { StructCodec } from "./schema.js";
import {
  FallocateRequestCodec, MknodRequestCodec, MountsAliveReplyCodec, MountsAliveRequestCodec, Rename2RequestCodec, SeekReplyCodec, SeekRequestCodec,
  ReplayReplyCodec, ReplayRequestCodec, SetAttrPlusRequestCodec, SyncRequestCodec,
} from "./extensions.js";

interface MethodSpec<Req, Rep> {
  request: StructCodec<Req>;
  reply: StructCodec<Rep>;
}
const m = <Req, Rep>(request: StructCodec<Req>, reply: StructCodec<Rep>): MethodSpec<Req, Rep> => ({ request, reply });

/** The 27 methods the 1.17.1 agent sends (protocol doc §7), plus RpcPing. */
export const retryRpcMethods = {
  RpcLease: m(S.LeaseRequestCodec, S.LeaseReplyCodec),
  RpcGetStat: m(S.InodeHandleCodec, S.StatStructCodec),
  RpcLookupPlus: m(S.LookupRequestCodec, S.LookupPlusReplyCodec),
  RpcLookup: m(S.LookupRequestCodec, S.InodeReplyCodec),
  RpcMkdir: m(S.CreateRequestCodec, S.InodeReplyCodec),
  RpcCreate: m(S.CreateRequestCodec, S.InodeReplyCodec),
  RpcSymlink: m(S.SymlinkRequestCodec, S.InodeReplyCodec),
  RpcReadSymlink: m(S.InodeHandleCodec, S.ReadSymlinkReplyCodec),
  RpcLink: m(S.LinkRequestCodec, S.ReplyCodec),
  RpcUnlink: m(S.LookupRequestCodec, S.ReplyCodec),
  RpcRmdir: m(S.LookupRequestCodec, S.ReplyCodec),
  RpcRename: m(S.RenameRequestCodec, S.ReplyCodec),
  RpcChmod: m(S.ChmodRequestCodec, S.ReplyCodec),
  RpcChown: m(S.ChownRequestCodec, S.ReplyCodec),
  RpcResize: m(S.ResizeRequestCodec, S.ReplyCodec),
  RpcSetTime: m(S.SetTimeRequestCodec, S.ReplyCodec),
  RpcAccess: m(S.AccessRequestCodec, S.InodeReplyCodec),
  RpcStatVFS: m(S.MountIdRequestCodec, S.StatVFSCodec),
  RpcReaddirByLoc: m(S.ReaddirByLocRequestCodec, S.ReaddirReplyCodec),
  RpcReaddirPlusByLoc: m(S.ReaddirByLocRequestCodec, S.ReaddirPlusReplyCodec),
  RpcGetXAttr: m(S.GetXAttrRequestCodec, S.GetXAttrReplyCodec),
  RpcSetXAttr: m(S.SetXAttrRequestCodec, S.ReplyCodec),
  RpcListXAttr: m(S.InodeHandleCodec, S.ListXAttrReplyCodec),
  RpcRemoveXAttr: m(S.GetXAttrRequestCodec, S.ReplyCodec),
  RpcProvisionObject: m(S.MountIdRequestCodec, S.ProvisionObjectReplyCodec),
  RpcWrote: m(S.WroteRequestCodec, S.WroteReplyCodec),
  RpcFetchExtentMapChunk: m(S.FetchExtentMapChunkRequestCodec, S.FetchExtentMapChunkReplyCodec),
  RpcPing: m(S.PingRequestCodec, S.PingReplyCodec),
} as const;

/** Our extension methods (extensions.ts); callable only once their capability is agreed. */
export const extensionRpcMethods = {
  RpcRename2: m(Rename2RequestCodec, S.ReplyCodec),
  RpcFallocate: m(FallocateRequestCodec, S.ReplyCodec),
  RpcSeek: m(SeekRequestCodec, SeekReplyCodec),
  RpcMknod: m(MknodRequestCodec, S.InodeReplyCodec),
  RpcMountsAlive: m(MountsAliveRequestCodec, MountsAliveReplyCodec),
  RpcCreatePlus: m(S.CreateRequestCodec, S.LookupPlusReplyCodec),
  RpcMkdirPlus: m(S.CreateRequestCodec, S.LookupPlusReplyCodec),
  RpcSymlinkPlus: m(S.SymlinkRequestCodec, S.LookupPlusReplyCodec),
  RpcMknodPlus: m(MknodRequestCodec, S.LookupPlusReplyCodec),
  RpcLinkPlus: m(S.LinkRequestCodec, S.LookupPlusReplyCodec),
  RpcSetAttrPlus: m(SetAttrPlusRequestCodec, S.StatStructCodec),
  RpcSync: m(SyncRequestCodec, S.WroteReplyCodec),
  RpcReplay: m(ReplayRequestCodec, ReplayReplyCodec),
} as const;

/** Every retryrpc method our agent and server know: 1.17.1's plus the extensions. */
export const proxyFsRpcMethods = { ...retryRpcMethods, ...extensionRpcMethods } as const;

/** A 1.17.1 method name. */
export type RetryRpcMethod = keyof typeof retryRpcMethods;
export type ExtensionRpcMethod = keyof typeof extensionRpcMethods;
/** Any method name the typed client/server accept. */
export type ProxyFsRpcMethod = keyof typeof proxyFsRpcMethods;
export type RequestOf<M extends ProxyFsRpcMethod> = (typeof proxyFsRpcMethods)[M] extends MethodSpec<infer Req, unknown> ? Req : never;
export type ReplyOf<M extends ProxyFsRpcMethod> = (typeof proxyFsRpcMethods)[M] extends MethodSpec<unknown, infer Rep> ? Rep : never;

export function isRetryRpcMethod(name: string): name is RetryRpcMethod {
  return Object.prototype.hasOwnProperty.call(retryRpcMethods, name);
}

/** JSON-RPC methods (PROXYFS body / proxyfsd TCPPort). */
export const jsonRpcMethods = {
  "Server.RpcMountByAccountName": m(MountByAccountNameRequestCodec, MountByAccountNameReplyCodec),
  "Server.RpcUnmount": m(UnmountRequestCodec, S.ReplyCodec),
  "Server.RpcPing": m(S.PingRequestCodec, S.PingReplyCodec),
} as const;

export type JsonRpcMethodName = keyof typeof jsonRpcMethods;
export type JsonRpcRequestOf<M extends JsonRpcMethodName> = (typeof jsonRpcMethods)[M] extends MethodSpec<infer Req, unknown> ? Req : never;
export type JsonRpcReplyOf<M extends JsonRpcMethodName> = (typeof jsonRpcMethods)[M] extends MethodSpec<unknown, infer Rep> ? Rep : never;
