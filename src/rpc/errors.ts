// Errors of the rpc layer. Each has a stable `code`.
//
// errstr conventions of 1.17.1 (protocol doc §5.5): most methods fail with "errno: <N>"; the agent
// parses that with Sscanf("errno: %v"); some methods (RpcLease, RpcUnmount) use plain text. A handler
// picks the exact string by throwing RpcHandlerError(errstr), or an FsError (-> "errno: N").

import { FsError, Errno } from "../base/errno.js";

/** The errstr 1.17.1 uses for a method it does not have (captured: RpcNoSuchMethod). */
export const UNKNOWN_METHOD_ERRSTR = "errno: 2";

/**
 * The errstr our server answers every RPC with when the PassID names a client the server refuses
 * (unknown MountID, e.g. after a server restart). ESTALE: a 1.17.1 agent hands it to the
 * application instead of hanging, and our agent reads it as "re-mount needed".
 */
export const UNKNOWN_CLIENT_ERRSTR = `errno: ${Errno.ESTALE}`;

/** "errno: N", exactly as jrpcfs rpcEncodeError writes it. */
export function errnoErrstr(errno: number): string {
  return `errno: ${errno}`;
}

/** The errno of an "errno: N" string (as the 1.17.1 agent's Sscanf reads it), else undefined. */
export function parseErrstrErrno(errstr: string): number | undefined {
  const m = /^errno: ([+-]?\d+)/.exec(errstr);
  return m ? Number(m[1]) : undefined;
}

/** Thrown by a server handler to send `errstr` verbatim (plain-text errors such as RpcLease's). */
export class RpcHandlerError extends Error {
  override readonly name = "RpcHandlerError";
  readonly code = "ERR_RPC_HANDLER";
  readonly errstr: string;

  constructor(errstr: string, options?: { cause?: unknown }) {
    super(errstr, options);
    if (errstr === "") throw new TypeError("RpcHandlerError needs a non-empty errstr");
    this.errstr = errstr;
  }
}

/** The errstr a server sends for an error thrown by a handler. Unknown errors become EIO. */
export function errstrOf(err: unknown): string {
  if (err instanceof RpcHandlerError) return err.errstr;
  if (err instanceof FsError) return errnoErrstr(err.errno);
  return errnoErrstr(Errno.EIO);
}

/** A reply with a non-empty errstr, as the client returns it to the caller. */
export class RpcReplyError extends Error {
  override readonly name = "RpcReplyError";
  readonly code = "ERR_RPC_REPLY";
  readonly method: string;
  readonly errstr: string;
  /** The errno when errstr is "errno: N", else undefined. */
  readonly errno: number | undefined;

  constructor(method: string, errstr: string) {
    super(`${method} failed: ${errstr}`);
    this.method = method;
    this.errstr = errstr;
    this.errno = parseErrstrErrno(errstr);
  }
}

/** The peer broke the wire protocol (bad magic, Len 0, bad JSON envelope, wrong message type…). */
export class RpcProtocolError extends Error {
  override readonly name = "RpcProtocolError";
  readonly code = "ERR_RPC_PROTOCOL";
}

/** The client could not (re)connect within its retry limit; outstanding calls fail with this. */
export class RpcConnectError extends Error {
  override readonly name = "RpcConnectError";
  readonly code = "ERR_RPC_CONNECT";
}

/** The client or server was closed; calls made after close() or pending at close() fail with this. */
export class RpcClosedError extends Error {
  override readonly name = "RpcClosedError";
  readonly code = "ERR_RPC_CLOSED";
}
