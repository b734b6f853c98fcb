// PersistentVolume: a Volume whose whole state lives in an object store container, so proxyfsd
// can restart anywhere with only the object store (LAYOUT.md). The working state is a
// MemoryVolumeStore; its commit hook appends every transaction to a group-committed journal and
// notes the B+tree keys it changed. Checkpoints rewrite only the copy-on-write tree pages holding
// changed keys (cow-tree.ts) as new immutable objects, then the header (the commit point).
// Recovery = load the tree from the header's root + replay journal batches after the header's
// journal position.
//
// Invariants:
// - every line whose journal batch is durable is in any later recovered state;
// - no nonce below the durable reservation (header reservedNonce, or a later journal "reserve"
//   line) is ever handed out again: recovery restarts the nonce sequence at the reservation;
// - an object is deleted only after a header that no longer needs it has committed (replaced
//   pages, trimmed journal batches, and log segments whose last reference was dropped before it);
// - persisted tree + current values of (dirty keys, extent keys of wiped files, changed unref
//   keys) = the current state: every key whose value changed since the tree's cut is in that set.
import { ObjectStoreError, listAllObjects, type ObjectStore } from "../../objstore/index.js";
import { applyCommit } from "../apply-commit.js";
import { MemoryVolumeStore } from "../memory-volume-store.js";
import { Volume, hex16, type VolumeOptions } from "../volume.js";
import type { CommitRecord } from "../volume-store.js";
import { decodeJournalLine, encodeCommit, encodeReserve } from "./codec.js";
import { CowTree, loadTree, type TreePlan } from "./cow-tree.js";
import { JournalWriter } from "./journal.js";
import {
  DEFAULT_CONTAINER_PREFIX, HEADER_OBJECT, decodeHeader, encodeHeader, journalName, metaContainer, pageName, parseName,
  type CheckpointHeader,
} from "./layout.js";
import { loadPage } from "./snapshot.js";
import { DirtyKeys, StateReader, applyRecords, extentRange, unrefKey } from "./tree-keys.js";

/** Default target size of a checkpoint page. */
export const DEFAULT_PAGE_BYTES = 64 << 10;

/** Journal batches fetched ahead of the one being replayed at recovery. */
const JOURNAL_PREFETCH = 8;

export type PersistLogger = (level: "debug" | "info" | "warn" | "error", message: string) => void;

export class PersistError extends Error {
  override readonly name = "PersistError";
  readonly code: "ERR_NOT_FORMATTED" | "ERR_ALREADY_FORMATTED" | "ERR_PERSIST";
  constructor(code: PersistError["code"], message: string) {
    super(message);
    this.code = code;
  }
}

export interface PersistOptions {
  /** The volume's account. */
  objectStore: ObjectStore;
  accountName: string;
  /** Metadata container = `${containerPrefix}meta` (default "proxyfs_"). */
  containerPrefix?: string;
  /** Options of the Volume (not its store). */
  volume?: Omit<VolumeOptions, "store" | "accountName">;
  /** Checkpoint at least this often while changes happen (default 60 s; 0 = only on size/close). */
  checkpointIntervalMs?: number;
  /** Checkpoint when the journal written since the last one exceeds this (default 8 MiB). */
  checkpointJournalBytes?: number;
  /** Target checkpoint page size (default 64 KiB). */
  pageBytes?: number;
  /** Concurrent page GETs at recovery (default 8). */
  loadParallel?: number;
  /** Called after each checkpoint page loaded at recovery (fsck progress). */
  loadProgress?: (pagesLoaded: number, pagesTotal: number, inodesLoaded: number) => void;
  /** Nonces reserved per journaled reservation (default 1000). */
  nonceBlock?: bigint;
  /** How long journal lines gather while nobody waits for durability (ms; default 10). */
  journalLazyMs?: number;
  /**
   * A provisioned log segment that no file has referenced for this long (an agent that died
   * mid-write, or never wrote) has its object and record deleted at the next checkpoint
   * (default 10 minutes; measured from provisioning, or from the start of this process).
   */
  unreferencedSegmentGraceMs?: number;
  /** Format an unformatted container on open (default false). */
  autoFormat?: boolean;
  /** Load only: no journal, no checkpoints, no deletes (fsck). Commits stay in memory. */
  readOnly?: boolean;
  log?: PersistLogger;
}

