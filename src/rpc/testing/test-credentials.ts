// One set of server credentials for 127.0.0.1 per test process (openssl runs take ~50 ms each).
import { generateServerCredentials, type ServerCredentials } from "../tls-credentials.js";

let cached: Promise<ServerCredentials> | undefined;

export function testCredentials(): Promise<ServerCredentials> {
  cached ??= generateServerCredentials({ publicAddress: "127.0.0.1" });
  return cached;
}
