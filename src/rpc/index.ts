// Public API of rpc/: retryrpc (ProxyFS 1.17.1 wire format) over TLS, exactly-once, with upcalls.
export { RetryRpcServer, type RetryRpcServerOptions, type RetryRpcServerStats, type ClientInfo, type RpcMethodHandler } from "./server.js";
export { RetryRpcClient, type RetryRpcClientOptions, type RetryRpcClientStats } from "./client.js";
export { generateServerCredentials, loadServerCredentials, CredentialsError, type ServerCredentials, type GenerateCredentialsOptions } from "./tls-credentials.js";
export {
  RpcHandlerError, RpcReplyError, RpcProtocolError, RpcConnectError, RpcClosedError,
  UNKNOWN_METHOD_ERRSTR, UNKNOWN_CLIENT_ERRSTR, errnoErrstr, parseErrstrErrno, errstrOf,
} from "./errors.js";
export { encodeFrame, readHeader, HEADER_SIZE, MAGIC, MsgType, type FrameHeader, type MsgTypeNumber } from "./frame.js";
export { FrameDecoder } from "./frame-decoder.js";
export {
  encodeRequestBody, decodeRequestBody, encodeReplyBody, decodeReplyBody, encodePassIdBody, decodePassIdBody,
  type RequestEnvelope, type ReplyEnvelope, type RequestId,
} from "./envelope.js";
export { type RpcLogger, type RpcLogLevel, defaultRpcLogger } from "./logger.js";
