// parseJson: JSON text -> JS values without losing 64-bit integers.
//
// Integers whose magnitude exceeds Number.MAX_SAFE_INTEGER become `bigint`; every other number is a
// plain `number`. With `{ bigint: "all" }` every integer literal (no fraction, no exponent) becomes a
// bigint, which suits callers that want one type for 64-bit fields whatever their size.
//
// Fast path: a text without any run of 16+ digits cannot hold an unsafe integer (10^15 < 2^53), so
// the built-in JSON.parse is exact for it and much faster. Everything else goes through the small
// recursive-descent parser below, which follows RFC 8259 strictly (no trailing commas, no comments,
// no control characters inside strings, no leading zeros).
//
// Objects: a key "__proto__" becomes an own property (as with JSON.parse), never the prototype.
// Duplicate keys: the last one wins (as with JSON.parse and Go's encoding/json).

export interface ParseJsonOptions {
  /** "unsafe" (default): only integers beyond 2^53-1 become bigint. "all": every integer literal. */
  bigint?: "unsafe" | "all";
  /** Deepest array/object nesting accepted (default 512); deeper input is rejected, not a stack overflow. */
  maxDepth?: number;
}

/** A JSON text that could not be parsed. `position` is the UTF-16 offset where it went wrong. */
export class JsonParseError extends SyntaxError {
  override readonly name = "JsonParseError";
  readonly code = "ERR_JSON_PARSE";
  readonly position: number;

  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.position = position;
  }
}

const longDigitRun = /\d{16}/;
const DEFAULT_MAX_DEPTH = 512;

/**
 * Parses one JSON text.
 * @throws JsonParseError when `text` is not exactly one valid JSON value (surrounding whitespace allowed).
 */
export function parseJson(text: string, options?: ParseJsonOptions): unknown {
  if (typeof text !== "string") throw new TypeError(`parseJson needs a string, got ${typeof text}`);
  const allInts = options?.bigint === "all";
  if (!allInts && !longDigitRun.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      // Re-run the strict parser only to produce our error type with a position.
      new Parser(text, false, options?.maxDepth ?? DEFAULT_MAX_DEPTH).parseDocument();
      throw new JsonParseError(`invalid JSON (${(err as Error).message})`, 0);
    }
  }
  return new Parser(text, allInts, options?.maxDepth ?? DEFAULT_MAX_DEPTH).parseDocument();
}

class Parser {
  #s: string;
  #i = 0;
  #allInts: boolean;
  #maxDepth: number;

  constructor(s: string, allInts: boolean, maxDepth: number) {
    this.#s = s;
    this.#allInts = allInts;
    this.#maxDepth = maxDepth;
  }

  parseDocument(): unknown {
    this.#ws();
    const v = this.#value(0);
    this.#ws();
    if (this.#i !== this.#s.length) this.#fail("unexpected text after the JSON value");
    return v;
  }

  #fail(message: string): never {
    throw new JsonParseError(message, this.#i);
  }

  #ws(): void {
    const s = this.#s;
    let i = this.#i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.#i = i;
  }

