// Benchmark of synced mutations with persistence on (LAYOUT.md "Figures"):
//   node <outDir>/src/volume/persist/bench-persist.js [--files N] [--memory-store]
// Starts the embedded Swift server (disk-backed in a temp dir, or in memory with
// --memory-store) and the proxyfsd binary persisting into it, then measures
//   latency  RpcCreate one at a time (each reply waits for its journal PUT): median and p99
//   rate     RpcCreate by 4 clients x 8 in flight (group commit batches the journal PUTs)
// and prints "RESULT persist_create_median_ms=<x> persist_create_ops=<n>".
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwiftApiServer } from "../../objstore/index.js";
import { mountClient } from "../server/testing/jsonrpc-call.js";

const proxyfsd = fileURLToPath(new URL("../../cmd/proxyfsd.js", import.meta.url));
const argN = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const files = argN("--files", 2000);
const dir = mkdtempSync(join(tmpdir(), "bench-persist-"));
const swift = await SwiftApiServer.start({ ...(process.argv.includes("--memory-store") ? {} : { dir: join(dir, "swift") }), users: [{ account: "test", user: "tester", key: "testing" }] });
const conf = join(dir, "proxyfsd.conf");
writeFileSync(conf, [
  "[Cluster]", "WhoAmI: Peer0", "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
  "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: Peer0", "[Volume:V]", "AccountName: AUTH_test",
  "[ObjectStore]", `AuthURL: ${swift.authUrl}`, "AuthUser: test:tester", "AuthKey: testing", "[TLS]", `Directory: ${join(dir, "tls")}`, "",
].join("\n"));
const child = spawn(process.execPath, [proxyfsd, conf], { stdio: ["ignore", "ignore", "pipe"] });
let err = "";
const port = await new Promise<number>((resolve, reject) => {
  child.stderr!.on("data", (d) => {
    err += d;
    const m = /JSON-RPC on 127\.0\.0\.1:(\d+)/.exec(err);
    if (m) resolve(Number(m[1]));
  });
  child.on("exit", (c) => reject(new Error(`proxyfsd exited ${c}: ${err}`)));
});
try {
  const clients = await Promise.all(Array.from({ length: 4 }, () => mountClient(port, "AUTH_test")));
  const dirs = await Promise.all(clients.map((m, i) => m.client.call("RpcMkdir", { MountID: m.mountId, InodeNumber: 1n, Basename: `b${i}`, UserID: 0, GroupID: 0, FileMode: 0o755 }).then((r) => r.InodeNumber)));
  const m0 = clients[0]!;
  const lat: number[] = [];
  for (let i = 0; i < Math.min(files, 1000); i++) {
    const t0 = performance.now();
    await m0.client.call("RpcCreate", { MountID: m0.mountId, InodeNumber: dirs[0]!, Basename: `seq-${i}`, UserID: 0, GroupID: 0, FileMode: 0o644 });
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  const median = lat[Math.floor(lat.length / 2)]!;
  const p99 = lat[Math.floor(lat.length * 0.99)]!;
  const t0 = performance.now();
  await Promise.all(clients.map((m, k) => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < files) {
        const i = next++;
        await m.client.call("RpcCreate", { MountID: m.mountId, InodeNumber: dirs[k]!, Basename: `par-${i}`, UserID: 0, GroupID: 0, FileMode: 0o644 });
      }
    };
    return Promise.all(Array.from({ length: 8 }, lane));
  }));
  const rate = Math.round((4 * files) / ((performance.now() - t0) / 1000));
  console.log(`synced create latency (1 client, 1 in flight, ${lat.length} calls): median ${median.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms`);
  console.log(`synced create rate (4 clients x 8 in flight, ${4 * files} calls): ${rate} ops/s`);
  console.log(`RESULT persist_create_median_ms=${median.toFixed(2)} persist_create_ops=${rate}`);
  for (const m of clients) await m.rpc.close();
} finally {
  child.kill("SIGTERM");
  await new Promise((r) => child.on("exit", r));
  await swift.close();
  rmSync(dir, { recursive: true, force: true });
}
