// The serving loop shared by the example servers' main programs: SIGTERM/SIGINT unmount (lazily
// if the mount is busy, so the process can still exit), "ready <mountpoint>" is printed once INIT
// completed, "closed <reason>" when the mount ends (signal or outside unmount), then exit 0.
import type { FuseMount } from "../fuse-mount.js";

export async function serveUntilSignalled(mount: FuseMount, mountpoint: string, name: string): Promise<never> {
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    mount.unmount().catch(async (e: unknown) => {
      // Busy (a test left a file open): detach it lazily.
      console.error(`${name}: ${String(e)}; unmounting lazily`);
      await mount.unmount({ lazy: true }).catch((e2: unknown) => {
        console.error(`${name}: ${String(e2)}`);
        process.exit(1);
      });
    });
  };
  // Handlers go in before "ready" is printed: a supervisor may signal as soon as it reads it.
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await mount.ready;
  console.log(`ready ${mountpoint}`);
  const end = await mount.closed;
  console.log(`closed ${end.reason}`);
  process.exit(0);
}
