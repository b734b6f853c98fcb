// Printing an AgentConfig: as .conf text (for `pfsagentd --check-config`, re-loadable) and as
// JSON (GET /config, durations as integer nanoseconds like the original). Secrets are redacted
// unless the caller explicitly asks otherwise.
import { stringify } from "lossless-json";
import { escapeValue, formatOrigin } from "../../base/conf/index.js";
import { AGENT_SCHEMA, AGENT_SECTION, type AgentConfig, type LoadedAgentConfig } from "./agent-config.js";
import { redactSecretBlob } from "./redact.js";

export interface RenderOptions {
  /** Adds "; <file:line>" (or "; default", "; command line") after each key. */
  readonly origins?: LoadedAgentConfig["origins"];
  /** Default true. false prints secrets verbatim (never do this on a shared channel). */
  readonly redact?: boolean;
}

function entries(cfg: AgentConfig, redact: boolean): Array<[keyof AgentConfig, unknown]> {
  const out: Array<[keyof AgentConfig, unknown]> = [];
  for (const key of Object.keys(AGENT_SCHEMA) as Array<keyof AgentConfig>) {
    const value = cfg[key];
    if (value === undefined) continue;
    out.push([key, redact && AGENT_SCHEMA[key].secret ? redactSecretBlob(value as string) : value]);
  }
  return out;
}

/** The effective [Agent] section as .conf text; loading it again yields the same AgentConfig (except redacted values). */
export function renderEffectiveConfig(cfg: AgentConfig, options: RenderOptions = {}): string {
  const rendered = entries(cfg, options.redact ?? true);
  const keyWidth = Math.max(...rendered.map(([key]) => key.length));
  const rows = rendered.map(([key, value]) => {
    const spec = AGENT_SCHEMA[key] as { render(v: unknown): string[] };
    const values = spec.render(value).map(escapeValue).join(" ");
    return { key, text: `${key}:${" ".repeat(keyWidth - key.length)}${values === "" ? "" : " " + values}` };
  });
  // Origin comments line up, except after the odd very long value (a secrets blob).
  const column = Math.max(...rows.map((r) => r.text.length).filter((n) => n <= 72));
  const lines = rows.map(({ key, text }) => {
    const origin = options.origins?.[key];
    return origin ? `${text.padEnd(column)}  ; ${formatOrigin(origin)}` : text;
  });
  return `[${AGENT_SECTION}]\n${lines.join("\n")}\n`;
}

/** The effective config as JSON (key order of pfsagent.md §2; durations in nanoseconds). */
export function agentConfigToJson(cfg: AgentConfig, options: { readonly redact?: boolean; readonly indent?: number } = {}): string {
  return stringify(Object.fromEntries(entries(cfg, options.redact ?? true)), undefined, options.indent) ?? "{}";
}
