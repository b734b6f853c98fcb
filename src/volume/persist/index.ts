// Public API of volume/persist/: a Volume whose state lives in an object store (LAYOUT.md).
export { PersistentVolume, PersistError, type PersistOptions, type PersistStats, type PersistLogger } from "./persistent-volume.js";
export { fsck, type FsckOptions, type FsckReport } from "./fsck.js";
export { DEFAULT_CONTAINER_PREFIX, metaContainer, type CheckpointHeader } from "./layout.js";
export { PersistFormatError } from "./codec.js";
