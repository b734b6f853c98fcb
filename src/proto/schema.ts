// A small schema language for Go structs as encoding/json sees them, so each 1.17.1 message type is
// declared once and gets both directions:
// * encode(value) writes Go's bytes: fields in declaration order (embedded structs flattened where
//   declared), no spaces, Go string escaping, []byte as base64, a missing field as its zero value
//   and a missing/null slice as `null` (Go's nil slice);
// * decode(json) behaves like Go's Unmarshal: keys match exactly or case-insensitively, unknown keys
//   are ignored, a missing key or null leaves the zero value; unlike Go it also checks integer
//   ranges strictly and names the offending field in a ProtoDecodeError.
// Kinds map to TS types: u64/i64 -> bigint (always, whatever the size), u32/i32/u16/int -> number,
// bytes -> Buffer, arrays -> T[], nested structs -> their type.
// `optional(kind)` marks an extension field (ours, not 1.17.1's): omitted when undefined, like
// Go's `omitempty`, so messages without it stay byte-identical to 1.17.1.

import { quoteGoString } from "../base/json/index.js";

export type ScalarKind = "u64" | "i64" | "u32" | "i32" | "u16" | "int" | "string" | "bytes" | "bool" | "any";
export type Kind = ScalarKind | ArrayKind | StructCodec<any>;
export interface ArrayKind {
  readonly array: Kind;
}
export interface OptionalKind {
  readonly optional: Kind;
}
export type FieldKinds = Record<string, Kind | OptionalKind>;

export type KindType<K> =
  K extends "u64" | "i64" ? bigint :
  K extends "u32" | "i32" | "u16" | "int" ? number :
  K extends "string" ? string :
  K extends "bytes" ? Buffer :
  K extends "bool" ? boolean :
  K extends "any" ? unknown :
  K extends ArrayKind ? Array<KindType<K["array"]>> :
  K extends StructCodec<infer T> ? T :
  never;

type RequiredKeys<F> = { [P in keyof F]: F[P] extends OptionalKind ? never : P }[keyof F];
type OptionalKeys<F> = { [P in keyof F]: F[P] extends OptionalKind ? P : never }[keyof F];
type Simplify<T> = { [P in keyof T]: T[P] };
/** The TS type a field list describes. */
export type Infer<F> = Simplify<
  { [P in RequiredKeys<F>]: KindType<F[P]> } &
  { [P in OptionalKeys<F>]?: F[P] extends OptionalKind ? KindType<F[P]["optional"]> : never }
>;

export const arrayOf = <K extends Kind>(k: K): { readonly array: K } => ({ array: k });
export const optional = <K extends Kind>(k: K): { readonly optional: K } => ({ optional: k });

/** A message that does not have the shape its Go struct requires. */
export class ProtoDecodeError extends Error {
  override readonly name = "ProtoDecodeError";
  readonly code = "ERR_PROTO_DECODE";
}

/** A value that cannot be encoded as its Go type (out of range, wrong JS type). */
export class ProtoEncodeError extends Error {
  override readonly name = "ProtoEncodeError";
  readonly code = "ERR_PROTO_ENCODE";
}

const RANGES: Record<string, [bigint, bigint]> = {
  u64: [0n, (1n << 64n) - 1n],
  i64: [-(1n << 63n), (1n << 63n) - 1n],
  u32: [0n, 0xffffffffn],
  i32: [-(1n << 31n), (1n << 31n) - 1n],
  u16: [0n, 0xffffn],
  int: [-BigInt(Number.MAX_SAFE_INTEGER), BigInt(Number.MAX_SAFE_INTEGER)],
};
const base64Re = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function show(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}

interface Field {
  name: string;
  lower: string;
  kind: Kind;
  optional: boolean;
  /** `"Name":` precomputed. */
  key: string;
}

function isOptional(k: Kind | OptionalKind): k is OptionalKind {
  return typeof k === "object" && k !== null && "optional" in k;
}

export class StructCodec<T> {
  readonly goName: string;
  readonly #fields: Field[];
  readonly #exact = new Map<string, Field>();
  readonly #folded = new Map<string, Field>();

  constructor(goName: string, kinds: FieldKinds) {
    this.goName = goName;
    this.#fields = Object.entries(kinds).map(([name, k]) => ({
      name,
      lower: name.toLowerCase(),
      kind: isOptional(k) ? k.optional : k,
      optional: isOptional(k),
      key: quoteGoString(name) + ":",
    }));
    for (const f of this.#fields) {
      this.#exact.set(f.name, f);
      if (!this.#folded.has(f.lower)) this.#folded.set(f.lower, f);
    }
  }

  /** Go field names in wire order. */
  get fieldNames(): string[] {
    return this.#fields.map((f) => f.name);
  }

  /** The Go zero value (numbers 0, strings "", slices []), without optional fields. */
  zero(): T {
    const out: Record<string, unknown> = {};
    for (const f of this.#fields) if (!f.optional) out[f.name] = zeroOf(f.kind);
    return out as T;
  }

  /** Go's Unmarshal into a fresh zero value. `path` names the value in errors. */
  decode(v: unknown, path: string = this.goName): T {
    const out = this.zero() as Record<string, unknown>;
    if (v === null || v === undefined) return out as T;
    if (typeof v !== "object" || Array.isArray(v)) throw new ProtoDecodeError(`${path}: expected a JSON object for ${this.goName}, got ${show(v)}`);
    for (const key of Object.keys(v)) {
      const f = this.#exact.get(key) ?? this.#folded.get(key.toLowerCase());
      if (f === undefined) continue;
      const val = (v as Record<string, unknown>)[key];
      if (val === null) {
        if (f.optional) delete out[f.name];
        continue;
      }
      out[f.name] = decodeKind(f.kind, val, `${path}.${f.name}`);
    }
    return out as T;
  }

  /** Go's Marshal. @throws ProtoEncodeError naming the field. */
  encode(v: T, path: string = this.goName): string {
    const o = (v ?? {}) as Record<string, unknown>;
    let out = "{";
    let first = true;
    for (const f of this.#fields) {
      const val = o[f.name];
      if (f.optional && (val === undefined || val === null)) continue;
      if (!first) out += ",";
      out += f.key;
      first = false;
      out += encodeKind(f.kind, val, `${path}.${f.name}`);
    }
    return out + "}";
  }
}

