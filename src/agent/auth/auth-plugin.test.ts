import { after, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AuthPlugin, AuthPluginError, type AuthPluginOptions } from "./index.js";

const FAKE = fileURLToPath(new URL("./testing/fake-auth-plugin.js", import.meta.url));
const BLOB = '{"AuthURL":"http://127.0.0.1:1/auth/v1.0","AuthUser":"test:tester","AuthKey":"testing","Account":"AUTH_test"}';

interface Harness {
  dir: string;
  plugin: AuthPlugin;
  warnings: string[];
  starts(): number[];
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function harness(mode: string, extra: Partial<AuthPluginOptions> & { delayMs?: number } = {}): Harness {
  const dir = mkdtempSync(join(tmpdir(), "auth-plugin-"));
  dirs.push(dir);
  const warnings: string[] = [];
  const plugin = new AuthPlugin({
    path: FAKE,
    launcher: [process.execPath],
    envName: "SwiftAuthBlob",
    envValue: BLOB,
    env: { ...process.env, FAKE_AUTH_DIR: dir, FAKE_AUTH_MODE: mode, FAKE_AUTH_DELAY_MS: String(extra.delayMs ?? 0) },
    logger: { info: () => {}, warn: (m) => warnings.push(m) },
    responseTimeoutMs: 5_000,
    requestTimeoutMs: 10_000,
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    stopTimeoutMs: 2_000,
    ...extra,
  });
  const starts = () => (existsSync(join(dir, "starts")) ? readFileSync(join(dir, "starts"), "utf8").trim().split("\n").map(Number) : []);
  return { dir, plugin, warnings, starts };
}

test("normal: argv, environment, renewal byte, single flight, stdin closed at stop", async () => {
  const h = harness("normal");
  const first = await h.plugin.start();
  assert.deepEqual(first, { authToken: "tok-1-1", storageURL: "http://127.0.0.1:1/proxyfs/AUTH_test" });
  const pid = h.plugin.pid!;
  assert.deepEqual(JSON.parse(readFileSync(join(h.dir, `argv-${pid}.json`), "utf8")), { args: ["SwiftAuthBlob"], blob: BLOB });
  assert.deepEqual(await h.plugin.current(), first);

  const renewed = await h.plugin.renew();
  assert.equal(renewed.authToken, "tok-1-2");
  // Concurrent renewals share one request: one byte, one reply.
  const [a, b, c] = await Promise.all([h.plugin.renew(), h.plugin.renew(), h.plugin.current()]);
  assert.equal(a.authToken, "tok-1-3");
  assert.equal(b, a);
  assert.equal(c, a);
  assert.equal((await h.plugin.renew()).authToken, "tok-1-4");
  assert.equal(h.plugin.pid, pid);
  assert.deepEqual(h.starts(), [pid]);

  await h.plugin.stop();
  assert.ok(existsSync(join(h.dir, `eof-${pid}`)), "plug-in saw stdin EOF and exited by itself");
  assert.equal(h.plugin.pid, undefined);
  await assert.rejects(h.plugin.renew(), { code: "AUTH_PLUGIN_STOPPED" });
  assert.deepEqual(h.warnings, []);
});

test("an empty PlugInEnvValue leaves the inherited environment alone", async () => {
  const h = harness("normal", { envValue: "" });
  const env = { ...process.env, FAKE_AUTH_DIR: h.dir, FAKE_AUTH_MODE: "normal", SwiftAuthBlob: '{"Account":"AUTH_inherited"}' };
  const plugin = new AuthPlugin({ path: FAKE, launcher: [process.execPath], envName: "SwiftAuthBlob", envValue: "", env });
  assert.equal((await plugin.start()).storageURL, "http://127.0.0.1:1/proxyfs/AUTH_inherited");
  await plugin.stop();
});

test("a reply split across writes is reassembled", async () => {
  const h = harness("split");
  assert.equal((await h.plugin.start()).authToken, "tok-1-1");
  assert.equal((await h.plugin.renew()).authToken, "tok-1-2");
  await h.plugin.stop();
});

test("a plug-in that dies is restarted with backoff and the failure is logged", async () => {
  const h = harness("die-first");
  const creds = await h.plugin.start();
  assert.equal(creds.authToken, "tok-2-1");
  assert.equal(h.starts().length, 2);
  assert.ok(h.warnings.some((w) => w === "auth plug-in stderr: fake plug-in: cannot authenticate"), h.warnings.join("\n"));
  assert.ok(h.warnings.some((w) => /exited with status 1 before replying; restarting it in 20 ms/.test(w)), h.warnings.join("\n"));
  await h.plugin.stop();
});

test("a plug-in that always dies: waiters get an error within the bound, never a hang", async () => {
  const h = harness("die", { requestTimeoutMs: 1_500 });
  const t0 = Date.now();
  await assert.rejects(h.plugin.start(), (err: unknown) => {
    assert.ok(err instanceof AuthPluginError);
    assert.equal(err.code, "AUTH_PLUGIN_TIMEOUT");
    // The last attempt may instead run out of the remaining budget while the plug-in starts.
    assert.match(err.message, /gave no valid credentials within 1500 ms \(last failure: .*(exited with status 1 before replying|did not reply within \d+ ms)\)/);
    return true;
  });
  assert.ok(h.warnings.some((w) => /exited with status 1 before replying; restarting it in \d+ ms/.test(w)), h.warnings.join("\n"));
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 3_000, `took ${elapsed} ms`);
  assert.ok(h.starts().length >= 3, `restarted ${h.starts().length} times`);
  await h.plugin.stop();
});

