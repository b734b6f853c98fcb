// Public API of proto/: the ProxyFS 1.17.1 message types, their Go-exact codecs, the method table,
// the JSON-RPC (mount) envelopes, lease/upcall numbers, error strings and capability negotiation.
export type * from "./types.js";
export * from "./structs.js";
export { StructCodec, ProtoDecodeError, ProtoEncodeError, defineStruct, arrayOf, optional, type Kind, type FieldKinds, type Infer } from "./schema.js";
export { retryRpcMethods, extensionRpcMethods, proxyFsRpcMethods, jsonRpcMethods, isRetryRpcMethod, type RetryRpcMethod, type ExtensionRpcMethod, type ProxyFsRpcMethod, type RequestOf, type ReplyOf, type JsonRpcMethodName, type JsonRpcRequestOf, type JsonRpcReplyOf } from "./methods.js";
export * from "./mount.js";
export * from "./jsonrpc.js";
export * from "./lease.js";
export * from "./errors.js";
export { ProxyFsRpcClient } from "./typed-client.js";
export { registerProxyFsHandlers, type ProxyFsHandler, type ProxyFsHandlers } from "./typed-server.js";
export * from "./extensions.js";
