// Line-level grammar of the ProxyFS `conf` INI format (pure functions, no I/O).
//
//   token      = [0-9A-Za-z_*\-/:.\[\]]+ "$"?            (option names, include paths)
//   value      = [0-9A-Za-z_=*\-+/:.\[\]"{}\\]+ "$"?      (anything else, e.g. @ % ? ' ( ), is malformed)
//   assignment = blanks? ("=" | ":") blanks?              (blanks = spaces and tabs)
//   separator  = blanks? "," blanks?  |  blanks
//   option     = token assignment (value (separator value)*)?
//   section    = "[" [0-9A-Za-z_\-/:.]+ "]"
//   include    = ".include" blanks token
//   override   = token "." token assignment (value (separator value)*)?
//
// The option name ends at the *first* assignment character, so "Key:http://x" is Key = "http://x".
// After splitting, each value has the escapes \u0020/\U0020 (space) and \u002C/\U002C/\u002c/\U002c
// (comma) replaced; no other escapes exist. A comma with blanks around it is one separator
// ("a , b" is ["a", "b"]).

const TOKEN = String.raw`[0-9A-Za-z_*\-/:.\[\]]+\$?`;
const VALUE = String.raw`[0-9A-Za-z_=*\-+/:.\[\]"{}\\]+\$?`;
const SEPARATOR = String.raw`(?:[ \t]*,[ \t]*|[ \t]+)`;
const ASSIGNMENT = String.raw`[ \t]*[=:][ \t]*`;
const VALUES = `(?:${VALUE}(?:${SEPARATOR}${VALUE})*)?`;

const OPTION_LINE_RE = new RegExp(`^${TOKEN}${ASSIGNMENT}${VALUES}$`);
const OVERRIDE_RE = new RegExp(`^${TOKEN}\\.${TOKEN}${ASSIGNMENT}${VALUES}$`);
const SECTION_HEADER_RE = /^\[([0-9A-Za-z_\-/:.]+)\]$/;
const INCLUDE_RE = new RegExp(`^\\.include[ \\t]+(${TOKEN})$`);
const ASSIGNMENT_RE = new RegExp(ASSIGNMENT);
const SEPARATOR_RE = new RegExp(SEPARATOR);
const VALUE_CHAR_RE = /[0-9A-Za-z_=*\-+/:.[\]"{}\\$ \t,]/;

export type ConfLine =
  | { readonly kind: "empty" }
  | { readonly kind: "include"; readonly path: string }
  | { readonly kind: "section"; readonly name: string }
  | { readonly kind: "option"; readonly name: string; readonly values: string[] }
  | { readonly kind: "malformed"; readonly reason: string };

/** Replaces the space and comma escapes in one already-split value. */
export function unescapeValue(value: string): string {
  return value.replace(/\\[uU]002[0cC]/g, (esc) => (esc.endsWith("20") ? " " : ","));
}

/** Escapes spaces and commas so that `value` survives a round trip through the format as one value. */
export function escapeValue(value: string): string {
  return value.replace(/ /g, "\\u0020").replace(/,/g, "\\u002C");
}

/** Removes everything after the first ";" and then after the first "#", and trims spaces/tabs. */
export function stripComment(line: string): string {
  const noSemicolon = line.split(";", 1)[0]!;
  return noSemicolon.split("#", 1)[0]!.replace(/^[ \t]+|[ \t]+$/g, "");
}

/** Splits "Name <assignment> values" (already known to match the grammar) into name and values. */
function splitOption(text: string): { name: string; values: string[] } {
  const m = ASSIGNMENT_RE.exec(text)!;
  const name = text.slice(0, m.index);
  const rest = text.slice(m.index + m[0].length);
  const values = rest === "" ? [] : rest.split(SEPARATOR_RE).map(unescapeValue);
  return { name, values };
}

/** Explains why a line that matches no rule is malformed (best effort, for the error message). */
function whyMalformed(line: string): string {
  if (line.includes("\r")) return "contains a carriage return (CRLF line endings are not supported)";
  if (!ASSIGNMENT_RE.test(line)) return 'expected "Name: values", "Name = values", "[Section]" or ".include path"';
  const m = ASSIGNMENT_RE.exec(line)!;
  const name = line.slice(0, m.index);
  if (!new RegExp(`^${TOKEN}$`).test(name)) {
    return `invalid option name ${JSON.stringify(name)} (allowed characters: letters, digits, _ * - / : . [ ], optional trailing $)`;
  }
  const rest = line.slice(m.index + m[0].length);
  for (const ch of rest) {
    if (!VALUE_CHAR_RE.test(ch)) {
      return `character ${JSON.stringify(ch)} is not allowed in a value (allowed: letters, digits, _ = * - + / : . [ ] " { } \\, and $ at the end of a value)`;
    }
  }
  return "values are not a list separated by blanks or commas (a value may not be empty)";
}

/**
 * Classifies one line of a .conf file. Comments are stripped first; `[`...`]` section names,
 * `.include` lines and option lines are recognised in that order of precedence.
 */
export function parseConfLine(rawLine: string): ConfLine {
  const line = stripComment(rawLine);
  if (line === "") return { kind: "empty" };
  const include = INCLUDE_RE.exec(line);
  if (include) return { kind: "include", path: include[1]! };
  const header = SECTION_HEADER_RE.exec(line);
  if (header) return { kind: "section", name: header[1]! };
  if (line.startsWith("[")) {
    return { kind: "malformed", reason: "invalid section header (section names use letters, digits, _ - / : .)" };
  }
  if (!OPTION_LINE_RE.test(line)) return { kind: "malformed", reason: whyMalformed(line) };
  return { kind: "option", ...splitOption(line) };
}

export type ConfOverride =
  | { readonly ok: true; readonly section: string; readonly option: string; readonly values: string[] }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses a command-line override "Section.Option=v1,v2" or "Section.Option:v1 v2". The section is
 * everything before the first "." (so a section whose name contains "." cannot be overridden).
 * No comment stripping is done. Leading/trailing blanks are ignored.
 */
export function parseConfOverride(text: string): ConfOverride {
  const trimmed = text.replace(/^[ \t]+|[ \t]+$/g, "");
  if (trimmed === "") return { ok: false, reason: "empty override" };
  if (!OVERRIDE_RE.test(trimmed)) {
    const dot = trimmed.indexOf(".");
    if (dot < 0 || !ASSIGNMENT_RE.test(trimmed) || ASSIGNMENT_RE.exec(trimmed)!.index < dot) {
      return { ok: false, reason: 'expected "Section.Option=v1,v2" or "Section.Option:v1 v2"' };
    }
    return { ok: false, reason: whyMalformed(trimmed.slice(dot + 1)) };
  }
  const dot = trimmed.indexOf(".");
  const section = trimmed.slice(0, dot);
  const { name, values } = splitOption(trimmed.slice(dot + 1));
  return { ok: true, section, option: name, values };
}