export interface PersistStats {
  epoch: number;
  gen: number;
  journalBatchesReplayed: number;
  checkpoints: number;
  segmentsDeleted: number;
  objectsDeleted: number;
  /** Pages PUT by all checkpoints / by the last one. */
  pagesWritten: number;
  lastCheckpointPages: number;
}

const NO_LOG: PersistLogger = () => {};

/**
 * Runs a read, retrying transient failures (not NotFound) with backoff: a start or fsck should
 * survive a store that answers some requests with errors.
 */
async function retried<T>(what: () => Promise<T>, attempts = 8): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await what();
    } catch (err) {
      if (ObjectStoreError.is(err, "NotFound") || i >= attempts) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, 25 * 2 ** i)));
    }
  }
}

async function getHeader(store: ObjectStore, container: string): Promise<CheckpointHeader | undefined> {
  try {
    const r = await retried(() => store.getObject(container, HEADER_OBJECT));
    return decodeHeader(r.body.toString("utf8"), `${container}/${HEADER_OBJECT}`);
  } catch (err) {
    if (ObjectStoreError.is(err, "NotFound")) return undefined;
    throw err;
  }
}

async function listNames(store: ObjectStore, container: string): Promise<string[]> {
  try {
    return await retried(async () => {
      const out: string[] = [];
      for await (const e of listAllObjects(store, container)) if (e.kind === "object") out.push(e.name);
      return out;
    });
  } catch (err) {
    if (ObjectStoreError.is(err, "NotFound")) return [];
    throw err;
  }
}

function maxEpoch(names: readonly string[], header: CheckpointHeader | undefined): number {
  let m = header?.epoch ?? 0;
  for (const n of names) {
    const p = parseName(n);
    if (p !== undefined && p.kind !== "header" && p.epoch > m) m = p.epoch;
  }
  return m;
}

/** Page names of checkpoint `gen` of `epoch`, in allocation order. */
function pageAllocator(epoch: number, gen: number): () => string {
  let n = 0;
  return () => pageName(epoch, gen, n++);
}

function headerFor(base: Omit<CheckpointHeader, "version" | "root" | "height" | "pageCount" | "records" | "v1Pages">, tree: CowTree): CheckpointHeader {
  return { ...base, version: 2, root: tree.root.name, height: tree.height, pageCount: tree.pageNames().length, records: tree.recordCount(), v1Pages: [] };
}

