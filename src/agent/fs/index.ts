// Public API of agent/fs: the FUSE-agnostic file-system core of pfsagentd.
export { AgentFs, parsePhysPath, S_IFMT, S_IFREG, S_IFDIR, type AgentFsOptions, type AgentRpc, type AgentObjectStore, type AgentFsLogger, type Caller, type InodeStat, type AgentDirEntry, type SetAttrChanges, type AgentFsStats } from "./agent-fs.js";
export { LeaseTable, LEASE_STATES, type LeaseState, type LeaseKind, type LeaseOptions, type LeaseStats, type Ticket } from "./lease-table.js";
export { ExtentMap, type Extent, type ObjectRef, type Piece } from "./extent-map.js";
export { ReadCache, ShortObjectError, type FetchLine } from "./read-cache.js";
export { Semaphore } from "./semaphore.js";
export { LogSegment, type LogSegmentIo } from "./log-segment.js";
export { toFsError, safeNumber } from "./fs-errors.js";
export { OrphanDir, ORPHAN_DIR, orphanName, orphanMountId } from "./orphan-dir.js";
