// Agent side of the pfsagentd auth plug-in protocol (pfsagent.md §4, seed README):
//  - launch `PlugInPath PlugInEnvName` with the agent's environment, plus
//    PlugInEnvName=PlugInEnvValue when that value is non-empty; stdin/stdout/stderr are pipes;
//  - a freshly started plug-in authenticates by itself and prints {"AuthToken","StorageURL"}
//    as JSON on stdout (no newline framing; the object may arrive in pieces);
//  - one byte (0x00) on its stdin asks for a renewal (sent after a Swift 401), answered the same way;
//  - at shutdown its stdin is closed and it is expected to exit.
//
// Differences from the Go agent, all so that the agent never hangs on its plug-in:
//  - every wait is bounded: one attempt by `responseTimeoutMs`, a caller by `requestTimeoutMs`;
//  - a plug-in that exits, prints output that can never become the expected JSON, or does not
//    answer in time is killed, logged and restarted with exponential backoff until the caller's
//    bound, after which waiters get AuthPluginError("AUTH_PLUGIN_TIMEOUT");
//  - stderr output is logged as a warning but is not by itself a failure (the Go agent blanked
//    the token on any stderr output);
//  - an executable that cannot be started at all fails at once (AUTH_PLUGIN_SPAWN).
//
// Concurrency: renewals are single-flight: callers arriving while one is in progress share its
// result, and current() waits for an in-progress renewal rather than return a stale token.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { AuthPluginError } from "./auth-plugin-error.js";
import { scanJsonObject } from "./json-object-scanner.js";

export interface AuthCredentials {
  /** Value for X-Auth-Token. */
  readonly authToken: string;
  /** "<scheme>://<host[:port]>/proxyfs/<Account>". */
  readonly storageURL: string;
}

export interface AuthPluginLogger {
  info(message: string): void;
  warn(message: string): void;
}

export interface AuthPluginOptions {
  /** PlugInPath: executable (PATH lookup if it has no "/"). */
  readonly path: string;
  /** PlugInEnvName: argv[1] of the plug-in. */
  readonly envName: string;
  /** PlugInEnvValue: if non-empty, set as envName in the plug-in's environment. */
  readonly envValue?: string;
  /** Interpreter prefix, e.g. [process.execPath] to run a JS plug-in: argv = [...launcher, path, envName]. */
  readonly launcher?: readonly string[];
  /** Base environment (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly logger?: AuthPluginLogger;
  /** Bound for one attempt: start or renewal byte until a complete reply (default 30 s). */
  readonly responseTimeoutMs?: number;
  /** Bound for a caller of start/current/renew, restarts included (default 120 s). */
  readonly requestTimeoutMs?: number;
  /** First restart delay, doubled per consecutive failure up to backoffMaxMs (defaults 100 ms, 10 s). */
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** How long stop() waits for the plug-in to exit after closing its stdin before killing it (default 5 s). */
  readonly stopTimeoutMs?: number;
}

const defaultLogger: AuthPluginLogger = {
  info: () => {},
  warn: (m) => { process.stderr.write(`pfsagentd auth plug-in: ${m}\n`); },
};

/** What one attempt is waiting for; settled by stdout, exit, error or timer. */
interface Attempt {
  resolve(c: AuthCredentials): void;
  reject(e: AuthPluginError): void;
}

function snippet(text: string): string {
  const t = text.trim();
  return JSON.stringify(t.length > 80 ? `${t.slice(0, 80)}...` : t);
}

function toCredentials(value: unknown): AuthCredentials | string {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return "reply is not a JSON object";
  const v = value as Record<string, unknown>;
  if (typeof v.AuthToken !== "string" || v.AuthToken === "") return "reply has no non-empty string AuthToken";
  if (typeof v.StorageURL !== "string" || v.StorageURL === "") return "reply has no non-empty string StorageURL";
  return { authToken: v.AuthToken, storageURL: v.StorageURL };
}

