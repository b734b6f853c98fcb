// objectStoreForAccount: proxyfsd's Swift client really uses [ObjectStore]'s timeout and retry
// settings (a hung object server costs SwiftTimeout x (1 + SwiftRetryLimit), not 10 minutes) and
// addresses the volume's own account.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { ProxyfsdConfig } from "./proxyfsd-config.js";
import { forAccount, objectStoreForAccount } from "./object-store-for-account.js";

test("forAccount replaces the account segment of a storage URL", () => {
  assert.equal(forAccount("http://h:8080/v1/AUTH_test", "AUTH_vol"), "http://h:8080/v1/AUTH_vol");
  assert.equal(forAccount("http://h:8080/proxyfs/AUTH_a/", "AUTH b"), "http://h:8080/proxyfs/AUTH_a/AUTH%20b");
});

test("a hung object server fails the request after SwiftTimeout x (1 + SwiftRetryLimit)", async () => {
  const seen: string[] = [];
  const hung: ServerResponse[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    hung.push(res); // never answered
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const cfg = {
    objectStore: {
      storageUrl: `http://127.0.0.1:${port}/v1/AUTH_other`, authToken: "t",
      client: { timeoutMs: 150, retry: { limit: 2, delayMs: 10, variancePercent: 1, expBackoff: 1 }, connectionPoolSize: 2 },
    },
  } as unknown as ProxyfsdConfig;
  const store = objectStoreForAccount(cfg, "AUTH_vol", "test")!;
  const t0 = Date.now();
  await assert.rejects(store.getObject("c", "o"));
  const ms = Date.now() - t0;
  assert.equal(seen.length, 3, `1 attempt + 2 retries, saw ${seen.join(", ")}`);
  assert.ok(seen.every((s) => s === "GET /v1/AUTH_vol/c/o"), seen.join(", "));
  assert.ok(ms >= 3 * 150 && ms < 5_000, `took ${ms} ms`);
  for (const r of hung) r.destroy();
  server.closeAllConnections();
  server.close();
  assert.equal(objectStoreForAccount({ objectStore: undefined } as unknown as ProxyfsdConfig, "AUTH_vol", "test"), undefined);
});
