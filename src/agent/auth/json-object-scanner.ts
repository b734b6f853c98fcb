// Finds the first complete JSON object at the start of accumulated plug-in output. The plug-in
// protocol has no framing (no newline after the object, and the object may arrive split across
// several writes), so after every chunk we ask: complete, still incomplete, or never valid?
// The original agent only tried to decode the whole buffer, so garbage made it wait forever.
import { parse } from "lossless-json";

export type ScanResult =
  | { readonly kind: "complete"; readonly value: unknown; readonly rest: string }
  | { readonly kind: "incomplete" }
  | { readonly kind: "garbage"; readonly reason: string };

/** Output larger than this without a complete object is treated as garbage. */
export const MAX_REPLY_CHARS = 64 * 1024;

export function scanJsonObject(text: string): ScanResult {
  const start = text.search(/\S/);
  if (start < 0) return { kind: "incomplete" };
  if (text[start] !== "{") return { kind: "garbage", reason: "output does not start with a JSON object" };
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) {
        try {
          return { kind: "complete", value: parse(text.slice(start, i + 1)), rest: text.slice(i + 1) };
        } catch (err) {
          return { kind: "garbage", reason: `invalid JSON (${err instanceof Error ? err.message : String(err)})` };
        }
      }
    }
  }
  if (text.length > MAX_REPLY_CHARS) return { kind: "garbage", reason: `no complete JSON object in ${text.length} characters` };
  return { kind: "incomplete" };
}
