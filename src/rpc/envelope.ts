// The JSON envelopes of retryrpc 1.17.1 (protocol doc §5.5), with Go's key order:
//   request {"myuniqueid":<string>,"requestid":<u64>,"highestReplySeen":<u64>,"method":<string>,"params":[<req>]}
//   reply   {"myuniqueid":<string>,"requestid":<u64>,"errstr":<string>,"result":<reply or null>}
// Request ids are plain numbers while safe (they always are for a real client) and bigint beyond
// 2^53, so an adversarial id can neither lose precision nor collide with a smaller one.

import { parseJson, stringifyJson, quoteGoString, RawJson } from "../base/json/index.js";
import { RpcProtocolError } from "./errors.js";

export type RequestId = number | bigint;

export interface RequestEnvelope {
  myuniqueid: string;
  requestid: RequestId;
  highestReplySeen: RequestId;
  method: string;
  /** params[0], parsed with bigint safety; null when params was missing or empty. */
  params: unknown;
}

export interface ReplyEnvelope {
  myuniqueid: string;
  requestid: RequestId;
  errstr: string;
  /** The parsed result (null on error). */
  result: unknown;
}

const U64_MAX = (1n << 64n) - 1n;

function asU64(v: unknown, what: string): RequestId {
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === "bigint" && v >= 0n && v <= U64_MAX) return v;
  throw new RpcProtocolError(`retryrpc envelope: ${what} must be an unsigned 64-bit integer, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (typeof v === "bigint") return v.toString();
  if (v === undefined) return "nothing";
  if (Array.isArray(v)) return "an array";
  return v === null ? "null" : typeof v === "object" ? "an object" : String(v);
}

function parseObject(body: Buffer | string, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = parseJson(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new RpcProtocolError(`retryrpc ${what}: body is not valid JSON (${(err as Error).message})`);
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) {
    throw new RpcProtocolError(`retryrpc ${what}: body must be a JSON object, got ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

/** Builds a request body. `params` is written with stringifyJson (RawJson is inserted as is). */
export function encodeRequestBody(clientId: string, requestId: RequestId, highestReplySeen: RequestId, method: string, params: unknown): string {
  return `{"myuniqueid":${quoteGoString(clientId)},"requestid":${requestId},"highestReplySeen":${highestReplySeen},"method":${quoteGoString(method)},"params":[${stringifyJson(params)}]}`;
}

/** @throws RpcProtocolError naming the bad field. */
export function decodeRequestBody(body: Buffer | string): RequestEnvelope {
  const o = parseObject(body, "request");
  if (typeof o.myuniqueid !== "string") {
    throw new RpcProtocolError(`retryrpc request: myuniqueid must be a string, got ${describe(o.myuniqueid)}`);
  }
  if (typeof o.method !== "string") {
    throw new RpcProtocolError(`retryrpc request: method must be a string, got ${describe(o.method)}`);
  }
  const p = o.params;
  if (p !== undefined && p !== null && !Array.isArray(p)) {
    throw new RpcProtocolError(`retryrpc request: params must be an array, got ${describe(p)}`);
  }
  return {
    myuniqueid: o.myuniqueid,
    requestid: asU64(o.requestid, "requestid"),
    highestReplySeen: o.highestReplySeen === undefined ? 0 : asU64(o.highestReplySeen, "highestReplySeen"),
    method: o.method,
    params: Array.isArray(p) && p.length > 0 ? p[0] : null,
  };
}

/**
 * Builds a reply body. On error (`errstr` non-empty) the result is written as null, as 1.17.1 drops
 * the reply struct. `result` may be RawJson (already encoded) or any value stringifyJson accepts.
 */
export function encodeReplyBody(clientId: string, requestId: RequestId, errstr: string, result: unknown): string {
  const r = errstr !== "" || result === undefined ? "null" : result instanceof RawJson ? result.text : stringifyJson(result);
  return `{"myuniqueid":${quoteGoString(clientId)},"requestid":${requestId},"errstr":${quoteGoString(errstr)},"result":${r}}`;
}

/** @throws RpcProtocolError naming the bad field. */
export function decodeReplyBody(body: Buffer | string): ReplyEnvelope {
  const o = parseObject(body, "reply");
  if (typeof o.myuniqueid !== "string") {
    throw new RpcProtocolError(`retryrpc reply: myuniqueid must be a string, got ${describe(o.myuniqueid)}`);
  }
  if (o.errstr !== undefined && o.errstr !== null && typeof o.errstr !== "string") {
    throw new RpcProtocolError(`retryrpc reply: errstr must be a string, got ${describe(o.errstr)}`);
  }
  return {
    myuniqueid: o.myuniqueid,
    requestid: asU64(o.requestid, "requestid"),
    errstr: typeof o.errstr === "string" ? o.errstr : "",
    result: o.result === undefined ? null : o.result,
  };
}

/** Parses a PassID body: a JSON string, the client ID. */
export function decodePassIdBody(body: Buffer | string): string {
  let v: unknown;
  try {
    v = parseJson(typeof body === "string" ? body : body.toString("utf8"));
  } catch (err) {
    throw new RpcProtocolError(`retryrpc PassID: body is not valid JSON (${(err as Error).message})`);
  }
  if (typeof v !== "string") throw new RpcProtocolError(`retryrpc PassID: body must be a JSON string, got ${describe(v)}`);
  return v;
}

export function encodePassIdBody(clientId: string): string {
  return quoteGoString(clientId);
}
