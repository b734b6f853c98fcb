// Public API of the FUSE library.
export * from "./handler.js";
export { FuseSession, DEFAULT_CAPABILITIES, MAX_NOTIFY_IN_FLIGHT, type NotifyResult, type SessionOptions, type SessionLogger } from "./session.js";
export { DevFuseTransport, MemoryTransport, type FuseTransport } from "./transport.js";
export { mountFuse, type MountOptions, type FuseMount } from "./fuse-mount.js";
export { unmount, clearStaleMount, probeMountPoint, isMountPoint } from "./mount.js";
export * as abi from "./abi/kernel.js";
