// The PROXYFS HTTP method of pfs_middleware (proxyfs-server.md §2.4, protocol doc §3.4): a JSON-RPC
// request in the body of `PROXYFS /proxyfs/<acct>` (or /v1/<acct>) is relayed to proxyfsd's
// JSON-RPC TCP port and proxyfsd's reply line is returned with 200, even when the RPC failed.
//
// Checks, in the middleware's order, each answered with its status and a plain-text reason:
//   405 not at account level; 415 Content-Type not application/json; 411 neither Content-Length nor
//   chunked; 413 body over 1 MiB; 400 not exactly one JSON-RPC 2.0 document with a "Server.Rpc…"
//   method on the allow-list and params = [object]; 502 proxyfsd unreachable or silent (timeout).
// The middleware then overwrites params[0].AccountName with the URL's account (so a mount names
// the account the token owns) and supplies an id when there is none; we do the same. The reply
// bytes are passed through unchanged (the captured emulator did; pfs_middleware re-encodes them
// with Python's json.dumps, which every client accepts as well).

import net from "node:net";
import { randomUUID } from "node:crypto";
import { parseJson, stringifyJson } from "../../base/json/index.js";

export interface ProxyfsRelayTarget {
  /** proxyfsd's [Peer] PrivateIPAddr. */
  host: string;
  /** proxyfsd's [JSONRPCServer] TCPPort. */
  port: number;
  /** RPC timeout (pfs_middleware default 30 s). */
  timeoutMs?: number;
}

export const PROXYFS_MAX_BODY = 1 << 20;

/** pfs_middleware rpc.py allow_read_only (names after "Server.Rpc"). */
const READ_ONLY_METHODS = [
  "Access", "FetchExtentMapChunk", "GetAccount", "GetContainer", "GetObject", "GetStat", "GetXAttr", "Lease", "ListXAttr",
  "Lookup", "LookupPlus", "MountByAccountName", "Ping", "ReadSymlink", "ReaddirByLoc", "ReaddirPlusByLoc", "ReaddirPlus",
  "Readdir", "StatVFS", "Type", "Unmount",
];
const ALLOWED_READ_ONLY = new Set(READ_ONLY_METHODS.map((n) => `Server.Rpc${n}`));
/** allow_read_write: allow_read_only plus these. */
const ALLOWED = new Set([
  ...READ_ONLY_METHODS,
  "Chmod", "Chown", "Create", "Delete", "Destroy", "Flock", "Flush", "Link", "Log", "MiddlewareMkdir", "MiddlewarePost",
  "Mkdir", "Move", "ProvisionObject", "PutLocation", "ReleaseLease", "RemoveXAttr", "Rename", "RenewLease", "Resize",
  "Rmdir", "SetTime", "SetXAttr", "SnapShotCreate", "SnapShotDelete", "SnapShotListByID", "SnapShotListByName",
  "SnapShotListByTime", "SnapShotLookupByName", "Symlink", "Unlink", "Wrote",
].map((n) => `Server.Rpc${n}`));

