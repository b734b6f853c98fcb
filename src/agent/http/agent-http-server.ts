// The agent's embedded HTTP server (pfsagent.md §10). GET only (others: 405), trailing "/"
// ignored, unknown paths 404:
//   /         HTML index
//   /config   the effective [Agent] config as JSON, secrets REDACTED (the original leaked them)
//   /leases   inodes per client lease state (16-digit upper-case hex, LRU order), as 1.17.1
//   /metrics  "name value" lines, names left-aligned, values right-aligned, sorted
//   /stats    the same counters in bucketstats "name total:<n>" form
//   /version  the version string; served only once the FUSE mount is up (readiness probe)
// `?compact=<v>` packs JSON unless v is empty, "0" or "false"; default tab-indented + "\n".
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface AgentHttpSources {
  version: string;
  mountId: () => string;
  /** The config as JSON text, secrets already redacted. */
  config: (compact: boolean) => string;
  /** name → value; sorted by the server. */
  metrics: () => Record<string, number | bigint>;
  /** Inode numbers per lease state (LEASE_LISTS names); absent or undefined = all empty. */
  leases?: () => Partial<Record<string, readonly bigint[]>> | undefined;
}

const LEASE_LISTS = [
  "None", "SharedRequested", "SharedGranted", "SharedPromoting", "SharedReleasing",
  "ExclusiveRequested", "ExclusiveGranted", "ExclusiveDemoting", "ExclusiveReleasing",
] as const;

function jsonText(value: unknown, compact: boolean): string {
  const replacer = (_k: string, v: unknown): unknown => (typeof v === "bigint" ? Number(v) : v);
  return compact ? JSON.stringify(value, replacer) : `${JSON.stringify(value, replacer, "\t")}\n`;
}

/** 1.17.1 prints inode numbers in /leases as %016X. */
export function leaseInodeText(ino: bigint): string {
  return BigInt.asUintN(64, ino).toString(16).toUpperCase().padStart(16, "0");
}

export function formatMetrics(metrics: Record<string, number | bigint>): string {
  const names = Object.keys(metrics).sort();
  if (names.length === 0) return "";
  const nameWidth = Math.max(...names.map((n) => n.length));
  const values = names.map((n) => String(metrics[n]));
  const valueWidth = Math.max(...values.map((v) => v.length));
  return names.map((n, i) => `${n.padEnd(nameWidth)} ${values[i]!.padStart(valueWidth)}\n`).join("");
}

export class AgentHttpServer {
  readonly #src: AgentHttpSources;
  readonly #server: http.Server;
  #label = "";

  constructor(sources: AgentHttpSources) {
    this.#src = sources;
    this.#server = http.createServer((req, res) => this.#handle(req, res));
  }

  /** Listens; resolves with the bound port (port 0 picks a free one). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        this.#server.off("error", reject);
        const a = this.#server.address() as AddressInfo;
        this.#label = `${host}:${a.port}`;
        resolve(a.port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    const url = new URL(req.url ?? "/", "http://agent");
    const path = url.pathname.replace(/\/+$/, "");
    const c = url.searchParams.get("compact");
    const compact = c !== null && c !== "" && c !== "0" && c !== "false";
    const send = (type: string, body: string): void => {
      res.writeHead(200, { "Content-Type": type, "Content-Length": Buffer.byteLength(body) }).end(body);
    };
    try {
      switch (path) {
        case "":
          send("text/html", `<!DOCTYPE html>\n<html><head><title>PFSAgent - ${this.#label}</title></head><body>\n` +
            ["config", "leases", "metrics", "stats", "version"].map((p) => `<a href="/${p}">/${p}</a><br>\n`).join("") + "</body></html>\n");
          return;
        case "/config":
          send("application/json", this.#src.config(compact));
          return;
        case "/leases": {
          const held = this.#src.leases?.();
          send("application/json", jsonText({ MountID: this.#src.mountId(), ...Object.fromEntries(LEASE_LISTS.map((l) => [l, (held?.[l] ?? []).map(leaseInodeText)])) }, compact));
          return;
        }
        case "/metrics":
          send("text/plain", formatMetrics(this.#src.metrics()));
          return;
        case "/stats": {
          const m = this.#src.metrics();
          send("text/plain", Object.keys(m).sort().map((k) => `PFSAgent.${k} total:${String(m[k])}\n`).join(""));
          return;
        }
        case "/version":
          send("text/plain", this.#src.version);
          return;
        default:
          res.writeHead(404).end();
      }
    } catch (err) {
      res.writeHead(500, { "Content-Type": "text/plain" }).end(`${(err as Error).message}\n`);
    }
  }
}
