// The ObjectStore interface: the one boundary between proxyfs and object storage (OpenStack Swift
// semantics). One instance addresses one account (a Swift storage URL). Implementations:
// MemoryObjectStore, DiskObjectStore (behind the embedded server), SwiftObjectStore (HTTP client).
// All are checked by testing/object-store-conformance.ts, so behaviour documented here holds for
// every one of them.
//
// General contract
// - Every method is safe to call concurrently. Operations on different names are independent; for
//   the same object the last completed PUT/DELETE wins (whole-object replacement, never a mix).
// - Every method is idempotent except that a repeated DELETE of a gone object reports NotFound
//   and a repeated PUT with ifNoneMatch "*" reports PreconditionFailed.
// - Failures are ObjectStoreError (see object-store-error.ts for codes). Names are validated before
//   any I/O (code InvalidName); argument misuse is InvalidArgument.
// - Object sizes and offsets are `number`: a Swift object is at most 5 GiB + 2 bytes
//   (MAX_OBJECT_SIZE), far below 2^53. Account/container aggregates (bytes used, object counts) can
//   grow without such a bound and are `bigint`.
// - Buffers passed in belong to the store until the returned promise settles (a retried PUT may
//   read them again); returned Buffers belong to the caller.
// - Metadata keys are case-insensitive ASCII header tokens, reported in lower case; values are
//   printable ASCII (Swift allows more on the wire, but HTTP header encoding makes anything else
//   ambiguous). Object metadata is replaced as a whole by PUT and postObject; account and container
//   metadata are merged, and an empty value deletes a key.
import type { Readable } from "node:stream";
export { ObjectStoreError, type ObjectStoreErrorCode } from "./object-store-error.js";

/** Swift's default constraints (swift/common/constraints.py), enforced by every implementation. */
export const LIMITS = Object.freeze({
  maxObjectSize: 5368709122,
  maxObjectNameBytes: 1024,
  maxContainerNameBytes: 256,
  maxMetaNameLength: 128,
  maxMetaValueLength: 256,
  maxMetaCount: 90,
  maxMetaOverallSize: 4096,
  listingLimit: 10000,
});

export type Metadata = Record<string, string>;

/** Options every call accepts. */
export interface RequestOptions {
  /** Aborting rejects the call with code Aborted (and stops any transfer in progress). */
  signal?: AbortSignal;
}

/**
 * A byte range of an object. `{offset, length}` reads `length` bytes from `offset` (clipped to the
 * object's end, like HTTP); `{offset}` reads to the end; `{suffix}` reads the last `suffix` bytes.
 * A range that starts at or past the end fails with RangeNotSatisfiable.
 */
export type ByteRange = { offset: number; length?: number } | { suffix: number };

/**
 * A PUT body. It must be replayable because a retried PUT resends the whole body:
 * - a Buffer/Uint8Array, or an array of them (sent in order, no copy);
 * - a factory returning a fresh async iterable of chunks for each attempt (for streamed data such as
 *   a log segment that is still being written). Give `contentLength` in PutOptions when the total is
 *   known; otherwise the body is sent with chunked transfer encoding.
 */
export type PutBody = Uint8Array | readonly Uint8Array[] | (() => AsyncIterable<Uint8Array>);

export interface PutOptions extends RequestOptions {
  /** Exact body length; required only to send a factory body with Content-Length. */
  contentLength?: number;
  contentType?: string;
  metadata?: Metadata;
  /** "*" makes the PUT fail with PreconditionFailed if the object already exists. */
  ifNoneMatch?: "*";
  /** Expected MD5 (hex); a mismatch fails with ChecksumMismatch and stores nothing. */
  etag?: string;
}

export interface PutResult {
  /** MD5 of the body, lower-case hex. */
  etag: string;
  /** Last-Modified of the new version (whole seconds; equals headObject().lastModified). */
  lastModified: Date;
}

export interface GetOptions extends RequestOptions {
  range?: ByteRange;
}

export interface ObjectInfo {
  /** Total object size in bytes (not the range length). */
  size: number;
  etag: string;
  contentType: string;
  lastModified: Date;
  /** Swift X-Timestamp ("seconds.fffff") of this object version. */
  timestamp: string;
  metadata: Metadata;
}

