// AccountCatalog: the in-memory model of one account (containers, object records, metadata,
// statistics, listings) shared by MemoryObjectStore and DiskObjectStore, so that both answer every
// question identically. It holds no object bytes: a record carries an implementation-owned `ref`
// (a Buffer for memory, a file identity for disk).
//
// INVARIANT: for each container, `names` holds exactly the keys of `objects`, sorted by
// compareCodePoints; `count`/`bytes` equal the number and summed sizes of `objects`.
// Mutated only by the owning store, synchronously (no await between check and update).
import type { AccountInfo, ContainerEntry, ContainerInfo, ListOptions, Metadata, ObjectEntry, ObjectInfo } from "./object-store.js";
import { ObjectStoreError } from "./object-store-error.js";
import { lowerBound, selectListing } from "./listing.js";
import { mergeMetadata } from "./names.js";
import { nowTicks, ticksToIso, ticksToLastModified, ticksToNormal } from "./swift-time.js";

export interface ObjectRecord<R> {
  name: string;
  size: number;
  etag: string;
  contentType: string;
  /** Timestamp (10 µs ticks) of the PUT that created this version. */
  ticks: number;
  /** Timestamp of the last metadata POST, if any (Swift then reports it as X-Timestamp). */
  metaTicks?: number;
  metadata: Metadata;
  ref: R;
}

export class ContainerRecord<R> {
  readonly name: string;
  ticks: number;
  metadata: Metadata;
  readonly objects = new Map<string, ObjectRecord<R>>();
  readonly names: string[] = [];
  count = 0n;
  bytes = 0n;
  /** Ticks of the last change to the object set; listings report it as last_modified. */
  changedTicks: number;

  constructor(name: string, ticks: number, metadata: Metadata) {
    this.name = name;
    this.ticks = ticks;
    this.metadata = metadata;
    this.changedTicks = ticks;
  }

  /** Inserts or replaces; returns the replaced record, if any. */
  put(rec: ObjectRecord<R>): ObjectRecord<R> | undefined {
    const old = this.objects.get(rec.name);
    this.objects.set(rec.name, rec);
    if (old) {
      this.bytes += BigInt(rec.size) - BigInt(old.size);
    } else {
      this.names.splice(lowerBound(this.names, rec.name), 0, rec.name);
      this.count++;
      this.bytes += BigInt(rec.size);
    }
    this.changedTicks = Math.max(this.changedTicks, rec.ticks);
    return old;
  }

  remove(name: string): ObjectRecord<R> | undefined {
    const old = this.objects.get(name);
    if (!old) return undefined;
    this.objects.delete(name);
    const i = lowerBound(this.names, name);
    this.names.splice(i, 1);
    this.count--;
    this.bytes -= BigInt(old.size);
    this.changedTicks = nowTicks();
    return old;
  }
}

export function objectInfo<R>(rec: ObjectRecord<R>): ObjectInfo {
  const ticks = Math.max(rec.ticks, rec.metaTicks ?? 0);
  return {
    size: rec.size,
    etag: rec.etag,
    contentType: rec.contentType,
    lastModified: ticksToLastModified(ticks),
    timestamp: ticksToNormal(ticks),
    metadata: { ...rec.metadata },
  };
}

export class AccountCatalog<R> {
  readonly containers = new Map<string, ContainerRecord<R>>();
  readonly #names: string[] = [];
  metadata: Metadata = {};
  ticks: number = nowTicks();

  headAccount(): AccountInfo {
    let objectCount = 0n;
    let bytesUsed = 0n;
    for (const c of this.containers.values()) {
      objectCount += c.count;
      bytesUsed += c.bytes;
    }
    return { containerCount: BigInt(this.containers.size), objectCount, bytesUsed, metadata: { ...this.metadata } };
  }

  postAccount(update: Metadata): void {
    this.metadata = mergeMetadata(this.metadata, update);
  }

  listContainers(opts: ListOptions): ContainerEntry[] {
    return selectListing(this.#names, opts).map((s) => {
      if (s.kind === "subdir") return { name: s.subdir, count: 0n, bytes: 0n, lastModified: "" };
      const c = this.containers.get(s.name)!;
      return { name: c.name, count: c.count, bytes: c.bytes, lastModified: ticksToIso(c.changedTicks) };
    });
  }

  container(name: string): ContainerRecord<R> {
    const c = this.containers.get(name);
    if (!c) throw new ObjectStoreError("NotFound", `Container ${JSON.stringify(name)} not found`, { status: 404 });
    return c;
  }

  /** Adds a container record (used by creation and by loading from disk). */
  addContainer(rec: ContainerRecord<R>): void {
    if (!this.containers.has(rec.name)) this.#names.splice(lowerBound(this.#names, rec.name), 0, rec.name);
    this.containers.set(rec.name, rec);
  }

  removeContainer(name: string): void {
    const c = this.container(name);
    if (c.count > 0n) throw new ObjectStoreError("Conflict", `Container ${JSON.stringify(name)} is not empty`, { status: 409 });
    this.containers.delete(name);
    this.#names.splice(lowerBound(this.#names, name), 1);
  }

  containerInfo(name: string): ContainerInfo {
    const c = this.container(name);
    return { objectCount: c.count, bytesUsed: c.bytes, timestamp: ticksToNormal(c.ticks), metadata: { ...c.metadata } };
  }

  listObjects(container: string, opts: ListOptions): ObjectEntry[] {
    const c = this.container(container);
    return selectListing(c.names, opts).map((s): ObjectEntry => {
      if (s.kind === "subdir") return { kind: "subdir", subdir: s.subdir };
      const r = c.objects.get(s.name)!;
      return { kind: "object", name: r.name, bytes: r.size, hash: r.etag, contentType: r.contentType, lastModified: ticksToIso(r.ticks) };
    });
  }

  object(container: string, name: string): ObjectRecord<R> {
    const r = this.container(container).objects.get(name);
    if (!r) throw new ObjectStoreError("NotFound", `Object ${JSON.stringify(name)} not found in container ${JSON.stringify(container)}`, { status: 404 });
    return r;
  }
}

