// Process plumbing for bench:meta: daemons (started, waited for, stopped), commands with a time
// limit, and the cleanup stack that runs on exit and on SIGINT.
//
// Every child gets its own process group (detached): a terminal's Ctrl-C then reaches only the
// bench, which stops the mounts in order (agents flush and unmount before their servers go), and a
// runaway child can be killed with everything it started. If the bench dies without cleaning up,
// the exit hook still SIGKILLs every group it started.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, readFileSync } from "node:fs";

export function log(line: string): void {
  process.stderr.write(`bench:meta: ${line}\n`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const groups = new Set<number>();
process.on("exit", () => {
  for (const pid of groups) killGroup(pid, "SIGKILL");
});

export function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

/** spawn() in a new process group, remembered until it exits. */
export function spawnGroup(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): ChildProcess {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], detached: true, env: o.env ?? process.env, cwd: o.cwd ?? "/" });
  const pid = child.pid;
  if (pid !== undefined) {
    groups.add(pid);
    child.once("exit", () => groups.delete(pid));
  }
  return child;
}

export const exited = (c: ChildProcess): boolean => c.exitCode !== null || c.signalCode !== null;

/** Resolves when `c` has exited (true), or after `ms` (false; Infinity: no limit). */
export function waitExit(c: ChildProcess, ms: number): Promise<boolean> {
  if (exited(c)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = Number.isFinite(ms) ? setTimeout(() => resolve(false), ms) : undefined;
    c.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

export interface Daemon {
  name: string;
  child: ChildProcess;
  /** The last 8 KB of its output. */
  tail(): string;
  /** `signal` to the daemon itself (it stops its own children), then SIGKILL to its group after `ms`. */
  stop(ms: number, signal?: NodeJS.Signals): Promise<void>;
}

export interface DaemonOptions {
  name: string;
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr are appended here. */
  logFile: string;
  /** Ready when a line of output matches, or when the predicate (polled) holds. */
  ready: RegExp | (() => boolean);
  timeoutMs: number;
}

export async function startDaemon(o: DaemonOptions): Promise<Daemon> {
  const child = spawnGroup(o.cmd, o.args, o.env ? { env: o.env } : {});
  let tail = "";
  let ready = false;
  const onData = (d: Buffer): void => {
    appendFileSync(o.logFile, d);
    tail = (tail + d.toString("utf8")).slice(-8192);
    if (o.ready instanceof RegExp && o.ready.test(tail)) ready = true;
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  let spawnError: Error | undefined;
  child.once("error", (e) => (spawnError = e));
  const daemon: Daemon = {
    name: o.name,
    child,
    tail: () => tail,
    stop: async (ms, signal = "SIGTERM") => {
      if (exited(child)) return;
      child.kill(signal);
      if (!(await waitExit(child, ms))) {
        log(`${o.name} did not stop within ${ms / 1000} s: SIGKILL`);
        killGroup(child.pid!, "SIGKILL");
        await waitExit(child, 10_000);
      }
    },
  };
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    if (spawnError) throw new Error(`cannot run ${o.name} (${o.cmd}): ${spawnError.message}`);
    if (ready || (typeof o.ready === "function" && o.ready())) return daemon;
    if (exited(child)) throw new Error(`${o.name} exited (${child.exitCode ?? child.signalCode}) before it was ready; last output:\n${tail.slice(-2000)}`);
    if (Date.now() > deadline) {
      await daemon.stop(5000);
      throw new Error(`${o.name} was not ready within ${o.timeoutMs / 1000} s (log ${o.logFile}); last output:\n${tail.slice(-2000)}`);
    }
    await sleep(100);
  }
}

/** Runs a command to completion within `ms` (then SIGKILL to its group); rejects unless it exits 0. */
export async function runCommand(cmd: string, args: string[], ms: number, env?: NodeJS.ProcessEnv): Promise<string> {
  const child = spawnGroup(cmd, args, env ? { env } : {});
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const spawnFailed = new Promise<Error>((r) => child.once("error", r));
  const done = await Promise.race([waitExit(child, ms), spawnFailed]);
  if (done instanceof Error) throw new Error(`cannot run ${cmd}: ${done.message}`);
  if (!done) {
    killGroup(child.pid!, "SIGKILL");
    throw new Error(`${cmd} ${args.join(" ")} did not finish within ${ms / 1000} s`);
  }
  if (child.exitCode !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${child.exitCode ?? child.signalCode}: ${out.trim().slice(-2000)}`);
  return out;
}

/** Mount points are field 5 of mountinfo, with space, tab, newline and backslash octal-escaped. */
export function isMounted(mountpoint: string): boolean {
  const esc = mountpoint.replace(/[ \t\n\\]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n").some((l) => l.split(" ")[4] === esc);
}

/** Every mount point at or below `dir` (deepest first, so they can be unmounted in that order). */
export function mountsBelow(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(`${dir}/`)))
    .sort((a, b) => b.length - a.length);
}

/** Lazy unmount: a mount whose server is gone or stuck must not keep the temp dir from being removed. */
export function forceUnmount(mountpoint: string): void {
  if (isMounted(mountpoint)) spawnSync("umount", ["-l", mountpoint], { stdio: "ignore" });
}

/**
 * Teardown actions, run last-in first-out, once: at the end of the run, or on SIGINT/SIGTERM.
 * A failing action is reported and the rest still run.
 */
export class Cleanups {
  readonly #actions: Array<{ what: string; fn: () => Promise<void> | void }> = [];
  #running: Promise<void> | undefined;

  add(what: string, fn: () => Promise<void> | void): void {
    this.#actions.push({ what, fn });
  }

  get started(): boolean {
    return this.#running !== undefined;
  }

  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let a = this.#actions.pop(); a; a = this.#actions.pop()) {
        try {
          await a.fn();
        } catch (err) {
          log(`cleanup: ${a.what}: ${(err as Error).message}`);
        }
      }
    })();
    return this.#running;
  }
}
