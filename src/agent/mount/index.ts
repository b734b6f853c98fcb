// Public API of agent/mount: reaching ProxyFS (PROXYFS mount/unmount, retryrpc, Swift data path),
// re-mounting when proxyfsd forgot the MountID (restart).
export { connectProxyFs, swiftRetryOf, AGENT_CAPABILITIES, type ProxyFsSession, type CredentialSource, type SessionLogger, type ConnectOptions } from "./proxyfs-session.js";
export { ProxyFsHttpClient, ProxyFsHttpError, type ProxyFsHttpOptions } from "./proxyfs-http.js";
export { RemountingRpc, RemountError, type MountedRpc, type RemountEvent, type RemountListener, type RemountStats } from "./remounting-rpc.js";
export { resolveResendFailure, CREATION_SLACK_MS, type ResendResolution, type TypedCaller } from "./resend-outcome.js";
