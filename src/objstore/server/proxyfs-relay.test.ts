// PROXYFS relay (pfs_middleware's metadata tunnel) in the embedded Swift-API server, tested with the
// captured 1.17.1 frames: the agent's exact request bytes go in, a stand-in proxyfsd on a real TCP
// port answers with the captured JSON-RPC reply bytes, and the HTTP answer must carry them as the
// captured one did (200, application/json, Content-Length 923, same body). Then the refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { SwiftApiServer } from "./swift-api-server.js";
import { rawAuth, rawRequest } from "../testing/raw-http.js";

// /work/shared/reference/wire-1.17.1/frames/*.hex (exact bytes).
const HTTP_PROXYFS_MOUNT_REQUEST = Buffer.from("50524f58594653202f70726f787966732f415554485f7465737420485454502f312e310d0a486f73743a206c6f63616c686f73743a33383038300d0a557365722d4167656e743a205046534167656e7420312e31372e310d0a436f6e74656e742d4c656e6774683a203135310d0a436f6e74656e742d547970653a206170706c69636174696f6e2f6a736f6e0d0a582d417574682d546f6b656e3a20415554485f746b54657374546f6b656e0d0a4163636570742d456e636f64696e673a20677a69700d0a0d0a7b226a736f6e727063223a22322e30222c226d6574686f64223a225365727665722e5270634d6f756e7442794163636f756e744e616d65222c226964223a322c22706172616d73223a5b7b224163636f756e744e616d65223a22415554485f74657374222c224d6f756e744f7074696f6e73223a302c2241757468557365724944223a302c224175746847726f75704944223a307d5d7d", "hex");
const HTTP_PROXYFS_MOUNT_RESPONSE = Buffer.from("485454502f312e3120323030204f4b0d0a436f6e74656e742d547970653a206170706c69636174696f6e2f6a736f6e0d0a446174653a205765642c203235204e6f7620323032362032303a33373a343620474d540d0a436f6e74656e742d4c656e6774683a203932330d0a0d0a7b226964223a322c22726573756c74223a7b224d6f756e744944223a227036566847646e566e335a33696a57487a61585754773d3d222c22526f6f74446972496e6f64654e756d626572223a312c2252657472795250435075626c6963495041646472223a223132372e302e302e31222c225265747279525043506f7274223a34323335362c22526f6f74434178353039436572746966696361746550454d223a224c5330744c5331435255644a5469424452564a5553555a4a51304655525330744c533074436b314a53554a69656b4e4451564e485a30463353554a425a306c52546b6c7a6547524d64576c6b4f4539315555644b616d38344b305a6d616b4647516d644e636c70595158644d5245565a54554a5a523045785655554b5132684e55464577525764554d3070755756633163475674526a4268567a6c3154564a426430526e57555257555646455258646b553249794f54424a5255354354554e42574552555354464e52455633545652426477704e5245463354555a76575552365358684e616c563354565242654531455158644e5245463356327042633031535a3364475a316c45566c4652533056334f55525255304a515932316b61474a7462445a5a57464a77436d49794e48684652454650516d644f566b4a42545652434d557032596a4e525a3145775258644c616b4647516d644e636c70595155524a55555132655659354d484a73556b7844597a525a5a5842554b7a6b306245774b4f5768795a793978547a567553304a77636d7435576b64545a7973785330355954555a566430526e57555257556a4251515646494c304a42555552425a30744654554a4e523045785657524b5556464e545546765277704451334e4851564656526b4a3354554a4e51546848515446565a45563352554976643146475455464e516b466d4f48644955566c45566c497754304a4357555647517a457a616c426f5a32673151304e6c5a6e513143693953636e6473596e5972576d63325a6b314256556442655852735930464f516b46434b305a73553159304d6b4e49646b4e4961446c79566e4e6d5954564e624568614f54464b5355747057544a595232395a6130554b4e6b74744f576c7a56476452647a4a425257316f534535554f586777536e706e554452765a445a6a564651724e5568465256644b53305a36616e4a3264315539436930744c5330745255354549454e46556c524a526b6c44515652464c5330744c53304b227d2c226572726f72223a6e756c6c7d0a", "hex");
const JSONRPC_TCP_MOUNT_REQUEST = Buffer.from("7b226a736f6e727063223a22322e30222c226d6574686f64223a225365727665722e5270634d6f756e7442794163636f756e744e616d65222c226964223a322c22706172616d73223a5b7b224163636f756e744e616d65223a22415554485f74657374222c224d6f756e744f7074696f6e73223a302c2241757468557365724944223a302c224175746847726f75704944223a307d5d7d", "hex");
const JSONRPC_TCP_MOUNT_REPLY = Buffer.from("7b226964223a322c22726573756c74223a7b224d6f756e744944223a227036566847646e566e335a33696a57487a61585754773d3d222c22526f6f74446972496e6f64654e756d626572223a312c2252657472795250435075626c6963495041646472223a223132372e302e302e31222c225265747279525043506f7274223a34323335362c22526f6f74434178353039436572746966696361746550454d223a224c5330744c5331435255644a5469424452564a5553555a4a51304655525330744c533074436b314a53554a69656b4e4451564e485a30463353554a425a306c52546b6c7a6547524d64576c6b4f4539315555644b616d38344b305a6d616b4647516d644e636c70595158644d5245565a54554a5a523045785655554b5132684e55464577525764554d3070755756633163475674526a4268567a6c3154564a426430526e57555257555646455258646b553249794f54424a5255354354554e42574552555354464e52455633545652426477704e5245463354555a76575552365358684e616c563354565242654531455158644e5245463356327042633031535a3364475a316c45566c4652533056334f55525255304a515932316b61474a7462445a5a57464a77436d49794e48684652454650516d644f566b4a42545652434d557032596a4e525a3145775258644c616b4647516d644e636c70595155524a55555132655659354d484a73556b7844597a525a5a5842554b7a6b306245774b4f5768795a793978547a567553304a77636d7435576b64545a7973785330355954555a566430526e57555257556a4251515646494c304a42555552425a30744654554a4e523045785657524b5556464e545546765277704451334e4851564656526b4a3354554a4e51546848515446565a45563352554976643146475455464e516b466d4f48644955566c45566c497754304a4357555647517a457a616c426f5a32673151304e6c5a6e513143693953636e6473596e5972576d63325a6b314256556442655852735930464f516b46434b305a73553159304d6b4e49646b4e4961446c79566e4e6d5954564e624568614f54464b5355747057544a595232395a6130554b4e6b74744f576c7a56476452647a4a425257316f534535554f586777536e706e554452765a445a6a564651724e5568465256644b53305a36616e4a3264315539436930744c5330745255354549454e46556c524a526b6c44515652464c5330744c53304b227d2c226572726f72223a6e756c6c7d0a", "hex");

