// bench:meta — metadata-heavy and small-file workloads on four file systems, in one run
// (npm run bench:meta = node dist/bench/meta.js [options]):
//   ours/embedded  our pfsagentd mount over the embedded Swift-API store (`pfs up`, ports from 18480);
//   ours/Swift     our pfsagentd mount over real Swift (127.0.0.1:8080, scripts/swift-saio.sh) through
//                  the pfs middleware proxy, proxyfsd persisting a fresh account;
//   rclone/Swift   `rclone mount --vfs-cache-mode writes` of a fresh container on the same Swift;
//   ext4           a plain directory on the local file system under /tmp.
// Without real Swift the two Swift columns are skipped (NA) with a message; setup and every file
// are removed at the end (unmounts, children, temp dir, the Swift account's and rclone's
// containers), also on Ctrl-C. Needs root (FUSE mounts, drop_caches), tar and git.
//
// Workloads (bench/meta/workloads.ts), each in a fresh directory, run by a child process
// (bench/meta/workload-main.ts) so a hung mount cannot wedge the bench; every step has a time
// limit, and a step over it is reported as TIMEOUT (and not tried again in later rounds; a step
// that fails, e.g. git exits non-zero, is FAIL and is tried again):
//   meta       create, stat, unlink of 5,000 empty files in one directory (ops/s each);
//   smallfile  4,000 files of 4 KiB written then synced (files/s), then read back cold (files/s);
//   ls10k      `ls -l` of a 10,000-entry directory (seconds; made first, untimed: through the mount,
//              except on ours, where RpcCreates to proxyfsd (what the agent sends) make the entries
//              in a fraction of the time the mount takes today);
//   tree       `tar -xf` + sync of a generated source tree (bench/meta/source-tree.ts: ~4,000
//              entries, ~50 MB, nested directories, symlinks; seeded, so the same every run), then
//              `git add -A && git commit` of it (git init, user and gc.auto=0 first, untimed).
// Between phases the caches are dropped: syncfs of the file system under test (`sync -f`; a global
// sync would also wait on other people's mounts on a shared machine), for rclone a wait until its
// upload queue is empty (its writes reach Swift in the background after close; waiting keeps that
// traffic out of everyone's timings, so rclone's figures do not include its uploads) and
// `rclone rc vfs/forget` (its own directory cache, which drop_caches does not reach), then
// `echo 3 > /proc/sys/vm/drop_caches`. Each workload runs --rounds times, interleaved across
// systems (round 1: A B C D, round 2: A B C D, ...); the table shows medians.
// The load average (/proc/loadavg) is printed before and after. The last line is
//   RESULT create_ops=<n> stat_ops=<n> unlink_ops=<n> smallfile_ops=<n> ls10k_s=<x> untar_s=<x>
//          git_s=<x> untar_swift_s=<x> meta_vs_rclone=<x> untar_vs_rclone=<x>
// (ours/embedded unless _swift; smallfile_ops = 4 KiB files written+synced per second;
// meta_vs_rclone = geometric mean over create/stat/unlink of ours/embedded ops/s over rclone's;
// untar_vs_rclone = rclone's untar seconds / ours/embedded's, higher is better for us; NA when a
// figure is missing, timed out or failed).
//
// Options (each also as an environment variable):
//   --systems LIST      PFS_BENCH_SYSTEMS       subset of embedded,swift,rclone,ext4 (default all)
//   --workloads LIST    PFS_BENCH_WORKLOADS     subset of meta,smallfile,ls10k,tree (default all)
//   --rounds N          PFS_BENCH_ROUNDS        rounds per workload (default 3)
//   --scale X           PFS_BENCH_SCALE         file counts and tree size times X (default 1;
//                                               0.2 for a quick run); limits scale with it
//   --limit-factor X    PFS_BENCH_LIMIT_FACTOR  every step's time limit times X (default 1)
//   --port-base N       PFS_BENCH_PORT_BASE     ports N..N+20 (default 18480)
//   --seed N            PFS_BENCH_SEED          the source tree's PRNG seed (default 1)
// Quick check of everything: npm run bench:meta -- --rounds 1 --scale 0.2 (~10 min). A full default
// run took ~1 h 55 min on a 2-core machine (bench/RESULTS.md): our mount is slow today (tree on
// ours/embedded ~6 min per round; ours/Swift ~40 min in all, even with its slowest steps cut by
// their limits), rclone's uploads are waited for between phases, and its container of ~60,000
// objects takes ~10 min to purge at the end.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync, type ChildProcess } from "node:child_process";
import { Cleanups, exited, forceUnmount, killGroup, log, mountsBelow, spawnGroup, waitExit } from "./meta/proc.js";
import { formatCell, geomean, median, numeric, resultValue, textTable, type Cell, type Outcome } from "./meta/report.js";
import { writeSourceTarball } from "./meta/source-tree.js";
import { SYSTEM_KEYS, SYSTEM_LABELS, available, startSystem, type System, type SystemKey } from "./meta/systems.js";
import { SIZES, STEPS, WORKLOADS, scaled, stepLimitMs, type Figure, type Step, type WorkloadEvent, type WorkloadJob, type WorkloadName } from "./meta/workloads.js";

