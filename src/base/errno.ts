// Linux errno numbers (x86_64/aarch64 share them) and the FsError that carries one.
// Every layer that fails a file-system request throws FsError with the errno chosen where the
// failure is understood; adapters (FUSE, RPC) only translate it to the wire.

export const Errno = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17,
  EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33,
  ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
  ENOMSG: 42, EIDRM: 43, ENODATA: 61, ETIME: 62, ENOLINK: 67, EPROTO: 71, EBADMSG: 74,
  EOVERFLOW: 75, EILSEQ: 84, EUSERS: 87, ENOTSOCK: 88, EDESTADDRREQ: 89, EMSGSIZE: 90,
  EPROTOTYPE: 91, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, EOPNOTSUPP: 95, EAFNOSUPPORT: 97,
  EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETDOWN: 100, ENETUNREACH: 101, ECONNABORTED: 103,
  ECONNRESET: 104, ENOBUFS: 105, EISCONN: 106, ENOTCONN: 107, ESHUTDOWN: 108, ETIMEDOUT: 110,
  ECONNREFUSED: 111, EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EDQUOT: 122,
  ECANCELED: 125, EOWNERDEAD: 130,
} as const;

export type ErrnoName = keyof typeof Errno;

/** ENOATTR is ENODATA on Linux; ENOTSUP is EOPNOTSUPP; EWOULDBLOCK is EAGAIN. */
export const ENOATTR = Errno.ENODATA;
export const ENOTSUP = Errno.EOPNOTSUPP;

const nameByNumber = new Map<number, string>(
  Object.entries(Errno).map(([name, num]) => [num, name]),
);

/** Returns "ENOENT" for 2, or "errno 999" for a number with no name here. */
export function errnoName(errno: number): string {
  return nameByNumber.get(errno) ?? `errno ${errno}`;
}

/** Returns the number of a name like "ENOENT", or undefined for an unknown name. */
export function errnoByName(name: string): number | undefined {
  return (Errno as Record<string, number>)[name];
}

/**
 * A file-system failure with the errno a caller should see.
 * `errno` is always positive (2 for ENOENT).
 */
export class FsError extends Error {
  override readonly name = "FsError";
  readonly errno: number;
  readonly code: string;

  constructor(errno: number, message?: string, options?: { cause?: unknown }) {
    super(message ?? errnoName(errno), options);
    if (!Number.isInteger(errno) || errno <= 0) throw new RangeError(`FsError errno must be a positive integer, got ${errno}`);
    this.errno = errno;
    this.code = errnoName(errno);
  }
}

/** Convenience: `throw fsError("ENOENT", "no such entry \"a\"")`. */
export function fsError(name: ErrnoName, message?: string, options?: { cause?: unknown }): FsError {
  return new FsError(Errno[name], message ?? name, options);
}

/**
 * The errno to report for any thrown value: an FsError's own, a Node system error's
 * (err.errno is negative in Node, err.code is the name), else EIO.
 */
export function toErrno(err: unknown): number {
  if (err instanceof FsError) return err.errno;
  if (err && typeof err === "object") {
    const code = (err as { code?: unknown }).code;
    if (typeof code === "string") {
      const n = errnoByName(code);
      if (n !== undefined) return n;
    }
  }
  return Errno.EIO;
}