function zeroOf(k: Kind): unknown {
  if (k instanceof StructCodec) return k.zero();
  if (typeof k === "object") return [];
  switch (k) {
    case "u64": case "i64": return 0n;
    case "string": return "";
    case "bytes": return Buffer.alloc(0);
    case "bool": return false;
    case "any": return null;
    default: return 0;
  }
}

function decodeKind(k: Kind, v: unknown, path: string): unknown {
  if (k instanceof StructCodec) return k.decode(v, path);
  if (typeof k === "object") {
    if (!Array.isArray(v)) throw new ProtoDecodeError(`${path}: expected a JSON array, got ${show(v)}`);
    return v.map((e, i) => (e === null ? zeroOf(k.array) : decodeKind(k.array, e, `${path}[${i}]`)));
  }
  switch (k) {
    case "string":
      if (typeof v !== "string") throw new ProtoDecodeError(`${path}: expected a string, got ${show(v)}`);
      return v;
    case "bool":
      if (typeof v !== "boolean") throw new ProtoDecodeError(`${path}: expected true or false, got ${show(v)}`);
      return v;
    case "bytes":
      if (typeof v !== "string" || !base64Re.test(v)) throw new ProtoDecodeError(`${path}: expected base64 bytes, got ${show(v)}`);
      return Buffer.from(v, "base64");
    case "any":
      return v;
    default: {
      const [lo, hi] = RANGES[k]!;
      let b: bigint;
      if (typeof v === "bigint") b = v;
      else if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
      else throw new ProtoDecodeError(`${path}: expected an integer (${k}), got ${show(v)}`);
      if (b < lo || b > hi) throw new ProtoDecodeError(`${path}: ${b} is out of range for ${k}`);
      return k === "u64" || k === "i64" ? b : Number(b);
    }
  }
}

function encodeKind(k: Kind, v: unknown, path: string): string {
  if (k instanceof StructCodec) return k.encode(v ?? k.zero(), path);
  if (typeof k === "object") {
    if (v === undefined || v === null) return "null";
    if (!Array.isArray(v)) throw new ProtoEncodeError(`${path}: expected an array, got ${show(v)}`);
    let out = "[";
    for (let i = 0; i < v.length; i++) {
      if (i > 0) out += ",";
      out += encodeKind(k.array, v[i], `${path}[${i}]`);
    }
    return out + "]";
  }
  switch (k) {
    case "string":
      if (v === undefined) return '""';
      if (typeof v !== "string") throw new ProtoEncodeError(`${path}: expected a string, got ${show(v)}`);
      return quoteGoString(v);
    case "bool":
      if (v === undefined) return "false";
      if (typeof v !== "boolean") throw new ProtoEncodeError(`${path}: expected a boolean, got ${show(v)}`);
      return v ? "true" : "false";
    case "bytes":
      if (v === undefined || v === null) return "null";
      if (!(v instanceof Uint8Array)) throw new ProtoEncodeError(`${path}: expected a Buffer/Uint8Array, got ${show(v)}`);
      return '"' + Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") + '"';
    case "any":
      throw new ProtoEncodeError(`${path}: fields of kind "any" are decode-only`);
    default: {
      if (v === undefined) return "0";
      const [lo, hi] = RANGES[k]!;
      let b: bigint;
      if (typeof v === "bigint") b = v;
      else if (typeof v === "number" && Number.isSafeInteger(v)) b = BigInt(v);
      else throw new ProtoEncodeError(`${path}: expected an integer (${k}), got ${show(v)}`);
      if (b < lo || b > hi) throw new ProtoEncodeError(`${path}: ${b} is out of range for ${k}`);
      return b.toString();
    }
  }
}

type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends (<X>() => X extends B ? 1 : 2) ? true : false;

/**
 * Declares the codec of Go struct `goName` whose TS type is `T`; the field list must describe exactly
 * `T` (checked at compile time), in Go declaration order with embedded structs spread in place.
 */
export function defineStruct<T>() {
  return <const F extends FieldKinds>(goName: string, fields: F & (Equal<Infer<F>, T> extends true ? unknown : { __schemaDoesNotMatchType: Infer<F> })): StructCodec<T> =>
    new StructCodec<T>(goName, fields);
}
