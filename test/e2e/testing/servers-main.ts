// Test helper process: the server side of an end-to-end agent test, in a process of its own (the
// test process makes blocking fs calls on the FUSE mount, so nothing the agent depends on may run
// in it). Starts proxyfsd's RPC front end (startVolumeServer) for AUTH_test and the embedded
// Swift-API server (tempauth user test:tester/testing; in memory, or on disk with --dir; tokens
// valid --token-lifetime seconds) relaying
// the PROXYFS method to proxyfsd's JSON-RPC port. Prints one JSON line
//   {"swiftPort":…,"retryRpcPort":…,"jsonRpcPort":…}
// on stdout when ready; SIGTERM/SIGINT close everything and exit 0.
// Options for the interop/reconnect tests (rpc-relay-main.ts sits between agent and proxyfsd):
//   --tls-dir D       retryrpc credentials from TLS directory D (shared with the relay)
//   --retry-host H    retryrpc listen address (the advertised one stays 127.0.0.1)
//   --retry-port P    retryrpc port (listen and advertised)
//   --no-extensions   grant no extension capability (the agent must speak plain 1.17.1)
//   --proxyfs-port N  start no volume server: relay PROXYFS to a proxyfsd on 127.0.0.1:N
//   --control         also serve, on "controlPort": GET /stats (volume server stats), GET /orphans
//                     (entries of the agents' hidden .pfsagent-orphans directory and whether their
//                     inodes exist), GET /inode/<n> ({"exists":bool})
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SwiftApiServer, SwiftObjectStore, tempAuth } from "../../../src/objstore/index.js";
import { startVolumeServer, type VolumeServer } from "../../../src/volume/server/index.js";
import { loadOrCreateTlsDirectory } from "../../../src/volume/config/index.js";
import { ROOT_CALLER, Volume } from "../../../src/volume/index.js";

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
const tlsDir = arg("--tls-dir");
const retryHost = arg("--retry-host");
const retryPort = arg("--retry-port");
const externalProxyfs = arg("--proxyfs-port");
const state = new Volume({ accountName: "AUTH_test" });
const volume: VolumeServer | undefined = externalProxyfs !== undefined ? undefined : await startVolumeServer({
  volumes: [{ name: "CommonVolume", accountName: "AUTH_test", objectStore, volume: state }],
  ...(tlsDir !== undefined ? { credentials: (await loadOrCreateTlsDirectory(tlsDir, "127.0.0.1")).credentials } : {}),
  ...(retryHost !== undefined ? { retryRpcHost: retryHost } : {}),
  ...(retryPort !== undefined ? { retryRpcPort: Number(retryPort) } : {}),
  ...(process.argv.includes("--no-extensions") ? { capabilities: [] } : {}),
  log: (level, message) => {
    if (level !== "debug") process.stderr.write(`proxyfsd ${level}: ${message}\n`);
  },
});
let controlPort: number | undefined;
if (process.argv.includes("--control")) {
  const orphans = (): Array<{ name: string; ino: string; exists: boolean }> => {
    let dir: bigint;
    try {
      dir = state.lookup(ROOT_CALLER, 1n, ".pfsagent-orphans").ino;
    } catch {
      return [];
    }
    return state.readdirByLoc(ROOT_CALLER, dir, -1n, 100_000).filter((e) => e.name !== "." && e.name !== "..").map((e) => {
      let exists = true;
      try {
        state.getattr(e.ino);
      } catch {
        exists = false;
      }
      return { name: e.name, ino: e.ino.toString(), exists };
    });
  };
  const control = http.createServer((req, res) => {
    res.setHeader("Content-Type", "application/json");
    if (req.url === "/orphans") return res.end(JSON.stringify(orphans()));
    const ino = /^\/inode\/(\d+)$/.exec(req.url ?? "");
    if (ino) {
      try {
        state.getattr(BigInt(ino[1]!));
        return res.end('{"exists":true}');
      } catch {
        return res.end('{"exists":false}');
      }
    }
    res.end(JSON.stringify(volume?.stats() ?? null));
  });
  controlPort = await new Promise<number>((resolve) => control.listen(0, "127.0.0.1", () => resolve((control.address() as AddressInfo).port)));
  control.unref();
}
swift = await SwiftApiServer.start({
  users: [{ account: "test", user: "tester", key: "testing" }],
  proxyfs: { host: "127.0.0.1", port: externalProxyfs !== undefined ? Number(externalProxyfs) : volume!.jsonRpcPort },
  ...(dir ? { dir } : {}),
  ...(tokenLifetimeSec !== undefined ? { tokenLifetimeSec } : {}),
});
process.stdout.write(`${JSON.stringify({ swiftPort: swift.port, retryRpcPort: volume?.retryRpcPort ?? 0, jsonRpcPort: volume?.jsonRpcPort ?? 0, ...(controlPort !== undefined ? { controlPort } : {}) })}\n`);

let closing = false;
const shutdown = async (): Promise<void> => {
  if (closing) return;
  closing = true;
  await volume?.close();
  await objectStore.close();
  await swift?.close();
  process.exit(0);
};
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
