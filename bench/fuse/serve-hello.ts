// Child process of the FUSE benchmark: serves the library's minimal file system (HelloFs) at a
// mount point until SIGTERM/SIGINT or an outside unmount. It runs apart from the load generator
// because the FUSE server lives in this process's event loop: a synchronous call on the mount from
// here would deadlock.
//
// Usage: node serve-hello.js MOUNTPOINT SIZE_BYTES [LIBRARY_INDEX_JS]
// LIBRARY_INDEX_JS (optional) loads another build of src/fuse/index.js, to compare a prototype.
// Prints "ready" on stdout once INIT has completed.
import { pathToFileURL } from "node:url";
import type { RequestContext } from "../../src/fuse/index.js";
import * as defaultLib from "../../src/fuse/index.js";
import { HelloFs } from "../../src/fuse/examples/hello-fs.js";

/**
 * HelloFs as libfuse's hello_ll serves it: open() replies without keep_cache, so each open drops
 * the file's page cache and buffered reads go through FUSE as they do on hello_ll.
 */
class BenchFs extends HelloFs {
  override async open(ctx: RequestContext, nodeid: bigint, flags: number) {
    return { ...(await super.open(ctx, nodeid, flags)), keepCache: false };
  }
}

async function main(): Promise<void> {
  const [mountpoint, sizeArg, libPath] = process.argv.slice(2);
  const size = Number(sizeArg);
  if (!mountpoint || !Number.isSafeInteger(size) || size <= 0) {
    throw new Error(`usage: serve-hello.js MOUNTPOINT SIZE_BYTES [LIBRARY_INDEX_JS] (got ${process.argv.slice(2).join(" ")})`);
  }
  const lib = (libPath ? await import(pathToFileURL(libPath).href) : defaultLib) as typeof defaultLib;
  const m = await lib.mountFuse(new BenchFs({ size }), { mountpoint, fsname: "pfs-bench", subtype: "pfsbench" });
  await m.ready;
  process.stdout.write("ready\n");
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    m.unmount({ lazy: true }).catch((err) => process.stderr.write(`serve-hello: ${String(err)}\n`));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await m.closed;
  process.exit(0);
}

main().catch((err) => {
  process.stderr.write(`serve-hello: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
