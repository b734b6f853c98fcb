// Round trips per second of a no-op method over loopback TLS, 1 and 16 concurrent callers.
// Run: node <build>/src/rpc/testing/roundtrip-bench.js [seconds-per-case]
import { RetryRpcServer } from "../server.js";
import { RetryRpcClient } from "../client.js";
import { generateServerCredentials } from "../tls-credentials.js";

const seconds = Number(process.argv[2] ?? 3);
const creds = await generateServerCredentials({ publicAddress: "127.0.0.1" });
const server = new RetryRpcServer({ credentials: creds });
server.register("RpcNoop", async () => ({}));
server.register("RpcGetStat", async () => ({
  CTimeNs: 1795639066580707229n, CRTimeNs: 1795639066580707229n, MTimeNs: 1795639066580707229n, ATimeNs: 1795639066580707229n,
  Size: 0n, NumLinks: 2n, StatInodeNumber: 1n, FileMode: 16895, UserID: 0, GroupID: 0,
}));
const port = await server.listen();
const client = new RetryRpcClient({ host: "127.0.0.1", port, clientId: "p6VhGdnVn3Z3ijWHzaXWTw==", caCertPem: creds.caCertPem });

async function run(method: string, concurrency: number): Promise<number> {
  const params = { MountID: "p6VhGdnVn3Z3ijWHzaXWTw==", InodeNumber: 1n };
  let n = 0;
  const end = Date.now() + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (Date.now() < end) {
      await client.call(method, params);
      n++;
    }
  }));
  return n / seconds;
}

await run("RpcNoop", 4); // warm-up (TLS handshake, JIT)
for (const method of ["RpcNoop", "RpcGetStat"]) {
  for (const c of [1, 16]) {
    const rate = await run(method, c);
    console.log(`${method.padEnd(10)} concurrency ${String(c).padStart(2)}: ${Math.round(rate)} round trips/s`);
  }
}
await client.close();
await server.close();
