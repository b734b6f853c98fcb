// proxyfsd's persistence keys ([Volume:V] Persistence, MetadataContainerPrefix, CheckpointInterval,
// CheckpointJournalBytes, AutoFormat): defaults follow [ObjectStore], bad values name the option.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfError, ConfMap } from "../../base/conf/index.js";
import { loadProxyfsdConfig } from "../config/index.js";

const dir = mkdtempSync(join(tmpdir(), "persist-conf-"));
after(() => rmSync(dir, { recursive: true, force: true }));
function load(volumeLines: string[], objectStore: boolean, overrides: string[] = []) {
  const path = join(dir, "p.conf");
  writeFileSync(path, [
    "[Cluster]", "WhoAmI: P", "[Peer:P]", "PublicIPAddr: 127.0.0.1", "[FSGlobals]", "VolumeGroupList: G",
    "[VolumeGroup:G]", "VolumeList: V", "PrimaryPeer: P", "[Volume:V]", "AccountName: AUTH_test", ...volumeLines,
    ...(objectStore ? ["[ObjectStore]", "AuthURL: http://127.0.0.1:1/auth/v1.0", "AuthUser: a:b", "AuthKey: k"] : []),
    "[TLS]", "Directory: /tmp/x", "",
  ].join("\n"));
  return loadProxyfsdConfig(ConfMap.fromArgs([path, ...overrides]));
}

test("persistence defaults to the object store when one is configured, memory otherwise", () => {
  assert.deepEqual(load([], true).volumes[0]!.persist, { containerPrefix: "proxyfs_", checkpointIntervalMs: 60_000, checkpointJournalBytes: 8 << 20, pageBytes: 65536, unreferencedSegmentGraceMs: 600_000, autoFormat: true });
  assert.equal(load([], false).volumes[0]!.persist, undefined);
  assert.equal(load(["Persistence: memory"], true).volumes[0]!.persist, undefined);
  const p = load(["MetadataContainerPrefix: vol7_", "CheckpointInterval: 2s", "CheckpointJournalBytes: 65536", "CheckpointPageBytes: 4096", "UnreferencedSegmentGrace: 30s", "AutoFormat: false"], true).volumes[0]!.persist;
  assert.deepEqual(p, { containerPrefix: "vol7_", checkpointIntervalMs: 2000, checkpointJournalBytes: 65536, pageBytes: 4096, unreferencedSegmentGraceMs: 30_000, autoFormat: false });
  assert.throws(() => load(["CheckpointPageBytes: 100"], true), (e: unknown) => e instanceof Error && /CheckpointPageBytes/.test(e.message));
});

test("bad persistence settings are errors naming the option", () => {
  assert.throws(() => load(["Persistence: objectstore"], false), (e: unknown) => e instanceof ConfError && /\[Volume:V\] Persistence: objectstore needs an \[ObjectStore\] section/.test(e.message));
  assert.throws(() => load(["Persistence: disk"], true), (e: unknown) => e instanceof Error && /Persistence.*expected "objectstore" or "memory"/.test(e.message));
  assert.throws(() => load(["MetadataContainerPrefix: a/b"], true), (e: unknown) => e instanceof Error && /MetadataContainerPrefix/.test(e.message));
});

test("[ObjectStore] Swift client keys: defaults (1 minute timeout) and overrides", () => {
  const d = load([], true).objectStore!;
  assert.deepEqual(d.client, { timeoutMs: 60_000, retry: { limit: 10, delayMs: 1000, variancePercent: 25, expBackoff: 1.4 }, connectionPoolSize: 64 });
  const o = load([], true, ["ObjectStore.SwiftTimeout=250ms", "ObjectStore.SwiftRetryLimit=2", "ObjectStore.SwiftRetryDelay=10ms", "ObjectStore.SwiftRetryExpBackoff=2", "ObjectStore.SwiftConnectionPoolSize=4"]).objectStore!;
  assert.deepEqual(o.client, { timeoutMs: 250, retry: { limit: 2, delayMs: 10, variancePercent: 25, expBackoff: 2 }, connectionPoolSize: 4 });
  assert.throws(() => load([], true, ["ObjectStore.SwiftTimeout=soon"]), (e: unknown) => e instanceof Error && /SwiftTimeout/.test(e.message));
  assert.throws(() => load([], true, ["ObjectStore.SwiftRetryDelayVariance=0"]), (e: unknown) => e instanceof Error && /SwiftRetryDelayVariance/.test(e.message));
});
