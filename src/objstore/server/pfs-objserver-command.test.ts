// The pfs-objserver command (src/cmd/pfs-objserver.ts): starts, serves, persists across a
// restart, and rejects bad arguments with a clear message.
import { it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { rawAuth, rawRequest } from "../testing/raw-http.js";

const cmd = fileURLToPath(new URL("../../cmd/pfs-objserver.js", import.meta.url));

async function start(dir: string): Promise<{ url: string; child: ChildProcess; stop: () => Promise<number | null> }> {
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
  return { url, child, stop: () => new Promise((r) => { child.on("exit", (code) => r(code)); child.kill("SIGTERM"); }) };
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

it("pfs-objserver killed in the middle of a large PUT serves the previous version after a restart", async () => {
  const dir = await mkdtemp(join(tmpdir(), "objstore-kill-"));
  let s: Awaited<ReturnType<typeof start>> | undefined;
  try {
    s = await start(dir);
    const a = await rawAuth(`${s.url}/auth/v1.0`, "test:tester", "testing");
    const p = new URL(a.storageUrl).pathname;
    const h = { "X-Auth-Token": a.token };
    assert.equal((await rawRequest(s.url, { method: "PUT", path: `${p}/c`, headers: h })).status, 201);
    const v1 = randomBytes(9 << 20);
    const put1 = await rawRequest(s.url, { method: "PUT", path: `${p}/c/big`, headers: h, body: v1 });
    assert.equal(put1.status, 201);
    assert.equal(put1.headers["etag"], createHash("md5").update(v1).digest("hex"));
    // A second version: announce 64 MiB, send 24 MiB (several slabs reach the disk), then kill -9.
    const u = new URL(s.url);
    const sock = net.connect(Number(u.port), u.hostname);
    sock.on("error", () => undefined);
    await new Promise<void>((r) => sock.once("connect", () => r()));
    sock.write(`PUT ${p}/c/big HTTP/1.1\r\nHost: x\r\nX-Auth-Token: ${a.token}\r\nContent-Length: ${64 << 20}\r\n\r\n`);
    await new Promise<void>((r) => sock.write(randomBytes(24 << 20), () => r()));
    await new Promise((r) => setTimeout(r, 300));
    const killed = s;
    s = undefined;
    const exited = new Promise((r) => killed.child.on("exit", (_code, sig) => r(sig)));
    killed.child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    sock.destroy();
    // The interrupted PUT did leave bytes on disk (in a temp file)...
    const accounts = await readdir(join(dir, "accounts"));
    let partial = 0;
    for (const acct of accounts) for (const f of await readdir(join(dir, "accounts", acct, "tmp"))) partial += (await stat(join(dir, "accounts", acct, "tmp", f))).size;
    assert.ok(partial >= 4 << 20, `expected the killed PUT's bytes in a temp file, found ${partial} bytes`);
    // ...which a restart discards without ever showing them.
    s = await start(dir);
    const b = await rawAuth(`${s.url}/auth/v1.0`, "test:tester", "testing");
    const got = await rawRequest(s.url, { path: `${new URL(b.storageUrl).pathname}/c/big`, headers: { "X-Auth-Token": b.token } });
    assert.equal(got.status, 200);
    assert.ok(got.body.equals(v1), "the object is not the acknowledged version");
    const list = await rawRequest(s.url, { path: `${new URL(b.storageUrl).pathname}/c`, headers: { "X-Auth-Token": b.token } });
    assert.equal(list.body.toString(), "big\n");
    for (const acct of accounts) assert.deepEqual(await readdir(join(dir, "accounts", acct, "tmp")), [], "the killed PUT's temp file survived the restart");
  } finally {
    await s?.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
