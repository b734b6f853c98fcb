import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { AuthPlugin } from "../agent/auth/index.js";

const PLUGIN = fileURLToPath(new URL("./pfsagentd-swift-auth-plugin.js", import.meta.url));

// frames/http-auth-response.hex of the 1.17.1 capture (the Swift emulator's tempauth reply).
const CAPTURED_RESPONSE_HEX =
  "485454502f312e3120323030204f4b0d0a582d417574682d546f6b656e3a20415554485f746b54657374546f6b656e0d0a582d53746f726167652d55726c3a20687474703a2f2f6c6f63616c686f73743a33383038302f76312f415554485f746573740d0a446174653a205765642c203235204e6f7620323032362032303a33373a343620474d540d0a436f6e74656e742d4c656e6774683a20300d0a0d0a";

interface TempAuth {
  server: Server;
  port: number;
  requests: Array<{ method: string; url: string; headers: IncomingHttpHeaders }>;
}

/** A minimal tempauth: GET /auth/v1.0 with test:tester/testing ⇒ 200 + a fresh token each time. */
async function startTempAuth(): Promise<TempAuth> {
  const requests: TempAuth["requests"] = [];
  let n = 0;
  const server = createHttpServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, headers: req.headers });
    const port = (server.address() as AddressInfo).port;
    if (req.method !== "GET" || req.url !== "/auth/v1.0" || req.headers["x-auth-user"] !== "test:tester" || req.headers["x-auth-key"] !== "testing") {
      res.writeHead(401).end("Unauthorized");
      return;
    }
    n++;
    res.writeHead(200, { "X-Auth-Token": `AUTH_tk${n}`, "X-Storage-Token": `AUTH_tk${n}`, "X-Storage-Url": `http://127.0.0.1:${port}/v1/AUTH_test` }).end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as AddressInfo).port, requests };
}

function blob(port: number, over: Record<string, string> = {}): string {
  return JSON.stringify({ AuthURL: `http://127.0.0.1:${port}/auth/v1.0`, AuthUser: "test:tester", AuthKey: "testing", Account: "AUTH_test", ...over });
}

interface Run {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  exit: Promise<number | null>;
}

