// Public API of objstore/: the ObjectStore interface and its implementations. Other layers import
// only this file (testing/ is for tests only).
export * from "./object-store.js";
export { ObjectStoreError, codeForStatus, statusForCode, type ObjectStoreErrorCode } from "./object-store-error.js";
export { MemoryObjectStore } from "./memory/memory-object-store.js";
export { DiskObjectStore, type DiskObjectStoreOptions } from "./disk/disk-object-store.js";
export { SwiftObjectStore, type SwiftObjectStoreOptions } from "./swift/swift-object-store.js";
export { tempAuth, proxyfsStorageUrl, type SwiftAuthenticate, type SwiftCredentials, type TempAuthOptions } from "./swift/tempauth.js";
export { RetryPolicy, DEFAULT_RETRY, type SwiftRetryConfig } from "./swift/retry-policy.js";
export { SwiftApiServer, parseUserSpec, type SwiftApiServerOptions, type SwiftUser } from "./server/swift-api-server.js";
export { listAllObjects } from "./list-all.js";
export { emptyAccount } from "./empty-account.js";
