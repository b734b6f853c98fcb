// The proxyfsd binary as a child process: configured by a .conf file, mounted through the embedded
// Swift-API server's PROXYFS relay (as pfsagentd 1.17.1 mounts), used over retryrpc with the CA
// from the mount reply; ProvisionObject creates the container so an agent-style PUT succeeds;
// SIGTERM exits 0; a restart loads the same CA; a bad config exits 1 naming file, line and key.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { SwiftApiServer } from "../objstore/index.js";
import { rawAuth, rawRequest } from "../objstore/testing/raw-http.js";
import { RetryRpcClient } from "../rpc/index.js";
import { ProxyFsRpcClient, MountByAccountNameReplyCodec, decodeJsonRpcResponse } from "../proto/index.js";

const bin = fileURLToPath(new URL("./proxyfsd.js", import.meta.url));

function config(dir: string, extra = ""): string {
  const path = join(dir, "proxyfsd.conf");
  writeFileSync(path, [
    "[Cluster]", "WhoAmI: Peer0", "[Peer:Peer0]", "PublicIPAddr: 127.0.0.1", "PrivateIPAddr: 127.0.0.1",
    "[JSONRPCServer]", "TCPPort: 0", "RetryRPCPort: 0",
    "[FSGlobals]", "VolumeGroupList: G", "[VolumeGroup:G]", "VolumeList: CommonVolume", "PrimaryPeer: Peer0",
    "[Volume:CommonVolume]", "AccountName: AUTH_test",
    "[TLS]", `Directory: ${join(dir, "tls")}`, extra, "",
  ].join("\n"));
  return path;
}

async function startBinary(args: string[]): Promise<{ child: ChildProcess; jsonRpcPort: number; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.setEncoding("utf8");
  const ready = new Promise<number>((resolve, reject) => {
    child.stderr!.on("data", (d: string) => {
      err += d;
      const m = /JSON-RPC on 127\.0\.0\.1:(\d+)/.exec(err);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", (code) => reject(new Error(`proxyfsd exited ${code}: ${err}`)));
  });
  return { child, jsonRpcPort: await ready, stderr: () => err };
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

test("proxyfsd binary: mount through PROXYFS, RPCs over TLS, container creation, SIGTERM, CA kept", async () => {
  const dir = tempDir("proxyfsd-bin-");
  const swift0 = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }] });
  const swiftUrl = swift0.url;
  const conf = config(dir, ["[ObjectStore]", `AuthURL: ${swift0.authUrl}`, "AuthUser: test:tester", "AuthKey: testing"].join("\n"));
  const p = await startBinary([conf]);
  // The Swift proxy in front: same store, plus the PROXYFS relay to the child's JSON-RPC port.
  await swift0.close();
  const port = Number(new URL(swiftUrl).port);
  const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }], port, proxyfs: { host: "127.0.0.1", port: p.jsonRpcPort } });
  let rpc: RetryRpcClient | undefined;
  try {
    const { token } = await rawAuth(swift.authUrl, "test:tester", "testing");
    const body = '{"jsonrpc":"2.0","method":"Server.RpcMountByAccountName","id":2,"params":[{"AccountName":"AUTH_test","MountOptions":0,"AuthUserID":0,"AuthGroupID":0}]}';
    const r = await rawRequest(swift.url, { method: "PROXYFS", path: "/proxyfs/AUTH_test", headers: { "X-Auth-Token": token, "Content-Type": "application/json", "Content-Length": String(body.length) }, body });
    assert.equal(r.status, 200);
    const reply = MountByAccountNameReplyCodec.decode(decodeJsonRpcResponse(r.body.toString()).result);
    const ca = readFileSync(join(dir, "tls", "ca.pem"), "utf8");
    assert.equal(reply.RootCAx509CertificatePEM.toString(), ca);
    rpc = new RetryRpcClient({ host: reply.RetryRPCPublicIPAddr, port: reply.RetryRPCPort, clientId: reply.MountID, caCertPem: ca, log: () => {} });
    const c = new ProxyFsRpcClient(rpc);
    const M = reply.MountID;
    const f = (await c.call("RpcCreate", { MountID: M, InodeNumber: 1n, Basename: "hello", UserID: 0, GroupID: 0, FileMode: 0o644 })).InodeNumber;
    const { PhysPath } = await c.call("RpcProvisionObject", { MountID: M });
    const [, , , container, object] = PhysPath.split("/");
    // What the agent does next: PUT the segment through the proxy, then RpcWrote.
    const put = await rawRequest(swift.url, { method: "PUT", path: `/proxyfs/AUTH_test/${container}/${object}`, headers: { "X-Auth-Token": token, "Transfer-Encoding": "chunked" }, body: "hello world\n" });
    assert.equal(put.status, 201);
    await c.call("RpcWrote", { MountID: M, InodeNumber: f, ContainerName: container!, ObjectName: object!, FileOffset: [0n], ObjectOffset: [0n], Length: [12n] });
    assert.equal((await c.call("RpcLookupPlus", { MountID: M, InodeNumber: 1n, Basename: "hello" })).Size, 12n);
    await rpc.close();
    rpc = undefined;

    p.child.kill("SIGTERM");
    const [code] = await once(p.child, "exit");
    assert.equal(code, 0);
    assert.match(p.stderr(), /proxyfsd info: stopped/);
    assert.match(p.stderr(), /^\d{4}-\d\d-\d\dT[\d:.]+Z proxyfsd info: created retryrpc CA/m);

    const again = await startBinary([conf, "JSONRPCServer.TCPPort=0"]);
    try {
      assert.match(again.stderr(), /loaded retryrpc CA/);
    } finally {
      again.child.kill("SIGINT");
      assert.equal((await once(again.child, "exit"))[0], 0);
    }
  } finally {
    await rpc?.close();
    if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await swift.close();
  }
});

test("proxyfsd binary: a bad configuration exits 1 with one line naming file, line and option", async () => {
  const dir = tempDir("proxyfsd-bad-");
  const conf = config(dir, "[JSONRPCServer]\nLeaseInterruptLimit: lots");
  const child = spawn(process.execPath, [bin, conf], { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  child.stderr!.on("data", (d) => (err += d));
  const [code] = await once(child, "exit");
  assert.equal(code, 1);
  const lines = err.trim().split("\n");
  assert.equal(lines.length, 1, err);
  assert.match(lines[0]!, new RegExp(`proxyfsd error: bad configuration: ${conf.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:19: \\[JSONRPCServer\\] LeaseInterruptLimit: expected an unsigned integer, got "lots"`));
  const missing = spawn(process.execPath, [bin, join(dir, "nope.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let e2 = "";
  missing.stderr!.on("data", (d) => (e2 += d));
  assert.equal((await once(missing, "exit"))[0], 1);
  assert.match(e2, /bad configuration: .*nope\.conf/);
});
