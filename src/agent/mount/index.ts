// Public API of agent/mount: reaching ProxyFS (PROXYFS mount/unmount, retryrpc, Swift data path).
export { connectProxyFs, swiftRetryOf, AGENT_CAPABILITIES, type ProxyFsSession, type CredentialSource, type SessionLogger } from "./proxyfs-session.js";
export { ProxyFsHttpClient, ProxyFsHttpError, type ProxyFsHttpOptions } from "./proxyfs-http.js";
