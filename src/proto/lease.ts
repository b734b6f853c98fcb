// Lease numbers of 1.17.1 (jrpcfs/api.go; protocol doc §9) and the upcall payload codec.
// The server sends an RPCInterrupt as a retryrpc Upcall (type 2) body, best effort, repeating it
// every LeaseInterruptInterval until the holder complies or LeaseInterruptLimit is reached.

import { parseJson } from "../base/json/index.js";
import { RPCInterruptCodec } from "./structs.js";
import { ProtoDecodeError } from "./schema.js";
import type { RPCInterrupt } from "./types.js";

export const LeaseRequestType = { Shared: 0, Promote: 1, Exclusive: 2, Demote: 3, Release: 4 } as const;
export const LeaseReplyType = { Denied: 0, Shared: 1, Promoted: 2, Exclusive: 3, Demoted: 4, Released: 5 } as const;
export const RPCInterruptType = { Unmount: 0, Demote: 1, Release: 2 } as const;

/** 1.17.1 lease timing (jrpcfs/config.go defaults). */
export const LEASE_TIMING = {
  /** A grant younger than this is never interrupted. */
  minLeaseDurationMs: 250,
  /** Interrupts are repeated at this interval… */
  leaseInterruptIntervalMs: 250,
  /** …at most this many times, then the lease is expired. */
  leaseInterruptLimit: 20,
} as const;

/** Upcall body, byte-identical to 1.17.1: `{"RPCInterruptType":2,"InodeNumber":1}`. */
export function encodeUpcall(interrupt: RPCInterrupt): string {
  return RPCInterruptCodec.encode(interrupt);
}

/** @throws ProtoDecodeError when the payload is not an RPCInterrupt. */
export function decodeUpcall(payload: Uint8Array | string): RPCInterrupt {
  const text = typeof payload === "string" ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("utf8");
  let v: unknown;
  try {
    v = parseJson(text);
  } catch (err) {
    throw new ProtoDecodeError(`upcall payload is not JSON: ${(err as Error).message}`);
  }
  return RPCInterruptCodec.decode(v, "RPCInterrupt");
}