/** A stand-in proxyfsd JSON-RPC port: records each request text, answers with `reply(text)`. */
async function fakeProxyfsd(reply: (request: string) => Buffer | string | null): Promise<{ port: number; requests: string[]; close(): Promise<void> }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    let buf = "";
    s.on("data", (d) => {
      buf += d.toString("utf8");
      // One complete JSON object per connection is all the relay sends.
      try {
        JSON.parse(buf);
      } catch {
        return;
      }
      requests.push(buf);
      const r = reply(buf);
      if (r !== null) s.write(r);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    requests,
    close: () => new Promise((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/** Sends raw bytes over TCP and returns everything the server wrote until it went quiet. */
function rawExchange(port: number, bytes: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    const parts: Buffer[] = [];
    let t: NodeJS.Timeout | undefined;
    s.on("data", (d) => {
      parts.push(d);
      clearTimeout(t);
      t = setTimeout(() => s.destroy(), 100);
    });
    s.on("error", reject);
    s.on("close", () => resolve(Buffer.concat(parts)));
  });
}

function splitHttp(b: Buffer): { status: string; headers: Map<string, string>; body: Buffer } {
  const end = b.indexOf("\r\n\r\n");
  const [status, ...lines] = b.subarray(0, end).toString("latin1").split("\r\n");
  return { status: status!, headers: new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()])), body: b.subarray(end + 4) };
}

