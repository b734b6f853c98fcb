// JSON-RPC 1.0 envelopes of Go's net/rpc/jsonrpc (protocol doc §3-4): the PROXYFS HTTP body the agent
// sends, the request proxyfsd reads on its TCPPort, and the one-line reply it writes.
//   request  {"jsonrpc":"2.0","method":"Server.<Method>","id":<n>,"params":[<object>]}   (agent's key order)
//   response {"id":<id echoed>,"result":<object or null>,"error":<null or string>}\n
// Method names carry the net/rpc service prefix "Server.".

import { parseJson, quoteGoString, stringifyJson, RawJson } from "../base/json/index.js";
import { ProtoDecodeError } from "./schema.js";

export const JSONRPC_SERVICE_PREFIX = "Server.";
export const JsonRpcMethod = {
  MountByAccountName: "Server.RpcMountByAccountName",
  Unmount: "Server.RpcUnmount",
  Ping: "Server.RpcPing",
} as const;

export interface JsonRpcRequest {
  method: string;
  /** Any JSON value; echoed in the response. The agent uses a counter starting at 2. */
  id: unknown;
  /** params[0] (bigint-safe parse), or null when absent. */
  params: unknown;
}

export interface JsonRpcResponse {
  id: unknown;
  result: unknown;
  /** null on success (Go writes null), else the error text. */
  error: string | null;
}

function asObject(text: string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseJson(text);
  } catch (err) {
    throw new ProtoDecodeError(`JSON-RPC ${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new ProtoDecodeError(`JSON-RPC ${what} must be a JSON object`);
  return v as Record<string, unknown>;
}

/** The agent's PROXYFS body: no trailing newline. `params` may be RawJson from a struct codec. */
export function encodeJsonRpcRequest(method: string, id: number | bigint, params: unknown): string {
  return `{"jsonrpc":"2.0","method":${quoteGoString(method)},"id":${id},"params":[${stringifyJson(params)}]}`;
}

/** @throws ProtoDecodeError naming what is wrong. Key order does not matter (proxyfsd's own ping differs). */
export function decodeJsonRpcRequest(text: string): JsonRpcRequest {
  const o = asObject(text, "request");
  if (typeof o.method !== "string") throw new ProtoDecodeError("JSON-RPC request: method must be a string");
  const p = o.params;
  if (p !== undefined && p !== null && !Array.isArray(p)) throw new ProtoDecodeError("JSON-RPC request: params must be an array");
  return { method: o.method, id: o.id === undefined ? null : o.id, params: Array.isArray(p) && p.length > 0 ? p[0] : null };
}

/** proxyfsd's reply line, with Go's trailing "\n". On error the result is null. */
export function encodeJsonRpcResponse(id: unknown, result: unknown, error: string | null): string {
  const r = error !== null || result === undefined ? "null" : result instanceof RawJson ? result.text : stringifyJson(result);
  return `{"id":${stringifyJson(id ?? null)},"result":${r},"error":${error === null ? "null" : quoteGoString(error)}}\n`;
}

/** Accepts Go's bytes or pfs_middleware's Python re-encoding (spaces, no newline). */
export function decodeJsonRpcResponse(text: string): JsonRpcResponse {
  const o = asObject(text, "response");
  const e = o.error;
  if (e !== undefined && e !== null && typeof e !== "string") throw new ProtoDecodeError("JSON-RPC response: error must be a string or null");
  return { id: o.id === undefined ? null : o.id, result: o.result === undefined ? null : o.result, error: typeof e === "string" && e !== "" ? e : null };
}

/**
 * Splits a byte stream of concatenated JSON objects (Go's streaming decoder accepts requests back
 * to back with no delimiter). push() returns the complete top-level values' texts seen so far.
 * @throws ProtoDecodeError when the stream does not start with '{' or a value exceeds maxBytes.
 */
export class JsonObjectStreamSplitter {
  #buf = "";
  #scan = 0;
  #depth = 0;
  #inString = false;
  #escape = false;
  #maxBytes: number;

  constructor(maxBytes = 1 << 20) {
    this.#maxBytes = maxBytes;
  }

  push(chunk: string): string[] {
    this.#buf += chunk;
    const out: string[] = [];
    let start = 0;
    for (let i = this.#scan; i < this.#buf.length; i++) {
      const c = this.#buf.charCodeAt(i);
      if (this.#depth === 0) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
          if (i === start) start = i + 1;
          continue;
        }
        if (c !== 0x7b) throw new ProtoDecodeError(`JSON-RPC stream: expected '{' to start a request, got ${JSON.stringify(this.#buf[i])}`);
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === 0x5c) this.#escape = true;
        else if (c === 0x22) this.#inString = false;
        continue;
      }
      if (c === 0x22) this.#inString = true;
      else if (c === 0x7b || c === 0x5b) this.#depth++;
      else if (c === 0x7d || c === 0x5d) {
        this.#depth--;
        if (this.#depth === 0) {
          out.push(this.#buf.slice(start, i + 1));
          start = i + 1;
        }
      }
    }
    this.#buf = this.#buf.slice(start);
    this.#scan = this.#buf.length;
    if (this.#buf.length > this.#maxBytes) throw new ProtoDecodeError(`JSON-RPC stream: request longer than ${this.#maxBytes} bytes`);
    return out;
  }
}