function run(args: string[], env: Record<string, string>): Run {
  const child = spawn(process.execPath, [PLUGIN, ...args], { env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => { out += d; });
  child.stderr.setEncoding("utf8").on("data", (d: string) => { err += d; });
  const exit = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

async function waitFor(pred: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("authenticates at start and per stdin byte; exits 0 on stdin EOF", async () => {
  const ta = await startTempAuth();
  try {
    const r = run(["SwiftAuthBlob"], { SwiftAuthBlob: blob(ta.port) });
    const first = `{"AuthToken":"AUTH_tk1","StorageURL":"http://127.0.0.1:${ta.port}/proxyfs/AUTH_test"}`;
    await waitFor(() => r.stdout().length >= first.length);
    assert.equal(r.stdout(), first); // no newline, nothing else
    r.child.stdin.write(Buffer.of(0));
    const second = first.replace("AUTH_tk1", "AUTH_tk2");
    await waitFor(() => r.stdout().length >= first.length + second.length);
    assert.equal(r.stdout(), first + second);
    r.child.stdin.end();
    assert.equal(await r.exit, 0);
    assert.equal(r.stderr(), "");
    assert.equal(ta.requests.length, 2);
    const h = ta.requests[0]!.headers;
    assert.equal(ta.requests[0]!.method, "GET");
    assert.equal(ta.requests[0]!.url, "/auth/v1.0");
    assert.match(h["user-agent"]!, /^PFSAgent-Auth \d+\.\d+\.\d+/);
    assert.equal(h["x-auth-user"], "test:tester");
    assert.equal(h["x-auth-key"], "testing");
  } finally {
    ta.server.close();
  }
});

test("StorageURL takes the configured Account", async () => {
  const ta = await startTempAuth();
  try {
    const r = run(["Blob"], { Blob: blob(ta.port, { Account: "AUTH_other" }) });
    r.child.stdin.end();
    assert.equal(await r.exit, 0);
    assert.equal(r.stdout(), `{"AuthToken":"AUTH_tk1","StorageURL":"http://127.0.0.1:${ta.port}/proxyfs/AUTH_other"}`);
  } finally {
    ta.server.close();
  }
});

test("request headers and reply handling match the captured 1.17.1 exchange (replayed byte for byte)", async () => {
  let head = "";
  const server = createNetServer((sock) => {
    sock.setEncoding("latin1");
    sock.on("data", (d: string) => {
      head += d;
      if (head.includes("\r\n\r\n")) sock.end(Buffer.from(CAPTURED_RESPONSE_HEX, "hex"));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  try {
    const r = run(["SwiftAuthBlob"], { SwiftAuthBlob: blob(port) });
    await waitFor(() => r.stdout().endsWith("}"));
    r.child.stdin.end();
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(r.stdout(), '{"AuthToken":"AUTH_tkTestToken","StorageURL":"http://localhost:38080/proxyfs/AUTH_test"}');
    const lines = head.split("\r\n");
    assert.equal(lines[0], "GET /auth/v1.0 HTTP/1.1");
    const names = lines.slice(1).filter((l) => l !== "").map((l) => l.slice(0, l.indexOf(":")));
    assert.deepEqual(names.filter((n) => n !== "Connection"), ["User-Agent", "X-Auth-Key", "X-Auth-User", "Host"]);
    assert.ok(lines.includes("X-Auth-Key: testing") && lines.includes("X-Auth-User: test:tester") && lines.includes(`Host: 127.0.0.1:${port}`));
  } finally {
    server.close();
  }
});

test("failures: bad key (401), unreachable server, bad arguments and blobs ⇒ stderr and exit 1", async () => {
  const ta = await startTempAuth();
  const cases: Array<[string[], Record<string, string>, RegExp]> = [
    [["B"], { B: blob(ta.port, { AuthKey: "wrong" }) }, /returned 401 Unauthorized, expected 200/],
    [["B"], { B: blob(1) }, /GET http:\/\/127\.0\.0\.1:1\/auth\/v1\.0 failed: .*ECONNREFUSED/],
    [[], {}, /^Missing PlugInEnvName\n$/],
    [["A", "B"], {}, /^Superfluous arguments \(only PlugInEnvName expected\): B\n$/],
    [["Unset_Var_X"], {}, /Environment variable Unset_Var_X \(named by PlugInEnvName\) is not set/],
    [["B"], { B: "{not json" }, /Cannot parse B as JSON/],
    [["B"], { B: '{"AuthURL":"http://x/"}' }, /must be a JSON object with string AuthUser/],
  ];
  try {
    for (const [args, env, re] of cases) {
      const r = run(args, env);
      assert.equal(await r.exit, 1, `${args} ${r.stderr()}`);
      assert.match(r.stderr(), re);
      assert.equal(r.stdout(), "");
    }
  } finally {
    ta.server.close();
  }
});

test("end to end: the agent's AuthPlugin runner drives the real plug-in", async () => {
  const ta = await startTempAuth();
  const warnings: string[] = [];
  const plugin = new AuthPlugin({
    path: PLUGIN, launcher: [process.execPath], envName: "SwiftAuthBlob", envValue: blob(ta.port),
    logger: { info() {}, warn: (m) => warnings.push(m) }, responseTimeoutMs: 5_000, requestTimeoutMs: 10_000,
  });
  try {
    assert.deepEqual(await plugin.start(), { authToken: "AUTH_tk1", storageURL: `http://127.0.0.1:${ta.port}/proxyfs/AUTH_test` });
    assert.equal((await plugin.renew()).authToken, "AUTH_tk2");
    assert.equal((await plugin.current()).authToken, "AUTH_tk2");
  } finally {
    await plugin.stop();
    ta.server.close();
  }
  assert.deepEqual(warnings, []);
  assert.equal(plugin.pid, undefined);
});
