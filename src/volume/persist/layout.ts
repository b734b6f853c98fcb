// Object names and the checkpoint header of a persistent volume (LAYOUT.md). All metadata of
// one volume lives in one container, `<prefix>meta`, of the volume's account:
//   header                          the checkpoint header: the ONLY object ever overwritten;
//                                   its PUT is the commit point of a checkpoint
//   ckpt/<epoch:016x>-<gen:016x>/<page:08x>   immutable B+tree pages (cow-tree.ts); a page
//                                   lives on through later checkpoints until one replaces it
//   journal/<epoch:016x>-<seq:016x>           immutable journal batches
// epoch grows at every process start (and mkfs); gen and seq grow within an epoch. A start
// picks an epoch above every epoch named by any listed object, and nothing of an epoch is
// written before the header naming that epoch commits, so no name is ever written twice.
import { PersistFormatError, arr, big, int, obj, parseLine, str } from "./codec.js";

export const HEADER_OBJECT = "header";
export const HEADER_FORMAT = "proxyfs-volume-checkpoint";
export const HEADER_VERSION = 2;
export const DEFAULT_CONTAINER_PREFIX = "proxyfs_";

export function metaContainer(prefix: string): string {
  return `${prefix}meta`;
}

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

export function journalName(epoch: number, seq: number): string {
  return `journal/${hex(epoch, 16)}-${hex(seq, 16)}`;
}
export function pageName(epoch: number, gen: number, page: number): string {
  return `ckpt/${hex(epoch, 16)}-${hex(gen, 16)}/${hex(page, 8)}`;
}

/** Parses a metadata object name; undefined for names this layout does not know. */
export function parseName(name: string): { kind: "header" } | { kind: "journal"; epoch: number; seq: number } | { kind: "page"; epoch: number; gen: number; page: number } | undefined {
  if (name === HEADER_OBJECT) return { kind: "header" };
  let m = /^journal\/([0-9a-f]{16})-([0-9a-f]{16})$/.exec(name);
  if (m) return { kind: "journal", epoch: parseInt(m[1]!, 16), seq: parseInt(m[2]!, 16) };
  m = /^ckpt\/([0-9a-f]{16})-([0-9a-f]{16})\/([0-9a-f]{8})$/.exec(name);
  if (m) return { kind: "page", epoch: parseInt(m[1]!, 16), gen: parseInt(m[2]!, 16), page: parseInt(m[3]!, 16) };
  return undefined;
}

export interface CheckpointHeader {
  /** 2 (B+tree, written by this build) or 1 (full paged snapshot, read for upgrades). */
  readonly version: 1 | 2;
  readonly accountName: string;
  readonly epoch: number;
  readonly gen: number;
  readonly createdAt: string;
  /** Version 2: the root page of the B+tree, its number of levels, pages and records. */
  readonly root: string;
  readonly height: number;
  readonly pageCount: number;
  readonly records: number;
  /** Version 1 only: the snapshot pages in load order (empty in version 2). */
  readonly v1Pages: readonly string[];
  /** Replay journal/<journalEpoch>-<seq> for seq = journalSeq, journalSeq+1, ... while present. */
  readonly journalEpoch: number;
  readonly journalSeq: number;
  /** Every nonce below this may have been handed out: recovery restarts the sequence here. */
  readonly reservedNonce: bigint;
  readonly inodes: number;
}

/** Encodes a version-2 header (the only version this build writes). */
export function encodeHeader(h: CheckpointHeader): string {
  return JSON.stringify({
    format: HEADER_FORMAT, version: HEADER_VERSION, accountName: h.accountName, epoch: h.epoch, gen: h.gen, createdAt: h.createdAt,
    tree: { root: h.root, height: h.height, pages: h.pageCount, records: h.records },
    journal: { epoch: h.journalEpoch, seq: h.journalSeq }, reservedNonce: h.reservedNonce.toString(), inodes: h.inodes,
  }, null, 1) + "\n";
}

export function decodeHeader(text: string, where: string): CheckpointHeader {
  const o = parseLine(text, where);
  if (o.format !== HEADER_FORMAT) throw new PersistFormatError(`${where}: not a proxyfs checkpoint header (format ${JSON.stringify(o.format)})`);
  if (o.version !== 1 && o.version !== HEADER_VERSION) throw new PersistFormatError(`${where}: unsupported version ${JSON.stringify(o.version)} (this build reads 1 and ${HEADER_VERSION})`);
  const j = obj(o.journal, `${where}.journal`);
  const common = {
    accountName: str(o.accountName, `${where}.accountName`), epoch: int(o.epoch, `${where}.epoch`), gen: int(o.gen, `${where}.gen`),
    createdAt: str(o.createdAt, `${where}.createdAt`),
    journalEpoch: int(j.epoch, `${where}.journal.epoch`), journalSeq: int(j.seq, `${where}.journal.seq`),
    reservedNonce: big(o.reservedNonce, `${where}.reservedNonce`), inodes: int(o.inodes, `${where}.inodes`),
  };
  if (o.version === 1) {
    return { ...common, version: 1, root: "", height: 0, pageCount: 0, records: 0, v1Pages: arr(o.pages, `${where}.pages`).map((p, i) => str(p, `${where}.pages[${i}]`)) };
  }
  const t = obj(o.tree, `${where}.tree`);
  const root = str(t.root, `${where}.tree.root`);
  if (parseName(root)?.kind !== "page") throw new PersistFormatError(`${where}.tree.root: ${JSON.stringify(root)} is not a checkpoint page name`);
  const height = int(t.height, `${where}.tree.height`);
  if (height < 1 || height > 64) throw new PersistFormatError(`${where}.tree.height: ${height} is out of range`);
  return {
    ...common, version: 2, root, height, pageCount: int(t.pages, `${where}.tree.pages`), records: int(t.records, `${where}.tree.records`), v1Pages: [],
  };
}
