// The pfs-objserver command (src/cmd/pfs-objserver.ts): starts, serves, persists across a
// restart, and rejects bad arguments with a clear message.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rawAuth, rawRequest } from "../testing/raw-http.js";

const cmd = fileURLToPath(new URL("../../cmd/pfs-objserver.js", import.meta.url));

async function start(dir: string): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [cmd, "--dir", dir, "--port", "0", "--user", "test:tester:testing"], { stdio: ["ignore", "pipe", "pipe"] });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`exited with ${code}`)));
  });
  return { url, stop: () => new Promise((r) => { child.on("exit", (code) => r(code)); child.kill("SIGTERM"); }) };
}

it("pfs-objserver serves the Swift API and keeps data across restarts", async () => {
  const dir = await mkdtemp(join(tmpdir(), "objstore-cmd-"));
  try {
    let s = await start(dir);
    let a = await rawAuth(`${s.url}/auth/v1.0`, "test:tester", "testing");
    let p = new URL(a.storageUrl).pathname;
    assert.equal((await rawRequest(s.url, { method: "PUT", path: `${p}/c`, headers: { "X-Auth-Token": a.token } })).status, 201);
    assert.equal((await rawRequest(s.url, { method: "PUT", path: `${p}/c/o`, headers: { "X-Auth-Token": a.token }, body: "kept" })).status, 201);
    assert.equal(await s.stop(), 0);
    s = await start(dir);
    a = await rawAuth(`${s.url}/auth/v1.0`, "test:tester", "testing");
    p = new URL(a.storageUrl).pathname;
    assert.equal((await rawRequest(s.url, { path: `${p}/c/o`, headers: { "X-Auth-Token": a.token } })).body.toString(), "kept");
    assert.equal(await s.stop(), 0);
    const bad = spawnSync(process.execPath, [cmd, "--user", "nocolons"], { encoding: "utf8" });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /User spec "nocolons" must be account:user:key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
