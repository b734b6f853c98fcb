// stringifyJson: JS values -> JSON text, byte-compatible with Go's encoding/json for the same data.
//
// What makes it match Go (ProxyFS 1.17.1 protocol doc §6):
// * object keys are written in the order the object has them (callers build objects in Go struct
//   declaration order, or use a schema encoder that does), no whitespace at all;
// * `bigint` is written as a bare JSON number, so 64-bit values survive;
// * strings use Go's escaping: `"` and `\` get a backslash, \n \r \t their short forms, other
//   control characters \u00XX (lower-case hex), `<` `>` `&` become \u003c \u003e \u0026, U+2028 and
//   U+2029 become \u2028 \u2029, and a lone UTF-16 surrogate (the JS analogue of invalid UTF-8)
//   becomes \ufffd, as Go writes for invalid bytes;
// * Uint8Array/Buffer is written as standard base64 with padding, as Go writes []byte;
// * numbers use JS formatting, which agrees with Go's float64 formatting (both switch to exponent
//   form below 1e-6 and from 1e21), and NaN/Infinity are rejected as Go rejects them.
// Other rules follow JSON.stringify: `undefined`/function members are skipped, `undefined` array
// slots become null. RawJson is inserted verbatim.
//
// \b and \f: Go < 1.22 wrote \u0008 and \u000c, Go >= 1.22 writes \b and \f. ProxyFS 1.17.1 predates
// Go 1.22, so the older form is the default; `goEscapes: "go1.22"` selects the newer one.

import { RawJson } from "./raw-json.js";

export interface StringifyJsonOptions {
  /** Escape style for \b and \f (default "classic" = \u0008, \u000c as Go < 1.22). */
  goEscapes?: "classic" | "go1.22";
}

/** A value that cannot be written as JSON (NaN, a cycle, a symbol…), naming where it was. */
export class JsonStringifyError extends TypeError {
  override readonly name = "JsonStringifyError";
  readonly code = "ERR_JSON_STRINGIFY";
}

const MAX_DEPTH = 1000;
const needsEscape = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;
const hex = "0123456789abcdef";

/**
 * Writes `value` as compact JSON.
 * @throws JsonStringifyError for NaN/Infinity, symbols, cycles (depth > 1000) and Map/Set.
 */
export function stringifyJson(value: unknown, options?: StringifyJsonOptions): string {
  const w = new Writer(options?.goEscapes === "go1.22");
  w.value(value, 0, "$");
  return w.out;
}

/** Go-style quoting of one string (with the surrounding quotes). */
export function quoteGoString(s: string, goEscapes?: "classic" | "go1.22"): string {
  if (!needsEscape.test(s)) return `"${s}"`;
  return slowQuote(s, goEscapes === "go1.22");
}

function slowQuote(s: string, go122: boolean): string {
  let out = '"';
  let start = 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c < 0x20) {
      if (c === 0x0a) rep = "\\n";
      else if (c === 0x0d) rep = "\\r";
      else if (c === 0x09) rep = "\\t";
      else if (go122 && c === 0x08) rep = "\\b";
      else if (go122 && c === 0x0c) rep = "\\f";
      else rep = "\\u00" + hex[c >> 4] + hex[c & 0xf];
    } else if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = "\\\\";
    else if (c === 0x3c) rep = "\\u003c";
    else if (c === 0x3e) rep = "\\u003e";
    else if (c === 0x26) rep = "\\u0026";
    else if (c === 0x2028) rep = "\\u2028";
    else if (c === 0x2029) rep = "\\u2029";
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        i++; // a valid pair is written as is (UTF-8 on the wire)
        continue;
      }
      rep = "\\ufffd";
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = "\\ufffd";
    if (rep !== undefined) {
      if (start < i) out += s.slice(start, i);
      out += rep;
      start = i + 1;
    }
  }
  if (start < n) out += s.slice(start);
  return out + '"';
}

class Writer {
  out = "";
  #go122: boolean;

  constructor(go122: boolean) {
    this.#go122 = go122;
  }

  value(v: unknown, depth: number, path: string): void {
    switch (typeof v) {
      case "string":
        this.out += needsEscape.test(v) ? slowQuote(v, this.#go122) : `"${v}"`;
        return;
      case "number":
        if (!Number.isFinite(v)) throw new JsonStringifyError(`${path}: ${v} cannot be written as JSON`);
        this.out += String(v);
        return;
      case "bigint":
        this.out += v.toString();
        return;
      case "boolean":
        this.out += v ? "true" : "false";
        return;
      case "undefined":
        this.out += "null";
        return;
      case "object":
        break;
      default:
        throw new JsonStringifyError(`${path}: a ${typeof v} cannot be written as JSON`);
    }
    if (v === null) {
      this.out += "null";
      return;
    }
    if (depth >= MAX_DEPTH) throw new JsonStringifyError(`${path}: nesting deeper than ${MAX_DEPTH} (a cycle?)`);
    if (v instanceof RawJson) {
      this.out += v.text;
      return;
    }
    if (v instanceof Uint8Array) {
      this.out += '"' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") + '"';
      return;
    }
    if (Array.isArray(v)) {
      this.out += "[";
      for (let i = 0; i < v.length; i++) {
        if (i > 0) this.out += ",";
        const e = v[i];
        this.value(typeof e === "function" || typeof e === "symbol" ? null : e, depth + 1, `${path}[${i}]`);
      }
      this.out += "]";
      return;
    }
    if (v instanceof Map || v instanceof Set) {
      throw new JsonStringifyError(`${path}: Map/Set cannot be written as JSON; convert it first`);
    }
    this.out += "{";
    let first = true;
    for (const key in v) {
      if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
      const e = (v as Record<string, unknown>)[key];
      if (e === undefined || typeof e === "function" || typeof e === "symbol") continue;
      if (!first) this.out += ",";
      first = false;
      this.out += needsEscape.test(key) ? slowQuote(key, this.#go122) : `"${key}"`;
      this.out += ":";
      this.value(e, depth + 1, `${path}.${key}`);
    }
    this.out += "}";
  }
}
