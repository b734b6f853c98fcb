// RemountingRpc: the agent's RPC client across proxyfsd restarts (what an NFS client does across
// a server reboot). proxyfsd keeps its mount table in memory, so a restarted (or moved) proxyfsd
// refuses the agent's MountID: every retryrpc request is answered "errno: 116" (ESTALE,
// UNKNOWN_CLIENT_ERRSTR). Inode numbers are persistent, so everything else the agent (and the
// kernel) holds stays valid; only the mount has to be made again. On that answer this class:
//   1. mounts again (`mount`: PROXYFS Server.RpcMountByAccountName through the Swift proxy, with
//      the auth plug-in's credentials, and a fresh retryrpc client to whatever address, port and CA
//      the reply names), one attempt at a time for all callers;
//   2. switches every later call to the new MountID (the `MountID` field of each request is
//      rewritten, so callers may keep building requests with an older one) and closes the old
//      retryrpc client;
//   3. runs the onRemount listeners (AgentFs: drop leases, re-home orphans) before any failed call
//      is re-sent, so no re-sent call races with them;
//   4. re-sends each failed call once under the new MountID; a non-idempotent call that may have
//      run on the old incarnation gets its typical double-execution error resolved by looking at
//      the namespace (resend-outcome.ts).
// When the retryrpc client cannot reach proxyfsd at all (RpcConnectError after its redial
// schedule: down, or moved to another address or CA), the failed call fails as before (EIO), and
// a mount attempt starts in the background: the Swift proxy knows where proxyfsd is now. If it
// succeeds, later calls go to the new mount and the old MountID is unmounted (best effort: a
// proxyfsd that is still alive behind a broken path must not keep its leases).
// A failed mount attempt fails the waiting calls (EIO upstream); the next attempt starts no sooner
// than the retry policy's delay after the last failure, so callers never drive a tight loop.
// Callers wait for a remount at most `waitLimitMs` (RetryRPCDeadlineIO), then fail.
// An optional probe (RpcPing after `probeIntervalMs` without a successful call) notices a restart
// while the agent is idle, which shortens the time its orphans carry a dead MountID.
//
// INVARIANTS: #gen counts completed remounts and #cur is the client of generation #gen; a call
// issued under generation g that fails with "unknown MountID" triggers a remount only while g is
// current, otherwise it just waits for the listeners of the newer generation (#settled) and
// re-sends; listeners never wait for their own generation's #settled (no deadlock).
import { RetryPolicy, type SwiftRetryConfig } from "../../objstore/index.js";
import type { ProxyFsRpcClient, ProxyFsRpcMethod, ReplyOf, RequestOf } from "../../proto/index.js";
import { RpcClosedError, RpcConnectError, RpcReplyError, UNKNOWN_CLIENT_ERRSTR } from "../../rpc/index.js";
import { resolveResendFailure } from "./resend-outcome.js";

/** One mount incarnation: a MountID and the retryrpc client speaking for it. */
export interface MountedRpc {
  readonly mountId: string;
  readonly rpc: ProxyFsRpcClient;
  readonly capabilities: ReadonlySet<string>;
  /** Closes the retryrpc client (no RpcUnmount). */
  close(): Promise<void>;
}

export interface RemountEvent {
  readonly mountId: string;
  readonly previousMountId: string;
  readonly capabilities: ReadonlySet<string>;
}

export type RemountListener = (event: RemountEvent) => Promise<void> | void;

export interface RemountLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface RemountingRpcOptions {
  initial: MountedRpc;
  /** Makes a new mount (PROXYFS RpcMountByAccountName + retryrpc client). */
  mount: () => Promise<MountedRpc>;
  /** PROXYFS RpcUnmount of a MountID left behind after an unreachable-server remount (best effort). */
  unmount?: (mountId: string) => Promise<void>;
  /** Spacing of consecutive failed mount attempts (the SwiftRetry* schedule). */
  retry?: Partial<SwiftRetryConfig>;
  /** How long a call waits for a remount before failing. */
  waitLimitMs: number;
  /** RpcPing after this long without a successful call; 0 = never. */
  probeIntervalMs?: number;
  log: RemountLogger;
}

export interface RemountStats {
  remounts: number;
  remountFailures: number;
  /** Calls re-sent under a new MountID. */
  resent: number;
  /** Re-sent calls whose double-execution error was resolved as success. */
  resolvedDoubleExecutions: number;
}

