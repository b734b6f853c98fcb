// bench:meta's workload child: `node workload-main.js '<WorkloadJob JSON>'` runs one workload in
// one fresh directory and prints one JSON WorkloadEvent per line on stdout as it goes.
//
// Why a child: the workload makes blocking file-system calls on a mount; if that mount hangs, only
// this process hangs, and the bench kills its process group when a step overruns its limit (the
// bench already has every event printed before that). Steps time themselves; only the "done"
// event's seconds are figures. Needs root for drop_caches (the bench checks).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { mountClient } from "../../src/volume/server/testing/jsonrpc-call.js";
import { SIZES, STEPS, scaled, type ProxyfsdAccess, type WorkloadEvent, type WorkloadJob } from "./workloads.js";

const job = JSON.parse(process.argv[2]!) as WorkloadJob;

function emit(e: WorkloadEvent): void {
  // stdout is a pipe: synchronous on Linux, so the line is out before the next blocking call.
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

/**
 * What a step returns: how many items it handled, and a problem that did not invalidate the time
 * (only tar's symlinks on a file system without them). Anything worse throws: the step fails.
 */
interface StepOutcome {
  count: number;
  error?: string;
}

const now = (): number => performance.now();
const name = (i: number): string => `f${String(i).padStart(5, "0")}`;

interface Ran {
  status: number | null;
  /** stderr, one entry per non-empty line. */
  errors: string[];
}

function sh(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Ran {
  const r = spawnSync(cmd, args, { cwd, env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", maxBuffer: 64 << 20 });
  if (r.error) return { status: null, errors: [`${cmd}: ${r.error.message}`] };
  return { status: r.status, errors: r.stderr.split("\n").filter(Boolean) };
}

/** Throws unless the command exited 0 (the step then fails: no figure). */
function mustRun(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): void {
  const r = sh(cmd, args, cwd, env);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.errors.slice(0, 3).join(" | ") || "(no message)"}`);
}

/** syncfs of the file system under test (not a global sync: other people's mounts could stall it). */
function syncFs(path: string): void {
  mustRun("sync", ["-f", path], "/");
}

async function rcloneRc(rcUrl: string, command: string): Promise<unknown> {
  const r = await fetch(`${rcUrl}/${command}`, { method: "POST", signal: AbortSignal.timeout(30_000) });
  if (!r.ok) throw new Error(`rclone rc ${command}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

async function waitForUploads(rcUrl: string): Promise<void> {
  for (;;) {
    const s = (await rcloneRc(rcUrl, "vfs/stats")) as { diskCache?: { uploadsInProgress: number; uploadsQueued: number } };
    if (!s.diskCache || s.diskCache.uploadsInProgress + s.diskCache.uploadsQueued === 0) return;
    await new Promise((res) => setTimeout(res, 250));
  }
}

/**
 * Between phases: flush what the file system under test holds; for rclone, let it finish
 * uploading (so its background traffic lands in no one's timing) and forget its directory cache
 * (rclone's own dentry cache, which drop_caches does not reach); then drop the kernel's page,
 * dentry and inode caches.
 */
async function settle(): Promise<StepOutcome> {
  const existing = statSafe(job.dir) ? job.dir : dirname(job.dir);
  syncFs(existing);
  if (job.rcUrl) {
    await waitForUploads(job.rcUrl);
    await rcloneRc(job.rcUrl, "vfs/forget");
  }
  writeFileSync("/proc/sys/vm/drop_caches", "3");
  return { count: 0 };
}

/** Creates n empty files in the mount-root directory `dirName` with RpcCreate, 16 in flight. */
async function createViaProxyfsd(p: ProxyfsdAccess, dirName: string, n: number): Promise<void> {
  const m = await mountClient(p.jsonRpcPort, p.account);
  try {
    const { client: c, mountId: M } = m;
    const dir = (await c.call("RpcLookup", { MountID: M, InodeNumber: 1n, Basename: dirName })).InodeNumber;
    let next = 0;
    const lane = async (): Promise<void> => {
      for (let i = next++; i < n; i = next++) {
        await c.call("RpcCreate", { MountID: M, InodeNumber: dir, Basename: name(i), UserID: 0, GroupID: 0, FileMode: 0o644 });
      }
    };
    await Promise.all(Array.from({ length: 16 }, lane));
  } finally {
    await m.rpc.close();
  }
}

function statSafe(p: string): boolean {
  try {
    statSync(p);
    return true;
  } catch {
    return false;
  }
}

function createEmpty(dir: string, n: number): void {
  for (let i = 0; i < n; i++) closeSync(openSync(join(dir, name(i)), "wx", 0o644));
}

const metaFiles = scaled(SIZES.metaFiles, job.scale);
const smallFiles = scaled(SIZES.smallFiles, job.scale);
const lsEntries = scaled(SIZES.lsEntries, job.scale);
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" };
/** Contents for the small files, made before timing starts (distinct per file). */
let smallData: Buffer | undefined;

/** Each step: untimed preparation may come first; `time` wraps exactly what is measured. */
type StepFn = (time: <T>(fn: () => T) => T) => Promise<StepOutcome> | StepOutcome;

const steps: Record<string, StepFn> = {
  create: (time) => {
    mkdirSync(job.dir);
    time(() => createEmpty(job.dir, metaFiles));
    return { count: metaFiles };
  },
  stat: (time) => {
    time(() => {
      for (let i = 0; i < metaFiles; i++) statSync(join(job.dir, name(i)));
    });
    return { count: metaFiles };
  },
  unlink: (time) => {
    time(() => {
      for (let i = 0; i < metaFiles; i++) unlinkSync(join(job.dir, name(i)));
    });
    return { count: metaFiles };
  },
  write: (time) => {
    mkdirSync(job.dir);
    const b = SIZES.smallFileBytes;
    smallData = randomBytes(smallFiles * b);
    time(() => {
      for (let i = 0; i < smallFiles; i++) writeFileSync(join(job.dir, name(i)), smallData!.subarray(i * b, (i + 1) * b));
      syncFs(job.dir);
    });
    return { count: smallFiles };
  },
  read: (time) => {
    const b = SIZES.smallFileBytes;
    let bad = 0;
    time(() => {
      for (let i = 0; i < smallFiles; i++) {
        if (!readFileSync(join(job.dir, name(i))).equals(smallData!.subarray(i * b, (i + 1) * b))) bad++;
      }
    });
    if (bad) throw new Error(`${bad} of ${smallFiles} files read back different from what was written`);
    return { count: smallFiles };
  },
  ls: async (time) => {
    mkdirSync(job.dir);
    if (job.proxyfsd) await createViaProxyfsd(job.proxyfsd, basename(job.dir), lsEntries);
    else createEmpty(job.dir, lsEntries);
    await settle();
    // Output to a pipe (counted), not /dev/null, so ls cannot skip any work.
    const r = time(() => spawnSync("ls", ["-l", job.dir], { encoding: "utf8", maxBuffer: 256 << 20 }));
    const lines = r.stdout.split("\n").filter(Boolean).length - 1; // minus "total N"
    if (r.status !== 0) throw new Error(`ls -l exited ${r.status}: ${r.stderr.trim().split("\n")[0]}`);
    if (lines !== lsEntries) throw new Error(`ls -l listed ${lines} of ${lsEntries} entries`);
    return { count: lines };
  },
  untar: (time) => {
    mkdirSync(job.dir);
    const r = time(() => {
      const ran = sh("tar", ["-xf", job.tarball, "-C", job.dir], job.dir);
      syncFs(job.dir);
      return ran;
    });
    if (r.status === 0) return { count: 0 };
    // A file system without symlinks (rclone mount) still unpacks everything else: keep the time,
    // flag it. Any other error fails the step.
    const other = r.errors.filter((l) => !/Cannot create symlink|Exiting with failure status due to previous errors/.test(l));
    if (other.length > 0 || r.status !== 2) throw new Error(`tar -xf exited ${r.status}: ${(other.length ? other : r.errors).slice(0, 3).join(" | ")}`);
    return { count: 0, error: `tar could not create ${r.errors.length - 1} symlink(s): ${r.errors[0]}` };
  },
  git: (time) => {
    for (const args of [["init", "-q"], ["config", "user.name", "bench"], ["config", "user.email", "bench@example.com"], ["config", "gc.auto", "0"]]) {
      mustRun("git", args, job.dir, gitEnv);
    }
    time(() => {
      mustRun("git", ["add", "-A"], job.dir, gitEnv);
      mustRun("git", ["commit", "-q", "-m", "bench"], job.dir, gitEnv);
    });
    return { count: 0 };
  },
};

async function main(): Promise<void> {
  for (const step of STEPS[job.workload]) {
    if (job.skip.includes(step.name)) continue;
    emit({ event: "start", step: step.name });
    let seconds = 0;
    const time = <T>(fn: () => T): T => {
      const t0 = now();
      try {
        return fn();
      } finally {
        seconds += (now() - t0) / 1000;
      }
    };
    const run = step.name.startsWith("settle") ? () => settle() : steps[step.name]!;
    try {
      const t0 = now();
      const out = await run(time);
      // Settle steps report their wall time (informational).
      emit({ event: "done", step: step.name, seconds: step.figure ? seconds : (now() - t0) / 1000, count: out.count, ...(out.error ? { error: out.error } : {}) });
    } catch (err) {
      emit({ event: "done", step: step.name, seconds: NaN, count: 0, error: (err as Error).message });
      process.exitCode = 1;
      return; // later steps depend on this one
    }
  }
}

await main();
