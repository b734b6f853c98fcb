// Public API of volume/: the namespace and metadata of one proxyfsd volume.
export * from "./types.js";
export { Volume, hex16 } from "./volume.js";
export type {
  VolumeOptions, StatFs, TimeSpec, SetAttrChanges, RemoveOptions, Unlinked, RenameResult, DirEntry,
  ProvisionedObject, WroteExtent, WroteRequest, NamedExtent, ExtentMapChunk, ReadPlanStep, SegmentInfo,
} from "./volume.js";
export { ExtentMap } from "./extent-map.js";
export type { Extent, ExtentDelta, ReadStep, ExtentChunk } from "./extent-map.js";
export { MemoryVolumeStore, FIRST_NONCE, StoreStateError } from "./memory-volume-store.js";
export type { MemoryVolumeStoreOptions } from "./memory-volume-store.js";
export type { VolumeStore, VolumeStoreReader, VolumeTxn, Mutation, CommitRecord } from "./volume-store.js";
export { SortedMap, Cursor, compareBigint, compareNames } from "./sorted-map.js";
export { DirCursors, UNIQUE_LOCATION_BASE } from "./dir-cursors.js";
export { mayAccess, inGroup, isOwnerOrRoot } from "./permissions.js";
export { LockTable, F_RDLCK, F_WRLCK, F_UNLCK } from "./lock-table.js";
export type { LockRange } from "./lock-table.js";
export * from "./server/index.js";
export * from "./config/index.js";