async function putAll(store: ObjectStore, container: string, items: ReadonlyArray<readonly [string, Buffer]>, parallel = 4): Promise<void> {
  let i = 0;
  const worker = async (): Promise<void> => {
    while (i < items.length) {
      const [name, body] = items[i++]!;
      await store.putObject(container, name, body, { contentType: "application/x-ndjson" });
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
}

async function deleteQuietly(store: ObjectStore, container: string, name: string): Promise<boolean> {
  try {
    await store.deleteObject(container, name);
    return true;
  } catch (err) {
    if (ObjectStoreError.is(err, "NotFound")) return false;
    throw err;
  }
}

export class PersistentVolume {
  readonly volume: Volume;
  readonly store: MemoryVolumeStore;
  readonly container: string;
  readonly #os: ObjectStore;
  readonly #o: PersistOptions;
  readonly #log: PersistLogger;
  #journal: JournalWriter | undefined;
  #header: CheckpointHeader;
  /** tree: loading pages (nothing to note); replay: journal replay (note keys); live. */
  #phase: "tree" | "replay" | "live" = "tree";
  /** The persisted tree of the header (its shape only). */
  #tree = CowTree.unpersisted();
  /** Keys changed since the tree's cut, and files whose extent maps were dropped. */
  #dirty = new DirtyKeys();
  /** Unreferenced segments as the tree holds them (u: keys). */
  #persistedUnref = new Set<bigint>();
  /** The next checkpoint writes a whole new tree (after a v1 load or a damaged tree). */
  #rebuild = false;
  readonly #loadProblems: string[] = [];
  #reserved: bigint;
  /** The highest reservation known durable (header or a durable "reserve" line). */
  #durableReserved: bigint;
  #gen = 0;
  #bytesAtCheckpoint = 0;
  #positionAtCheckpoint = 0;
  #timer: NodeJS.Timeout | undefined;
  #checkpointing: Promise<void> | undefined;
  #again = false;
  #closed = false;
  /** Segments unreferenced at the previous checkpoint (deleted when still so at the next). */
  #gcCandidates = new Set<bigint>();
  /** Provisioned segments no extent has referenced yet → when they were first seen so (ms). */
  readonly #neverReferenced = new Map<bigint, number>();
  readonly #stats: PersistStats = { epoch: 0, gen: 0, journalBatchesReplayed: 0, checkpoints: 0, segmentsDeleted: 0, objectsDeleted: 0, pagesWritten: 0, lastCheckpointPages: 0 };

  private constructor(o: PersistOptions, header: CheckpointHeader) {
    this.#o = o;
    this.#os = o.objectStore;
    this.#log = o.log ?? NO_LOG;
    this.container = metaContainer(o.containerPrefix ?? DEFAULT_CONTAINER_PREFIX);
    this.#header = header;
    this.#reserved = header.reservedNonce;
    this.#durableReserved = header.reservedNonce;
    this.store = new MemoryVolumeStore({ onCommit: (r) => this.#onCommit(r) });
    this.volume = undefined as unknown as Volume; // set by open() once the state is loaded
  }

  /**
   * Writes an empty volume (root directory only) as checkpoint of a new epoch.
   * @throws PersistError ERR_ALREADY_FORMATTED when a header exists and `force` is not set.
   */
  static async format(o: PersistOptions & { force?: boolean }): Promise<CheckpointHeader> {
    const log = o.log ?? NO_LOG;
    const container = metaContainer(o.containerPrefix ?? DEFAULT_CONTAINER_PREFIX);
    await o.objectStore.putContainer(container);
    const old = await getHeader(o.objectStore, container);
    if (old !== undefined && o.force !== true) {
      throw new PersistError("ERR_ALREADY_FORMATTED", `${o.objectStore.description} container ${container} already holds a volume (epoch ${old.epoch}, ${old.inodes} inodes); use --force to overwrite it`);
    }
    const names = await listNames(o.objectStore, container);
    const epoch = maxEpoch(names, old) + 1;
    const store = new MemoryVolumeStore();
    new Volume({ ...o.volume, accountName: o.accountName, store });
    const plan = CowTree.build(new StateReader(store).allLines(), CowTree.unpersisted(), pageAllocator(epoch, 0), o.pageBytes ?? DEFAULT_PAGE_BYTES);
    const header = headerFor({
      accountName: o.accountName, epoch, gen: 0, createdAt: new Date().toISOString(),
      journalEpoch: epoch, journalSeq: 0, reservedNonce: store.peekNonce(), inodes: store.inodeCount(),
    }, plan.tree);
    await putAll(o.objectStore, container, plan.pages);
    await o.objectStore.putObject(container, HEADER_OBJECT, Buffer.from(encodeHeader(header)), { contentType: "application/json" });
    log("info", `formatted ${container} (epoch ${epoch})`);
    for (const n of names) if (n !== HEADER_OBJECT) await deleteQuietly(o.objectStore, container, n);
    return header;
  }

  /** Recovers the volume from the object store (formatting it first if allowed and needed). */
  static async open(o: PersistOptions): Promise<PersistentVolume> {
    const log = o.log ?? NO_LOG;
    const container = metaContainer(o.containerPrefix ?? DEFAULT_CONTAINER_PREFIX);
    let header = await getHeader(o.objectStore, container);
    if (header === undefined) {
      if (o.autoFormat !== true || o.readOnly === true) {
        throw new PersistError("ERR_NOT_FORMATTED", `${o.objectStore.description} container ${container} holds no volume (no ${HEADER_OBJECT} object); run pfs mkfs first`);
      }
      header = await PersistentVolume.format(o);
    }
    const names = await listNames(o.objectStore, container);
    const pv = new PersistentVolume(o, header);
    await pv.#recover(names);
    if (o.readOnly !== true) {
      // A new epoch: its journal names cannot collide with anything an earlier process wrote.
      const epoch = maxEpoch(names, header) + 1;
      // Early-answered changes need no immediate PUT: lines gather briefly unless someone waits.
      pv.#journal = new JournalWriter({ store: o.objectStore, container, epoch, seq: 0, log, lazyMs: o.journalLazyMs ?? 10 });
      pv.#stats.epoch = epoch;
      await pv.checkpoint();
      // Everything the new tree does not use is garbage now (replaced pages, replayed journal,
      // leftovers of a crashed checkpoint).
      const keep = new Set(pv.livePages());
      for (const n of names) {
        if (n === HEADER_OBJECT || keep.has(n) || parseName(n) === undefined) continue;
        if (await deleteQuietly(o.objectStore, container, n)) pv.#stats.objectsDeleted++;
      }
      const every = o.checkpointIntervalMs ?? 60_000;
      if (every > 0) {
        pv.#timer = setInterval(() => {
          if (pv.#journal !== undefined && pv.#journal.position !== pv.#positionAtCheckpoint) pv.#schedule();
        }, every);
        pv.#timer.unref();
      }
    }
    return pv;
  }

  get header(): CheckpointHeader {
    return this.#header;
  }
  get stats(): PersistStats {
    return { ...this.#stats, gen: this.#gen };
  }
  /** Page objects the current checkpoint uses (tree pages, or a version-1 header's snapshot). */
  livePages(): string[] {
    return this.#tree.persisted ? this.#tree.pageNames() : [...this.#header.v1Pages];
  }
  /** The persisted tree (shape only; tests and fsck). */
  get tree(): CowTree {
    return this.#tree;
  }
  /** Tree invariants found violated at load (fsck reports them; the next checkpoint rewrites the tree). */
  get loadProblems(): readonly string[] {
    return this.#loadProblems;
  }
  /** Journal position (lines appended); pass it to sync(). */
  get position(): number {
    return this.#journal?.position ?? 0;
  }

  /** Journal position known durable (every line below it is stored). */
  get durablePosition(): number {
    return this.#journal?.durablePosition ?? this.position;
  }

  /**
   * Whether every nonce handed out so far (inode and segment numbers) lies below a durable
   * reservation, so a reply revealing one may go out before the journal batch holding its
   * transaction is durable (early replies): a restart never hands such a number out again.
   */
  noncesDurable(): boolean {
    return this.#journal === undefined || this.store.peekNonce() <= this.#durableReserved;
  }

  /** Resolves once every transaction committed before `position` (default: now) is durable. */
  sync(position?: number): Promise<void> {
    return this.#journal === undefined ? Promise.resolve() : this.#journal.sync(position);
  }

  /** Writes a checkpoint now (queued behind one in progress). */
  checkpoint(): Promise<void> {
    if (this.#o.readOnly === true || this.#journal === undefined) return Promise.resolve();
    if (this.#checkpointing !== undefined) {
      this.#again = true;
      return this.#checkpointing;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          this.#again = false;
          await this.#writeCheckpoint();
        } while (this.#again);
      } finally {
        this.#checkpointing = undefined;
      }
    };
    this.#checkpointing = run();
    return this.#checkpointing;
  }

  /** Syncs, writes a final checkpoint and stops timers. The volume must not change afterwards. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#journal === undefined) return;
    await this.sync();
    if (this.#journal.position !== this.#positionAtCheckpoint) await this.checkpoint();
    else await this.#checkpointing;
  }

  #schedule(): void {
    this.checkpoint().catch((err) => this.#log("error", `checkpoint of ${this.container} failed: ${(err as Error).message}`));
  }

  #onCommit(r: CommitRecord): void {
    if (this.#phase === "tree") return;
    for (const m of r.mutations) {
      this.#dirty.note(m);
      if (m.op === "putSegment") {
        if (this.store.segmentRefBytes(m.segment) === 0n && !this.#neverReferenced.has(m.segment)) this.#neverReferenced.set(m.segment, Date.now());
      } else if (m.op === "extents") {
        for (const x of m.delta.added) this.#neverReferenced.delete(x.segment);
      } else if (m.op === "deleteSegment") {
        this.#neverReferenced.delete(m.segment);
      }
    }
    if (this.#phase !== "live" || this.#journal === undefined) return;
    this.#journal.append(encodeCommit(r));
    const block = this.#o.nonceBlock ?? 1000n;
    if (this.store.peekNonce() + block / 2n > this.#reserved) {
      // Journaled before any reply that reveals these nonces (replies wait for sync()).
      const reserved = this.store.peekNonce() + block;
      this.#reserved = reserved;
      this.#journal.append(encodeReserve(reserved));
      void this.#journal.sync().then(() => {
        if (reserved > this.#durableReserved) this.#durableReserved = reserved;
      });
    }
    if (this.#journal.bytesWritten - this.#bytesAtCheckpoint > (this.#o.checkpointJournalBytes ?? 8 << 20) && this.#checkpointing === undefined) {
      this.#schedule();
    }
  }

  async #recover(names: readonly string[]): Promise<void> {
    const h = this.#header;
    const os = this.#os;
    const out = { unreferenced: [] as bigint[], nextNonce: 0n };
    const problem = (p: string): void => {
      this.#loadProblems.push(p);
      this.#log("warn", `${this.container}: ${p}`);
    };
    if (h.version === 1) {
      // A full paged snapshot of an older build: the next checkpoint writes it as a tree.
      for (const [i, p] of h.v1Pages.entries()) {
        const body = (await retried(() => os.getObject(this.container, p))).body;
        loadPage(this.store, body, `${this.container}/${p} (page ${i + 1}/${h.v1Pages.length})`, out);
        this.#o.loadProgress?.(i + 1, h.v1Pages.length, this.store.inodeCount());
      }
      this.#rebuild = true;
    } else {
      this.#tree = await loadTree({
        root: h.root, height: h.height, parallel: this.#o.loadParallel,
        get: async (name) => {
          try {
            return (await retried(() => os.getObject(this.container, name))).body;
          } catch (err) {
            if (ObjectStoreError.is(err, "NotFound")) throw new PersistError("ERR_PERSIST", `${this.container}: checkpoint page ${name} is missing (the tree of header epoch ${h.epoch} gen ${h.gen} needs it)`);
            throw err;
          }
        },
        onLeaf: (records, where) => {
          const tx = this.store.begin("loadCheckpoint");
          applyRecords(tx, records, `${this.container}/${where}`, out.unreferenced, problem);
          tx.commit();
        },
        problem,
        progress: (n) => this.#o.loadProgress?.(n, h.pageCount, this.store.inodeCount()),
      });
      const pages = this.#tree.pageNames().length;
      const records = this.#tree.recordCount();
      if (pages !== h.pageCount || records !== h.records) problem(`the header counts ${h.pageCount} pages and ${h.records} records, the tree has ${pages} and ${records}`);
      this.#persistedUnref = new Set(out.unreferenced);
      if (this.#loadProblems.length > 0) this.#rebuild = true;
    }
    this.store.markUnreferenced(out.unreferenced);
    this.#phase = "replay";
    let reserved = h.reservedNonce > out.nextNonce ? h.reservedNonce : out.nextNonce;
    const seqs = names.map(parseName).flatMap((p) => (p?.kind === "journal" && p.epoch === h.journalEpoch && p.seq >= h.journalSeq ? [p.seq] : [])).sort((a, b) => a - b);
    // The gap-free run of batches from the header's position: batches are written one at a time,
    // so a gap means a later batch was never acknowledged.
    const run: number[] = [];
    for (const seq of seqs) {
      if (seq !== h.journalSeq + run.length) {
        this.#log("warn", `${this.container}: journal gap at seq ${h.journalSeq + run.length} (next present ${seq}); replay stops there`);
        break;
      }
      run.push(seq);
    }
    // Batches are applied in order, but fetched JOURNAL_PREFETCH ahead: a journal that grew
    // while checkpoints failed can hold hundreds of small batches.
    const fetches = new Map<number, Promise<string>>();
    const prefetch = (i: number): void => {
      if (i >= run.length || fetches.has(i)) return;
      const f = retried(() => os.getObject(this.container, journalName(h.journalEpoch, run[i]!))).then((r) => r.body.toString("utf8"));
      f.catch(() => {}); // awaited below in order; never an unhandled rejection meanwhile
      fetches.set(i, f);
    };
    for (let i = 0; i < run.length; i++) {
      for (let k = i; k < i + JOURNAL_PREFETCH; k++) prefetch(k);
      const name = journalName(h.journalEpoch, run[i]!);
      const text = await fetches.get(i)!;
      fetches.delete(i);
      let n = 0;
      for (const line of text.split("\n")) {
        n++;
        if (line === "") continue;
        const e = decodeJournalLine(line, `${this.container}/${name} line ${n}`);
        if (e.kind === "reserve") {
          if (e.upTo > reserved) reserved = e.upTo;
        } else {
          this.#replay(e.record);
        }
      }
      this.#stats.journalBatchesReplayed++;
    }
    this.store.advanceNonce(reserved);
    this.#reserved = reserved;
    if (reserved > this.#durableReserved) this.#durableReserved = reserved;
    // Records of segments never referenced (not in the unreferenced set, which holds segments
    // whose references fell to zero): their grace period restarts now.
    const unrefNow = new Set(this.store.unreferencedSegments());
    const t = Date.now();
    for (const seg of this.store.segments.keys()) {
      if (this.store.segmentRefBytes(seg) === 0n && !unrefNow.has(seg)) this.#neverReferenced.set(seg, t);
    }
    (this as { volume: Volume }).volume = new Volume({ ...this.#o.volume, accountName: this.#o.accountName, store: this.store });
    this.#phase = "live";
    this.#log("info", `${this.container}: recovered epoch ${h.epoch} gen ${h.gen} (${h.version === 1 ? h.v1Pages.length : h.pageCount} pages, ${this.#stats.journalBatchesReplayed} journal batches, ${this.store.inodeCount()} inodes, next nonce ${this.store.peekNonce()})`);
  }

  #replay(r: CommitRecord): void {
    try {
      applyCommit(this.store, r); // nonce mutations: covered by the reservation applied after replay
    } catch (err) {
      throw new PersistError("ERR_PERSIST", `${this.container}: cannot replay a "${r.op}" transaction: ${(err as Error).message}`);
    }
  }

  async #writeCheckpoint(): Promise<void> {
    const j = this.#journal!;
    const os = this.#os;
    const epoch = j.epoch;
    const gen = this.#gen++;
    const pageBytes = this.#o.pageBytes ?? DEFAULT_PAGE_BYTES;
    // Between transactions: the tree plan (which reads every value it writes now), the journal
    // cut and the reservation agree. Keys changed from here on are noted for the next one.
    const seq = j.cut();
    const position = j.position;
    const reader = new StateReader(this.store);
    const dirty = this.#dirty;
    this.#dirty = new DirtyKeys();
    const restore = (): void => this.#dirty.addAll(dirty);
    let plan: TreePlan;
    try {
      if (this.#rebuild || !this.#tree.persisted) {
        plan = CowTree.build(reader.allLines(), this.#tree, pageAllocator(epoch, gen), pageBytes);
      } else {
        const keys = new Set<string>();
        dirty.keys(keys);
        for (const ino of dirty.wiped) for (const k of this.#tree.keysIn(...extentRange(ino))) keys.add(k);
        for (const s of reader.unreferenced) if (!this.#persistedUnref.has(s)) keys.add(unrefKey(s));
        for (const s of this.#persistedUnref) if (!reader.unreferenced.has(s)) keys.add(unrefKey(s));
        plan = this.#tree.plan([...keys].sort(), reader, pageAllocator(epoch, gen), pageBytes);
      }
    } catch (err) {
      restore();
      throw err;
    }
    const unreferenced = [...reader.unreferenced];
    const header = headerFor({
      accountName: this.#o.accountName, epoch, gen, createdAt: new Date().toISOString(),
      journalEpoch: epoch, journalSeq: seq, reservedNonce: this.#reserved, inodes: this.store.inodeCount(),
    }, plan.tree);
    try {
      await putAll(os, this.container, plan.pages);
      await j.sync(position);
      await os.putObject(this.container, HEADER_OBJECT, Buffer.from(encodeHeader(header)), { contentType: "application/json" });
    } catch (err) {
      // The old tree stays current: its changes are still pending. Pages PUT by this attempt
      // are garbage (collected at the next start).
      restore();
      throw err;
    }
    const old = this.#header;
    this.#header = header;
    this.#tree = plan.tree;
    this.#persistedUnref = new Set(unreferenced);
    this.#rebuild = false;
    this.#bytesAtCheckpoint = j.bytesWritten;
    this.#positionAtCheckpoint = position;
    this.#stats.checkpoints++;
    this.#stats.pagesWritten += plan.pages.length;
    this.#stats.lastCheckpointPages = plan.pages.length;
    this.#log("debug", `${this.container}: checkpoint epoch ${epoch} gen ${gen} committed (${plan.pages.length} pages written, ${plan.dropped.length} replaced, journal from ${seq})`);

    // The new header is durable: what only the old one needed can go.
    for (const p of [...plan.dropped, ...old.v1Pages]) if (await deleteQuietly(os, this.container, p)) this.#stats.objectsDeleted++;
    for (const s of j.takeWrittenBelow(seq)) if (await deleteQuietly(os, this.container, journalName(epoch, s))) this.#stats.objectsDeleted++;
    await this.#collectSegments(unreferenced);
    await this.#collectNeverReferenced();
  }

  /**
   * Deletes segments provisioned more than unreferencedSegmentGraceMs ago that no extent ever
   * referenced (their object may not exist: the PUT may never have happened), then their records.
   */
  async #collectNeverReferenced(): Promise<void> {
    const grace = this.#o.unreferencedSegmentGraceMs ?? 600_000;
    const now = Date.now();
    const expired: bigint[] = [];
    for (const [seg, since] of this.#neverReferenced) if (now - since >= grace) expired.push(seg);
    if (expired.length === 0) return;
    const done: bigint[] = [];
    for (const seg of expired) {
      const c = this.store.getSegment(seg);
      if (c === undefined || this.store.segmentRefBytes(seg) !== 0n) {
        this.#neverReferenced.delete(seg);
        continue;
      }
      await deleteQuietly(this.#os, c, hex16(seg));
      done.push(seg);
    }
    const tx = this.store.begin("collectNeverReferenced");
    for (const seg of done) {
      // A Wrote may have referenced it while the DELETE was in flight: then keep the record.
      if (this.store.segmentRefBytes(seg) === 0n && this.#neverReferenced.has(seg)) tx.deleteSegment(seg);
    }
    tx.commit();
    for (const seg of done) this.#neverReferenced.delete(seg);
    this.#stats.segmentsDeleted += done.length;
    if (done.length > 0) this.#log("info", `${this.container}: deleted ${done.length} log segment(s) provisioned but never referenced for ${Math.round(grace / 1000)} s`);
  }

  /**
   * Deletes log segments unreferenced at this checkpoint and the previous one (a grace period
   * of one checkpoint interval for Wrotes still naming a segment), then drops their records.
   */
  async #collectSegments(unreferenced: bigint[]): Promise<void> {
    const now = new Set(unreferenced);
    const doomed = unreferenced.filter((s) => this.#gcCandidates.has(s));
    this.#gcCandidates = now;
    if (doomed.length === 0) return;
    const done: bigint[] = [];
    for (const s of doomed) {
      const c = this.store.getSegment(s);
      if (c === undefined || this.store.segmentRefBytes(s) !== 0n) continue;
      await deleteQuietly(this.#os, c, hex16(s));
      done.push(s);
    }
    const still = new Set(this.store.unreferencedSegments());
    const tx = this.store.begin("collectSegments");
    for (const s of done) {
      if (still.has(s)) tx.deleteSegment(s);
      else this.#log("warn", `${this.container}: segment ${hex16(s)} was referenced again while being deleted`);
    }
    tx.commit();
    this.#stats.segmentsDeleted += done.length;
  }
}
