// The conformance suite through the Swift client against the embedded server, disk-backed and
// memory-backed.
import { after } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { objectStoreConformance } from "../testing/object-store-conformance.js";
import { SwiftObjectStore } from "../swift/swift-object-store.js";
import { tempAuth } from "../swift/tempauth.js";
import { SwiftApiServer } from "./swift-api-server.js";

const servers: SwiftApiServer[] = [];
const dirs: string[] = [];
after(async () => {
  for (const s of servers) await s.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

for (const backing of ["disk", "memory"] as const) {
  objectStoreConformance(`swift client -> embedded server (${backing})`, async () => {
    let dir: string | undefined;
    if (backing === "disk") {
      dir = await mkdtemp(join(tmpdir(), "objstore-srv-"));
      dirs.push(dir);
    }
    const server = await SwiftApiServer.start({ ...(dir ? { dir } : {}), users: [{ account: "test", user: "tester", key: "testing" }] });
    servers.push(server);
    return new SwiftObjectStore({
      authenticate: tempAuth({ authUrl: server.authUrl, user: "test:tester", key: "testing" }),
      retry: { limit: 2, delayMs: 50 },
      timeoutMs: 30_000,
    });
  });
}
