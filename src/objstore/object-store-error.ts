// ObjectStoreError: the one error class every ObjectStore implementation throws for failures that
// belong to the store (missing objects, failed preconditions, auth, transport). Callers switch on
// `code`, never on messages; `status` is the HTTP status when one was received.

/** Stable error codes. Service answers and client/transport failures are kept apart. */
export type ObjectStoreErrorCode =
  // answers from the service
  | "NotFound" // 404: container or object (or account) does not exist
  | "Conflict" // 409: e.g. deleting a container that still holds objects
  | "PreconditionFailed" // 412: If-None-Match: * on an existing object, bad listing limit, bad UTF-8
  | "RangeNotSatisfiable" // 416
  | "Unauthorized" // 401 even after re-authentication
  | "Forbidden" // 403
  | "BadRequest" // 400: malformed request, bad metadata, name too long
  | "LengthRequired" // 411
  | "TooLarge" // 413
  | "ChecksumMismatch" // 422: the ETag sent with a PUT did not match the body
  | "ServerError" // 5xx (after retries) or another unexpected status
  // failures on the client side
  | "InvalidName" // container/object name rejected before sending
  | "InvalidArgument" // bad option value (metadata, range, body length mismatch)
  | "Timeout" // the request exceeded its time bound
  | "Network" // connection refused/reset, protocol error
  | "Aborted"; // the caller's AbortSignal fired

export class ObjectStoreError extends Error {
  override readonly name = "ObjectStoreError";
  readonly code: ObjectStoreErrorCode;
  /** HTTP status when the failure came from a response. */
  readonly status: number | undefined;

  constructor(code: ObjectStoreErrorCode, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = opts.status;
  }

  /** True when `err` is an ObjectStoreError with one of the given codes. */
  static is(err: unknown, ...codes: ObjectStoreErrorCode[]): err is ObjectStoreError {
    return err instanceof ObjectStoreError && (codes.length === 0 || codes.includes(err.code));
  }
}

/** Maps an HTTP status that is not a success to an error code. */
export function codeForStatus(status: number): ObjectStoreErrorCode {
  switch (status) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 409: return "Conflict";
    case 411: return "LengthRequired";
    case 412: return "PreconditionFailed";
    case 413: return "TooLarge";
    case 416: return "RangeNotSatisfiable";
    case 422: return "ChecksumMismatch";
    case 408: return "Timeout";
    default: return "ServerError";
  }
}

/** The HTTP status the embedded server answers for an error code. */
export function statusForCode(code: ObjectStoreErrorCode): number {
  switch (code) {
    case "NotFound": return 404;
    case "Conflict": return 409;
    case "PreconditionFailed": return 412;
    case "RangeNotSatisfiable": return 416;
    case "Unauthorized": return 401;
    case "Forbidden": return 403;
    case "BadRequest": case "InvalidName": case "InvalidArgument": return 400;
    case "LengthRequired": return 411;
    case "TooLarge": return 413;
    case "ChecksumMismatch": return 422;
    case "Timeout": return 408;
    case "Aborted": return 499;
    default: return 500;
  }
}
