// ConfMap: the in-memory form of a ProxyFS `conf` configuration, map[section][option] -> list of
// string values, plus where each option's current value came from (file and line, or command line).
//
// Loading follows the original package: a file (or "-" for stdin) is read whole, must be valid
// UTF-8 and end with "\n"; `.include` pulls another file into the same map (relative paths are
// resolved against the including file's directory) and then requires a new section header; a later
// definition of the same option replaces the earlier list entirely. Command-line overrides
// ("Section.Option=v1,v2") are applied with updateFromString(s).
//
// Typed getters mirror FetchOptionValue* (single value required for everything but lists) and
// throw ConfError whose message names origin, option and what was expected.
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import {
  COMMAND_LINE, ConfError, type ConfOrigin, formatOrigin, optionLabel, STDIN_NAME,
} from "./conf-error.js";
import { escapeValue, parseConfLine, parseConfOverride } from "./conf-syntax.js";
import { durationToMs, DurationSyntaxError, parseGoDuration } from "./go-duration.js";
import { maxUint, parseConfBool, parseGoFloat, parseGoUint } from "./go-number.js";

export interface ConfEntry {
  readonly values: readonly string[];
  readonly origin: ConfOrigin;
}

export interface ConfLoadOptions {
  /** Reads all of standard input for the path "-" (default: fs.readFileSync(0)). */
  readonly readStdin?: () => Buffer | string;
}

const MAX_INCLUDE_DEPTH = 32;
const DURATION_HINT = 'a duration such as "100ms", "1m30s" or "0.5s" (units ns, us, ms, s, m, h)';

function quoteValues(values: readonly string[]): string {
  return values.map((v) => JSON.stringify(v)).join(", ");
}

export class ConfMap {
  // INVARIANT: every entry's values array is never mutated after insertion (getters hand it out).
  #sections = new Map<string, Map<string, ConfEntry>>();
  #sources: string[] = [];

  /** Loads `path` ("-" = stdin) into a new map. @throws ConfError (CONF_IO, CONF_SYNTAX) */
  static fromFile(path: string, options: ConfLoadOptions = {}): ConfMap {
    const conf = new ConfMap();
    conf.updateFromFile(path, options);
    return conf;
  }

  /**
   * The pfsagentd/proxyfsd command-line convention: argv[0] is the .conf path ("-" = stdin), every
   * further argument an override. @throws ConfError
   */
  static fromArgs(args: readonly string[], options: ConfLoadOptions = {}): ConfMap {
    if (args.length === 0) throw new ConfError("CONF_MISSING", "no .conf file specified");
    const conf = ConfMap.fromFile(args[0]!, options);
    conf.updateFromStrings(args.slice(1));
    return conf;
  }

  /**
   * Parses `text` as if it were the contents of a file named `source` (default "(text)") in
   * directory `baseDir` (default: cwd, used for relative .include paths). A string is the source name.
   * @throws ConfError
   */
  static fromText(text: string, options: string | { readonly source?: string; readonly baseDir?: string } = {}): ConfMap {
    const { source = "(text)", baseDir = process.cwd() } = typeof options === "string" ? { source: options } : options;
    const conf = new ConfMap();
    conf.#sources.push(source);
    conf.#loadBytes(Buffer.from(text, "utf8"), { source, baseDir, stack: [] }, {});
    return conf;
  }

  /** Merges the file at `path` ("-" = stdin). @throws ConfError (CONF_IO, CONF_SYNTAX) */
  updateFromFile(path: string, options: ConfLoadOptions = {}): void {
    this.#sources.push(path === "-" ? STDIN_NAME : path);
    this.#loadFile(path, [], options, undefined);
  }

