// On-disk format of one object version, and the mapping of names to file names.
//
// An object file is the object's bytes followed by a trailer:
//   data | JSON trailer (UTF-8) | uint32 LE trailer length | "PFSO"
// so data starts at offset 0 and a reader needs the last 8 bytes to find the trailer. The trailer
// carries the real name, so file names can be derived from names without being reversible.
//
// File names: "o" + base64url(UTF-8 name) while that stays short, else "h" + sha256 hex. Neither
// alphabet contains '/', '.' or NUL, so no name can escape or collide with the store's own files
// ("container.json", "*.m" metadata sidecars, temp files).
import { createHash } from "node:crypto";

export const TRAILER_MAGIC = Buffer.from("PFSO", "latin1");
export const FOOTER_BYTES = 8;
const MAX_ENCODED = 200;

export interface ObjectTrailer {
  v: 1;
  name: string;
  size: number;
  etag: string;
  contentType: string;
  /** Timestamp in 10 µs ticks. */
  ticks: number;
  metadata: Record<string, string>;
}

/** A safe file name for `name`; `kind` is one letter ("o" objects, "c" containers, "a" accounts). */
export function fileNameFor(name: string, kind: string): string {
  const b64 = Buffer.from(name, "utf8").toString("base64url");
  if (b64.length <= MAX_ENCODED) return `${kind}${b64}`;
  return `${kind}~${createHash("sha256").update(name, "utf8").digest("hex")}`;
}

export function isObjectFileName(f: string): boolean {
  return f.startsWith("o") && !f.endsWith(".m");
}

export function encodeTrailer(t: ObjectTrailer): Buffer {
  const json = Buffer.from(JSON.stringify(t), "utf8");
  const footer = Buffer.allocUnsafe(FOOTER_BYTES);
  footer.writeUInt32LE(json.length, 0);
  TRAILER_MAGIC.copy(footer, 4);
  return Buffer.concat([json, footer]);
}

/** Length of the trailer (JSON) from the 8-byte footer, or undefined when the footer is not ours. */
export function trailerLength(footer: Buffer): number | undefined {
  if (footer.length !== FOOTER_BYTES || !footer.subarray(4).equals(TRAILER_MAGIC)) return undefined;
  return footer.readUInt32LE(0);
}

/** Parses and checks a trailer; undefined when it is damaged. */
export function decodeTrailer(json: Buffer, fileSize: number): ObjectTrailer | undefined {
  try {
    const t = JSON.parse(json.toString("utf8")) as ObjectTrailer;
    if (t.v !== 1 || typeof t.name !== "string" || typeof t.etag !== "string" || !Number.isSafeInteger(t.size) || !Number.isSafeInteger(t.ticks)) return undefined;
    if (t.size + json.length + FOOTER_BYTES !== fileSize) return undefined;
    if (typeof t.metadata !== "object" || t.metadata === null) t.metadata = {};
    return t;
  } catch {
    return undefined;
  }
}
