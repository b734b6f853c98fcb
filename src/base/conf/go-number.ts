// Go strconv semantics for the conf getters: ParseUint(v, 10, bits) and ParseFloat(v, 64), plus
// the conf package's boolean words. Each returns undefined for text it does not accept, so the
// caller can word the error with the option's location.

/** Go strconv.ParseUint(text, 10, bits): decimal digits only (no sign, no "_", no "0x"), range-checked. */
export function parseGoUint(text: string, bits: 8 | 16 | 32 | 64): bigint | undefined {
  if (!/^[0-9]+$/.test(text)) return undefined;
  const v = BigInt(text);
  return v < 1n << BigInt(bits) ? v : undefined;
}

/** The largest value of an unsigned integer of `bits` bits. */
export function maxUint(bits: 8 | 16 | 32 | 64): bigint {
  return (1n << BigInt(bits)) - 1n;
}

const DECIMAL_FLOAT = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const SPECIAL_FLOAT = /^([+-]?)(inf|infinity|nan)$/i;

/**
 * Go strconv.ParseFloat(text, 64) for the decimal forms Go accepts: "1.4", "1e3", ".5", "5.",
 * "+Inf", "-infinity", "NaN". Out-of-range magnitudes are rejected (Go returns ErrRange).
 * Hexadecimal floats ("0x1p-2") and "_" separators are not accepted (Go allows "_" only with a base prefix).
 */
export function parseGoFloat(text: string): number | undefined {
  const special = SPECIAL_FLOAT.exec(text);
  if (special) {
    if (special[2]!.toLowerCase() === "nan") return special[1] === "" ? Number.NaN : undefined;
    return special[1] === "-" ? -Infinity : Infinity;
  }
  if (!DECIMAL_FLOAT.test(text)) return undefined;
  const v = Number(text);
  return Number.isFinite(v) ? v : undefined;
}

/** conf's FetchOptionValueBool: case-insensitive true/yes/on or false/no/off. */
export function parseConfBool(text: string): boolean | undefined {
  switch (text.toLowerCase()) {
    case "true":
    case "yes":
    case "on":
      return true;
    case "false":
    case "no":
    case "off":
      return false;
    default:
      return undefined;
  }
}