export interface GetResult {
  info: ObjectInfo;
  /** The inclusive byte range returned, when a range was requested. */
  range?: { start: number; end: number };
  body: Buffer;
}

export interface GetStreamResult {
  info: ObjectInfo;
  range?: { start: number; end: number };
  /** Must be consumed to the end or destroyed; until then it may hold a pooled connection. */
  body: Readable;
}

export interface ListOptions extends RequestOptions {
  prefix?: string;
  /** Return names strictly greater than this. */
  marker?: string;
  /** Return names strictly less than this. */
  endMarker?: string;
  /** At most this many entries (1..10000; default 10000). */
  limit?: number;
  /** Roll names up to the first occurrence of this (after the prefix) into subdir entries. */
  delimiter?: string;
}

/** One entry of an object listing. `lastModified` keeps Swift's format "2026-11-27T10:36:10.123740". */
export type ObjectEntry =
  | { kind: "object"; name: string; bytes: number; hash: string; contentType: string; lastModified: string }
  | { kind: "subdir"; subdir: string };

export interface ContainerEntry {
  name: string;
  count: bigint;
  bytes: bigint;
  lastModified: string;
}

export interface ContainerInfo {
  objectCount: bigint;
  bytesUsed: bigint;
  timestamp: string;
  metadata: Metadata;
}

export interface AccountInfo {
  containerCount: bigint;
  objectCount: bigint;
  bytesUsed: bigint;
  metadata: Metadata;
}

export interface ObjectStore {
  /** Human-readable identity for logs, e.g. "swift(http://127.0.0.1:8080/v1/AUTH_test)". */
  readonly description: string;

  /** Account statistics and metadata. An account that has never been used reports zeros. */
  headAccount(opts?: RequestOptions): Promise<AccountInfo>;
  /** Merges metadata into the account ("" deletes a key). */
  postAccount(metadata: Metadata, opts?: RequestOptions): Promise<void>;
  /** Containers in name order, one page (see ListOptions). */
  listContainers(opts?: ListOptions): Promise<ContainerEntry[]>;

  /** Creates a container (created: true) or merges metadata into an existing one (created: false). */
  putContainer(container: string, opts?: RequestOptions & { metadata?: Metadata }): Promise<{ created: boolean }>;
  /** @throws ObjectStoreError NotFound */
  headContainer(container: string, opts?: RequestOptions): Promise<ContainerInfo>;
  /** Merges metadata ("" deletes a key). @throws ObjectStoreError NotFound */
  postContainer(container: string, metadata: Metadata, opts?: RequestOptions): Promise<void>;
  /** @throws ObjectStoreError NotFound, Conflict (not empty) */
  deleteContainer(container: string, opts?: RequestOptions): Promise<void>;
  /** Objects (and subdirs) in byte order of their UTF-8 names, one page. @throws NotFound */
  listObjects(container: string, opts?: ListOptions): Promise<ObjectEntry[]>;

  /**
   * Stores an object. When the promise resolves the object is durable and visible as a whole;
   * if it rejects, the previous version (or absence) is still what readers see, unless the failure
   * happened after the store committed (a lost response), in which case the new version is visible.
   * @throws ObjectStoreError NotFound (container), PreconditionFailed, ChecksumMismatch, TooLarge
   */
  putObject(container: string, name: string, body: PutBody, opts?: PutOptions): Promise<PutResult>;
  /** Reads an object (or a range of it) into one Buffer. @throws NotFound, RangeNotSatisfiable */
  getObject(container: string, name: string, opts?: GetOptions): Promise<GetResult>;
  /** Like getObject but streams the body. @throws NotFound, RangeNotSatisfiable */
  getObjectStream(container: string, name: string, opts?: GetOptions): Promise<GetStreamResult>;
  /** @throws ObjectStoreError NotFound */
  headObject(container: string, name: string, opts?: RequestOptions): Promise<ObjectInfo>;
  /** Replaces all user metadata of an object. @throws NotFound */
  postObject(container: string, name: string, metadata: Metadata, opts?: RequestOptions): Promise<void>;
  /** @throws ObjectStoreError NotFound */
  deleteObject(container: string, name: string, opts?: RequestOptions): Promise<void>;

  /** Releases pooled connections / open files. The store must not be used afterwards. */
  close(): Promise<void>;
}