test("captured PROXYFS mount: the request reaches proxyfsd as captured, the answer is the captured response", async () => {
  const pfsd = await fakeProxyfsd(() => JSONRPC_TCP_MOUNT_REPLY);
  const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }], proxyfs: { host: "127.0.0.1", port: pfsd.port } });
  try {
    const { token } = await rawAuth(swift.authUrl, "test:tester", "testing");
    const request = Buffer.from(HTTP_PROXYFS_MOUNT_REQUEST.toString("latin1").replace("AUTH_tkTestToken", token), "latin1");
    const got = splitHttp(await rawExchange(swift.port, request));
    const want = splitHttp(HTTP_PROXYFS_MOUNT_RESPONSE);
    assert.equal(got.status, want.status);
    assert.equal(got.headers.get("content-type"), want.headers.get("content-type"));
    assert.equal(got.headers.get("content-length"), "923");
    assert.ok(got.headers.has("date"));
    assert.equal(got.body.toString("latin1"), want.body.toString("latin1"));
    assert.deepEqual(pfsd.requests, [JSONRPC_TCP_MOUNT_REQUEST.toString("utf8")]);
  } finally {
    await swift.close();
    await pfsd.close();
  }
});

test("PROXYFS sets AccountName from the URL, adds a missing id, passes RPC errors through with 200", async () => {
  const pfsd = await fakeProxyfsd((req) => `{"id":${JSON.stringify(JSON.parse(req).id)},"result":null,"error":"errno: 22"}\n`);
  const swift = await SwiftApiServer.start({
    users: [{ account: "test", user: "tester", key: "testing" }, { account: "other", user: "o", key: "k" }],
    proxyfs: { host: "127.0.0.1", port: pfsd.port },
  });
  try {
    const { token } = await rawAuth(swift.authUrl, "test:tester", "testing");
    const other = await rawAuth(swift.authUrl, "other:o", "k");
    const send = (path: string, body: string, headers: Record<string, string> = {}) =>
      rawRequest(swift.url, { method: "PROXYFS", path, headers: { "X-Auth-Token": token, "Content-Type": "application/json", ...headers }, body });
    const unmount = '{"jsonrpc":"2.0","method":"Server.RpcUnmount","params":[{"MountID":"x","AccountName":"AUTH_evil"}]}';
    const r = await send("/v1/AUTH_test", unmount);
    assert.equal(r.status, 200);
    const relayed = JSON.parse(pfsd.requests[0]!);
    assert.equal(relayed.params[0].AccountName, "AUTH_test");
    assert.match(relayed.id, /^[0-9a-f-]{36}$/);
    assert.equal(r.body.toString(), `{"id":"${relayed.id}","result":null,"error":"errno: 22"}\n`);

    assert.equal((await send("/proxyfs/AUTH_test/c", unmount)).status, 405);
    assert.equal((await send("/proxyfs/AUTH_test", unmount, { "Content-Type": "text/plain" })).status, 415);
    assert.equal((await send("/proxyfs/AUTH_test", unmount, { "X-Auth-Token": "nope" })).status, 401);
    assert.equal((await send("/proxyfs/AUTH_test", unmount, { "X-Auth-Token": other.token })).status, 403);
    const bad = await send("/proxyfs/AUTH_test", '{"jsonrpc":"2.0","method":"Server.RpcEvil","params":[{}]}');
    assert.equal(bad.status, 400);
    assert.match(bad.body.toString(), /not allowed/);
    assert.equal((await send("/proxyfs/AUTH_test", `${unmount}\n${unmount}`)).status, 400);
    assert.equal((await send("/proxyfs/AUTH_test", '{"jsonrpc":"2.0","method":"Server.RpcUnmount","params":{}}')).status, 400);
    assert.equal((await send("/proxyfs/AUTH_test", "x".repeat((1 << 20) + 1))).status, 413);
    assert.equal(pfsd.requests.length, 1, "refused requests never reach proxyfsd");
    await pfsd.close();
    assert.equal((await send("/proxyfs/AUTH_test", unmount)).status, 502);
  } finally {
    await swift.close();
    await pfsd.close().catch(() => {});
  }
});

test("PROXYFS without a configured proxyfsd is 405", async () => {
  const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }] });
  try {
    const { token } = await rawAuth(swift.authUrl, "test:tester", "testing");
    const r = await rawRequest(swift.url, { method: "PROXYFS", path: "/proxyfs/AUTH_test", headers: { "X-Auth-Token": token, "Content-Type": "application/json" }, body: "{}" });
    assert.equal(r.status, 405);
  } finally {
    await swift.close();
  }
});
