// MemoryObjectStore: an ObjectStore held entirely in process memory. First-class (used by tests,
// by the embedded server when no directory is given, and as the reference model), so it enforces
// exactly the same names, limits and semantics as the Swift-backed stores.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type {
  AccountInfo, ContainerEntry, ContainerInfo, GetOptions, GetResult, GetStreamResult, ListOptions,
  Metadata, ObjectEntry, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, RequestOptions,
} from "../object-store.js";
import { LIMITS } from "../object-store.js";
import { ObjectStoreError } from "../object-store-error.js";
import { AccountCatalog, ContainerRecord, objectInfo } from "../account-catalog.js";
import { checkContainerName, checkMetadata, checkObjectName, normalizeMetadata, mergeMetadata } from "../names.js";
import { bodyChunks, checkPutBody } from "../put-body.js";
import { resolveRange } from "../byte-range.js";
import { nowTicks, ticksToLastModified } from "../swift-time.js";
import { checkListOptions } from "../listing.js";

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ObjectStoreError("Aborted", "Operation aborted by the caller", { cause: signal.reason });
}

export class MemoryObjectStore implements ObjectStore {
  readonly description: string;
  readonly #cat = new AccountCatalog<Buffer>();

  constructor(opts: { description?: string } = {}) {
    this.description = opts.description ?? "memory";
  }

  async headAccount(opts: RequestOptions = {}): Promise<AccountInfo> {
    checkSignal(opts.signal);
    return this.#cat.headAccount();
  }

  async postAccount(metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkMetadata(metadata, true);
    this.#cat.postAccount(metadata);
  }

  async listContainers(opts: ListOptions = {}): Promise<ContainerEntry[]> {
    checkSignal(opts.signal);
    return this.#cat.listContainers(opts);
  }

  async putContainer(container: string, opts: RequestOptions & { metadata?: Metadata } = {}): Promise<{ created: boolean }> {
    checkSignal(opts.signal);
    checkContainerName(container);
    checkMetadata(opts.metadata ?? {}, true);
    const existing = this.#cat.containers.get(container);
    if (existing) {
      existing.metadata = mergeMetadata(existing.metadata, opts.metadata ?? {});
      return { created: false };
    }
    this.#cat.addContainer(new ContainerRecord(container, nowTicks(), mergeMetadata({}, opts.metadata ?? {})));
    return { created: true };
  }

  async headContainer(container: string, opts: RequestOptions = {}): Promise<ContainerInfo> {
    checkSignal(opts.signal);
    checkContainerName(container);
    return this.#cat.containerInfo(container);
  }

  async postContainer(container: string, metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkContainerName(container);
    checkMetadata(metadata, true);
    const c = this.#cat.container(container);
    c.metadata = mergeMetadata(c.metadata, metadata);
  }

  async deleteContainer(container: string, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkContainerName(container);
    this.#cat.removeContainer(container);
  }

  async listObjects(container: string, opts: ListOptions = {}): Promise<ObjectEntry[]> {
    checkSignal(opts.signal);
    checkContainerName(container);
    checkListOptions(opts);
    return this.#cat.listObjects(container, opts);
  }

  async putObject(container: string, name: string, body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    checkMetadata(opts.metadata ?? {}, false);
    checkPutBody(body, opts.contentLength);
    this.#cat.container(container);
    if (opts.ifNoneMatch === "*" && this.#cat.containers.get(container)?.objects.has(name)) {
      throw new ObjectStoreError("PreconditionFailed", `Object ${JSON.stringify(name)} already exists`, { status: 412 });
    }
    const chunks: Buffer[] = [];
    const md5 = createHash("md5");
    let size = 0;
    for await (const c of bodyChunks(body)) {
      checkSignal(opts.signal);
      md5.update(c);
      chunks.push(Buffer.from(c)); // copy: the caller keeps ownership of its buffers
      size += c.byteLength;
      if (size > LIMITS.maxObjectSize) throw new ObjectStoreError("TooLarge", "Object is larger than the maximum object size", { status: 413 });
    }
    if (opts.contentLength !== undefined && size !== opts.contentLength) {
      throw new ObjectStoreError("InvalidArgument", `PUT body had ${size} bytes but contentLength was ${opts.contentLength}`);
    }
    const etag = md5.digest("hex");
    if (opts.etag !== undefined && opts.etag.toLowerCase() !== etag) {
      throw new ObjectStoreError("ChecksumMismatch", `PUT body MD5 ${etag} does not match the given ETag ${opts.etag}`, { status: 422 });
    }
    // Re-check after the awaits above: the container may be gone, the object may have appeared.
    const c = this.#cat.container(container);
    if (opts.ifNoneMatch === "*" && c.objects.has(name)) {
      throw new ObjectStoreError("PreconditionFailed", `Object ${JSON.stringify(name)} already exists`, { status: 412 });
    }
    const ticks = nowTicks();
    c.put({
      name, size, etag, ticks,
      contentType: opts.contentType ?? "application/octet-stream",
      metadata: normalizeMetadata(opts.metadata),
      ref: Buffer.concat(chunks, size),
    });
    return { etag, lastModified: ticksToLastModified(ticks) };
  }

  #read(container: string, name: string, opts: GetOptions): Omit<GetResult, "body"> & { body: Buffer } {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    const rec = this.#cat.object(container, name);
    const info = objectInfo(rec);
    const range = opts.range ? resolveRange(opts.range, rec.size) : undefined;
    if (!range) return { info, body: rec.ref };
    return { info, range, body: rec.ref.subarray(range.start, range.end + 1) };
  }

  async getObject(container: string, name: string, opts: GetOptions = {}): Promise<GetResult> {
    const r = this.#read(container, name, opts);
    return { ...r, body: Buffer.from(r.body) };
  }

  async getObjectStream(container: string, name: string, opts: GetOptions = {}): Promise<GetStreamResult> {
    const r = this.#read(container, name, opts);
    return { ...r, body: Readable.from([r.body], { objectMode: false }) };
  }

  async headObject(container: string, name: string, opts: RequestOptions = {}): Promise<ObjectInfo> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    return objectInfo(this.#cat.object(container, name));
  }

  async postObject(container: string, name: string, metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    checkMetadata(metadata, false);
    const rec = this.#cat.object(container, name);
    rec.metadata = normalizeMetadata(metadata);
    rec.metaTicks = nowTicks();
  }

  async deleteObject(container: string, name: string, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    this.#cat.object(container, name);
    this.#cat.container(container).remove(name);
  }

  async close(): Promise<void> {}
}
