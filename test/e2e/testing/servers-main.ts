// Test helper process: the server side of an end-to-end agent test, in a process of its own (the
// test process makes blocking fs calls on the FUSE mount, so nothing the agent depends on may run
// in it). Starts the embedded Swift-API server (tempauth user test:tester/testing, account
// AUTH_test; in memory, or on disk with --dir), proxyfsd's RPC front end (startVolumeServer) for
// AUTH_test, and the PROXYFS relay in front of the Swift server. Prints one JSON line
//   {"frontPort":…,"swiftPort":…,"retryRpcPort":…,"jsonRpcPort":…}
// on stdout when ready; SIGTERM/SIGINT close everything and exit 0.
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../../src/objstore/index.js";
import { startVolumeServer } from "../../../src/volume/server/index.js";
import { ProxyFsFront } from "./proxyfs-front.js";

const dirArg = process.argv.indexOf("--dir");
const dir = dirArg >= 0 ? process.argv[dirArg + 1] : undefined;

const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }], ...(dir ? { dir } : {}) });
const objectStore = new SwiftObjectStore({ authenticate: tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing" }), retry: { limit: 3, delayMs: 50 } });
const volume = await startVolumeServer({
  volumes: [{ name: "CommonVolume", accountName: "AUTH_test", objectStore }],
  log: (level, message) => {
    if (level !== "debug") process.stderr.write(`proxyfsd ${level}: ${message}\n`);
  },
});
const front = new ProxyFsFront({ swiftPort: swift.port, jsonRpcPort: volume.jsonRpcPort });
const frontPort = await front.listen();
process.stdout.write(`${JSON.stringify({ frontPort, swiftPort: swift.port, retryRpcPort: volume.retryRpcPort, jsonRpcPort: volume.jsonRpcPort })}\n`);

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await front.close();
  await volume.close();
  await objectStore.close();
  await swift.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
