// Public API of volume/server/: proxyfsd's RPC front end (retryrpc + JSON-RPC) over Volume.
export { startVolumeServer, SERVER_CAPABILITIES, VolumeServerError } from "./volume-server.js";
export type { VolumeServer, VolumeServerOptions, ServedVolumeOptions, ServerLogger, ServerLogLevel } from "./volume-server.js";
export { LeaseManager, type LeaseManagerOptions, type LeaseStats } from "./lease-manager.js";
export { MountTable, type Mount } from "./mount-table.js";
export { createRpcHandlers, statOf, type ServedVolume, type HandlerContext } from "./rpc-handlers.js";
export { JsonRpcListener, JsonRpcError, type JsonRpcListenerOptions } from "./jsonrpc-listener.js";
