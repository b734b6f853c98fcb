// Mounting and unmounting FUSE file systems: the only OS-specific code of the library.
//
// As root: open /dev/fuse and have mount(8) attach it (the fd is inherited as fd 3 and named in
// the `fd=3` option; `-i` keeps mount(8) from running a mount.fuse helper). Unprivileged: the
// setuid fusermount3 hands the fd back over a unix socket with SCM_RIGHTS, which Node.js cannot
// receive, so fusermount-relay.ts runs a small relay that can.
//
// Stale mounts (a crashed daemon leaves ENOTCONN on the mount point) are detected and cleared with
// a lazy unmount, polling every retryDelayMs up to retryCap times, as FUSEUnMountRetryDelay/Cap
// document.
import { spawn } from "node:child_process";
import { openSync, closeSync, promises as fsp } from "node:fs";
import { resolve } from "node:path";

export interface MountArgs {
  mountpoint: string;
  fsname: string;
  subtype: string;
  allowOther?: boolean;
  defaultPermissions?: boolean;
  maxRead?: number;
  /** Extra comma-separated mount options passed through verbatim. */
  extraOptions?: string[];
}

export interface StaleMountPolicy {
  retryDelayMs: number;
  retryCap: number;
}

function run(cmd: string, args: string[], opts: { fds?: number[] } = {}): Promise<{ code: number; stderr: string }> {
  return new Promise((res) => {
    const stdio: (number | "ignore" | "pipe")[] = ["ignore", "ignore", "pipe", ...(opts.fds ?? [])];
    let child;
    try {
      child = spawn(cmd, args, { stdio });
    } catch (err) {
      res({ code: 127, stderr: String(err) });
      return;
    }
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (err) => res({ code: 127, stderr: String(err) }));
    child.on("close", (code) => res({ code: code ?? 1, stderr: stderr.trim() }));
  });
}

/** Validates a mount option value: no commas or NULs (they would inject options). */
function optionValue(name: string, value: string): string {
  if (/[,\0\n]/.test(value)) throw new TypeError(`Cannot use ${name} "${value}": it contains a comma, NUL or newline`);
  return value;
}

/** Returns true when `path` is the root of a mount (its device differs from its parent's). */
export async function isMountPoint(path: string): Promise<boolean> {
  const abs = resolve(path);
  const text = await fsp.readFile("/proc/self/mountinfo", "utf8");
  const esc = abs.replace(/[ \t\n\\]/g, (c) => "\\" + c.charCodeAt(0).toString(8).padStart(3, "0"));
  return text.split("\n").some((line) => line.split(" ")[4] === esc);
}

/** Returns "ok", "stale" (ENOTCONN: a dead FUSE server), "missing" or "notdir". */
export async function probeMountPoint(path: string): Promise<"ok" | "stale" | "missing" | "notdir"> {
  try {
    const st = await fsp.stat(path);
    return st.isDirectory() ? "ok" : "notdir";
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTCONN" || code === "ECONNABORTED") return "stale";
    if (code === "ENOENT") return "missing";
    throw err;
  }
}

/**
 * Unmounts `mountpoint`. `lazy` detaches it even while busy (MNT_DETACH).
 * Throws with the tool's message when nothing could unmount it.
 */
export async function unmount(mountpoint: string, opts: { lazy?: boolean } = {}): Promise<void> {
  const abs = resolve(mountpoint);
  const attempts: [string, string[]][] = process.getuid?.() === 0
    ? [["umount", opts.lazy ? ["-l", abs] : [abs]], ["fusermount3", opts.lazy ? ["-uz", abs] : ["-u", abs]]]
    : [["fusermount3", opts.lazy ? ["-uz", abs] : ["-u", abs]], ["fusermount", opts.lazy ? ["-uz", abs] : ["-u", abs]]];
  const errors: string[] = [];
  for (const [cmd, args] of attempts) {
    const r = await run(cmd, args);
    if (r.code === 0) return;
    errors.push(`${cmd} ${args.join(" ")}: ${r.stderr || `exit ${r.code}`}`);
  }
  throw new Error(`Cannot unmount "${abs}": ${errors.join("; ")}`);
}

/**
 * Clears a stale FUSE mount at `mountpoint` if there is one, polling until the mount point
 * answers again. Returns true when a stale mount was cleared.
 */
export async function clearStaleMount(mountpoint: string, policy: StaleMountPolicy): Promise<boolean> {
  if ((await probeMountPoint(mountpoint)) !== "stale") return false;
  for (let attempt = 0; attempt <= policy.retryCap; attempt++) {
    try { await unmount(mountpoint, { lazy: true }); } catch { /* retried below */ }
    const state = await probeMountPoint(mountpoint);
    if (state !== "stale") return true;
    await new Promise((r) => setTimeout(r, policy.retryDelayMs));
  }
  throw new Error(`Cannot clear the stale mount at "${mountpoint}" after ${policy.retryCap} retries`);
}

/** Throws a clear error unless `mountpoint` is a directory without a stale mount on it. */
export async function checkMountPoint(mountpoint: string): Promise<void> {
  const state = await probeMountPoint(mountpoint);
  if (state === "missing") throw new Error(`Cannot mount on "${mountpoint}": it does not exist`);
  if (state === "notdir") throw new Error(`Cannot mount on "${mountpoint}": it is not a directory`);
  if (state === "stale") throw new Error(`Cannot mount on "${mountpoint}": a stale FUSE mount is there (clear it first)`);
}

/**
 * Mounts a new FUSE file system at `args.mountpoint` and returns the /dev/fuse fd serving it.
 * Requires root (CAP_SYS_ADMIN).
 */
export async function mountDevFuse(args: MountArgs): Promise<number> {
  const mountpoint = resolve(args.mountpoint);
  await checkMountPoint(mountpoint);
  if (process.getuid?.() !== 0) throw new Error(`Cannot mount "${mountpoint}" with mount(8) without root: use fusermount3 (fusermount-relay.ts)`);
  const st = await fsp.stat(mountpoint);
  const opts = [
    "fd=3",
    `rootmode=${(st.mode & 0o170000).toString(8)}`,
    `user_id=${process.getuid()}`,
    `group_id=${process.getgid?.() ?? 0}`,
  ];
  if (args.allowOther) opts.push("allow_other");
  if (args.defaultPermissions) opts.push("default_permissions");
  if (args.maxRead !== undefined) opts.push(`max_read=${args.maxRead}`);
  for (const o of args.extraOptions ?? []) opts.push(optionValue("mount option", o));
  const fsname = optionValue("fsname", args.fsname);
  const subtype = optionValue("subtype", args.subtype);
  const fd = openSync("/dev/fuse", "r+");
  try {
    const r = await run("mount", ["-i", "-n", "-t", `fuse.${subtype}`, "-o", opts.join(","), fsname, mountpoint], { fds: [fd] });
    if (r.code !== 0) throw new Error(`Cannot mount "${mountpoint}": mount exited ${r.code}: ${r.stderr}`);
  } catch (err) {
    closeSync(fd);
    throw err;
  }
  return fd;
}

