// mountFuse(): mounts a FuseHandler at a directory and serves it until unmounted.
import { FuseSession, type SessionOptions } from "./session.js";
import type { FuseHandler, InitInfo } from "./handler.js";
import { DevFuseTransport, type FuseTransport } from "./transport.js";
import { checkMountPoint, clearStaleMount, mountDevFuse, unmount, type MountArgs, type StaleMountPolicy } from "./mount.js";
import { mountWithFusermount } from "./fusermount-relay.js";

export interface MountOptions extends SessionOptions {
  mountpoint: string;
  /** First field of /proc/mounts (FUSEVolumeName for the agent). Default "fuse". */
  fsname?: string;
  /** Type suffix: the mount shows as fuse.<subtype>. Default "pfs". */
  subtype?: string;
  allowOther?: boolean;
  /** Let the kernel check permissions from mode bits (else the handler must). */
  defaultPermissions?: boolean;
  maxRead?: number;
  /** When a stale mount is found at mountpoint: clear it with these retries (default 100 x 100 ms). */
  staleMount?: StaleMountPolicy;
  /** Mount through fusermount3 even as root (the unprivileged path; used by tests). */
  useFusermount?: boolean;
}

export interface FuseMount {
  readonly mountpoint: string;
  readonly session: FuseSession;
  /** Resolves after INIT completes (the file system is usable). */
  readonly ready: Promise<InitInfo>;
  /** Resolves when the session ends, however it ends. */
  readonly closed: FuseSession["closed"];
  /**
   * Unmounts and waits for the session to end. `lazy` detaches a busy mount and returns at once:
   * the session then ends when the last open file on it is closed (watch `closed`).
   */
  unmount(opts?: { lazy?: boolean }): Promise<void>;
}

/**
 * Mounts `handler` at `options.mountpoint` (root only, see mount.ts) and starts serving it.
 *
 * The serving process must not make blocking calls on its own mount (fs.*Sync, or holding files
 * open there while it spawns children: exec closes them and the FLUSH would wait for the parent
 * that is blocked in spawn). Both deadlock the kernel request until the connection is aborted.
 */
export async function mountFuse(handler: FuseHandler, options: MountOptions): Promise<FuseMount> {
  const policy = options.staleMount ?? { retryDelayMs: 100, retryCap: 100 };
  await clearStaleMount(options.mountpoint, policy);
  const args: MountArgs = {
    mountpoint: options.mountpoint,
    fsname: options.fsname ?? "fuse",
    subtype: options.subtype ?? "pfs",
    allowOther: options.allowOther ?? false,
    defaultPermissions: options.defaultPermissions ?? false,
    ...(options.maxRead !== undefined ? { maxRead: options.maxRead } : {}),
  };
  const bufferSize = FuseSession.readBufferSize(options.maxWrite);
  let transport: FuseTransport;
  if (process.getuid?.() === 0 && !options.useFusermount) {
    transport = new DevFuseTransport(await mountDevFuse(args), bufferSize);
  } else {
    await checkMountPoint(options.mountpoint);
    transport = await mountWithFusermount(args, bufferSize);
  }
  const session = new FuseSession(transport, handler, options);
  session.start();
  const mountpoint = options.mountpoint;
  return {
    mountpoint,
    session,
    ready: session.ready,
    closed: session.closed,
    async unmount(opts: { lazy?: boolean } = {}): Promise<void> {
      try {
        await unmount(mountpoint, opts);
      } catch (err) {
        // Already gone (unmounted from outside): the session ends by itself.
        const r = await Promise.race([session.closed, new Promise((res) => setTimeout(() => res(null), 50))]);
        if (r === null) throw err;
      }
      if (!opts.lazy) await session.closed;
    },
  };
}
