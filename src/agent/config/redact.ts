// Hiding credentials when a configuration is printed (check-config, logs, GET /config).
// The original served PlugInEnvValue (Swift AuthKey included) verbatim and unauthenticated.
import { isLosslessNumber, parse, stringify } from "lossless-json";

export const REDACTED = "*REDACTED*";

/** JSON member names whose values are secrets (AuthKey, password, secret, token, credentials, private key). */
const SECRET_NAME_RE = /key|passw(or)?d|passwd|secret|token|credential|private/i;
/** user:password@ inside URLs. */
const URL_PASSWORD_RE = /(\/\/[^/\s:@]*:)[^/\s@]+@/g;

function redactJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactJson);
  if (value !== null && typeof value === "object" && !isLosslessNumber(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_NAME_RE.test(k) && v !== "" && v !== null ? REDACTED : redactJson(v);
    }
    return out;
  }
  if (typeof value === "string") return value.replace(URL_PASSWORD_RE, `$1${REDACTED}@`);
  return value;
}

/**
 * Redacts a secrets blob such as PlugInEnvValue. A JSON object keeps its shape with secret-named
 * members replaced (so AuthURL/AuthUser/Account stay visible for debugging); anything else that
 * is not empty is replaced whole.
 */
export function redactSecretBlob(text: string): string {
  if (text === "") return "";
  let parsed: unknown;
  try {
    parsed = parse(text);
  } catch {
    return REDACTED;
  }
  if (parsed === null || typeof parsed !== "object") return REDACTED;
  return stringify(redactJson(parsed)) ?? REDACTED;
}
