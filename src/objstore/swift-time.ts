// Swift timestamps. A timestamp is kept as an integer count of 10-microsecond ticks since the epoch
// (Swift's PRECISION is 1e-5 s); about 1.8e14 today, well inside 2^53. Formats reproduce Swift:
// X-Timestamp "1795775770.10469", listing "2026-11-27T10:36:10.104690", Last-Modified = ceil(s).

let lastTicks = 0;

/** A fresh timestamp, strictly greater than any this process returned before. */
export function nowTicks(): number {
  const t = Math.floor(Date.now() * 100);
  lastTicks = t > lastTicks ? t : lastTicks + 1;
  return lastTicks;
}

/** "seconds.fffff", as Swift's X-Timestamp / Timestamp.normal. */
export function ticksToNormal(ticks: number): string {
  const s = Math.floor(ticks / 100000);
  const f = ticks - s * 100000;
  return `${String(s).padStart(10, "0")}.${String(f).padStart(5, "0")}`;
}

/** Parses "seconds[.fraction]" to ticks; undefined when malformed. */
export function normalToTicks(s: string): number | undefined {
  const m = /^(\d{1,12})(?:\.(\d{1,5})\d*)?$/.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * 100000 + Number((m[2] ?? "").padEnd(5, "0"));
}

/** Swift's Timestamp.isoformat: UTC, microseconds, no zone suffix. */
export function ticksToIso(ticks: number): string {
  const ms = Math.floor(ticks / 100);
  const iso = new Date(ms).toISOString(); // 2026-11-27T10:36:10.104Z
  const micros = String((ticks % 100000) * 10).padStart(6, "0");
  return `${iso.slice(0, 19)}.${micros}`;
}

/** The Date Swift reports as Last-Modified (whole seconds, rounded up). */
export function ticksToLastModified(ticks: number): Date {
  return new Date(Math.ceil(ticks / 100000) * 1000);
}