  /** Applies one override "Section.Option=v1,v2" / "Section.Option:v1 v2". @throws ConfError (CONF_SYNTAX) */
  updateFromString(override: string): void {
    const parsed = parseConfOverride(override);
    if (!parsed.ok) {
      throw new ConfError("CONF_SYNTAX", `${COMMAND_LINE}: malformed override ${JSON.stringify(override)}: ${parsed.reason}`, {
        origin: { source: COMMAND_LINE },
      });
    }
    this.set(parsed.section, parsed.option, parsed.values, { source: COMMAND_LINE });
  }

  /** Applies overrides in order; stops at the first malformed one. @throws ConfError */
  updateFromStrings(overrides: readonly string[]): void {
    for (const o of overrides) this.updateFromString(o);
  }

  /** Sets (replaces) an option's value list, creating the section if needed. */
  set(section: string, option: string, values: readonly string[], origin: ConfOrigin = { source: COMMAND_LINE }): void {
    let s = this.#sections.get(section);
    if (!s) {
      s = new Map();
      this.#sections.set(section, s);
    }
    s.set(option, { values: Object.freeze([...values]), origin });
  }

  /** Top-level sources loaded so far, for messages about options that are missing altogether. */
  get sourceDescription(): string {
    return this.#sources.length === 0 ? "configuration" : this.#sources.join(", ");
  }