/** A call could not be re-sent because no new mount could be made (in time). EIO upstream. */
export class RemountError extends Error {
  override readonly name = "RemountError";
  readonly code = "ERR_REMOUNT";
}

/** The longest pause between failed mount attempts, whatever the retry schedule says. */
const MAX_ATTEMPT_SPACING_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref?.());

export class RemountingRpc {
  readonly #o: RemountingRpcOptions;
  readonly #policy: RetryPolicy;
  #cur: MountedRpc;
  #gen = 0;
  /** The mount attempt in progress (for generation #gen), if any. */
  #mounting: Promise<void> | undefined;
  /** Resolves when the listeners of generation #gen have run (never rejects). */
  #settled: Promise<void> = Promise.resolve();
  #failures = 0;
  #lastFailureAt = 0;
  readonly #listeners: RemountListener[] = [];
  #closed = false;
  #lastOkAt = Date.now();
  #probeTimer: NodeJS.Timeout | undefined;
  #probing = false;
  readonly #stats: RemountStats = { remounts: 0, remountFailures: 0, resent: 0, resolvedDoubleExecutions: 0 };

  constructor(options: RemountingRpcOptions) {
    this.#o = options;
    this.#cur = options.initial;
    this.#policy = new RetryPolicy(options.retry ?? {});
    const every = options.probeIntervalMs ?? 0;
    if (every > 0) {
      this.#probeTimer = setInterval(() => this.#probe(every), Math.max(100, Math.floor(every / 2)));
      this.#probeTimer.unref();
    }
  }

  get mountId(): string {
    return this.#cur.mountId;
  }

  get capabilities(): ReadonlySet<string> {
    return this.#cur.capabilities;
  }

  /** The current incarnation (its typed client, for callers that need it directly). */
  get current(): MountedRpc {
    return this.#cur;
  }

