// Resolving a ByteRange against an object size, with HTTP/Swift semantics (swob ranges_for_length),
// and formatting/parsing the Range header for it.
import type { ByteRange } from "./object-store.js";
import { ObjectStoreError } from "./object-store-error.js";

export interface ResolvedRange { start: number; end: number } // inclusive

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/** Throws InvalidArgument for negative/non-integer fields. */
export function checkRange(r: ByteRange): void {
  if ("suffix" in r) {
    if (!isCount(r.suffix)) throw new ObjectStoreError("InvalidArgument", `Range suffix ${String(r.suffix)} is not a non-negative integer`);
  } else {
    if (!isCount(r.offset)) throw new ObjectStoreError("InvalidArgument", `Range offset ${String(r.offset)} is not a non-negative integer`);
    if (r.length !== undefined && (!isCount(r.length) || r.length === 0)) {
      throw new ObjectStoreError("InvalidArgument", `Range length ${String(r.length)} is not a positive integer`);
    }
  }
}

/**
 * The bytes a range selects in an object of `size` bytes, or undefined when the range selects the
 * whole object and Swift answers 200 rather than 206 (a non-zero suffix of an empty object).
 * @throws RangeNotSatisfiable
 */
export function resolveRange(r: ByteRange, size: number): ResolvedRange | undefined {
  checkRange(r);
  if ("suffix" in r) {
    if (r.suffix === 0) throw unsatisfiable(size);
    if (size === 0) return undefined;
    return { start: Math.max(0, size - r.suffix), end: size - 1 };
  }
  if (r.offset >= size) throw unsatisfiable(size);
  const end = r.length === undefined ? size - 1 : Math.min(size - 1, r.offset + r.length - 1);
  return { start: r.offset, end };
}

function unsatisfiable(size: number): ObjectStoreError {
  return new ObjectStoreError("RangeNotSatisfiable", `Requested range not satisfiable for an object of ${size} bytes`, { status: 416 });
}

/** "bytes=a-b" / "bytes=a-" / "bytes=-n". */
export function rangeHeader(r: ByteRange): string {
  checkRange(r);
  if ("suffix" in r) return `bytes=-${r.suffix}`;
  return r.length === undefined ? `bytes=${r.offset}-` : `bytes=${r.offset}-${r.offset + r.length - 1}`;
}

/**
 * Parses a Range header as swob does. Returns undefined when the header must be ignored (absent,
 * syntactically invalid, or a multi-range which this server does not serve), else the single range.
 */
export function parseRangeHeader(h: string | undefined): ByteRange | undefined {
  if (!h) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(h);
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === "" && b === "") return undefined;
  if (a === "") return { suffix: Number(b) };
  const start = Number(a);
  if (b === "") return { offset: start };
  const end = Number(b);
  if (end < start) return undefined;
  return { offset: start, length: end - start + 1 };
}