export class AuthPlugin {
  readonly #opts: Required<Omit<AuthPluginOptions, "cwd" | "launcher" | "env" | "envValue">> & AuthPluginOptions;
  #child: ChildProcessWithoutNullStreams | undefined;
  #stdout = "";
  #attempt: Attempt | undefined;
  #creds: AuthCredentials | undefined;
  #inflight: Promise<AuthCredentials> | undefined;
  #failures = 0;
  #stopped = false;
  #wakeSleeper: (() => void) | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: AuthPluginOptions) {
    this.#opts = {
      logger: defaultLogger,
      responseTimeoutMs: 30_000,
      requestTimeoutMs: 120_000,
      backoffInitialMs: 100,
      backoffMaxMs: 10_000,
      stopTimeoutMs: 5_000,
      ...options,
    };
  }

  /** Launches the plug-in and resolves with its first credentials. @throws AuthPluginError */
  start(): Promise<AuthCredentials> {
    return this.current();
  }

  /** The latest credentials; waits for an in-progress renewal, or authenticates if there are none. @throws AuthPluginError */
  current(): Promise<AuthCredentials> {
    if (this.#inflight) return this.#inflight;
    if (this.#creds && !this.#stopped) return Promise.resolve(this.#creds);
    return this.#singleFlight(false);
  }

  /** Asks the plug-in for new credentials (after a 401); concurrent calls share one renewal. @throws AuthPluginError */
  renew(): Promise<AuthCredentials> {
    return this.#inflight ?? this.#singleFlight(true);
  }

  /** Process id of the running plug-in, if any (diagnostics and tests). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Closes the plug-in's stdin, waits for it to exit (killing it after stopTimeoutMs), fails waiters. Idempotent. */
  stop(): Promise<void> {
    if (this.#stopping) return this.#stopping;
    this.#stopped = true;
    this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_STOPPED", "auth plug-in stopped"));
    this.#wakeSleeper?.();
    this.#stopping = this.#terminate(this.#child, this.#opts.stopTimeoutMs);
    return this.#stopping;
  }

  #singleFlight(renew: boolean): Promise<AuthCredentials> {
    if (this.#stopped) return Promise.reject(new AuthPluginError("AUTH_PLUGIN_STOPPED", "auth plug-in stopped"));
    const p = this.#update(renew).finally(() => {
      if (this.#inflight === p) this.#inflight = undefined;
    });
    this.#inflight = p;
    return p;
  }

  async #update(renew: boolean): Promise<AuthCredentials> {
    const deadline = Date.now() + this.#opts.requestTimeoutMs;
    let lastError = "";
    for (;;) {
      if (this.#stopped) throw new AuthPluginError("AUTH_PLUGIN_STOPPED", "auth plug-in stopped");
      try {
        const creds = await this.#runAttempt(renew, Math.max(1, Math.min(this.#opts.responseTimeoutMs, deadline - Date.now())));
        if (this.#failures > 0) this.#opts.logger.info(`auth plug-in recovered after ${this.#failures} failed attempt(s)`);
        this.#failures = 0;
        this.#creds = creds;
        return creds;
      } catch (err) {
        if (!(err instanceof AuthPluginError) || err.code !== "AUTH_PLUGIN_REPLY") throw err;
        lastError = err.message;
        this.#failures++;
        await this.#terminate(this.#child, 0);
        const delay = Math.min(this.#opts.backoffMaxMs, this.#opts.backoffInitialMs * 2 ** (this.#failures - 1));
        if (Date.now() + delay >= deadline) {
          this.#opts.logger.warn(`${lastError}; giving up after ${this.#opts.requestTimeoutMs} ms`);
          throw new AuthPluginError("AUTH_PLUGIN_TIMEOUT",
            `auth plug-in ${this.#opts.path} gave no valid credentials within ${this.#opts.requestTimeoutMs} ms (last failure: ${lastError})`);
        }
        this.#opts.logger.warn(`${lastError}; restarting it in ${delay} ms`);
        await this.#sleep(delay);
        renew = false; // a fresh plug-in authenticates on its own
      }
    }
  }

  /** One try: renewal byte to the running plug-in, or a fresh launch; then wait for a reply. */
  #runAttempt(renew: boolean, timeoutMs: number): Promise<AuthCredentials> {
    return new Promise<AuthCredentials>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `auth plug-in ${this.#opts.path} did not reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#attempt = {
        resolve: (c) => { clearTimeout(timer); this.#attempt = undefined; resolve(c); },
        reject: (e) => { clearTimeout(timer); this.#attempt = undefined; reject(e); },
      };
      const child = this.#child;
      if (child && child.exitCode === null && child.signalCode === null) {
        if (!renew) return; // e.g. current() after a failed renewal while a reply is still due
        this.#stdout = ""; // stale output belongs to no request
        child.stdin.write(Buffer.of(0), (err) => {
          if (err) this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `cannot write the renewal byte to the auth plug-in: ${err.message}`));
        });
      } else {
        this.#launch();
      }
    });
  }

  #failAttempt(err: AuthPluginError): void {
    this.#attempt?.reject(err);
  }

  #launch(): void {
    const { path, envName, envValue, launcher } = this.#opts;
    const env: NodeJS.ProcessEnv = { ...(this.#opts.env ?? process.env) };
    if (envValue !== undefined && envValue !== "") env[envName] = envValue;
    const [cmd, ...args] = launcher && launcher.length > 0 ? [...launcher, path, envName] : [path, envName];
    this.#stdout = "";
    const child = spawn(cmd!, args, { env, cwd: this.#opts.cwd, stdio: ["pipe", "pipe", "pipe"] });
    this.#child = child;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdin.on("error", () => { /* EPIPE after the plug-in died: reported through 'exit' */ });
    child.stdout.on("data", (chunk: string) => { if (this.#child === child) this.#onStdout(chunk); });
    child.stderr.on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) if (line.trim() !== "") this.#opts.logger.warn(`auth plug-in stderr: ${line}`);
    });
    child.on("error", (err: NodeJS.ErrnoException) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      // Only a failure to start is fatal; kill/pipe errors of a running child show up as 'exit'.
      if (child.pid === undefined) {
        this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_SPAWN", `cannot start auth plug-in ${path}: ${err.code ?? err.message}`, { cause: err }));
      } else {
        this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `auth plug-in ${path} failed: ${err.message}`, { cause: err }));
      }
    });
    // 'close' (not 'exit'): stdout has been fully read by then, so a reply printed just before
    // exiting is not mistaken for a silent death.
    child.on("close", (code, signal) => {
      if (this.#child !== child) return;
      this.#child = undefined;
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      if (this.#attempt) this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `auth plug-in ${path} ${how} before replying`));
      else if (!this.#stopped) this.#opts.logger.warn(`auth plug-in ${path} ${how}; it will be restarted when credentials are next needed`);
    });
  }

  #onStdout(chunk: string): void {
    this.#stdout += chunk;
    if (!this.#attempt) return; // unsolicited; discarded at the next renewal
    const r = scanJsonObject(this.#stdout);
    if (r.kind === "incomplete") return;
    if (r.kind === "garbage") {
      const text = this.#stdout;
      this.#stdout = "";
      this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `auth plug-in ${this.#opts.path} printed garbage (${r.reason}): ${snippet(text)}`));
      return;
    }
    this.#stdout = "";
    if (r.rest.trim() !== "") this.#opts.logger.warn(`auth plug-in printed extra output after its reply, ignored: ${snippet(r.rest)}`);
    const creds = toCredentials(r.value);
    if (typeof creds === "string") {
      this.#failAttempt(new AuthPluginError("AUTH_PLUGIN_REPLY", `auth plug-in ${this.#opts.path} printed garbage (${creds})`));
    } else {
      this.#attempt.resolve(creds);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(done, ms);
      this.#wakeSleeper = done;
    }).finally(() => { this.#wakeSleeper = undefined; });
  }

  /** Ends `child`: close stdin, wait graceMs for exit, then SIGTERM, then SIGKILL. */
  async #terminate(child: ChildProcessWithoutNullStreams | undefined, graceMs: number): Promise<void> {
    if (!child) return;
    if (this.#child === child) this.#child = undefined;
    const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
    const waitExit = (ms: number): Promise<boolean> => new Promise((resolve) => {
      if (exited()) return resolve(true);
      const timer = setTimeout(() => { child.off("exit", onExit); resolve(exited()); }, ms);
      const onExit = (): void => { clearTimeout(timer); resolve(true); };
      child.once("exit", onExit);
    });
    child.stdin.end();
    if (graceMs > 0 && await waitExit(graceMs)) return;
    if (exited()) return;
    if (graceMs > 0) this.#opts.logger.warn(`auth plug-in did not exit within ${graceMs} ms of stdin closing; killing it`);
    child.kill("SIGTERM");
    if (await waitExit(1_000)) return;
    child.kill("SIGKILL");
    await waitExit(5_000);
  }
}
