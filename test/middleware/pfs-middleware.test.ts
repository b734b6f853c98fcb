// One suite, two implementations of the pfs filter (proxyfs-server.md 2.3-2.4):
//   (a) a real OpenStack Swift proxy with our WSGI filter middleware/pfs_middleware (only with
//       PFS_TEST_SWIFT=1): `scripts/swift-saio.sh pfs-proxy PORT MODE HOST:PORT` starts an extra
//       proxy per bypass_mode on its own port, sharing the SAIO's rings, backends, memcached and
//       tempauth users, so the :8080 proxy other suites use is never touched;
//   (b) the embedded SwiftApiServer with the same bypassMode and users.
// Both relay PROXYFS to one real proxyfsd (startVolumeServer, in this process, serving AUTH_test).
// Users as in the SAIO's tempauth: test:tester (.admin of AUTH_test, the owner), test:tester3 (in
// AUTH_test, not .admin) and test2:tester2 (owner of AUTH_test2).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import net from "node:net";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { SwiftApiServer, type BypassMode } from "../../src/objstore/server/swift-api-server.js";
import { startVolumeServer, type VolumeServer } from "../../src/volume/server/index.js";
import { rawAuth, rawRequest, type RawReply } from "../../src/objstore/testing/raw-http.js";

const MODES: BypassMode[] = ["off", "read-only", "read-write"];
/** Real-Swift proxy ports per mode (the SAIO proxy itself is on 8080). */
const REAL_PORTS: Record<BypassMode, number> = { off: 8191, "read-only": 8192, "read-write": 8193 };
/** An extra real-Swift proxy whose proxyfsd address has nobody listening. */
const DEAD_PORT = 8194;
const SAIO = findScript();

