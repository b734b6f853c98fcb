// Declarative schemas for one section of a ConfMap: each option has a type, an optional default,
// range checks and documentation; loadSection() reads every option, collects *all* problems
// (so a user fixes a config in one pass) and returns a typed object keyed by option name.
// Shared by pfsagentd ([Agent]) and proxyfsd.
import { ConfError, type ConfOrigin, ConfProblemsError } from "./conf-error.js";
import type { ConfMap } from "./conf-map.js";
import { formatGoDuration, parseGoDuration } from "./go-duration.js";
import { maxUint } from "./go-number.js";

export const DEFAULT_ORIGIN: ConfOrigin = Object.freeze({ source: "default" });

/** How to read, check and print one option. Build with the `opt.*` constructors. */
export interface OptionSpec<T> {
  /** What a valid value looks like, for messages and docs ("an unsigned integer >= 1"). */
  readonly expected: string;
  /** Absent and no default ⇒ error. */
  readonly required: boolean;
  /** Value used when the option is absent (undefined ⇒ required, or an optional-without-default). */
  readonly defaultValue: T | undefined;
  /** Value must be hidden when printed (credentials). */
  readonly secret: boolean;
  readonly doc: string;
  /** Reads a present option. @throws ConfError */
  read(conf: ConfMap, section: string, option: string): T;
  /** The value as .conf values (unescaped), for rendering an effective config. */
  render(value: T): string[];
}

export type SpecValue<S> = S extends OptionSpec<infer T> ? T : never;
export type SectionSchema = Record<string, OptionSpec<any>>;
export type SectionValues<S extends SectionSchema> = { readonly [K in keyof S]: SpecValue<S[K]> };

interface Common<T> {
  readonly default?: T;
  readonly required?: boolean;
  readonly doc?: string;
  readonly secret?: boolean;
  /** Extra validation: return "expected ..." text to reject the value, undefined to accept it. */
  readonly check?: (value: T) => string | undefined;
}

function spec<T>(
  expected: string,
  c: Common<T>,
  read: (conf: ConfMap, section: string, option: string) => T,
  render: (value: T) => string[],
): OptionSpec<T> {
  return {
    expected,
    required: c.required ?? c.default === undefined,
    defaultValue: c.default,
    secret: c.secret ?? false,
    doc: c.doc ?? "",
    read(conf, section, option) {
      const v = read(conf, section, option);
      const complaint = c.check?.(v);
      if (complaint !== undefined) {
        const raw = conf.entry(section, option)!.values.join(" ");
        throw conf.valueError(section, option, `${complaint}, got ${JSON.stringify(raw)}`);
      }
      return v;
    },
    render,
  };
}