  get stats(): Readonly<RemountStats> {
    return { ...this.#stats };
  }

  /** Listeners run, in order and awaited, after each remount and before failed calls are re-sent. */
  onRemount(listener: RemountListener): void {
    this.#listeners.push(listener);
  }

  /**
   * One RPC under the current MountID; re-mounts and re-sends once when the server does not know
   * the MountID. @throws what ProxyFsRpcClient throws, or RemountError.
   */
  async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>> {
    const issuedAt = Date.now();
    const gen = this.#gen;
    const cur = this.#cur;
    try {
      const reply = await cur.rpc.call(method, withMountId(request, cur.mountId));
      this.#lastOkAt = Date.now();
      return reply;
    } catch (err) {
      if (err instanceof RpcConnectError && gen === this.#gen && !this.#closed && this.#mounting === undefined) {
        this.#mounting = this.#remount("unreachable").finally(() => {
          this.#mounting = undefined;
        });
        this.#mounting.catch(() => { /* logged; the next failure tries again */ });
      }
      if (!this.#isStale(err, gen)) throw err;
      await this.#awaitRemount(gen, method);
    }
    this.#stats.resent++;
    const next = this.#cur;
    try {
      const reply = await next.rpc.call(method, withMountId(request, next.mountId));
      this.#lastOkAt = Date.now();
      return reply;
    } catch (err) {
      const resolved = await resolveResendFailure(next.rpc, next.mountId, method, withMountId(request, next.mountId), err, issuedAt);
      if (resolved === undefined) throw err;
      this.#stats.resolvedDoubleExecutions++;
      this.#o.log.warn(`${method} re-sent under MountID ${next.mountId} failed with ${(err as Error).message}, `
        + `but ${resolved.why}: the call had already run on the previous proxyfsd; reporting success`);
      return resolved.reply as ReplyOf<M>;
    }
  }

  /**
   * Stops the probe and closes the current retryrpc client (no RpcUnmount: the session does that).
   * A mount attempt in progress is waited for first, so the caller unmounts the newest MountID.
   */
  async close(): Promise<void> {
    await this.quiesce();
    await this.#cur.close();
  }

  /**
   * Shutdown step 1: no more re-mounts or probes; waits for an attempt in progress, so the
   * MountID read next is the newest (the one to unmount). Calls keep working until close().
   */
  async quiesce(): Promise<void> {
    if (this.#probeTimer) clearInterval(this.#probeTimer);
    this.#probeTimer = undefined;
    this.#closed = true;
    await this.#mounting?.catch(() => {});
  }

  /** "Unknown MountID" from the server, or our own old client closed under a call by a remount. */
  #isStale(err: unknown, gen: number): boolean {
    if (err instanceof RpcReplyError) return err.errstr === UNKNOWN_CLIENT_ERRSTR;
    return err instanceof RpcClosedError && gen !== this.#gen;
  }

  async #awaitRemount(gen: number, method: string): Promise<void> {
    if (gen === this.#gen) {
      if (this.#closed) throw new RemountError(`${method}: proxyfsd no longer knows MountID ${this.#cur.mountId} and the agent is shutting down; not re-mounting`);
      this.#mounting ??= this.#remount("unknown").finally(() => {
        this.#mounting = undefined;
      });
      const attempt = this.#mounting;
      await withTimeout(attempt, this.#o.waitLimitMs, () => new RemountError(
        `${method}: proxyfsd no longer knows MountID ${this.#cur.mountId} and no new mount was made within ${this.#o.waitLimitMs} ms`,
      ));
    }
    await withTimeout(this.#settled, this.#o.waitLimitMs, () => new RemountError(`${method}: the remount's clean-up did not finish within ${this.#o.waitLimitMs} ms`));
  }

  /** why: the server refused the MountID ("unknown"), or could not be reached ("unreachable"). */
  async #remount(why: "unknown" | "unreachable"): Promise<void> {
    if (this.#failures > 0) {
      const wait = this.#lastFailureAt + Math.min(MAX_ATTEMPT_SPACING_MS, this.#policy.delayMs(this.#failures - 1)) - Date.now();
      if (wait > 0) await sleep(wait);
    }
    const old = this.#cur;
    this.#o.log.warn(why === "unknown"
      ? `proxyfsd does not know MountID ${old.mountId} (restarted or moved?): mounting again`
      : `proxyfsd is unreachable over retryrpc for MountID ${old.mountId}: mounting again (it may have moved)`);
    let next: MountedRpc;
    try {
      next = await this.#o.mount();
    } catch (err) {
      this.#failures++;
      this.#lastFailureAt = Date.now();
      this.#stats.remountFailures++;
      const e = new RemountError(`re-mounting after proxyfsd ${why === "unknown" ? "forgot" : "became unreachable for"} MountID ${old.mountId} failed (attempt ${this.#failures}): ${(err as Error).message}`, { cause: err });
      this.#o.log.error(e.message);
      throw e;
    }
    this.#failures = 0;
    this.#cur = next;
    this.#gen++;
    this.#stats.remounts++;
    this.#o.log.info(`re-mounted as MountID ${next.mountId} (was ${old.mountId})`);
    const same = next.capabilities.size === old.capabilities.size && [...next.capabilities].every((c) => old.capabilities.has(c));
    if (!same) {
      this.#o.log.warn(`the new mount agreed other extensions (${[...next.capabilities].join(" ") || "none"}; before: ${[...old.capabilities].join(" ") || "none"}); the agent keeps using the ones agreed at start`);
    }
    const event: RemountEvent = { mountId: next.mountId, previousMountId: old.mountId, capabilities: next.capabilities };
    this.#settled = (async () => {
      for (const l of this.#listeners) {
        try {
          await l(event);
        } catch (err) {
          this.#o.log.error(`after re-mounting as ${next.mountId}: ${(err as Error)?.message ?? String(err)}`);
        }
      }
    })();
    // Calls still outstanding on the old client fail with RpcClosedError and are re-sent.
    void old.close().catch(() => {});
    if (why === "unreachable" && this.#o.unmount) void this.#o.unmount(old.mountId).catch(() => {});
  }

  #probe(every: number): void {
    if (this.#closed || this.#probing || this.#mounting || Date.now() - this.#lastOkAt < every) return;
    this.#probing = true;
    this.call("RpcPing", { Message: "pfsagentd: is MountID known?" }).then(
      () => {},
      () => {}, // unreachable server: operations report it; a refused MountID was handled in call()
    ).finally(() => {
      this.#probing = false;
    });
  }
}

/** The request with its MountID (if it has one) replaced. */
function withMountId<T>(request: T, mountId: string): T {
  const id = request !== null && typeof request === "object" ? (request as { MountID?: unknown }).MountID : undefined;
  return typeof id === "string" && id !== mountId ? { ...request, MountID: mountId } : request;
}

function withTimeout<T>(p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(err()), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