/** A failed relay: the HTTP status and a one-line reason for the body. */
export class ProxyfsRelayError extends Error {
  override readonly name = "ProxyfsRelayError";
  readonly code = "ERR_PROXYFS_RELAY";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/**
 * Validates the PROXYFS body (already read, ≤ 1 MiB) and returns the JSON text to send to proxyfsd.
 * `readOnly` (bypass_mode = read-only) limits the methods to pfs_middleware's allow_read_only.
 * @throws ProxyfsRelayError(400) naming what is wrong
 */
export function rewriteProxyfsRequest(body: string, account: string, readOnly = false): string {
  const docs = body.split("\n").filter((l) => l.trim() !== "");
  if (docs.length !== 1) throw new ProxyfsRelayError(400, `expected exactly one JSON-RPC request, got ${docs.length}`);
  let v: unknown;
  try {
    v = parseJson(docs[0]!);
  } catch (err) {
    throw new ProxyfsRelayError(400, `body is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new ProxyfsRelayError(400, "JSON-RPC request must be an object");
  const o = v as Record<string, unknown>;
  if (o.jsonrpc !== "2.0") throw new ProxyfsRelayError(400, 'JSON-RPC request must have "jsonrpc": "2.0"');
  if (typeof o.method !== "string" || !(readOnly ? ALLOWED_READ_ONLY : ALLOWED).has(o.method)) throw new ProxyfsRelayError(400, `method ${JSON.stringify(o.method)} is not allowed`);
  const p = o.params;
  if (!Array.isArray(p) || p.length !== 1 || p[0] === null || typeof p[0] !== "object" || Array.isArray(p[0])) {
    throw new ProxyfsRelayError(400, "params must be a list holding exactly one object");
  }
  (p[0] as Record<string, unknown>).AccountName = account;
  if (o.id === undefined || o.id === null) o.id = randomUUID();
  return stringifyJson(o);
}

/** Sends one request on a fresh connection and resolves with the first reply line ("\n" included). */
export function relayToProxyfsd(target: ProxyfsRelayTarget, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(target.port, target.host);
    let buf = "";
    let done = false;
    const finish = (err: Error | null, line?: string) => {
      if (done) return;
      done = true;
      s.destroy();
      if (err) reject(err);
      else resolve(line!);
    };
    s.setEncoding("utf8");
    s.setTimeout(target.timeoutMs ?? 30_000, () => finish(new ProxyfsRelayError(502, `proxyfsd at ${target.host}:${target.port} did not answer in time`)));
    s.on("connect", () => s.write(request));
    s.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) finish(null, buf.slice(0, nl + 1));
      else if (buf.length > 64 * 1024 * 1024) finish(new ProxyfsRelayError(502, "proxyfsd reply line too long"));
    });
    s.on("error", (err) => finish(new ProxyfsRelayError(502, `proxyfsd at ${target.host}:${target.port}: ${err.message}`)));
    s.on("close", () => finish(new ProxyfsRelayError(502, `proxyfsd at ${target.host}:${target.port} closed the connection without a reply`)));
  });
}

/** One HTTP/1.1 request parsed from raw bytes (Node's parser refuses the PROXYFS method). */
export interface RawRequest {
  method: string;
  path: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * Parses one request from the start of `buf`: "incomplete" when more bytes are needed, an HTTP
 * status (400 malformed, 411 no length, 413 body over maxBody) when it cannot be served.
 */
export function parseRawRequest(buf: Buffer, maxBody: number): RawRequest | "incomplete" | number {
  const headEnd = buf.indexOf("\r\n\r\n");
  if (headEnd < 0) return buf.length > 65536 ? 400 : "incomplete";
  const lines = buf.subarray(0, headEnd).toString("latin1").split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/1\.[01]$/.exec(lines[0]!);
  if (!m) return 400;
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const c = l.indexOf(":");
    if (c <= 0) return 400;
    const k = l.slice(0, c).trim().toLowerCase();
    const v = l.slice(c + 1).trim();
    headers[k] = headers[k] === undefined ? v : `${headers[k]}, ${v}`;
  }
  const rest = buf.subarray(headEnd + 4);
  const te = headers["transfer-encoding"];
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") return 400;
    const parts: Buffer[] = [];
    let at = 0;
    let total = 0;
    for (;;) {
      const nl = rest.indexOf("\r\n", at);
      if (nl < 0) return "incomplete";
      const size = parseInt(rest.subarray(at, nl).toString("latin1").split(";")[0]!.trim(), 16);
      if (!Number.isInteger(size) || size < 0) return 400;
      if (size === 0) {
        // Trailers (none expected) end with an empty line.
        if (rest.indexOf("\r\n", nl + 2) < 0) return "incomplete";
        break;
      }
      total += size;
      if (total > maxBody) return 413;
      if (rest.length < nl + 2 + size + 2) return "incomplete";
      parts.push(rest.subarray(nl + 2, nl + 2 + size));
      at = nl + 2 + size + 2;
    }
    return { method: m[1]!, path: m[2]!, headers, body: Buffer.concat(parts) };
  }
  const cl = headers["content-length"];
  if (cl === undefined) return 411;
  if (!/^\d+$/.test(cl)) return 400;
  const n = Number(cl);
  if (n > maxBody) return 413;
  if (rest.length < n) return "incomplete";
  return { method: m[1]!, path: m[2]!, headers, body: rest.subarray(0, n) };
}
