// bench:meta's workloads as data, shared by the bench process (limits, figures, table rows) and the
// workload child (bench/meta/workload-main.ts, which runs the steps).
//
// A workload is a list of steps run in order by one child process: timed steps, one figure each
// (a step may do untimed preparation first), and "settle" steps between them. Every step is
// bounded by a limit, so nothing can hang the bench. Limits are per step, at scale 1, and scale
// with --scale (never below MIN_LIMIT_S). Later timed steps depend on the first one (stat and
// unlink on create, read on write, git on untar).
//
// The limits are 2-3x what ours/embedded needs today on a 2-core machine (so its figures, the
// RESULT line's, complete; untar has room for ours/Swift too, untar_swift_s being one of them)
// and far above what rclone needs; they bound a full run when a system is much slower. As rates:
// create and unlink >= 21/s, cold stat >= 42/s, small-file write >= 22 files/s, read >= 33 files/s.

export type WorkloadName = "meta" | "smallfile" | "ls10k" | "tree";
export const WORKLOADS: readonly WorkloadName[] = ["meta", "smallfile", "ls10k", "tree"];

export interface Figure {
  /** Key in the RESULT line (for the embedded system; see meta.ts). */
  key: string;
  label: string;
  unit: "ops/s" | "files/s" | "s";
}

export interface Step {
  name: string;
  /** Seconds allowed at scale 1. */
  limitS: number;
  /** Present for timed steps; settle steps have none. */
  figure?: Figure;
}

/**
 * "settle" runs between phases: syncfs of the file system under test, wait for its background
 * uploads (rclone), drop the kernel caches. Untimed.
 */
const settle = (n: number): Step => ({ name: `settle${n}`, limitS: 300 });

export const STEPS: Record<WorkloadName, readonly Step[]> = {
  meta: [
    settle(0),
    { name: "create", limitS: 240, figure: { key: "create_ops", label: "create (empty files)", unit: "ops/s" } },
    settle(1),
    { name: "stat", limitS: 120, figure: { key: "stat_ops", label: "stat (cold)", unit: "ops/s" } },
    settle(2),
    { name: "unlink", limitS: 240, figure: { key: "unlink_ops", label: "unlink", unit: "ops/s" } },
    settle(3),
  ],
  smallfile: [
    settle(0),
    { name: "write", limitS: 180, figure: { key: "smallfile_ops", label: "4 KiB files write+sync", unit: "files/s" } },
    settle(1),
    { name: "read", limitS: 120, figure: { key: "smallread_ops", label: "4 KiB files read (cold)", unit: "files/s" } },
    settle(2),
  ],
  ls10k: [
    settle(0),
    // Untimed first: populate the directory (through the mount; on ours by RPCs), then settle.
    { name: "ls", limitS: 480, figure: { key: "ls10k_s", label: "ls -l 10k entries (cold)", unit: "s" } },
    settle(1),
  ],
  tree: [
    settle(0),
    { name: "untar", limitS: 600, figure: { key: "untar_s", label: "tar -xf + sync", unit: "s" } },
    settle(1),
    // Untimed first: git init, user.name/email, gc.auto=0.
    { name: "git", limitS: 450, figure: { key: "git_s", label: "git add -A + commit", unit: "s" } },
    settle(2),
  ],
};

export const MIN_LIMIT_S = 60;

/** The step's limit in ms at `scale`, times `factor` (--limit-factor). */
export function stepLimitMs(step: Step, scale: number, factor: number): number {
  return Math.max(MIN_LIMIT_S, step.limitS * scale) * factor * 1000;
}

/** Sizes at scale 1 (the spec's): files, files, entries, tree entries (~4,000, ~50 MB). */
export const SIZES = { metaFiles: 5000, smallFiles: 4000, smallFileBytes: 4096, lsEntries: 10_000 };

export function scaled(n: number, scale: number): number {
  return Math.max(1, Math.round(n * scale));
}

/** What the bench tells a workload child (argv[2], JSON). */
export interface WorkloadJob {
  workload: WorkloadName;
  /** A fresh directory to create and work in (its parent exists). */
  dir: string;
  scale: number;
  tarball: string;
  /** Steps not to run (they timed out in an earlier round). */
  skip: string[];
  /** rclone's remote-control URL: settle waits until its upload queue is empty, then drops its directory cache. */
  rcUrl?: string;
  /**
   * Our mounts: where the ls10k directory's entries are created (RPCs to proxyfsd, as the agent
   * would send them) instead of through the mount, which creates only ~100 files/s today. The
   * directory itself is made through the mount, a direct child of the mount's root.
   */
  proxyfsd?: ProxyfsdAccess;
}

export interface ProxyfsdAccess {
  jsonRpcPort: number;
  account: string;
}

/** One line the child prints per event (JSON). */
export type WorkloadEvent =
  | { event: "start"; step: string }
  | { event: "done"; step: string; seconds: number; count: number; error?: string }
  | { event: "note"; text: string };
