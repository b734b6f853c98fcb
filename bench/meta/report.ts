// bench:meta's results: per-run outcomes, medians, the table and the RESULT line.
//
// A run that timed out or failed counts as the worst possible value when taking the median (a
// timeout is slower than anything measured), so a median that lands on one prints TIMEOUT or
// FAIL rather than a number from the lucky rounds. A value whose step reported a problem (e.g.
// tar could not create symlinks) is printed with "!" and the problem is listed under the table.
import type { Figure } from "./workloads.js";

export type Outcome =
  | { kind: "value"; value: number; error?: string }
  | { kind: "TIMEOUT" | "FAIL"; why: string }
  | { kind: "NA" };

export type Cell = Outcome;

const higherIsBetter = (f: Figure): boolean => f.unit !== "s";

/** Sorts best first; TIMEOUT and FAIL after every value. */
function byBadness(f: Figure): (a: Outcome, b: Outcome) => number {
  const rank = (o: Outcome): number => (o.kind === "value" ? 0 : 1);
  return (a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    if (a.kind !== "value" || b.kind !== "value") return 0;
    return higherIsBetter(f) ? b.value - a.value : a.value - b.value;
  };
}

export function median(f: Figure, runs: readonly Outcome[]): Cell {
  const rs = runs.filter((r) => r.kind !== "NA").sort(byBadness(f));
  if (rs.length === 0) return { kind: "NA" };
  const mid = rs[Math.floor((rs.length - 1) / 2)]!;
  if (rs.length % 2 === 1) return mid;
  const next = rs[rs.length / 2]!;
  if (mid.kind === "value" && next.kind === "value") {
    const error = mid.error ?? next.error;
    return { kind: "value", value: (mid.value + next.value) / 2, ...(error ? { error } : {}) };
  }
  return next;
}

export function formatValue(f: Figure, v: number): string {
  if (f.unit === "s") return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

export function formatCell(f: Figure, c: Cell): string {
  if (c.kind === "value") return formatValue(f, c.value) + (c.error ? "!" : "");
  return c.kind;
}

/** Rows of cells as an aligned text table; the first `leftCols` columns are left-aligned. */
export function textTable(head: string[], rows: string[][], leftCols = 2): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i < leftCols ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd();
  return [line(head), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The value of a cell for the RESULT line, or undefined (NA). */
export function numeric(c: Cell | undefined): number | undefined {
  return c?.kind === "value" && Number.isFinite(c.value) ? c.value : undefined;
}

export function geomean(xs: readonly (number | undefined)[]): number | undefined {
  if (xs.length === 0 || xs.some((x) => x === undefined || !(x > 0))) return undefined;
  return Math.exp(xs.reduce<number>((s, x) => s + Math.log(x!), 0) / xs.length);
}

export function resultValue(v: number | undefined, digits: number): string {
  return v === undefined ? "NA" : digits === 0 ? String(Math.round(v)) : v.toFixed(digits);
}
