// FaultProxy: a real HTTP proxy in front of a Swift API server that injects object-store faults
// by rule, for the crash/fault tests of persistent proxyfsd. Requests are forwarded unchanged
// (Host header included, so the tempauth reply's X-Storage-Url names the proxy and every later
// request comes through it). A matching rule, chosen with a seeded PRNG, may instead:
//   status      answer 500/503 without forwarding (the store refused; nothing was written);
//   hang        never forward; hold the request until `holdMs` passes (then reset the
//               connection: what a client sees when a request times out) or until `release()`;
//   lose-reply  forward (the write happens), then hold the reply `holdMs` and reset the
//               connection: the store applied it but the client must treat it as failed.
// Invariant: a request that is not forwarded never reaches the store, so a "hang" or "status"
// PUT leaves the store exactly as it was.
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { Prng } from "../../../base/testing/prng.js";

export type FaultAction = { kind: "status"; status: number } | { kind: "hang"; holdMs: number } | { kind: "lose-reply"; holdMs: number };

export interface FaultRule {
  /** HTTP method to match (any when absent). */
  method?: string;
  /** Matched against the decoded request path (/v1/AUTH_x/container/object). */
  path: RegExp;
  /** Chance in [0, 1] that a matching request gets the fault. */
  probability: number;
  action: FaultAction;
}

export interface FaultCounts {
  forwarded: number;
  status: number;
  hang: number;
  loseReply: number;
}

export class FaultProxy {
  readonly #server: http.Server;
  readonly #target: URL;
  readonly #prng: Prng;
  readonly #agent = new http.Agent({ keepAlive: true });
  #rules: FaultRule[] = [];
  readonly #held = new Set<() => void>();
  readonly counts: FaultCounts = { forwarded: 0, status: 0, hang: 0, loseReply: 0 };
  /** The last requests ("<ms> <method> <path> -> <action>"), for failure messages. */
  readonly #recent: string[] = [];

  private constructor(target: string, seed: number) {
    this.#target = new URL(target);
    this.#prng = new Prng(seed);
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Starts a proxy on 127.0.0.1 (a free port) forwarding to `target` (http://host:port). */
  static async start(target: string, seed: number): Promise<FaultProxy> {
    const p = new FaultProxy(target, seed);
    p.#server.listen(0, "127.0.0.1");
    await once(p.#server, "listening");
    return p;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }
  get authUrl(): string {
    return `http://127.0.0.1:${this.port}/auth/v1.0`;
  }

  /** Replaces the fault rules (the first matching rule that fires wins); [] = a clean store. */
  setRules(rules: FaultRule[]): void {
    this.#rules = rules;
  }

  /** Ends every held request now (their connections are reset; nothing is forwarded). */
  release(): void {
    for (const end of [...this.#held]) end();
  }

  recent(): string[] {
    return [...this.#recent];
  }

  async close(): Promise<void> {
    this.#rules = [];
    this.release();
    this.#server.closeAllConnections();
    this.#server.close();
    this.#agent.destroy();
    await once(this.#server, "close").catch(() => {});
  }

  #pick(req: IncomingMessage): FaultAction | undefined {
    const path = decodeURIComponent((req.url ?? "/").split("?")[0]!);
    for (const r of this.#rules) {
      if (r.method !== undefined && r.method !== req.method) continue;
      if (!r.path.test(path)) continue;
      if (this.#prng.next() < r.probability) return r.action;
    }
    return undefined;
  }

  /** Holds until `ms` passes or release(), then resets the client connection. */
  #hold(req: IncomingMessage, ms: number): void {
    const end = (): void => {
      clearTimeout(t);
      this.#held.delete(end);
      req.socket.destroy();
    };
    const t = setTimeout(end, ms);
    this.#held.add(end);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const action = this.#pick(req);
    this.#recent.push(`${Date.now() % 100_000} ${req.method} ${req.url} -> ${action === undefined ? "forward" : JSON.stringify(action)}`);
    if (this.#recent.length > 40) this.#recent.shift();
    if (action?.kind === "status") {
      this.counts.status++;
      req.resume();
      req.on("end", () => res.writeHead(action.status, { "Content-Type": "text/plain" }).end(`injected fault ${action.status}\n`));
      return;
    }
    if (action?.kind === "hang") {
      this.counts.hang++;
      req.resume();
      this.#hold(req, action.holdMs);
      return;
    }
    this.counts.forwarded++;
    const up = http.request({
      host: this.#target.hostname, port: this.#target.port, method: req.method, path: req.url, headers: req.headers, agent: this.#agent,
    }, (ur) => {
      if (action?.kind === "lose-reply") {
        this.counts.loseReply++;
        ur.resume();
        ur.on("end", () => this.#hold(req, action.holdMs));
        return;
      }
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", (err) => {
      if (!res.headersSent) res.writeHead(502, { "Content-Type": "text/plain" }).end(`fault proxy: upstream failed: ${err.message}\n`);
      else res.destroy();
    });
    req.pipe(up);
  }
}