/** Range text like " >= 1", " in 1..100". */
function rangeText(min: bigint | number | undefined, max: bigint | number | undefined): string {
  if (min !== undefined && max !== undefined) return ` in ${min}..${max}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return "";
}

function rangeCheck<T extends number | bigint>(what: string, min: T | undefined, max: T | undefined) {
  return (v: T): string | undefined =>
    (min !== undefined && v < min) || (max !== undefined && v > max) ? `expected ${what}${rangeText(min, max)}` : undefined;
}

function both<T>(a: (v: T) => string | undefined, b: ((v: T) => string | undefined) | undefined) {
  return (v: T): string | undefined => a(v) ?? b?.(v);
}

/** Renders a duration in Go syntax but with "us" for microseconds (µ is not a .conf value character). */
export function renderDuration(ns: bigint): string {
  return formatGoDuration(ns).replace("\u00b5s", "us");
}

export const opt = {
  /** Exactly one value. */
  string(c: Common<string> = {}): OptionSpec<string> {
    return spec("a single value", c, (conf, s, o) => conf.getString(s, o), (v) => [v]);
  },

  /** Zero or one value; absent or empty ⇒ "" (never required). */
  optionalString(c: Omit<Common<string>, "default" | "required"> = {}): OptionSpec<string> {
    return spec("at most one value", { ...c, default: "", required: false }, (conf, s, o) => conf.getOptionalString(s, o),
      (v) => (v === "" ? [] : [v]));
  },

  /** Any number of values. */
  list(c: Common<readonly string[]> = {}): OptionSpec<readonly string[]> {
    return spec("a list of values", c, (conf, s, o) => conf.getStringList(s, o), (v) => [...v]);
  },

  bool(c: Common<boolean> = {}): OptionSpec<boolean> {
    return spec("a boolean (true/false, yes/no, on/off)", c, (conf, s, o) => conf.getBool(s, o), (v) => [String(v)]);
  },

  /** uint8/16/32 (Go ParseUint with that bit size) as a number, optionally range-limited. */
  uint(c: Common<number> & { bits: 8 | 16 | 32; min?: number; max?: number }): OptionSpec<number> {
    const what = `an unsigned ${c.bits}-bit integer`;
    const get = { 8: "getUint8", 16: "getUint16", 32: "getUint32" } as const;
    return spec(`${what}${rangeText(c.min, c.max ?? Number(maxUint(c.bits)))}`, { ...c, check: both(rangeCheck("an unsigned integer", c.min, c.max), c.check) },
      (conf, s, o) => conf[get[c.bits]](s, o), (v) => [String(v)]);
  },

  /** uint64 that must also be <= 2^53-1, as a number (counts, byte sizes). */
  safeUint(c: Common<number> & { min?: number; max?: number } = {}): OptionSpec<number> {
    return spec(`an unsigned integer${rangeText(c.min ?? 0, c.max ?? Number.MAX_SAFE_INTEGER)}`,
      { ...c, check: both(rangeCheck("an unsigned integer", c.min, c.max), c.check) },
      (conf, s, o) => conf.getSafeUint(s, o), (v) => [String(v)]);
  },

  /** Full uint64 as a bigint. */
  uint64(c: Common<bigint> & { min?: bigint; max?: bigint } = {}): OptionSpec<bigint> {
    return spec(`an unsigned 64-bit integer${rangeText(c.min, c.max)}`,
      { ...c, check: both(rangeCheck("an unsigned integer", c.min, c.max), c.check) },
      (conf, s, o) => conf.getUint64(s, o), (v) => [v.toString()]);
  },

  /** float64 (Go ParseFloat); `finite` (default true) rejects Inf/NaN. */
  float(c: Common<number> & { min?: number; max?: number; finite?: boolean } = {}): OptionSpec<number> {
    const finite = c.finite ?? true;
    const finiteCheck = (v: number): string | undefined => (finite && !Number.isFinite(v) ? "expected a finite number" : undefined);
    return spec(`a number${rangeText(c.min, c.max)}`,
      { ...c, check: both(finiteCheck, both(rangeCheck("a number", c.min, c.max), c.check)) },
      (conf, s, o) => conf.getFloat64(s, o), (v) => [String(v)]);
  },

  /** Go duration in nanoseconds (bigint); defaults and bounds may be written as Go text ("10m"). */
  duration(c: Omit<Common<bigint>, "default"> & { default?: bigint | string; min?: bigint | string; max?: bigint | string } = {}): OptionSpec<bigint> {
    const ns = (v: bigint | string | undefined): bigint | undefined => (typeof v === "string" ? parseGoDuration(v) : v);
    const min = ns(c.min);
    const max = ns(c.max);
    const range = (v: bigint): string | undefined =>
      (min !== undefined && v < min) || (max !== undefined && v > max)
        ? `expected a duration${min !== undefined ? ` >= ${renderDuration(min)}` : ""}${max !== undefined ? ` <= ${renderDuration(max)}` : ""}`
        : undefined;
    const bounds = `${min !== undefined ? ` >= ${renderDuration(min)}` : ""}${max !== undefined ? ` <= ${renderDuration(max)}` : ""}`;
    const base: Common<bigint> = { ...c, default: ns(c.default), check: both(range, c.check) };
    return spec(`a duration${bounds} (e.g. 100ms, 1m30s)`, base, (conf, s, o) => conf.getDuration(s, o), (v) => [renderDuration(v)]);
  },
};

/** Makes `spec` optional without a default: absent ⇒ undefined (e.g. keys kept from older releases). */
export function optional<T>(s: OptionSpec<T>): OptionSpec<T | undefined> {
  return {
    ...s,
    required: false,
    defaultValue: undefined,
    read: (conf, section, option) => s.read(conf, section, option),
    render: (v) => (v === undefined ? [] : s.render(v)),
  };
}

export interface LoadedSection<S extends SectionSchema> {
  readonly values: SectionValues<S>;
  /** Where each value came from (DEFAULT_ORIGIN for defaults). */
  readonly origins: { readonly [K in keyof S]: ConfOrigin };
  /** Options present in the section that the schema does not know (the original ignored them). */
  readonly unknown: ReadonlyArray<{ readonly option: string; readonly origin: ConfOrigin }>;
}

/**
 * Reads every option of `schema` from `[section]`.
 * @throws ConfProblemsError listing every missing or invalid option (messages carry file:line).
 */
export function loadSection<S extends SectionSchema>(conf: ConfMap, section: string, schema: S): LoadedSection<S> {
  const values: Record<string, unknown> = {};
  const origins: Record<string, ConfOrigin> = {};
  const problems: ConfError[] = [];
  for (const [option, s] of Object.entries(schema)) {
    const entry = conf.entry(section, option);
    if (!entry) {
      if (s.required) problems.push(conf.missingError(section, option, s.expected));
      else {
        values[option] = s.defaultValue;
        origins[option] = DEFAULT_ORIGIN;
      }
      continue;
    }
    try {
      values[option] = s.read(conf, section, option);
      origins[option] = entry.origin;
    } catch (err) {
      if (!(err instanceof ConfError)) throw err;
      problems.push(err);
    }
  }
  if (problems.length > 0) throw new ConfProblemsError(problems);
  const unknown = conf.optionNames(section)
    .filter((o) => !Object.hasOwn(schema, o))
    .map((option) => ({ option, origin: conf.origin(section, option)! }));
  return { values: values as SectionValues<S>, origins: origins as LoadedSection<S>["origins"], unknown };
}