  sectionNames(): string[] {
    return [...this.#sections.keys()];
  }

  optionNames(section: string): string[] {
    return [...(this.#sections.get(section)?.keys() ?? [])];
  }

  hasSection(section: string): boolean {
    return this.#sections.has(section);
  }

  has(section: string, option: string): boolean {
    return this.#sections.get(section)?.has(option) ?? false;
  }

  /** The option's values and origin, or undefined if absent. */
  entry(section: string, option: string): ConfEntry | undefined {
    return this.#sections.get(section)?.get(option);
  }

  /** Where the option's current value came from, or undefined if absent. */
  origin(section: string, option: string): ConfOrigin | undefined {
    return this.entry(section, option)?.origin;
  }

  /** A CONF_VALUE error located at the option's origin: "<where>: [S] O: <message>". */
  valueError(section: string, option: string, message: string): ConfError {
    const origin = this.origin(section, option);
    const where = origin ? formatOrigin(origin) : this.sourceDescription;
    return new ConfError("CONF_VALUE", `${where}: ${optionLabel(section, option)}: ${message}`, { origin, section, option });
  }

  /** A CONF_MISSING error naming the loaded sources. */
  missingError(section: string, option: string, expected: string): ConfError {
    const what = this.hasSection(section) ? "missing" : `missing (no [${section}] section)`;
    return new ConfError("CONF_MISSING", `${this.sourceDescription}: ${optionLabel(section, option)}: ${what}; expected ${expected}`, {
      section, option,
    });
  }

  // ---- typed getters ------------------------------------------------------------------------

  /** All values (possibly none). @throws ConfError CONF_MISSING */
  getStringList(section: string, option: string): readonly string[] {
    const e = this.entry(section, option);
    if (!e) throw this.missingError(section, option, "a list of values");
    return e.values;
  }

  /** Exactly one value. @throws ConfError */
  getString(section: string, option: string, expected = "a single value"): string {
    const e = this.entry(section, option);
    if (!e) throw this.missingError(section, option, expected);
    if (e.values.length === 0) throw this.valueError(section, option, `expected ${expected}, got no value`);
    if (e.values.length > 1) {
      throw this.valueError(section, option, `expected ${expected}, got ${e.values.length} values (${quoteValues(e.values)}); ` +
        "write a space as \\u0020 and a comma as \\u002C inside one value");
    }
    return e.values[0]!;
  }

  /** Zero or one value: "" when the option is absent or empty (PlugInEnvValue style). @throws ConfError if more than one */
  getOptionalString(section: string, option: string): string {
    const e = this.entry(section, option);
    if (!e || e.values.length === 0) return "";
    return this.getString(section, option, "at most one value");
  }

  /** true/yes/on or false/no/off, any case. @throws ConfError */
  getBool(section: string, option: string): boolean {
    const expected = "a boolean (true/false, yes/no, on/off)";
    const text = this.getString(section, option, expected);
    const v = parseConfBool(text);
    if (v === undefined) throw this.valueError(section, option, `expected ${expected}, got ${JSON.stringify(text)}`);
    return v;
  }

  #getUint(section: string, option: string, bits: 8 | 16 | 32 | 64): bigint {
    const text = this.getString(section, option, "an unsigned integer");
    const v = parseGoUint(text, bits);
    if (v === undefined) {
      const expected = /^[0-9]+$/.test(text)
        ? `an unsigned integer no greater than ${maxUint(bits)}`
        : "an unsigned integer";
      throw this.valueError(section, option, `expected ${expected}, got ${JSON.stringify(text)}`);
    }
    return v;
  }

  getUint8(section: string, option: string): number {
    return Number(this.#getUint(section, option, 8));
  }

  getUint16(section: string, option: string): number {
    return Number(this.#getUint(section, option, 16));
  }

  getUint32(section: string, option: string): number {
    return Number(this.#getUint(section, option, 32));
  }

  /** A full 64-bit unsigned value. @throws ConfError */
  getUint64(section: string, option: string): bigint {
    return this.#getUint(section, option, 64);
  }

  /** A uint64 that must also fit a JS number exactly (<= 2^53-1), for counts and sizes. @throws ConfError */
  getSafeUint(section: string, option: string): number {
    const v = this.#getUint(section, option, 64);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw this.valueError(section, option, `expected an unsigned integer no greater than ${Number.MAX_SAFE_INTEGER}, got "${v}"`);
    }
    return Number(v);
  }

  /** Go ParseFloat(v, 64): "1.4", "1e3", "Inf", "NaN" are accepted. @throws ConfError */
  getFloat64(section: string, option: string): number {
    const text = this.getString(section, option, "a number");
    const v = parseGoFloat(text);
    if (v === undefined) throw this.valueError(section, option, `expected a number, got ${JSON.stringify(text)}`);
    return v;
  }

  /** A non-negative Go duration in nanoseconds. @throws ConfError */
  getDuration(section: string, option: string): bigint {
    const text = this.getString(section, option, DURATION_HINT);
    let v: bigint;
    try {
      v = parseGoDuration(text);
    } catch (err) {
      if (!(err instanceof DurationSyntaxError)) throw err;
      throw this.valueError(section, option, `expected ${DURATION_HINT}, got ${JSON.stringify(text)}`);
    }
    if (v < 0n) throw this.valueError(section, option, `expected a non-negative duration, got ${JSON.stringify(text)}`);
    return v;
  }

  /** getDuration in (possibly fractional) milliseconds. @throws ConfError */
  getDurationMs(section: string, option: string): number {
    return durationToMs(this.getDuration(section, option));
  }

  /** One standard-base64 value, decoded as UTF-8 (FetchOptionValueBase64String). @throws ConfError */
  getBase64String(section: string, option: string): string {
    const text = this.getString(section, option, "a base64 value");
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
      throw this.valueError(section, option, `expected a base64 value, got ${JSON.stringify(text)}`);
    }
    return Buffer.from(text, "base64").toString("utf8");
  }

  /** VerifyOptionIsMissing. @throws ConfError if the option exists */
  verifyOptionIsMissing(section: string, option: string): void {
    if (this.has(section, option)) throw this.valueError(section, option, "must not be present");
  }

  /** VerifyOptionValueIsEmpty. @throws ConfError if absent or non-empty */
  verifyOptionValueIsEmpty(section: string, option: string): void {
    const e = this.entry(section, option);
    if (!e) throw this.missingError(section, option, "an option with no value");
    if (e.values.length > 0) throw this.valueError(section, option, `expected no value, got ${quoteValues(e.values)}`);
  }

  /**
   * The whole map as .conf text (sections and options sorted, like conf.Dump), with spaces and
   * commas inside values escaped so that loading the text yields an identical map.
   */
  dump(): string {
    const out: string[] = [];
    for (const section of [...this.#sections.keys()].sort()) {
      if (out.length > 0) out.push("");
      out.push(`[${section}]`);
      const options = this.#sections.get(section)!;
      const names = [...options.keys()].sort();
      const width = Math.max(0, ...names.map((n) => n.length));
      for (const name of names) {
        const values = options.get(name)!.values.map(escapeValue);
        out.push(`${name}:${" ".repeat(width - name.length)}${values.length ? " " + values.join(", ") : ""}`);
      }
    }
    return out.length ? out.join("\n") + "\n" : "";
  }

  // ---- loading --------------------------------------------------------------------------------

  #loadFile(path: string, stack: readonly string[], options: ConfLoadOptions, includedFrom: ConfOrigin | undefined): void {
    const isStdin = path === "-";
    const source = isStdin ? STDIN_NAME : path;
    const where = includedFrom ? `${formatOrigin(includedFrom)}: .include ${path}` : source;
    const key = isStdin ? STDIN_NAME : resolve(path);
    if (stack.includes(key)) {
      throw new ConfError("CONF_SYNTAX", `${where}: include cycle (${[...stack, key].join(" -> ")})`, { origin: includedFrom });
    }
    if (stack.length >= MAX_INCLUDE_DEPTH) {
      throw new ConfError("CONF_SYNTAX", `${where}: includes nested more than ${MAX_INCLUDE_DEPTH} deep`, { origin: includedFrom });
    }
    let bytes: Buffer;
    try {
      if (isStdin) {
        const data = (options.readStdin ?? (() => readFileSync(0)))();
        bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
      } else {
        bytes = readFileSync(path);
      }
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw new ConfError("CONF_IO", `${where}: cannot read configuration: ${msg}`, { origin: includedFrom, cause: err });
    }
    const baseDir = isStdin ? process.cwd() : dirname(resolve(path));
    this.#loadBytes(bytes, { source, baseDir, stack: [...stack, key] }, options);
  }

  #loadBytes(bytes: Buffer, ctx: { source: string; baseDir: string; stack: readonly string[] }, options: ConfLoadOptions): void {
    const decoder = new TextDecoder("utf-8", { fatal: true });
    let section = "";
    let afterInclude = false;
    let start = 0;
    let lineNo = 0;
    while (start < bytes.length) {
      const nl = bytes.indexOf(0x0a, start);
      lineNo++;
      const origin: ConfOrigin = { source: ctx.source, line: lineNo };
      const where = formatOrigin(origin);
      if (nl < 0) {
        throw new ConfError("CONF_SYNTAX", `${where}: file does not end with a newline character`, { origin });
      }
      let text: string;
      try {
        text = decoder.decode(bytes.subarray(start, nl));
      } catch {
        throw new ConfError("CONF_SYNTAX", `${where}: invalid UTF-8`, { origin });
      }
      start = nl + 1;
      const line = parseConfLine(text);
      switch (line.kind) {
        case "empty":
          break;
        case "include": {
          const target = isAbsolute(line.path) ? line.path : join(ctx.baseDir, line.path);
          this.#loadFile(target, ctx.stack, options, origin);
          section = "";
          afterInclude = true;
          break;
        }
        case "section":
          section = line.name;
          afterInclude = false;
          break;
        case "malformed":
          throw new ConfError("CONF_SYNTAX", `${where}: malformed line ${JSON.stringify(text.trim())}: ${line.reason}`, { origin });
        case "option":
          if (section === "") {
            const why = afterInclude ? "after an .include, a [Section] header must come" : "a [Section] header must come first";
            throw new ConfError("CONF_SYNTAX", `${where}: option ${JSON.stringify(line.name)} is outside any section (${why})`, {
              origin, option: line.name,
            });
          }
          this.set(section, line.name, line.values, origin);
          break;
      }
    }
  }
}
