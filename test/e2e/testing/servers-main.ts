// Test helper process: the server side of an end-to-end agent test, in a process of its own (the
// test process makes blocking fs calls on the FUSE mount, so nothing the agent depends on may run
// in it). Starts proxyfsd's RPC front end (startVolumeServer) for AUTH_test and the embedded
// Swift-API server (tempauth user test:tester/testing; in memory, or on disk with --dir; tokens
// valid --token-lifetime seconds) relaying
// the PROXYFS method to proxyfsd's JSON-RPC port. Prints one JSON line
//   {"swiftPort":…,"retryRpcPort":…,"jsonRpcPort":…}
// on stdout when ready; SIGTERM/SIGINT close everything and exit 0.
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../../src/objstore/index.js";
import { startVolumeServer } from "../../../src/volume/server/index.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const dir = arg("--dir");
/** Short token lifetimes make the agent renew through its auth plug-in (401 → renewal). */
const tokenLifetimeSec = arg("--token-lifetime") !== undefined ? Number(arg("--token-lifetime")) : undefined;

// proxyfsd needs an object-store client (it creates the LogSegment containers) and the Swift
// server needs proxyfsd's port: the client authenticates lazily, after both are up.
let swift: SwiftApiServer | undefined;
const objectStore = new SwiftObjectStore({
  authenticate: (signal) => tempAuth({ authUrl: swift!.authUrl, user: "test:tester", key: "testing" })(signal),
  retry: { limit: 3, delayMs: 50 },
});
const volume = await startVolumeServer({
  volumes: [{ name: "CommonVolume", accountName: "AUTH_test", objectStore }],
  log: (level, message) => {
    if (level !== "debug") process.stderr.write(`proxyfsd ${level}: ${message}\n`);
  },
});
swift = await SwiftApiServer.start({
  users: [{ account: "test", user: "tester", key: "testing" }],
  proxyfs: { host: "127.0.0.1", port: volume.jsonRpcPort },
  ...(dir ? { dir } : {}),
  ...(tokenLifetimeSec !== undefined ? { tokenLifetimeSec } : {}),
});
process.stdout.write(`${JSON.stringify({ swiftPort: swift.port, retryRpcPort: volume.retryRpcPort, jsonRpcPort: volume.jsonRpcPort })}\n`);

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await volume.close();
  await objectStore.close();
  await swift?.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