  #value(depth: number): unknown {
    const c = this.#s.charCodeAt(this.#i);
    switch (c) {
      case 0x7b: return this.#object(depth + 1); // {
      case 0x5b: return this.#array(depth + 1); // [
      case 0x22: return this.#string(); // "
      case 0x74: return this.#literal("true", true);
      case 0x66: return this.#literal("false", false);
      case 0x6e: return this.#literal("null", null);
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.#number();
        if (Number.isNaN(c)) this.#fail("unexpected end of JSON text");
        this.#fail(`unexpected character ${JSON.stringify(this.#s[this.#i])}`);
    }
  }

  #literal(word: string, v: unknown): unknown {
    if (!this.#s.startsWith(word, this.#i)) this.#fail(`invalid literal, expected ${word}`);
    this.#i += word.length;
    return v;
  }

  #object(depth: number): Record<string, unknown> {
    if (depth > this.#maxDepth) this.#fail(`nesting deeper than ${this.#maxDepth}`);
    this.#i++; // {
    const out: Record<string, unknown> = {};
    this.#ws();
    if (this.#s.charCodeAt(this.#i) === 0x7d) {
      this.#i++;
      return out;
    }
    for (;;) {
      if (this.#s.charCodeAt(this.#i) !== 0x22) this.#fail("expected a string key");
      const key = this.#string();
      this.#ws();
      if (this.#s.charCodeAt(this.#i) !== 0x3a) this.#fail("expected ':' after object key");
      this.#i++;
      this.#ws();
      const v = this.#value(depth);
      if (key === "__proto__") {
        Object.defineProperty(out, key, { value: v, writable: true, enumerable: true, configurable: true });
      } else {
        out[key] = v;
      }
      if (this.#endOfMember(0x7d, "'}' in object")) return out;
    }
  }

  #array(depth: number): unknown[] {
    if (depth > this.#maxDepth) this.#fail(`nesting deeper than ${this.#maxDepth}`);
    this.#i++; // [
    const out: unknown[] = [];
    this.#ws();
    if (this.#s.charCodeAt(this.#i) === 0x5d) {
      this.#i++;
      return out;
    }
    for (;;) {
      out.push(this.#value(depth));
      if (this.#endOfMember(0x5d, "']' in array")) return out;
    }
  }

  /** After a member: consumes ',' (false: another member follows) or `close` (true: done). */
  #endOfMember(close: number, what: string): boolean {
    this.#ws();
    const c = this.#s.charCodeAt(this.#i);
    this.#i++;
    if (c === 0x2c) {
      this.#ws();
      return false;
    }
    if (c === close) return true;
    this.#i--;
    this.#fail(`expected ',' or ${what}`);
  }

  #string(): string {
    const s = this.#s;
    const start = ++this.#i; // after the opening quote
    let i = start;
    // Fast scan: most strings have no escapes.
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.#i = i + 1;
        return s.slice(start, i);
      }
      if (c === 0x5c) break;
      if (c < 0x20 || Number.isNaN(c)) {
        this.#i = i;
        this.#fail(Number.isNaN(c) ? "unterminated string" : "control character in string");
      }
      i++;
    }
    let out = s.slice(start, i);
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        this.#i = i + 1;
        return out;
      }
      if (Number.isNaN(c)) {
        this.#i = i;
        this.#fail("unterminated string");
      }
      if (c < 0x20) {
        this.#i = i;
        this.#fail("control character in string");
      }
      if (c !== 0x5c) {
        out += s[i];
        i++;
        continue;
      }
      const e = s.charCodeAt(i + 1);
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += "\\"; break;
        case 0x2f: out += "/"; break;
        case 0x62: out += "\b"; break;
        case 0x66: out += "\f"; break;
        case 0x6e: out += "\n"; break;
        case 0x72: out += "\r"; break;
        case 0x74: out += "\t"; break;
        case 0x75: {
          const hex = s.slice(i + 2, i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
            this.#i = i;
            this.#fail("invalid \\u escape");
          }
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          continue;
        }
        default:
          this.#i = i;
          this.#fail("invalid escape in string");
      }
      i += 2;
    }
  }

  #number(): number | bigint {
    const s = this.#s;
    const start = this.#i;
    let i = start;
    if (s.charCodeAt(i) === 0x2d) i++;
    const intStart = i;
    if (s.charCodeAt(i) === 0x30) {
      i++;
    } else {
      while (isDigit(s.charCodeAt(i))) i++;
    }
    if (i === intStart) {
      this.#i = i;
      this.#fail("invalid number");
    }
    let integer = true;
    if (s.charCodeAt(i) === 0x2e) {
      integer = false;
      i++;
      const f = i;
      while (isDigit(s.charCodeAt(i))) i++;
      if (i === f) {
        this.#i = i;
        this.#fail("invalid number: no digits after '.'");
      }
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      integer = false;
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      const x = i;
      while (isDigit(s.charCodeAt(i))) i++;
      if (i === x) {
        this.#i = i;
        this.#fail("invalid number: no digits in exponent");
      }
    }
    this.#i = i;
    const lit = s.slice(start, i);
    if (!integer) return Number(lit);
    if (this.#allInts) return BigInt(lit);
    if (i - intStart <= 15) return Number(lit);
    const big = BigInt(lit);
    return big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(big) : big;
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