/** A port nobody listens on (bound, then released). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** scripts/swift-saio.sh of the repo this file is in (dist/ sits inside it), else of the cwd. */
function findScript(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "scripts", "swift-saio.sh"))) return join(dir, "scripts", "swift-saio.sh");
    if (dirname(dir) === dir) return join(process.cwd(), "scripts", "swift-saio.sh");
  }
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.stderr.on("data", (d) => (out += d));
    c.on("error", reject);
    c.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}: ${out}`))));
  });
}

interface Target {
  base: string;
  authUrl: string;
  close(): Promise<void>;
}

interface Tokens {
  owner: string;
  nonOwner: string;
  otherAccount: string;
}

const MOUNT_BODY = (account: string) =>
  `{"jsonrpc":"2.0","method":"Server.RpcMountByAccountName","id":2,"params":[{"AccountName":"${account}","MountOptions":0,"AuthUserID":0,"AuthGroupID":0}]}`;

function proxyfs(t: Target, path: string, token: string, body: string, contentType = "application/json"): Promise<RawReply> {
  return rawRequest(t.base, { method: "PROXYFS", path, headers: { "X-Auth-Token": token, "Content-Type": contentType, "Content-Length": String(Buffer.byteLength(body)) }, body });
}

function req(t: Target, method: string, path: string, token: string, body?: string): Promise<RawReply> {
  const headers: Record<string, string> = { "X-Auth-Token": token };
  if (body !== undefined) headers["Content-Length"] = String(Buffer.byteLength(body));
  return rawRequest(t.base, { method, path, headers, ...(body !== undefined ? { body } : {}) });
}

/** The cases, identical for both implementations. */
function cases(kind: string, mode: BypassMode, target: () => Target, pfsd: () => VolumeServer): void {
  describe(`${kind}, bypass_mode=${mode}`, () => {
    let t: Target;
    let tok: Tokens;
    const c = `mw-${randomBytes(4).toString("hex")}`;
    before(async () => {
      t = target();
      tok = {
        owner: (await rawAuth(t.authUrl, "test:tester", "testing")).token,
        nonOwner: (await rawAuth(t.authUrl, "test:tester3", "testing3")).token,
        otherAccount: (await rawAuth(t.authUrl, "test2:tester2", "testing2")).token,
      };
      assert.ok([201, 202].includes((await req(t, "PUT", `/v1/AUTH_test/${c}`, tok.owner)).status));
      assert.equal((await req(t, "PUT", `/v1/AUTH_test/${c}/seg`, tok.owner, "log segment bytes")).status, 201);
    });
    after(async () => {
      for (const o of ["seg", "new"]) await req(t, "DELETE", `/v1/AUTH_test/${c}/${o}`, tok.owner);
      await req(t, "DELETE", `/v1/AUTH_test/${c}`, tok.owner);
    });

    test("owner: bypass GET and HEAD of /proxyfs/ serve the object", async () => {
      const g = await req(t, "GET", `/proxyfs/AUTH_test/${c}/seg`, tok.owner);
      assert.equal(g.status, 200);
      assert.equal(g.body.toString(), "log segment bytes");
      const h = await req(t, "HEAD", `/proxyfs/AUTH_test/${c}/seg`, tok.owner);
      assert.equal(h.status, 200);
      assert.equal(h.headers["content-length"], "17");
    });

    test(`owner: /proxyfs/ PUT and DELETE ${mode === "read-only" ? "get 405 and change nothing" : "reach Swift"}`, async () => {
      const p = await req(t, "PUT", `/proxyfs/AUTH_test/${c}/new`, tok.owner, "written via bypass");
      const afterPut = await req(t, "GET", `/v1/AUTH_test/${c}/new`, tok.owner);
      const d = await req(t, "DELETE", `/proxyfs/AUTH_test/${c}/seg`, tok.owner);
      const afterDelete = await req(t, "GET", `/v1/AUTH_test/${c}/seg`, tok.owner);
      if (mode === "read-only") {
        assert.equal(p.status, 405);
        assert.equal(afterPut.status, 404);
        assert.equal(d.status, 405);
        assert.equal(afterDelete.status, 200);
      } else {
        assert.equal(p.status, 201);
        assert.equal(afterPut.body.toString(), "written via bypass");
        assert.equal(d.status, 204);
        assert.equal(afterDelete.status, 404);
        // Put it back for the other cases.
        assert.equal((await req(t, "PUT", `/v1/AUTH_test/${c}/seg`, tok.owner, "log segment bytes")).status, 201);
      }
    });

    test("non-owner (same account without .admin, or another account's owner) gets no bypass: 403", async () => {
      for (const token of [tok.nonOwner, tok.otherAccount]) {
        assert.equal((await req(t, "GET", `/proxyfs/AUTH_test/${c}/seg`, token)).status, 403);
        assert.equal((await req(t, "HEAD", `/proxyfs/AUTH_test/${c}/seg`, token)).status, 403);
        assert.equal((await req(t, "PUT", `/proxyfs/AUTH_test/${c}/by-non-owner`, token, "x")).status, 403);
        assert.equal((await req(t, "DELETE", `/proxyfs/AUTH_test/${c}/seg`, token)).status, 403);
        assert.equal((await proxyfs(t, "/proxyfs/AUTH_test", token, MOUNT_BODY("AUTH_test"))).status, 403);
      }
      assert.equal((await req(t, "GET", `/v1/AUTH_test/${c}/seg`, tok.owner)).status, 200);
      assert.equal((await req(t, "GET", `/v1/AUTH_test/${c}/by-non-owner`, tok.owner)).status, 404);
    });

    test("no token: 401", async () => {
      assert.equal((await rawRequest(t.base, { path: `/proxyfs/AUTH_test/${c}/seg` })).status, 401);
    });

    test(`PROXYFS mount at account level ${mode === "off" ? "gets 405" : "is relayed to proxyfsd with AccountName from the URL"}`, async () => {
      const before = new Set(pfsd().mountIds());
      // A wrong AccountName in the body: the filter overwrites it with the URL's account.
      const r = await proxyfs(t, "/proxyfs/AUTH_test", tok.owner, MOUNT_BODY("AUTH_someone_else"));
      if (mode === "off") {
        assert.equal(r.status, 405);
        assert.deepEqual(new Set(pfsd().mountIds()), before);
        return;
      }
      assert.equal(r.status, 200, r.body.toString());
      assert.match(String(r.headers["content-type"]), /^application\/json/);
      const reply = JSON.parse(r.body.toString()) as { id: number; error: unknown; result: Record<string, unknown> };
      assert.equal(reply.id, 2);
      assert.equal(reply.error, null);
      const mountId = reply.result.MountID as string;
      assert.match(mountId, /^[A-Za-z0-9+/]{22}==$/);
      assert.equal(reply.result.RootDirInodeNumber, 1);
      assert.equal(reply.result.RetryRPCPort, pfsd().retryRpcPort);
      assert.equal(Buffer.from(reply.result.RootCAx509CertificatePEM as string, "base64").toString(), pfsd().caCertPem);
      assert.ok(pfsd().mountIds().includes(mountId) && !before.has(mountId));
      // /v1/ works for PROXYFS too; unmount by MountID.
      const u = await proxyfs(t, "/v1/AUTH_test", tok.owner, `{"jsonrpc":"2.0","method":"Server.RpcUnmount","id":3,"params":[{"MountID":"${mountId}"}]}`);
      assert.equal(u.status, 200);
      assert.equal(JSON.parse(u.body.toString()).error, null);
      assert.ok(!pfsd().mountIds().includes(mountId));
    });

    test("PROXYFS below account level gets 405; a write RPC is allowed only in read-write; wrong type 415", async () => {
      assert.equal((await proxyfs(t, `/proxyfs/AUTH_test/${c}`, tok.owner, MOUNT_BODY("AUTH_test"))).status, 405);
      assert.equal((await proxyfs(t, `/proxyfs/AUTH_test/${c}/seg`, tok.owner, MOUNT_BODY("AUTH_test"))).status, 405);
      const mkdir = await proxyfs(t, "/proxyfs/AUTH_test", tok.owner, '{"jsonrpc":"2.0","method":"Server.RpcMkdir","id":7,"params":[{}]}');
      if (mode === "off") assert.equal(mkdir.status, 405);
      else if (mode === "read-only") assert.equal(mkdir.status, 400);
      else {
        // Relayed: proxyfsd answers (it has no JSON-RPC Mkdir), still 200 with its JSON.
        assert.equal(mkdir.status, 200);
        const j = JSON.parse(mkdir.body.toString()) as { id: number; error: string };
        assert.equal(j.id, 7);
        assert.match(j.error, /Server\.RpcMkdir/);
      }
      const bad = await proxyfs(t, "/proxyfs/AUTH_test", tok.owner, MOUNT_BODY("AUTH_test"), "text/plain");
      assert.equal(bad.status, mode === "off" ? 405 : 415);
    });
  });
}

describe("pfs filter: real Swift + middleware/pfs_middleware and the embedded server", () => {
  let vs: VolumeServer;
  const embedded = new Map<BypassMode, Target>();
  const real = new Map<BypassMode, Target>();
  const withSwift = process.env.PFS_TEST_SWIFT === "1";

  before(async () => {
    vs = await startVolumeServer({ volumes: [{ name: "mw", accountName: "AUTH_test" }], log: () => undefined });
    const relay = { host: "127.0.0.1", port: vs.jsonRpcPort, timeoutMs: 10_000 };
    for (const mode of MODES) {
      const s = await SwiftApiServer.start({
        users: [
          { account: "test", user: "tester", key: "testing" },
          { account: "test", user: "tester3", key: "testing3", owner: false },
          { account: "test2", user: "tester2", key: "testing2" },
        ],
        bypassMode: mode,
        proxyfs: relay,
      });
      embedded.set(mode, { base: s.url, authUrl: s.authUrl, close: () => s.close() });
    }
    if (withSwift) {
      await Promise.all(MODES.map((mode) => run("bash", [SAIO, "pfs-proxy", String(REAL_PORTS[mode]), mode, `127.0.0.1:${vs.jsonRpcPort}`])));
      for (const mode of MODES) {
        const port = REAL_PORTS[mode];
        real.set(mode, { base: `http://127.0.0.1:${port}`, authUrl: `http://127.0.0.1:${port}/auth/v1.0`, close: () => run("bash", [SAIO, "pfs-proxy-stop", String(port)]).then(() => undefined) });
      }
    }
  });

  after(async () => {
    for (const t of [...embedded.values(), ...real.values()]) await t.close();
    await vs?.close();
  });

  test("proxyfsd unreachable: PROXYFS gets 502 from both", async () => {
    const dead = await freePort();
    const s = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }], bypassMode: "read-write", proxyfs: { host: "127.0.0.1", port: dead } });
    const targets: Target[] = [{ base: s.url, authUrl: s.authUrl, close: () => s.close() }];
    if (withSwift) {
      await run("bash", [SAIO, "pfs-proxy", String(DEAD_PORT), "read-write", `127.0.0.1:${dead}`]);
      targets.push({ base: `http://127.0.0.1:${DEAD_PORT}`, authUrl: `http://127.0.0.1:${DEAD_PORT}/auth/v1.0`, close: () => run("bash", [SAIO, "pfs-proxy-stop", String(DEAD_PORT)]).then(() => undefined) });
    }
    try {
      for (const t of targets) {
        const { token } = await rawAuth(t.authUrl, "test:tester", "testing");
        assert.equal((await proxyfs(t, "/proxyfs/AUTH_test", token, MOUNT_BODY("AUTH_test"))).status, 502, t.base);
      }
    } finally {
      for (const t of targets) await t.close();
    }
  });

  test("the filter refuses a bad bypass_mode at start-up", { skip: withSwift ? false : "needs Swift (PFS_TEST_SWIFT=1)" }, async () => {
    const py = `from pfs_middleware import filter_factory\nfilter_factory({}, bypass_mode="sometimes")(None)`;
    const middlewareDir = join(dirname(dirname(SAIO)), "middleware");
    await assert.rejects(run("env", [`PYTHONPATH=${middlewareDir}`, "/usr/bin/python3", "-c", py]), /bypass_mode must be one of off, read-only, read-write, not 'sometimes'/);
    // And a good one loads.
    await run("env", [`PYTHONPATH=${middlewareDir}`, "/usr/bin/python3", "-c", `from pfs_middleware import filter_factory\nassert filter_factory({}, bypass_mode="read-only")(None).bypass_mode == "read-only"`]);
  });

  for (const mode of MODES) cases("embedded", mode, () => embedded.get(mode)!, () => vs);
  if (process.env.PFS_TEST_SWIFT === "1") {
    for (const mode of MODES) cases("real Swift + pfs_middleware", mode, () => real.get(mode)!, () => vs);
  } else {
    test("real Swift + pfs_middleware", { skip: "set PFS_TEST_SWIFT=1 with scripts/swift-saio.sh start" }, () => undefined);
  }
});
