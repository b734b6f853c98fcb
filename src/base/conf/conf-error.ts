// Errors of the conf package. Every message starts with where the offending text came from
// ("pfsagent.conf:12", "command line", or the loaded file names for a missing option), then the
// option as "[Section] Option", then what was expected and what was found, e.g.
//   pfsagent.conf:12: [Agent] ReadCacheLineSize: expected an unsigned integer, got "abc"

/** Where an option's current value came from. `line` is 1-based; absent for command-line overrides. */
export interface ConfOrigin {
  /** File path as given (or resolved for .include), "(stdin)", "command line", or "default". */
  readonly source: string;
  readonly line?: number;
}

export const COMMAND_LINE = "command line";
export const STDIN_NAME = "(stdin)";

/** "pfsagent.conf:12", or just the source when there is no line. */
export function formatOrigin(origin: ConfOrigin): string {
  return origin.line === undefined ? origin.source : `${origin.source}:${origin.line}`;
}

/**
 * Stable codes:
 *  - CONF_IO: a file could not be read.
 *  - CONF_SYNTAX: malformed file text or override string.
 *  - CONF_MISSING: a required section/option is absent.
 *  - CONF_VALUE: an option is present but its value is not what was expected.
 *  - CONF_INVALID: several problems at once (see `problems`).
 */
export type ConfErrorCode = "CONF_IO" | "CONF_SYNTAX" | "CONF_MISSING" | "CONF_VALUE" | "CONF_INVALID";

export interface ConfErrorDetails {
  readonly origin?: ConfOrigin;
  readonly section?: string;
  readonly option?: string;
  readonly cause?: unknown;
}

export class ConfError extends Error {
  override readonly name = "ConfError";
  readonly code: ConfErrorCode;
  readonly origin: ConfOrigin | undefined;
  readonly section: string | undefined;
  readonly option: string | undefined;

  constructor(code: ConfErrorCode, message: string, details: ConfErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.origin = details.origin;
    this.section = details.section;
    this.option = details.option;
  }
}

/** Several configuration problems reported together (so a user fixes them in one pass). */
export class ConfProblemsError extends ConfError {
  readonly problems: readonly ConfError[];

  constructor(problems: readonly ConfError[]) {
    super("CONF_INVALID", problems.map((p) => p.message).join("\n"));
    this.problems = problems;
  }
}

/** `[Agent] ReadCacheLineSize` */
export function optionLabel(section: string, option: string): string {
  return `[${section}] ${option}`;
}
