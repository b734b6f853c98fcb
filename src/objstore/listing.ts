// Listing selection shared by the in-process stores: given names sorted in code-point order
// (= UTF-8 byte order, Swift's sqlite BINARY collation), apply prefix/marker/end_marker/limit and
// delimiter roll-up exactly as Swift's ContainerBroker.list_objects_iter does (including: a subdir
// equal to the marker is not repeated).
import { LIMITS, type ListOptions } from "./object-store.js";
import { ObjectStoreError } from "./object-store-error.js";
import { isWellFormedUtf16 } from "./names.js";

/** Compares strings by Unicode code point (UTF-16 order differs for U+E000..U+FFFF vs astral). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/** First index whose name is >= key (or > key when `strict`). */
export function lowerBound(names: readonly string[], key: string, strict = false): number {
  let lo = 0;
  let hi = names.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareCodePoints(names[mid]!, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Validates list options; returns the effective limit. */
export function checkListOptions(opts: ListOptions): number {
  for (const key of ["prefix", "marker", "endMarker", "delimiter"] as const) {
    const v = opts[key];
    if (v !== undefined && (typeof v !== "string" || !isWellFormedUtf16(v) || v.includes("\0"))) {
      throw new ObjectStoreError("InvalidArgument", `List option ${key} must be a well-formed string without NUL`);
    }
  }
  const limit = opts.limit ?? LIMITS.listingLimit;
  if (!Number.isSafeInteger(limit) || limit < 0) {
    throw new ObjectStoreError("InvalidArgument", `List limit ${String(opts.limit)} is not a non-negative integer`);
  }
  if (limit > LIMITS.listingLimit) {
    throw new ObjectStoreError("PreconditionFailed", `Maximum limit is ${LIMITS.listingLimit}`, { status: 412 });
  }
  return limit;
}

export type Selected = { kind: "name"; name: string } | { kind: "subdir"; subdir: string };

function nextAfterPrefix(s: string): string {
  const cp = s.codePointAt(s.length - 1)!;
  const width = cp > 0xffff ? 2 : 1;
  return s.slice(0, s.length - width) + String.fromCodePoint(cp + 1);
}

/** Selects one page of a listing from `names` (sorted by compareCodePoints). */
export function selectListing(names: readonly string[], opts: ListOptions): Selected[] {
  const limit = checkListOptions(opts);
  const prefix = opts.prefix ?? "";
  const marker = opts.marker ?? "";
  const { endMarker, delimiter } = opts;
  const out: Selected[] = [];
  let i = marker && compareCodePoints(marker, prefix) >= 0 ? lowerBound(names, marker, true) : lowerBound(names, prefix);
  while (out.length < limit && i < names.length) {
    const name = names[i]!;
    if (!name.startsWith(prefix)) break;
    if (endMarker && compareCodePoints(name, endMarker) >= 0) break;
    if (delimiter) {
      const end = name.indexOf(delimiter, prefix.length);
      if (end >= 0) {
        const dir = name.slice(0, end + delimiter.length);
        if (dir !== marker) out.push({ kind: "subdir", subdir: dir });
        i = lowerBound(names, nextAfterPrefix(dir));
        continue;
      }
    }
    out.push({ kind: "name", name });
    i++;
  }
  return out;
}
