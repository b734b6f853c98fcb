// Validation of entry names and symlink targets.

import { fsError } from "../base/index.js";
import { NAME_MAX, PATH_MAX } from "./types.js";

/** UTF-8 byte length, with a fast path for short strings (<= 3 bytes per UTF-16 unit). */
export function utf8Length(s: string): number {
  return s.length * 3 <= NAME_MAX ? (isAscii(s) ? s.length : Buffer.byteLength(s, "utf8")) : Buffer.byteLength(s, "utf8");
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Checks that `name` can be one path component: a non-empty string (ENOENT, as an empty
 * path) without "/" or NUL (EINVAL: a component can never contain them).
 * The length limit is checked separately (checkNameLength) because Linux reports
 * ENAMETOOLONG only after the permission to search the directory.
 */
export function checkNameSyntax(name: string, what = "name"): void {
  if (typeof name !== "string") throw fsError("EINVAL", `${what} must be a string`);
  if (name.length === 0) throw fsError("ENOENT", `${what} is empty`);
  if (name.includes("/")) throw fsError("EINVAL", `${what} ${JSON.stringify(name)} contains "/"`);
  if (name.includes("\0")) throw fsError("EINVAL", `${what} ${JSON.stringify(name)} contains NUL`);
}

export function checkNameLength(name: string, what = "name"): void {
  const n = utf8Length(name);
  if (n > NAME_MAX) throw fsError("ENAMETOOLONG", `${what} is ${n} bytes, more than ${NAME_MAX}`);
}

export function isDotName(name: string): boolean {
  return name === "." || name === "..";
}

/** symlink(2): empty target is ENOENT, NUL is EINVAL, >= PATH_MAX bytes is ENAMETOOLONG. */
export function checkSymlinkTarget(target: string): void {
  if (typeof target !== "string") throw fsError("EINVAL", "symlink target must be a string");
  if (target.length === 0) throw fsError("ENOENT", "symlink target is empty");
  if (target.includes("\0")) throw fsError("EINVAL", "symlink target contains NUL");
  const n = Buffer.byteLength(target, "utf8");
  if (n >= PATH_MAX) throw fsError("ENAMETOOLONG", `symlink target is ${n} bytes, PATH_MAX is ${PATH_MAX}`);
}
