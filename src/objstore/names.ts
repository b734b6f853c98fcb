// Validation of container names, object names and metadata, shared by every implementation so
// that they all reject the same inputs (with Swift's limits; see LIMITS in object-store.ts).
import { LIMITS, type Metadata } from "./object-store.js";
import { ObjectStoreError } from "./object-store-error.js";

/** True when `s` survives a UTF-8 round trip (no lone surrogates). */
export function isWellFormedUtf16(s: string): boolean {
  return Buffer.from(s, "utf8").toString("utf8") === s;
}

/** Problem with a container name, or undefined when it is acceptable. */
export function containerNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "is empty";
  if (name.includes("/")) return "contains '/'";
  if (name.includes("\0")) return "contains a NUL character";
  if (!isWellFormedUtf16(name)) return "is not valid Unicode";
  if (Buffer.byteLength(name, "utf8") > LIMITS.maxContainerNameBytes) return `is longer than ${LIMITS.maxContainerNameBytes} bytes`;
  return undefined;
}

/** Problem with an object name, or undefined when it is acceptable. */
export function objectNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name.length === 0) return "is empty";
  if (name.includes("\0")) return "contains a NUL character";
  if (!isWellFormedUtf16(name)) return "is not valid Unicode";
  if (Buffer.byteLength(name, "utf8") > LIMITS.maxObjectNameBytes) return `is longer than ${LIMITS.maxObjectNameBytes} bytes`;
  return undefined;
}

export function checkContainerName(name: string): void {
  const p = containerNameProblem(name);
  if (p) throw new ObjectStoreError("InvalidName", `Container name ${JSON.stringify(name)?.slice(0, 300)} ${p}`);
}

export function checkObjectName(container: string, name: string): void {
  checkContainerName(container);
  const p = objectNameProblem(name);
  if (p) throw new ObjectStoreError("InvalidName", `Object name ${JSON.stringify(name)?.slice(0, 300)} ${p}`);
}

const META_KEY = /^[A-Za-z0-9-]+$/;
const META_VALUE = /^[\x20-\x7e]*$/;

/**
 * Problem with a metadata map, or undefined. Keys are header tokens made of letters, digits and
 * '-' ('_' would not survive Swift's WSGI header mangling); values printable ASCII without
 * leading/trailing blanks (HTTP trims them). `allowEmpty` permits "" (delete) values.
 */
export function metadataProblem(meta: Metadata, allowEmpty: boolean): string | undefined {
  if (meta === null || typeof meta !== "object") return "metadata is not an object";
  let count = 0;
  let size = 0;
  for (const [k, v] of Object.entries(meta)) {
    if (!META_KEY.test(k)) return `metadata key ${JSON.stringify(k)} must be letters, digits and '-'`;
    if (typeof v !== "string") return `metadata value of ${JSON.stringify(k)} is not a string`;
    if (!META_VALUE.test(v) || v !== v.trim()) return `metadata value of ${JSON.stringify(k)} must be printable ASCII without surrounding blanks`;
    if (v === "" && !allowEmpty) return `metadata value of ${JSON.stringify(k)} is empty`;
    if (k.length > LIMITS.maxMetaNameLength) return `metadata key ${JSON.stringify(k)} is longer than ${LIMITS.maxMetaNameLength}`;
    if (v.length > LIMITS.maxMetaValueLength) return `metadata value of ${JSON.stringify(k)} is longer than ${LIMITS.maxMetaValueLength}`;
    count++;
    size += k.length + v.length;
  }
  if (count > LIMITS.maxMetaCount) return `more than ${LIMITS.maxMetaCount} metadata items`;
  if (size > LIMITS.maxMetaOverallSize) return `metadata larger than ${LIMITS.maxMetaOverallSize} bytes`;
  return undefined;
}

export function checkMetadata(meta: Metadata, allowEmpty: boolean): void {
  const p = metadataProblem(meta, allowEmpty);
  if (p) throw new ObjectStoreError("InvalidArgument", `Invalid metadata: ${p}`);
}

/** Lower-cases keys and drops nothing; for storing. */
export function normalizeMetadata(meta: Metadata | undefined): Metadata {
  const out: Metadata = {};
  if (meta) for (const [k, v] of Object.entries(meta)) out[k.toLowerCase()] = v;
  return out;
}

/** Applies a merge update (empty value deletes) to `current`, returning a new map. */
export function mergeMetadata(current: Metadata, update: Metadata): Metadata {
  const out: Metadata = { ...current };
  for (const [k, v] of Object.entries(update)) {
    const key = k.toLowerCase();
    if (v === "") delete out[key];
    else out[key] = v;
  }
  return out;
}
