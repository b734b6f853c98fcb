// Decoding of one URL path part into a name, as Swift does it: percent escapes become bytes
// (malformed escapes stay literal, like Python's unquote), the bytes must be UTF-8 and contain
// no NUL. No normalisation of "." or ".." happens anywhere.
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** The decoded name, or undefined when it is not valid UTF-8 or contains NUL. */
export function decodePathSegment(raw: string): string | undefined {
  if (!raw.includes("%") && /^[\x20-\x7e]*$/.test(raw)) return raw; // fast path: plain ASCII
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charCodeAt(i);
    if (ch === 0x25 && i + 2 < raw.length + 0 && /^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
      bytes.push(parseInt(raw.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (ch < 0x100) {
      bytes.push(ch); // node hands request-line bytes over as latin1 characters
    } else {
      return undefined;
    }
  }
  let s: string;
  try {
    s = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
  return s.includes("\0") ? undefined : s;
}
