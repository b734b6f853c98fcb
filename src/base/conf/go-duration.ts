// Go `time.ParseDuration` / `Duration.String` semantics, with nanoseconds held as bigint
// (a Go Duration is an int64 of nanoseconds; 2^63-1 ns is about 292 years, beyond 2^53).
//
// Grammar: [-+]? ( digits? ( "." digits? )? unit )+   |   [-+]? "0"
// Units: ns, us, µs (U+00B5), μs (U+03BC), ms, s, m, h. Each number needs digits on at least one
// side of the ".", each number needs a unit, except the whole string "0" (optionally signed).
// Fractions are truncated toward zero at the nanosecond (Go rounds through a float64; the two
// agree except for fractions longer than float64 precision).

const UNIT_NS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n],
  ["\u03bcs", 1_000n],
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);

export const MAX_DURATION_NS = (1n << 63n) - 1n;
export const NS_PER_MS = 1_000_000n;

/** Thrown for text that is not a Go duration; `code` is stable. */
export class DurationSyntaxError extends Error {
  override readonly name = "DurationSyntaxError";
  readonly code = "DURATION_SYNTAX";
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= "0" && c <= "9";
}

/**
 * Parses a Go duration ("100ms", "1m30s", "0.5s", "1h", "0") into nanoseconds.
 * @throws DurationSyntaxError for malformed text, a missing or unknown unit, or overflow of int64.
 */
export function parseGoDuration(text: string): bigint {
  const bad = (why: string): DurationSyntaxError =>
    new DurationSyntaxError(`invalid duration ${JSON.stringify(text)}: ${why}`);
  let s = text;
  let neg = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    neg = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n;
  if (s === "") throw bad("empty");
  let total = 0n;
  let i = 0;
  while (i < s.length) {
    if (!(s[i] === "." || isDigit(s[i]))) throw bad(`expected a number at ${JSON.stringify(s.slice(i))}`);
    const intStart = i;
    while (isDigit(s[i])) i++;
    const intDigits = s.slice(intStart, i);
    let fracDigits = "";
    if (s[i] === ".") {
      i++;
      const fracStart = i;
      while (isDigit(s[i])) i++;
      fracDigits = s.slice(fracStart, i);
    }
    if (intDigits === "" && fracDigits === "") throw bad("a number needs at least one digit");
    const unitStart = i;
    while (i < s.length && !(s[i] === "." || isDigit(s[i]))) i++;
    const unitText = s.slice(unitStart, i);
    if (unitText === "") throw bad("missing unit (one of ns, us, ms, s, m, h)");
    const unit = UNIT_NS.get(unitText);
    if (unit === undefined) throw bad(`unknown unit ${JSON.stringify(unitText)} (expected one of ns, us, ms, s, m, h)`);
    let v = (intDigits === "" ? 0n : BigInt(intDigits)) * unit;
    if (fracDigits !== "") v += (BigInt(fracDigits) * unit) / 10n ** BigInt(fracDigits.length);
    total += v;
    if (total > (neg ? MAX_DURATION_NS + 1n : MAX_DURATION_NS)) throw bad("overflows a 64-bit duration");
  }
  return neg ? -total : total;
}

/** Writes v / 10^prec as ".123" (no trailing zeros, nothing if the fraction is 0); returns [frac, v / 10^prec]. */
function fracPart(v: bigint, prec: number): [string, bigint] {
  let digits = "";
  let printed = false;
  for (let k = 0; k < prec; k++) {
    const digit = v % 10n;
    printed ||= digit !== 0n;
    if (printed) digits = digit.toString() + digits;
    v /= 10n;
  }
  return [printed ? "." + digits : "", v];
}

/** Formats nanoseconds exactly like Go's Duration.String(): "1m30s", "100ms", "1.5µs", "0s", "1h0m0s". */
export function formatGoDuration(ns: bigint): string {
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  let out: string;
  if (u < 1_000_000_000n) {
    if (u === 0n) return "0s";
    let unit: string;
    let prec: number;
    if (u < 1_000n) [unit, prec] = ["ns", 0];
    else if (u < 1_000_000n) [unit, prec] = ["\u00b5s", 3];
    else [unit, prec] = ["ms", 6];
    const [frac, whole] = fracPart(u, prec);
    out = `${whole}${frac}${unit}`;
  } else {
    const [frac, secondsTotal] = fracPart(u, 9);
    u = secondsTotal;
    out = `${u % 60n}${frac}s`;
    u /= 60n;
    if (u > 0n) {
      out = `${u % 60n}m${out}`;
      u /= 60n;
      if (u > 0n) out = `${u}h${out}`;
    }
  }
  return neg ? "-" + out : out;
}

/** Nanoseconds to (possibly fractional) milliseconds, e.g. for setTimeout. */
export function durationToMs(ns: bigint): number {
  return Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;
}
