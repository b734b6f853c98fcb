// Serves MemFs at a mount point until SIGTERM/SIGINT or an outside unmount.
// Usage: node mem-fs-main.js <mountpoint> [--allow-other] [--no-default-permissions] [--debug]
//          [--capacity-mib N] [--attr-ttl-ms N] [--entry-ttl-ms N]
// Prints "ready <mountpoint>" once INIT completed, one "interrupted <OP> ino=<n>" line each time
// a blocked request gives up because the kernel interrupted it (see MemFs), and
// "closed <reason>" at the end; exits 0 after a clean unmount.
import { mountFuse } from "../fuse-mount.js";
import { MemFs } from "./mem-fs.js";
import { serveUntilSignalled } from "./serve-until-signalled.js";

const USAGE = "usage: mem-fs-main <mountpoint> [--allow-other] [--no-default-permissions] [--debug] [--capacity-mib N] [--attr-ttl-ms N] [--entry-ttl-ms N]";

function fail(msg: string): never {
  console.error(`mem-fs-main: ${msg}\n${USAGE}`);
  process.exit(2);
}

const args = process.argv.slice(2);
let mountpoint: string | undefined;
let allowOther = false;
let defaultPermissions = true;
let debug = false;
let capacityMib: number | undefined;
let attrTtlMs: number | undefined;
let entryTtlMs: number | undefined;
const num = (flag: string, v: string | undefined): number => {
  const n = Number(v);
  if (v === undefined || !Number.isFinite(n) || n < 0) fail(`${flag} needs a non-negative number, got "${v ?? ""}"`);
  return n;
};
for (let k = 0; k < args.length; k++) {
  const a = args[k]!;
  if (a === "--allow-other") allowOther = true;
  else if (a === "--no-default-permissions") defaultPermissions = false;
  else if (a === "--debug") debug = true;
  else if (a === "--capacity-mib") capacityMib = num(a, args[++k]);
  else if (a === "--attr-ttl-ms") attrTtlMs = num(a, args[++k]);
  else if (a === "--entry-ttl-ms") entryTtlMs = num(a, args[++k]);
  else if (a.startsWith("-")) fail(`unknown option "${a}"`);
  else if (mountpoint === undefined) mountpoint = a;
  else fail(`unexpected argument "${a}"`);
}
if (!mountpoint) fail("a mount point is required");

const fs = new MemFs({
  ...(capacityMib !== undefined ? { capacityBytes: capacityMib * 2 ** 20 } : {}),
  onInterrupt: (op, ino) => console.log(`interrupted ${op} ino=${ino}`),
});
const logger = {
  info: (m: string) => console.error(m),
  warn: (m: string) => console.error(m),
  error: (m: string) => console.error(m),
  debug: (m: string) => console.error(m),
};
const mount = await mountFuse(fs, {
  mountpoint, fsname: "memfs", subtype: "memfs", allowOther, defaultPermissions, debug, logger,
  ...(attrTtlMs !== undefined ? { attrTtlMs } : {}),
  ...(entryTtlMs !== undefined ? { entryTtlMs } : {}),
  staleMount: { retryDelayMs: 50, retryCap: 40 },
});
await serveUntilSignalled(mount, mountpoint, "mem-fs-main");
