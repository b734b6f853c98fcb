// DiskObjectStore: one account persisted in a local directory; backs the embedded Swift-API
// server. The account's catalog (names, sizes, ETags, metadata, counts) lives in memory
// (AccountCatalog) and is rebuilt from the files at open(); object bytes stay on disk.
//
// Layout of the account directory:
//   account.json                     account metadata and creation time
//   tmp/                             temp files of writes in progress (emptied at open)
//   c<enc(container)>/container.json container exists iff this file exists
//   c<enc(container)>/o<enc(name)>   one object version: data + trailer (see object-file.ts)
//   c<enc(container)>/o<enc(name)>.m metadata set by POST, valid while it names the data's ticks
//
// Durability (a resolved PUT/POST/DELETE is on disk): every file is written to tmp/, fdatasync'd,
// renamed into place, and the target directory is fsync'd (coalesced, DirSync) before the call
// resolves. A crash mid-write leaves only a temp file, removed at the next open; readers never
// see a partial object.
//
// Large PUTs: bodies of unknown length or of at least OFF_THREAD_MD5 bytes are hashed on the MD5
// worker; where the file system takes O_DIRECT (probed at open) they go through DirectSink (one
// copy into shared slabs, MD5 reading the slabs in place, O_DIRECT writes from DIRECT_FROM on),
// else through BufferedSink; streamed GETs reaching past DIRECT_FROM use DirectReadStream.
// When a PUT replaces a large version, that version's file is held open across the rename and
// the directory fsync and closed after: its blocks are then freed after the PUT is durable (with
// the `discard` mount option, freeing 256 MiB inside the fsync cost ~50 ms), the way Swift
// unlinks an old .data file after its own rename + fsync.
//
// Concurrency: all changes to a container's files and catalog entry run under that container's
// KeyMutex (rename + catalog update only; streaming and fsyncs happen outside it). Container
// create/delete and account metadata run under the account key.
import { randomBytes } from "node:crypto";
import { close as closeCb, closeSync, constants as fsConstants, createReadStream, fdatasync, fstat, open as openCb, read as readCb } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { Readable } from "node:stream";
import type {
  AccountInfo, ContainerEntry, ContainerInfo, GetOptions, GetResult, GetStreamResult, ListOptions,
  Metadata, ObjectEntry, ObjectInfo, ObjectStore, PutBody, PutOptions, PutResult, RequestOptions,
} from "../object-store.js";
import { LIMITS } from "../object-store.js";
import { ObjectStoreError } from "../object-store-error.js";
import { AccountCatalog, ContainerRecord, objectInfo, type ObjectRecord } from "../account-catalog.js";
import { checkContainerName, checkMetadata, checkObjectName, mergeMetadata, normalizeMetadata } from "../names.js";
import { bodyChunks, checkPutBody, knownLength } from "../put-body.js";
import { resolveRange, type ResolvedRange } from "../byte-range.js";
import { checkListOptions } from "../listing.js";
import { nowTicks, ticksToLastModified } from "../swift-time.js";
import { KeyMutex } from "../key-mutex.js";
import { DirSync } from "./dir-sync.js";
import { BufferedSink, type BodySink } from "./body-sink.js";
import { DIRECT_FROM, DirectSink } from "./direct-sink.js";
import { DirectReadStream } from "./direct-read-stream.js";
import { inlineMd5, sharedMd5, workerMd5 } from "./md5-hasher.js";
import { probeDirect, type SlabPool } from "./slab-pool.js";
import { FOOTER_BYTES, decodeTrailer, encodeTrailer, fileNameFor, isObjectFileName, trailerLength, type ObjectTrailer } from "./object-file.js";

