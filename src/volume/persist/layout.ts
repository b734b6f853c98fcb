// Object names and the checkpoint header of a persistent volume (LAYOUT.md). All metadata of
// one volume lives in one container, `<prefix>meta`, of the volume's account:
//   header                          the checkpoint header: the ONLY object ever overwritten;
//                                   its PUT is the commit point of a checkpoint
//   ckpt/<epoch:016x>-<gen:016x>/<page:08x>   immutable checkpoint pages
//   journal/<epoch:016x>-<seq:016x>           immutable journal batches
// epoch grows at every process start (and mkfs); gen and seq grow within an epoch. A start
// picks an epoch above every epoch named by any listed object, and nothing of an epoch is
// written before the header naming that epoch commits, so no name is ever written twice.
import { PersistFormatError, arr, big, int, obj, parseLine, str } from "./codec.js";

export const HEADER_OBJECT = "header";
export const HEADER_FORMAT = "proxyfs-volume-checkpoint";
export const HEADER_VERSION = 1;
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
  readonly accountName: string;
  readonly epoch: number;
  readonly gen: number;
  readonly createdAt: string;
  /** Page objects in load order. */
  readonly pages: readonly string[];
  /** Replay journal/<journalEpoch>-<seq> for seq = journalSeq, journalSeq+1, ... while present. */
  readonly journalEpoch: number;
  readonly journalSeq: number;
  /** Every nonce below this may have been handed out: recovery restarts the sequence here. */
  readonly reservedNonce: bigint;
  readonly inodes: number;
}

export function encodeHeader(h: CheckpointHeader): string {
  return JSON.stringify({
    format: HEADER_FORMAT, version: HEADER_VERSION, accountName: h.accountName, epoch: h.epoch, gen: h.gen, createdAt: h.createdAt,
    pages: h.pages, journal: { epoch: h.journalEpoch, seq: h.journalSeq }, reservedNonce: h.reservedNonce.toString(), inodes: h.inodes,
  }, null, 1) + "\n";
}

export function decodeHeader(text: string, where: string): CheckpointHeader {
  const o = parseLine(text, where);
  if (o.format !== HEADER_FORMAT) throw new PersistFormatError(`${where}: not a proxyfs checkpoint header (format ${JSON.stringify(o.format)})`);
  if (o.version !== HEADER_VERSION) throw new PersistFormatError(`${where}: unsupported version ${JSON.stringify(o.version)} (this build reads ${HEADER_VERSION})`);
  const j = obj(o.journal, `${where}.journal`);
  return {
    accountName: str(o.accountName, `${where}.accountName`), epoch: int(o.epoch, `${where}.epoch`), gen: int(o.gen, `${where}.gen`),
    createdAt: str(o.createdAt, `${where}.createdAt`),
    pages: arr(o.pages, `${where}.pages`).map((p, i) => str(p, `${where}.pages[${i}]`)),
    journalEpoch: int(j.epoch, `${where}.journal.epoch`), journalSeq: int(j.seq, `${where}.journal.seq`),
    reservedNonce: big(o.reservedNonce, `${where}.reservedNonce`), inodes: int(o.inodes, `${where}.inodes`),
  };
}