test("garbage output: the plug-in is killed, logged and restarted", async () => {
  const h = harness("garbage-first");
  assert.equal((await h.plugin.start()).authToken, "tok-2-1");
  assert.ok(h.warnings.some((w) => /printed garbage \(output does not start with a JSON object\): "this is not JSON"/.test(w)), h.warnings.join("\n"));
  assert.equal(h.starts().length, 2);
  await h.plugin.stop();
});

test("a slow plug-in is waited for within the response bound", async () => {
  const h = harness("slow", { delayMs: 300 });
  const t0 = Date.now();
  assert.equal((await h.plugin.start()).authToken, "tok-1-1");
  assert.ok(Date.now() - t0 >= 290);
  assert.equal((await h.plugin.renew()).authToken, "tok-1-2");
  assert.equal(h.starts().length, 1);
  await h.plugin.stop();
});

test("a plug-in slower than the bounds is killed and the waiter gets a timeout", async () => {
  // The last attempt gets what is left of the 1 s request bound (under load that can be a few ms).
  const h = harness("slow", { delayMs: 10_000, responseTimeoutMs: 300, requestTimeoutMs: 1_000 });
  const t0 = Date.now();
  await assert.rejects(h.plugin.start(), { code: "AUTH_PLUGIN_TIMEOUT", message: /did not reply within \d+ ms/ });
  // Bounded by the request timeout, far below the plug-in's 10 s (slack for a loaded machine).
  assert.ok(Date.now() - t0 < 6_000, `took ${Date.now() - t0} ms`);
  assert.equal(h.plugin.pid, undefined);
  for (const pid of h.starts()) assert.throws(() => process.kill(pid, 0), { code: "ESRCH" }, `plug-in ${pid} still running`);
  await h.plugin.stop();
});

test("a plug-in that exits on a renewal byte is restarted and authenticates afresh", async () => {
  const h = harness("die-on-renew");
  assert.equal((await h.plugin.start()).authToken, "tok-1-1");
  const firstPid = h.plugin.pid;
  assert.equal((await h.plugin.renew()).authToken, "tok-2-1");
  assert.notEqual(h.plugin.pid, firstPid);
  assert.ok(h.warnings.some((w) => /exited with status 3 before replying/.test(w)));
  await h.plugin.stop();
});

test("an executable that cannot be started fails at once", async () => {
  const plugin = new AuthPlugin({ path: "/nonexistent/pfsagentd-swift-auth-plugin", envName: "X", logger: { info() {}, warn() {} } });
  const t0 = Date.now();
  await assert.rejects(plugin.start(), { code: "AUTH_PLUGIN_SPAWN", message: /cannot start auth plug-in \/nonexistent\/pfsagentd-swift-auth-plugin: ENOENT/ });
  assert.ok(Date.now() - t0 < 1_000);
  await plugin.stop();
});

test("stop() releases a waiter of a plug-in that never answers", async () => {
  const h = harness("hang");
  const pending = h.plugin.start();
  await new Promise((r) => setTimeout(r, 200));
  const pid = h.plugin.pid!;
  const rejected = assert.rejects(pending, { code: "AUTH_PLUGIN_STOPPED" });
  await h.plugin.stop();
  await rejected;
  assert.ok(existsSync(join(h.dir, `eof-${pid}`)), "hung plug-in still saw stdin EOF");
});