const here = dirname(fileURLToPath(import.meta.url));
const WORKLOAD_MAIN = join(here, "meta", "workload-main.js");

interface Options {
  systems: SystemKey[];
  workloads: WorkloadName[];
  rounds: number;
  scale: number;
  limitFactor: number;
  portBase: number;
  seed: number;
}

const USAGE = "usage: node dist/bench/meta.js [--systems embedded,swift,rclone,ext4] [--workloads meta,smallfile,ls10k,tree] [--rounds N] [--scale X] [--limit-factor X] [--port-base N] [--seed N]";

function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): Options {
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unexpected argument ${JSON.stringify(a)}\n${USAGE}`);
    const v = m[2] ?? argv[++i];
    if (v === undefined) throw new Error(`--${m[1]} needs a value\n${USAGE}`);
    given.set(m[1]!, v);
  }
  const get = (flag: string, envName: string, def: string): string => given.get(flag) ?? env[envName] ?? def;
  const list = <T extends string>(flag: string, envName: string, all: readonly T[]): T[] => {
    const xs = get(flag, envName, all.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
    for (const x of xs) if (!all.includes(x as T)) throw new Error(`--${flag}: unknown ${JSON.stringify(x)} (one of ${all.join(", ")})`);
    return all.filter((x) => xs.includes(x)); // the canonical order A B C D
  };
  const num = (flag: string, envName: string, def: number, ok: (n: number) => boolean): number => {
    const n = Number(get(flag, envName, String(def)));
    if (!ok(n)) throw new Error(`--${flag} ${get(flag, envName, "")} is out of range\n${USAGE}`);
    return n;
  };
  for (const k of given.keys()) {
    if (!["systems", "workloads", "rounds", "scale", "limit-factor", "port-base", "seed"].includes(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  }
  return {
    systems: list("systems", "PFS_BENCH_SYSTEMS", SYSTEM_KEYS),
    workloads: list("workloads", "PFS_BENCH_WORKLOADS", WORKLOADS),
    rounds: num("rounds", "PFS_BENCH_ROUNDS", 3, (n) => Number.isInteger(n) && n >= 1),
    scale: num("scale", "PFS_BENCH_SCALE", 1, (n) => n > 0 && n <= 10),
    limitFactor: num("limit-factor", "PFS_BENCH_LIMIT_FACTOR", 1, (n) => n > 0),
    portBase: num("port-base", "PFS_BENCH_PORT_BASE", 18480, (n) => Number.isInteger(n) && n >= 1024 && n <= 65500),
    seed: num("seed", "PFS_BENCH_SEED", 1, (n) => Number.isInteger(n) && n >= 0),
  };
}

/** The repository root (scripts/swift-saio.sh lives there): up from dist/bench/, else the cwd. */
function repoRoot(): string {
  for (const base of [resolve(here, "..", ".."), resolve(here, ".."), process.cwd()]) {
    if (existsSync(join(base, "scripts", "swift-saio.sh"))) return base;
  }
  throw new Error(`cannot find scripts/swift-saio.sh above ${here} or in ${process.cwd()}`);
}

function preflight(o: Options): void {
  if (process.getuid?.() !== 0) throw new Error("bench:meta needs root (FUSE mounts, /proc/sys/vm/drop_caches)");
  if (o.systems.some((s) => s !== "ext4") && !existsSync("/dev/fuse")) throw new Error("/dev/fuse is missing (modprobe fuse)");
  for (const tool of ["tar", "git", "ls", "sync"]) {
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).status !== 0) throw new Error(`${tool} is not installed (scripts/install-deps.sh)`);
  }
}

const loadavg = (): string => readFileSync("/proc/loadavg", "utf8").trim();

/** The figures of a workload, in step order. */
const figureSteps = (w: WorkloadName): Array<Step & { figure: Figure }> => STEPS[w].filter((s): s is Step & { figure: Figure } => s.figure !== undefined);
const ALL_FIGURES: Figure[] = WORKLOADS.flatMap((w) => figureSteps(w).map((s) => s.figure));

class Bench {
  /** system -> figure key -> one outcome per round. */
  readonly results = new Map<SystemKey, Map<string, Outcome[]>>();
  /** Wall time of the workload runs per system (ms), settling included. */
  readonly spentMs = new Map<SystemKey, number>();
  /** "system/step" -> why it is not run again (it timed out in an earlier round). */
  readonly #skip = new Map<string, Outcome>();
  #child: ChildProcess | undefined;
  stopping = false;

  constructor(readonly o: Options, readonly tmp: string, readonly tarball: string) {}

  record(sys: SystemKey, f: Figure, out: Outcome): void {
    let m = this.results.get(sys);
    if (!m) this.results.set(sys, (m = new Map()));
    let runs = m.get(f.key);
    if (!runs) m.set(f.key, (runs = []));
    runs.push(out);
  }

  /** Kills the running workload child, if any (SIGINT). */
  killChild(): void {
    if (this.#child && !exited(this.#child)) killGroup(this.#child.pid!, "SIGKILL");
  }

  async runAll(systems: Map<SystemKey, System | Outcome>): Promise<void> {
    for (let round = 1; round <= this.o.rounds; round++) {
      for (const w of this.o.workloads) {
        for (const [key, sys] of systems) {
          if (this.stopping) return;
          if ("kind" in sys) {
            for (const s of figureSteps(w)) this.record(key, s.figure, sys);
            continue;
          }
          const t0 = Date.now();
          const outs = await this.runWorkload(sys, w, round);
          this.spentMs.set(key, (this.spentMs.get(key) ?? 0) + Date.now() - t0);
          if (this.stopping) return;
          const line = figureSteps(w).map((s) => `${s.name} ${formatCell(s.figure, outs.get(s.name)!)}${s.figure.unit === "s" ? " s" : ` ${s.figure.unit}`}`);
          log(`round ${round}/${this.o.rounds} ${w} on ${SYSTEM_LABELS[key]}: ${line.join(", ")}`);
        }
      }
    }
  }

  /** One workload on one system in a fresh directory; returns (and records) an outcome per timed step. */
  async runWorkload(sys: System, w: WorkloadName, round: number): Promise<Map<string, Outcome>> {
    const figs = figureSteps(w);
    const skipped = figs.filter((s) => this.#skip.has(`${sys.key}/${s.name}`));
    let outs: Map<string, Outcome>;
    if (skipped.includes(figs[0]!)) {
      // Everything after the first timed step depends on it.
      const why = this.#skip.get(`${sys.key}/${figs[0]!.name}`)!;
      outs = new Map(figs.map((s) => [s.name, why]));
    } else {
      const job: WorkloadJob = {
        workload: w, dir: join(sys.root, `r${round}-${w}`), scale: this.o.scale, tarball: this.tarball,
        skip: skipped.map((s) => s.name), ...(sys.rcUrl ? { rcUrl: sys.rcUrl } : {}), ...(sys.proxyfsd ? { proxyfsd: sys.proxyfsd } : {}),
      };
      outs = await this.#runChild(job);
      for (const s of skipped) outs.set(s.name, this.#skip.get(`${sys.key}/${s.name}`)!);
    }
    for (const s of figs) {
      const out = outs.get(s.name)!;
      this.record(sys.key, s.figure, out);
      // Only timeouts are not tried again (they cost the whole limit; a failure may be a fluke).
      if (out.kind === "TIMEOUT" && !this.#skip.has(`${sys.key}/${s.name}`) && !out.why.startsWith("not reached")) {
        this.#skip.set(`${sys.key}/${s.name}`, { kind: out.kind, why: `not run: ${s.name} timed out in round ${round}` });
      }
    }
    return outs;
  }

  /** Runs the workload child, enforcing each step's limit; maps its events to outcomes. */
  async #runChild(job: WorkloadJob): Promise<Map<string, Outcome>> {
    const steps = STEPS[job.workload].filter((s) => !job.skip.includes(s.name));
    const outs = new Map<string, Outcome>();
    const child = spawnGroup(process.execPath, [WORKLOAD_MAIN, JSON.stringify(job)], { cwd: this.tmp });
    this.#child = child;
    let current = "start-up";
    let timedOut: string | undefined;
    let failed: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    // A process blocked in a hung mount may not die even on SIGKILL: stop waiting for it 60 s after
    // the kill (its group is killed again at exit).
    let abandon: () => void = () => {};
    const abandoned = new Promise<void>((r) => (abandon = r));
    const arm = (ms: number): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = `${current} took over ${Math.round(ms / 1000)} s`;
        killGroup(child.pid!, "SIGKILL");
        setTimeout(abandon, 60_000).unref();
      }, ms);
    };
    arm(60_000); // start-up, and below the gaps between steps
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    let pending = "";
    child.stdout!.on("data", (d: Buffer) => {
      const lines = (pending + d.toString()).split("\n");
      pending = lines.pop()!;
      for (const l of lines) {
        let e: WorkloadEvent;
        try {
          e = JSON.parse(l) as WorkloadEvent;
        } catch {
          continue; // not an event
        }
        if (e.event === "start") {
          current = e.step;
          arm(stepLimitMs(steps.find((s) => s.name === e.step)!, this.o.scale, this.o.limitFactor));
        } else if (e.event === "done") {
          current = `the gap after ${e.step}`;
          arm(60_000);
          const step = steps.find((s) => s.name === e.step)!;
          const seconds = e.seconds ?? NaN; // NaN arrives as null
          if (!Number.isFinite(seconds)) failed = `${e.step} failed: ${e.error ?? "no time"}`;
          else if (step.figure) outs.set(e.step, this.#outcome(step.figure, seconds, e.count, e.error));
        }
      }
    });
    await Promise.race([waitExit(child, Infinity), abandoned]);
    clearTimeout(timer);
    this.#child = undefined;
    for (const s of steps) {
      if (!s.figure || outs.has(s.name)) continue;
      if (timedOut) outs.set(s.name, { kind: "TIMEOUT", why: current === s.name ? timedOut : `not reached: ${timedOut}` });
      else {
        const why = failed ?? `workload child exited ${child.exitCode ?? child.signalCode}: ${stderr.trim().split("\n").slice(-3).join(" | ")}`;
        outs.set(s.name, { kind: "FAIL", why: failed?.startsWith(`${s.name} `) ? why : `not reached: ${why}` });
      }
    }
    return outs;
  }

  #outcome(f: Figure, seconds: number, count: number, error: string | undefined): Outcome {
    const value = f.unit === "s" ? seconds : count / seconds;
    return { kind: "value", value, ...(error ? { error } : {}) };
  }
}

// ---- report ----

/** The workload sizes at `scale`, for the table's heading (the row labels name scale 1's). */
function scaledSizes(scale: number): string {
  const n = (x: number) => scaled(x, scale).toLocaleString("en-US");
  return `${n(SIZES.metaFiles)} files for create/stat/unlink, ${n(SIZES.smallFiles)} small files, ${n(SIZES.lsEntries)} entries for ls -l, the tree below`;
}

function report(o: Options, bench: Bench, systems: Map<SystemKey, System | Outcome>, info: string[]): string[] {
  const keys = [...systems.keys()];
  const figures = ALL_FIGURES.filter((f) => o.workloads.some((w) => figureSteps(w).some((s) => s.figure === f)));
  const runs = (k: SystemKey, f: Figure): Outcome[] => bench.results.get(k)?.get(f.key) ?? [];
  const cell = (k: SystemKey, f: Figure): Cell => median(f, runs(k, f));
  const out: string[] = [];
  out.push(`bench:meta: median of ${o.rounds} round(s), scale ${o.scale}${o.scale === 1 ? "" : ` (${scaledSizes(o.scale)})`}`);
  out.push(textTable(["figure", "unit", ...keys.map((k) => SYSTEM_LABELS[k])], figures.map((f) => [f.label, f.unit, ...keys.map((k) => formatCell(f, cell(k, f)))])));
  if (o.rounds > 1) {
    out.push("", "every round (1 / 2 / ...):");
    out.push(textTable(["figure", "unit", ...keys.map((k) => SYSTEM_LABELS[k])], figures.map((f) => [f.label, f.unit, ...keys.map((k) => runs(k, f).map((r) => formatCell(f, r)).join(" / "))])));
  }
  const notes: string[] = [];
  for (const k of keys) {
    for (const f of figures) {
      // One line per system and figure: each distinct problem with the rounds it happened in.
      const rounds = new Map<string, number[]>();
      runs(k, f).forEach((r, i) => {
        const what = r.kind === "value" ? r.error : r.kind === "TIMEOUT" || r.kind === "FAIL" ? `${r.kind}: ${r.why}` : undefined;
        if (what) rounds.set(what, [...(rounds.get(what) ?? []), i + 1]);
      });
      const parts = [...rounds].map(([what, rs]) => `${o.rounds > 1 ? `round ${rs.join(",")}: ` : ""}${what}`);
      if (parts.length) notes.push(`  ${SYSTEM_LABELS[k]}, ${f.label}: ${parts.join("; ")}`);
    }
  }
  if (notes.length) out.push("", "notes (\"!\" = the step finished but reported a problem):", ...notes);
  out.push("", ...info);
  return out;
}

function resultLine(bench: Bench, systems: Map<SystemKey, System | Outcome>): string {
  const get = (k: SystemKey, key: string): number | undefined => {
    const f = ALL_FIGURES.find((x) => x.key === key)!;
    return systems.has(k) ? numeric(median(f, bench.results.get(k)?.get(key) ?? [])) : undefined;
  };
  const ours = (key: string) => get("embedded", key);
  const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const metaVsRclone = geomean(["create_ops", "stat_ops", "unlink_ops"].map((k) => ratio(ours(k), get("rclone", k))));
  return [
    "RESULT",
    `create_ops=${resultValue(ours("create_ops"), 0)}`,
    `stat_ops=${resultValue(ours("stat_ops"), 0)}`,
    `unlink_ops=${resultValue(ours("unlink_ops"), 0)}`,
    `smallfile_ops=${resultValue(ours("smallfile_ops"), 0)}`,
    `ls10k_s=${resultValue(ours("ls10k_s"), 2)}`,
    `untar_s=${resultValue(ours("untar_s"), 2)}`,
    `git_s=${resultValue(ours("git_s"), 2)}`,
    `untar_swift_s=${resultValue(get("swift", "untar_s"), 2)}`,
    `meta_vs_rclone=${resultValue(metaVsRclone, 2)}`,
    `untar_vs_rclone=${resultValue(ratio(get("rclone", "untar_s"), ours("untar_s")), 2)}`,
  ].join(" ");
}

// ---- main ----

function describeSystem(s: System | Outcome): string {
  if (!("kind" in s)) return s.describe;
  return s.kind === "TIMEOUT" || s.kind === "FAIL" ? `${s.kind}: ${s.why}` : "not run (NA)";
}

async function startSystems(o: Options, ctx: Parameters<typeof startSystem>[1]): Promise<Map<SystemKey, System | Outcome>> {
  const systems = new Map<SystemKey, System | Outcome>();
  for (const key of o.systems) {
    if (!(await available(key))) {
      systems.set(key, { kind: "NA" });
      continue;
    }
    log(`starting ${SYSTEM_LABELS[key]}`);
    try {
      const sys = await startSystem(key, ctx);
      log(`${SYSTEM_LABELS[key]}: ${sys.describe}`);
      systems.set(key, sys);
    } catch (err) {
      // Ours failing to start is a result (FAIL in every figure), not a reason to stop the others.
      log(`${SYSTEM_LABELS[key]} did not start: ${(err as Error).message}`);
      systems.set(key, { kind: "FAIL", why: `did not start: ${(err as Error).message.split("\n")[0]}` });
    }
  }
  return systems;
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2), process.env);
  preflight(o);
  const cleanups = new Cleanups();
  let bench: Bench | undefined;
  const onSignal = (sig: string): void => {
    if (cleanups.started) return log(`${sig} again: still cleaning up`);
    log(`${sig}: stopping the workload, unmounting, deleting what the run made`);
    if (bench) bench.stopping = true;
    bench?.killChild();
    void cleanups.run().finally(() => process.exit(130));
  };
  process.on("SIGINT", () => onSignal("SIGINT"));
  process.on("SIGTERM", () => onSignal("SIGTERM"));

  const tmp = mkdtempSync(join(tmpdir(), "pfs-bench-meta-"));
  cleanups.add(`remove ${tmp}`, () => {
    for (const m of mountsBelow(tmp)) forceUnmount(m);
    const left = mountsBelow(tmp);
    if (left.length) throw new Error(`still mounted, not removing ${tmp}: ${left.join(", ")}`);
    rmSync(tmp, { recursive: true, force: true });
  });
  try {
    const load0 = loadavg();
    log(`load before: ${load0}; temp dir ${tmp}`);
    const tarball = join(tmp, "tree.tar");
    const t = writeSourceTarball(tarball, o.seed, o.scale);
    const treeInfo = `source tree (seed ${o.seed}): ${t.dirs} directories, ${t.files} files, ${t.symlinks} symlinks (${t.dirs + t.files + t.symlinks} entries), ${(t.bytes / 1e6).toFixed(1)} MB of file data`;
    log(treeInfo);
    const systems = await startSystems(o, { tmp, portBase: o.portBase, cleanups, repoRoot: repoRoot() });
    bench = new Bench(o, tmp, tarball);
    const t0 = Date.now();
    await bench.runAll(systems);
    if (bench.stopping) return;
    const load1 = loadavg();
    const info = [
      `load before: ${load0}`,
      `load after:  ${load1}`,
      `workloads took ${((Date.now() - t0) / 60_000).toFixed(1)} min (${[...bench.spentMs].map(([k, ms]) => `${SYSTEM_LABELS[k]} ${(ms / 60_000).toFixed(1)}`).join(", ")})`,
      treeInfo,
      ...[...systems].map(([k, s]) => `${SYSTEM_LABELS[k]}: ${describeSystem(s)}`),
    ];
    log("workloads done; cleaning up");
    await cleanups.run();
    for (const l of report(o, bench, systems, info)) console.log(l);
    console.log(resultLine(bench, systems));
  } finally {
    if (!bench?.stopping) await cleanups.run();
  }
}

main().catch((err) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
