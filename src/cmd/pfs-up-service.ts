// A daemon `pfs up` runs as a child process: its output goes to a log file, a line matching
// `ready` means it is up. Children get their own process group (detached), so a terminal's Ctrl-C
// reaches only `pfs up`, which then stops them in order (agent, proxyfsd, store); if `pfs up`
// itself dies, every child still running gets SIGTERM from the exit hook.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { createServer } from "node:net";

export class UpError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of running) c.kill("SIGTERM");
});

export interface Service {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal) once the process is gone. */
  readonly exited: Promise<number | null>;
  /** Sends `signal`, waits up to `timeoutMs`, then SIGKILL. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<number | null>;
}

export interface StartServiceOptions {
  name: string;
  args: string[];
  /** stdout and stderr are appended here (undefined: not kept, the daemon logs itself). */
  logFile?: string;
  ready: RegExp;
  timeoutMs: number;
  /** Called with each output line that should reach the user (errors, warnings). */
  echo?: (line: string) => void;
  echoIf?: RegExp;
}

/** Starts the daemon and resolves once a line matched `ready`; rejects if it exits or times out. */
export function startService(o: StartServiceOptions): Promise<Service> {
  const child = spawn(process.execPath, o.args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
  running.add(child);
  const log: WriteStream | undefined = o.logFile ? createWriteStream(o.logFile, { flags: "a" }) : undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code) => {
      running.delete(child);
      resolve(code);
    });
  });
  // Close the log only after both pipes drained, so the last lines are kept.
  let openPipes = 2;
  const pipeDone = (): void => {
    if (--openPipes === 0) log?.end();
  };
  let tail = "";
  let isReady = false;
  return new Promise<Service>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new UpError("ERR_START_TIMEOUT", `${o.name} was not ready within ${o.timeoutMs / 1000} s${o.logFile ? ` (see ${o.logFile})` : ""}; last output:\n${tail.slice(-2000)}`));
    }, o.timeoutMs);
    let pending = "";
    const onData = (d: Buffer): void => {
      log?.write(d);
      const text = pending + d.toString("utf8");
      const lines = text.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        tail = (tail + line + "\n").slice(-8000);
        if (o.echo && o.echoIf?.test(line)) o.echo(line);
        if (!isReady && o.ready.test(line)) {
          isReady = true;
          clearTimeout(timer);
          resolve(service);
        }
      }
    };
    child.stdout!.on("data", onData).on("end", pipeDone);
    child.stderr!.on("data", onData).on("end", pipeDone);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new UpError("ERR_START", `cannot run ${o.name}: ${err.message}`));
    });
    void exited.then((code) => {
      if (isReady) return;
      clearTimeout(timer);
      reject(new UpError("ERR_START", `${o.name} exited with status ${code} before it was ready${o.logFile ? ` (see ${o.logFile})` : ""}; last output:\n${(tail + pending).slice(-2000)}`));
    });
    const service: Service = {
      name: o.name,
      child,
      exited,
      stop: async (signal, timeoutMs) => {
        if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
        child.kill(signal);
        const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
        const code = await exited;
        clearTimeout(t);
        return code;
      },
    };
  });
}

/** Throws UpError naming every port of `ports` that something already listens on. */
export async function checkPortsFree(host: string, ports: Record<string, number>): Promise<void> {
  const taken: string[] = [];
  for (const [what, port] of Object.entries(ports)) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UpError("ERR_PORT", `port ${port} (${what}) is not a TCP port number; choose another --port-base`);
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      const s = createServer();
      s.once("error", (e: NodeJS.ErrnoException) => resolve(e));
      s.listen(port, host, () => s.close(() => resolve(undefined)));
    });
    if (err) taken.push(`${host}:${port} (${what}): ${err.code === "EADDRINUSE" ? "already in use" : err.message}`);
  }
  if (taken.length > 0) {
    throw new UpError("ERR_PORT_IN_USE", `cannot use these ports:\n  ${taken.join("\n  ")}\nIs another \`pfs up\` running? Stop it, or pick other ports with --port-base N (uses N..N+3).`);
  }
}

/**
 * Runs `work`, and if it takes longer than a second says so on `say`, then every 5 s while it
 * lasts, then how long it took: progress for anything slow, silence for what is quick.
 */
export async function withProgress<T>(label: string, say: (line: string) => void, work: Promise<T>): Promise<T> {
  const t0 = Date.now();
  let shown = false;
  const tick = (): void => {
    say(shown ? `  … still ${label} (${Math.round((Date.now() - t0) / 1000)} s)` : `  ${label} …`);
    shown = true;
    timer = setTimeout(tick, 5000);
  };
  let timer = setTimeout(tick, 1000);
  try {
    const r = await work;
    if (shown) say(`  ${label}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return r;
  } finally {
    clearTimeout(timer);
  }
}