const openFd = promisify(openCb);
const closeFd = promisify(closeCb);
const fdatasyncFd = promisify(fdatasync);
const fstatFd = promisify(fstat);
const readFd = (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => readCb(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/** Where an object version's bytes are. */
interface DiskRef {
  file: string; // basename inside the container directory
  ino: number; // identity of the file, to detect a concurrent replacement after open
  sidecar: boolean; // a metadata sidecar (file + ".m") exists for this version
}

interface Sidecar { dataTicks: number; ticks: number; metadata: Metadata }

const ACCOUNT_KEY = "\0account";
/** Bodies of at least this size (or of unknown size) are hashed on the MD5 worker thread. */
const OFF_THREAD_MD5 = 1 << 20;
/** Replaced versions at least this large are freed only after the PUT is durable (see top). */
const DEFER_FREE = 1 << 20;
/** Streamed reads of at least this many bytes that reach DIRECT_FROM use DirectReadStream. */
const DIRECT_READ = 4 << 20;
/** Objects up to this size are read with one pread for getObject. */
const SMALL_READ = 1 << 20;

function checkSignal(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ObjectStoreError("Aborted", "Operation aborted by the caller", { cause: signal.reason });
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException)?.code === code;
}

export interface DiskObjectStoreOptions {
  /** The account directory (created if missing). */
  dir: string;
  description?: string;
  /** Shared coalescing directory syncer (one per server is best). */
  dirSync?: DirSync;
  /** Use O_DIRECT for large PUTs where the file system supports it (default true). */
  directIo?: boolean;
}

export class DiskObjectStore implements ObjectStore {
  readonly description: string;
  readonly #dir: string;
  readonly #tmp: string;
  readonly #cat = new AccountCatalog<DiskRef>();
  readonly #mutex = new KeyMutex();
  readonly #dirSync: DirSync;
  readonly #directIo: boolean;
  /** Set at open when O_DIRECT works in tmp/. */
  #slabs: SlabPool | undefined;

  private constructor(opts: DiskObjectStoreOptions) {
    this.#dir = opts.dir;
    this.#tmp = join(opts.dir, "tmp");
    this.description = opts.description ?? `disk(${opts.dir})`;
    this.#dirSync = opts.dirSync ?? new DirSync();
    this.#directIo = opts.directIo ?? true;
  }

  /** Whether large PUTs use O_DIRECT (for tests and diagnostics). */
  get directIo(): boolean {
    return this.#slabs !== undefined;
  }

  /** Opens (creating if needed) the account directory and loads its catalog. */
  static async open(opts: DiskObjectStoreOptions): Promise<DiskObjectStore> {
    const s = new DiskObjectStore(opts);
    await s.#load();
    return s;
  }

  // ---- loading ----

  async #load(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await rm(this.#tmp, { recursive: true, force: true });
    await mkdir(this.#tmp, { recursive: true });
    if (this.#directIo) this.#slabs = await probeDirect(this.#tmp);
    try {
      const a = JSON.parse(await readFile(join(this.#dir, "account.json"), "utf8")) as { ticks: number; metadata: Metadata };
      this.#cat.ticks = a.ticks;
      this.#cat.metadata = a.metadata ?? {};
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw new ObjectStoreError("ServerError", `Account file in ${this.#dir} is damaged: ${(err as Error).message}`, { cause: err });
      await this.#writeAccountFile();
    }
    for (const entry of await readdir(this.#dir)) {
      if (!entry.startsWith("c")) continue;
      await this.#loadContainer(entry);
    }
  }

  async #loadContainer(dirName: string): Promise<void> {
    const cdir = join(this.#dir, dirName);
    let meta: { name: string; ticks: number; metadata: Metadata };
    try {
      meta = JSON.parse(await readFile(join(cdir, "container.json"), "utf8"));
      if (typeof meta.name !== "string" || fileNameFor(meta.name, "c") !== dirName) throw new Error("name does not match the directory");
    } catch (err) {
      if (!isErrno(err, "ENOENT")) throw new ObjectStoreError("ServerError", `Container file in ${cdir} is damaged: ${(err as Error).message}`, { cause: err });
      // No container.json: a creation or deletion that never completed. Nothing in it was acknowledged.
      await rm(cdir, { recursive: true, force: true });
      return;
    }
    const rec = new ContainerRecord<DiskRef>(meta.name, meta.ticks, meta.metadata ?? {});
    const files = await readdir(cdir);
    const sidecars = new Set(files.filter((f) => f.endsWith(".m")));
    const objects = files.filter(isObjectFileName);
    // Read trailers with bounded parallelism.
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < objects.length) {
        const f = objects[next++]!;
        const loaded = await this.#readTrailerFile(join(cdir, f));
        if (!loaded) continue; // not one of ours / damaged: ignore (never acknowledged)
        const { trailer, ino } = loaded;
        const r: ObjectRecord<DiskRef> = {
          name: trailer.name, size: trailer.size, etag: trailer.etag, contentType: trailer.contentType,
          ticks: trailer.ticks, metadata: trailer.metadata, ref: { file: f, ino, sidecar: false },
        };
        if (sidecars.has(`${f}.m`)) {
          sidecars.delete(`${f}.m`);
          try {
            const sc = JSON.parse(await readFile(join(cdir, `${f}.m`), "utf8")) as Sidecar;
            if (sc.dataTicks === r.ticks) {
              r.metadata = sc.metadata;
              r.metaTicks = sc.ticks;
              r.ref.sidecar = true;
            } else {
              await unlink(join(cdir, `${f}.m`)).catch(() => undefined);
            }
          } catch { /* damaged sidecar: keep the PUT's metadata */ }
        }
        rec.put(r);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, objects.length) }, worker));
    for (const orphan of sidecars) await unlink(join(cdir, orphan)).catch(() => undefined);
    rec.changedTicks = rec.ticks;
    this.#cat.addContainer(rec);
  }

  async #readTrailerFile(path: string): Promise<{ trailer: ObjectTrailer; ino: number } | undefined> {
    let fh: FileHandle | undefined;
    try {
      fh = await open(path, "r");
      const st = await fh.stat();
      if (st.size < FOOTER_BYTES) return undefined;
      const footer = Buffer.alloc(FOOTER_BYTES);
      await fh.read(footer, 0, FOOTER_BYTES, st.size - FOOTER_BYTES);
      const len = trailerLength(footer);
      if (len === undefined || len > st.size - FOOTER_BYTES) return undefined;
      const json = Buffer.alloc(len);
      await fh.read(json, 0, len, st.size - FOOTER_BYTES - len);
      const trailer = decodeTrailer(json, st.size);
      return trailer ? { trailer, ino: st.ino } : undefined;
    } catch {
      return undefined;
    } finally {
      await fh?.close();
    }
  }

  // ---- small-file helpers ----

  #tmpPath(): string {
    return join(this.#tmp, randomBytes(12).toString("hex"));
  }

  /** Writes `data` to a synced temp file and returns its path (rename it into place). */
  async #writeTemp(data: string | Buffer): Promise<string> {
    const path = this.#tmpPath();
    const fh = await open(path, "wx", 0o644);
    try {
      await fh.writeFile(data);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return path;
  }

  async #writeAccountFile(): Promise<void> {
    const tmp = await this.#writeTemp(JSON.stringify({ ticks: this.#cat.ticks, metadata: this.#cat.metadata }));
    await rename(tmp, join(this.#dir, "account.json"));
    await this.#dirSync.sync(this.#dir);
  }

  #containerDir(container: string): string {
    return join(this.#dir, fileNameFor(container, "c"));
  }

  async #writeContainerFile(c: ContainerRecord<DiskRef>): Promise<void> {
    const cdir = this.#containerDir(c.name);
    const tmp = await this.#writeTemp(JSON.stringify({ name: c.name, ticks: c.ticks, metadata: c.metadata }));
    await rename(tmp, join(cdir, "container.json"));
    await this.#dirSync.sync(cdir);
  }

  // ---- account ----

  async headAccount(opts: RequestOptions = {}): Promise<AccountInfo> {
    checkSignal(opts.signal);
    return this.#cat.headAccount();
  }

  async postAccount(metadata: Metadata, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkMetadata(metadata, true);
    await this.#mutex.run(ACCOUNT_KEY, async () => {
      this.#cat.postAccount(metadata);
      await this.#writeAccountFile();
    });
  }

  async listContainers(opts: ListOptions = {}): Promise<ContainerEntry[]> {
    checkSignal(opts.signal);
    return this.#cat.listContainers(opts);
  }

  // ---- containers ----

  async putContainer(container: string, opts: RequestOptions & { metadata?: Metadata } = {}): Promise<{ created: boolean }> {
    checkSignal(opts.signal);
    checkContainerName(container);
    checkMetadata(opts.metadata ?? {}, true);
    return this.#mutex.run(ACCOUNT_KEY, async () => {
      const existing = this.#cat.containers.get(container);
      if (existing) {
        if (opts.metadata && Object.keys(opts.metadata).length > 0) {
          await this.#mutex.run(container, async () => {
            existing.metadata = mergeMetadata(existing.metadata, opts.metadata!);
            await this.#writeContainerFile(existing);
          });
        }
        return { created: false };
      }
      const rec = new ContainerRecord<DiskRef>(container, nowTicks(), mergeMetadata({}, opts.metadata ?? {}));
      const cdir = this.#containerDir(container);
      await rm(cdir, { recursive: true, force: true }); // leftovers of an unfinished create/delete
      await mkdir(cdir);
      await this.#writeContainerFile(rec);
      await this.#dirSync.sync(this.#dir);
      this.#cat.addContainer(rec);
      return { created: true };
    });
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
    this.#cat.container(container);
    await this.#mutex.run(container, async () => {
      const c = this.#cat.container(container);
      c.metadata = mergeMetadata(c.metadata, metadata);
      await this.#writeContainerFile(c);
    });
  }

  async deleteContainer(container: string, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkContainerName(container);
    await this.#mutex.run(ACCOUNT_KEY, () =>
      this.#mutex.run(container, async () => {
        this.#cat.removeContainer(container); // throws NotFound / Conflict
        const cdir = this.#containerDir(container);
        await unlink(join(cdir, "container.json"));
        await this.#dirSync.sync(cdir);
        await rm(cdir, { recursive: true, force: true });
        await this.#dirSync.sync(this.#dir);
      }),
    );
  }

  async listObjects(container: string, opts: ListOptions = {}): Promise<ObjectEntry[]> {
    checkSignal(opts.signal);
    checkContainerName(container);
    checkListOptions(opts);
    return this.#cat.listObjects(container, opts);
  }

  // ---- objects ----

  async putObject(container: string, name: string, body: PutBody, opts: PutOptions = {}): Promise<PutResult> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    checkMetadata(opts.metadata ?? {}, false);
    checkPutBody(body, opts.contentLength);
    this.#precheckPut(container, name, opts);
    const tmp = this.#tmpPath();
    const fd = await openFd(tmp, "wx", 0o644);
    let fdOpen = true;
    let sink: BodySink | undefined;
    try {
      sink = await this.#openSink(tmp, fd, knownLength(body, opts.contentLength));
      let size = 0;
      for await (const chunk of bodyChunks(body)) {
        checkSignal(opts.signal);
        size += chunk.length;
        if (size > LIMITS.maxObjectSize) throw new ObjectStoreError("TooLarge", "Object is larger than the maximum object size", { status: 413 });
        const wait = sink.write(chunk);
        if (wait) await wait;
      }
      if (opts.contentLength !== undefined && size !== opts.contentLength) {
        throw new ObjectStoreError("InvalidArgument", `PUT body had ${size} bytes but contentLength was ${opts.contentLength}`);
      }
      const etag = await sink.finish();
      if (opts.etag !== undefined && opts.etag.toLowerCase() !== etag) {
        throw new ObjectStoreError("ChecksumMismatch", `PUT body MD5 ${etag} does not match the given ETag ${opts.etag}`, { status: 422 });
      }
      const ticks = nowTicks();
      const trailer: ObjectTrailer = {
        v: 1, name, size, etag, ticks,
        contentType: opts.contentType ?? "application/octet-stream",
        metadata: normalizeMetadata(opts.metadata),
      };
      await sink.writeTrailer(encodeTrailer(trailer));
      await sink.close();
      sink = undefined;
      await fdatasyncFd(fd);
      const ino = (await fstatFd(fd)).ino;
      fdOpen = false;
      closeSync(fd);
      const cdir = this.#containerDir(container);
      const file = fileNameFor(name, "o");
      let oldFd: number | undefined;
      try {
        await this.#mutex.run(container, async () => {
          const c = this.#cat.container(container);
          const old = c.objects.get(name);
          if (opts.ifNoneMatch === "*" && old) {
            throw new ObjectStoreError("PreconditionFailed", `Object ${JSON.stringify(name)} already exists`, { status: 412 });
          }
          if (old && old.size >= DEFER_FREE) oldFd = await openFd(join(cdir, old.ref.file), "r").catch(() => undefined);
          await rename(tmp, join(cdir, file));
          c.put({ name, size, etag, ticks, contentType: trailer.contentType, metadata: trailer.metadata, ref: { file, ino, sidecar: false } });
          if (old?.ref.sidecar) await unlink(join(cdir, `${file}.m`)).catch(() => undefined);
        });
        await this.#dirSync.sync(cdir);
      } finally {
        if (oldFd !== undefined) await closeFd(oldFd).catch(() => undefined);
      }
      return { etag, lastModified: ticksToLastModified(ticks) };
    } catch (err) {
      await sink?.close().catch(() => undefined);
      if (fdOpen) closeSync(fd);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /** The sink for a body of `expected` bytes (undefined: unknown) written to the new temp file. */
  async #openSink(tmp: string, fd: number, expected: number | undefined): Promise<BodySink> {
    if (expected !== undefined && expected < OFF_THREAD_MD5) return new BufferedSink(fd, inlineMd5());
    if (this.#slabs) {
      const directFd = await openFd(tmp, fsConstants.O_WRONLY | fsConstants.O_DIRECT);
      const sink = new DirectSink(this.#slabs, fd, directFd, sharedMd5());
      let closed: Promise<void> | undefined;
      return {
        write: (c) => sink.write(c),
        finish: () => sink.finish(),
        writeTrailer: (t) => sink.writeTrailer(t),
        // The O_DIRECT fd is closed once, and only after no write uses it any more.
        close: () => (closed ??= sink.close().finally(() => closeFd(directFd))),
      };
    }
    return new BufferedSink(fd, workerMd5());
  }

  /** Fails early (before reading a body) for a missing container or an existing If-None-Match target. */
  #precheckPut(container: string, name: string, opts: PutOptions): void {
    const c = this.#cat.container(container);
    if (opts.ifNoneMatch === "*" && c.objects.has(name)) {
      throw new ObjectStoreError("PreconditionFailed", `Object ${JSON.stringify(name)} already exists`, { status: 412 });
    }
  }

  /** Opens the current version of an object; returns its info, fd and the resolved range. */
  async #openForRead(container: string, name: string, opts: GetOptions): Promise<{ fd: number; info: ObjectInfo; range: ResolvedRange | undefined; size: number }> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    for (let attempt = 0; ; attempt++) {
      const rec = this.#cat.object(container, name);
      let fd: number;
      try {
        fd = await openFd(join(this.#containerDir(container), rec.ref.file), "r");
      } catch (err) {
        // Deleted or replaced between lookup and open: look again.
        if (isErrno(err, "ENOENT") && attempt < 3) continue;
        throw err;
      }
      try {
        let info = objectInfo(rec);
        const st = await fstatFd(fd);
        if (st.ino !== rec.ref.ino) {
          // A newer version was renamed in after the lookup: its own trailer is the truth.
          const t = await this.#readTrailerFile(join(this.#containerDir(container), rec.ref.file));
          if (!t || t.ino !== st.ino) {
            closeSync(fd);
            if (attempt < 3) continue;
            throw new ObjectStoreError("ServerError", `Object ${JSON.stringify(name)} changed repeatedly while opening`);
          }
          info = objectInfo({ ...t.trailer, ref: null });
        }
        const range = opts.range ? resolveRange(opts.range, info.size) : undefined;
        return { fd, info, range, size: info.size };
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    }
  }

  async getObject(container: string, name: string, opts: GetOptions = {}): Promise<GetResult> {
    const { fd, info, range, size } = await this.#openForRead(container, name, opts);
    try {
      const start = range?.start ?? 0;
      const len = range ? range.end - range.start + 1 : size;
      const body = Buffer.allocUnsafe(len);
      let got = 0;
      while (got < len) {
        // Large reads go in 16 MiB steps so one request cannot hold a threadpool thread for long.
        const n = await readFd(fd, body, got, Math.min(len - got, len <= SMALL_READ ? len : 16 << 20), start + got);
        if (n === 0) throw new ObjectStoreError("ServerError", `Object ${JSON.stringify(name)} is shorter on disk than its size`);
        got += n;
      }
      return range ? { info, range, body } : { info, body };
    } finally {
      closeSync(fd);
    }
  }

  async getObjectStream(container: string, name: string, opts: GetOptions = {}): Promise<GetStreamResult> {
    const { fd, info, range, size } = await this.#openForRead(container, name, opts);
    const start = range?.start ?? 0;
    const end = range ? range.end : size - 1;
    let body: Readable;
    if (end < start) {
      closeSync(fd);
      body = Readable.from([], { objectMode: false });
    } else if (this.#slabs && end >= DIRECT_FROM && end - start + 1 >= DIRECT_READ) {
      // Reopen the same inode (not the path, which may name a newer version by now) with O_DIRECT.
      const directFd = await openFd(`/proc/self/fd/${fd}`, fsConstants.O_RDONLY | fsConstants.O_DIRECT).catch(() => undefined);
      body = directFd === undefined
        ? createReadStream("", { fd, start, end, highWaterMark: 4 << 20, autoClose: true })
        : new DirectReadStream(this.#slabs, fd, directFd, start, end);
    } else {
      body = createReadStream("", { fd, start, end, highWaterMark: 1 << 20, autoClose: true });
    }
    return range ? { info, range, body } : { info, body };
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
    const meta = normalizeMetadata(metadata);
    const cdir = this.#containerDir(container);
    for (;;) {
      const dataTicks = this.#cat.object(container, name).ticks;
      const ticks = nowTicks();
      const tmp = await this.#writeTemp(JSON.stringify({ dataTicks, ticks, metadata: meta } satisfies Sidecar));
      let applied = false;
      try {
        await this.#mutex.run(container, async () => {
          const rec = this.#cat.object(container, name);
          // Replaced meanwhile: write the sidecar again for the new version (as if POSTed after it).
          if (rec.ticks !== dataTicks) return;
          await rename(tmp, join(cdir, `${rec.ref.file}.m`));
          rec.metadata = meta;
          rec.metaTicks = ticks;
          rec.ref.sidecar = true;
          applied = true;
        });
      } finally {
        if (!applied) await unlink(tmp).catch(() => undefined);
      }
      if (applied) break;
    }
    await this.#dirSync.sync(cdir);
  }

  async deleteObject(container: string, name: string, opts: RequestOptions = {}): Promise<void> {
    checkSignal(opts.signal);
    checkObjectName(container, name);
    const cdir = this.#containerDir(container);
    await this.#mutex.run(container, async () => {
      const rec = this.#cat.object(container, name);
      await unlink(join(cdir, rec.ref.file));
      if (rec.ref.sidecar) await unlink(join(cdir, `${rec.ref.file}.m`)).catch(() => undefined);
      this.#cat.container(container).remove(name);
    });
    await this.#dirSync.sync(cdir);
  }

  async close(): Promise<void> {}
}
