// Serves HelloFs at a mount point until SIGTERM/SIGINT or an outside unmount.
// Usage: node hello-fs-main.js <mountpoint> [size-in-bytes]
// Prints "ready <mountpoint>" once INIT completed; exits 0 after a clean unmount.
import { mountFuse } from "../fuse-mount.js";
import { HelloFs } from "./hello-fs.js";
import { serveUntilSignalled } from "./serve-until-signalled.js";

const [mountpoint, size] = process.argv.slice(2);
if (!mountpoint) {
  console.error("usage: hello-fs-main <mountpoint> [size]");
  process.exit(2);
}
const fs = new HelloFs(size ? { size: Number(size) } : {});
const mount = await mountFuse(fs, { mountpoint, fsname: "hello", subtype: "hello", staleMount: { retryDelayMs: 50, retryCap: 40 } });
await serveUntilSignalled(mount, mountpoint, "hello-fs-main");
