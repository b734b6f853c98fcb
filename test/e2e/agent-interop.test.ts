// Wire compatibility of our pfsagentd with ProxyFS 1.17.1, checked field by field against the
// captures of a real 1.17.1 pfsagentd (src/proto/testing/captured-messages.ts, copied from
// shared/reference/wire-1.17.1/).
//
// Processes: servers-main (embedded Swift + proxyfsd, retryrpc listening on 127.0.0.2 but
// advertising 127.0.0.1), rpc-relay-main (TLS-terminating relay on 127.0.0.1 recording every
// retryrpc frame both ways, plus a recording HTTP relay in front of the Swift-API server) and
// pfsagentd are children, so this process may use blocking fs calls on the mount. The workload is
// the one the captures were taken with (same names, modes, sizes, times), run by python3.
//
// Then the same with a proxyfsd that grants no extension (as an original 1.17.1 proxyfsd): the
// agent must fall back (fallocate EOPNOTSUPP, renameat2 flags EINVAL, SEEK_DATA/SEEK_HOLE the
// kernel's generic answer, mknod of a fifo EPERM) and never send an extension method.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { parseJson } from "../../src/base/json/index.js";
import { extensionRpcMethods, retryRpcMethods } from "../../src/proto/index.js";
import { capturedMessages } from "../../src/proto/testing/captured-messages.js";
import {
  canMount, cleanupSetup, killAllChildren, startAgent, startServers, writeAgentConf, type AgentSetup, type Servers,
} from "./testing/agent-harness.js";
import { startServersBehindRelay, type Relay, type RelayedFrame, type RelayedServers } from "./testing/rpc-relay.js";

const skip = canMount && spawnSync("python3", ["-c", "1"]).status === 0 ? false : "needs root, /dev/fuse and python3";

/** The captured 1.17.1 HTTP requests (http-agent.jsonl, client pfsagentd / its auth plug-in). */
const CAPTURED_AUTH = { line: "GET /auth/v1.0 HTTP/1.1", headers: ["Host", "User-Agent", "X-Auth-Key", "X-Auth-User", "Accept-Encoding"], user: "test:tester", key: "testing" };
const CAPTURED_MOUNT = {
  line: "PROXYFS /proxyfs/AUTH_test HTTP/1.1",
  headers: ["Host", "User-Agent", "Content-Length", "Content-Type", "X-Auth-Token", "Accept-Encoding"],
  body: '{"jsonrpc":"2.0","method":"Server.RpcMountByAccountName","id":2,"params":[{"AccountName":"AUTH_test","MountOptions":0,"AuthUserID":0,"AuthGroupID":0}]}',
};
const CAPTURED_UNMOUNT_BODY = '{"jsonrpc":"2.0","method":"Server.RpcUnmount","id":3,"params":[{"MountID":"p6VhGdnVn3Z3ijWHzaXWTw=="}]}';
/** Headers Go's HTTP client adds by itself (transport-level), and Node's equivalents. */
const TRANSPORT_HEADERS = new Set(["host", "accept-encoding", "connection"]);

/** The workload of the captures (op names as in op-sequences.json). argv: mountpoint, run. */
const WORKLOAD = String.raw`
import os, sys, subprocess
m, run = sys.argv[1], sys.argv[2]
p = lambda *a: os.path.join(m, *a)
def expect(errno, fn, *a):
    try:
        fn(*a)
    except OSError as e:
        assert e.errno == errno, (fn.__name__, a, e)
        return
    raise AssertionError(f"{fn.__name__}{a} succeeded, expected errno {errno}")
big = bytes(range(256)) * 4096 * 3
if run == "1":
    os.listdir(m); os.stat(m)                                   # ls_root, stat_root
    expect(2, os.stat, p("nope"))                               # lookup_missing
    os.mkdir(p("d1"), 0o755)                                    # mkdir
    os.close(os.open(p("d1", "f1"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))  # create
    open(p("d1", "f1"), "w").write("hello\n")                   # write_small
    assert open(p("d1", "f1")).read() == "hello\n"              # read_small
    open(p("d1", "f1"), "a").write("more\n")                    # append
    os.stat(p("d1", "f1"))                                      # stat_file
    assert open(p("d1", "f1")).read() == "hello\nmore\n"        # read_after_append
    open(p("big"), "wb").write(big)                             # write_big
    assert open(p("big"), "rb").read() == big                   # read_big
    f = open(p("big"), "rb"); f.seek(1000); assert f.read(100) == big[1000:1100]; f.close()  # read_range
    os.truncate(p("big"), 100)                                  # truncate_shrink
    os.truncate(p("big"), 5000)                                 # truncate_grow
    assert open(p("big"), "rb").read() == big[:100] + bytes(4900)  # read_sparse
    open(p("d1", "f1"), "w").write("overwrite")                 # overwrite_otrunc
    fd = os.open(p("d1", "fs"), os.O_CREAT | os.O_WRONLY, 0o644); os.write(fd, b"fsync data"); os.fsync(fd); os.close(fd)  # fsync
    os.rename(p("d1", "f1"), p("d1", "f2"))                     # rename_file
    os.rename(p("d1"), p("d2"))                                 # rename_dir
    open(p("d2", "victim"), "w").write("vic")                   # rename_replace
    os.rename(p("d2", "fs"), p("d2", "victim"))
    os.symlink("f2", p("d2", "link"))                           # symlink
    assert os.readlink(p("d2", "link")) == "f2"                 # readlink
    assert open(p("d2", "link")).read() == "overwrite"          # read_via_symlink
    os.link(p("d2", "f2"), p("d2", "hard"))                     # hardlink
    assert os.stat(p("d2", "hard")).st_nlink == 2               # stat_hardlink
    os.chmod(p("d2", "f2"), 0o600)                              # chmod
    os.chown(p("d2", "f2"), 1000, 1000)                         # chown
    os.chown(p("d2", "f2"), -1, 100)                            # chgrp_only
    os.utime(p("d2", "f2"), ns=(1577934245123456789, 1577934245123456789))  # utimes
    os.utime(p("d2", "f2"))                                     # touch_now
    subprocess.run(["touch", "-a", "-d", "@1620284889", p("d2", "f2")], check=True)  # touch_atime_only
    os.setxattr(p("d2", "f2"), "user.color", b"blue")           # setxattr
    assert os.getxattr(p("d2", "f2"), "user.color") == b"blue"  # getxattr
    assert "user.color" in os.listxattr(p("d2", "f2"))          # listxattr
    expect(61, os.getxattr, p("d2", "f2"), "user.nothere")      # getxattr_missing
    os.removexattr(p("d2", "f2"), "user.color")                 # removexattr
    os.statvfs(m)                                               # statfs
    assert os.access(p("d2", "f2"), os.W_OK)                    # access
    os.mkdir(p("d3"), 0o755)                                    # mkdir_200
    for i in range(1, 201):                                     # create_200
        os.close(os.open(p("d3", "entry_%03d" % i), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
    assert len(os.listdir(p("d3"))) == 200                      # readdir_200
    expect(39, os.rmdir, p("d2"))                               # rmdir_notempty
    for n in ["hard", "link", "f2", "victim"]:                  # unlink_*
        os.unlink(p("d2", n))
    os.rmdir(p("d2"))                                           # rmdir
    assert sorted(os.listdir(m)) == ["big", "d3"], os.listdir(m)  # ls_final
else:
    assert len(os.listdir(p("d3"))) == 200                      # readdirplus_200
    assert open(p("big"), "rb").read() == big[:100] + bytes(4900)  # read_big_after_remount
`;

/** What the kernel and tools may not do when the 1.17.1 agent's kernel did (not wire differences). */
const FALLBACK = String.raw`
import os, sys, errno, ctypes, subprocess
m = sys.argv[1]
p = lambda *a: os.path.join(m, *a)
open(p("fb"), "wb").write(b"x" * 10000)
r = subprocess.run(["fallocate", "-l", "65536", p("fb")], capture_output=True, text=True)
assert r.returncode != 0 and "not supported" in r.stderr, r
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
open(p("fb2"), "w").write("2")
rc = libc.renameat2(AT_FDCWD, p("fb2").encode(), AT_FDCWD, p("fb3").encode(), 1)
assert rc == -1 and ctypes.get_errno() == errno.EINVAL, (rc, ctypes.get_errno())
assert os.path.exists(p("fb2")) and not os.path.exists(p("fb3"))
os.rename(p("fb2"), p("fb3"))
fd = os.open(p("fb"), os.O_RDONLY)
assert os.lseek(fd, 0, os.SEEK_DATA) == 0
assert os.lseek(fd, 0, os.SEEK_HOLE) == 10000
os.close(fd)
try:
    os.mkfifo(p("fifo"))
    raise AssertionError("mkfifo succeeded without the mknod extension")
except OSError as e:
    assert e.errno == errno.EPERM, e
`;

function python(script: string, ...args: string[]): void {
  const r = spawnSync("python3", ["-c", script, ...args], { encoding: "utf8", timeout: 120_000 });
  assert.equal(r.status, 0, `python workload failed (${r.status} ${r.signal ?? ""}):\n${r.stdout}\n${r.stderr}`);
}

type Kind = string;
/** The JSON kind of a value, arrays with their element kinds ("number", "string", "array<number>", ...). */
function kindOf(v: unknown): Kind {
  if (v === null) return "null";
  if (typeof v === "bigint" || typeof v === "number") return Number.isInteger(Number(v)) ? "int" : "float";
  if (Array.isArray(v)) return `array<${[...new Set(v.map(kindOf))].join("|")}>`;
  if (typeof v === "object") return `object{${Object.entries(v as object).map(([k, x]) => `${k}:${kindOf(x)}`).join(",")}}`;
  return typeof v;
}

interface Req {
  envelopeKeys: string[];
  env: Record<string, unknown>;
  method: string;
  params: Record<string, unknown>;
  headerHex: string;
  op: string;
}

function parseRequest(raw: string, headerHex: string, op: string): Req {
  const env = parseJson(raw) as Record<string, unknown>;
  const params = env.params as unknown[];
  assert.ok(Array.isArray(params) && params.length === 1, `params of ${raw} is an array of one`);
  return { envelopeKeys: Object.keys(env), env, method: env.method as string, params: params[0] as Record<string, unknown>, headerHex, op };
}

/** Field names (wire order) with their kinds: what must be identical per method. */
const shape = (r: Req): string => Object.entries(r.params).map(([k, v]) => `${k}:${kindOf(v)}`).join(",");
/** Fields whose values depend on allocation (inode numbers, object names) or the mount. */
const VOLATILE = new Set(["MountID", "InodeNumber", "SrcDirInodeNumber", "DstDirInodeNumber", "TargetInodeNumber", "ContainerName", "ObjectName"]);
const stableView = (r: Req): string => `${r.method}(${Object.entries(r.params).filter(([k]) => !VOLATILE.has(k)).map(([k, v]) => `${k}=${typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`).join(",")})`;

const captured: Req[] = capturedMessages
  .filter((m) => m.source === "retryrpc-agent-workload" && m.msgtype === "RPC" && m.client.startsWith("pfsagentd"))
  .map((m) => parseRequest(m.request_raw!, m.request_header_hex!, m.op));

function ours(frames: RelayedFrame[]): { reqs: Req[]; passIds: RelayedFrame[]; byConn: Map<number, RelayedFrame[]> } {
  const byConn = new Map<number, RelayedFrame[]>();
  for (const f of frames.filter((x) => x.dir === "c2s")) {
    if (!byConn.has(f.conn)) byConn.set(f.conn, []);
    byConn.get(f.conn)!.push(f);
  }
  const reqs: Req[] = [];
  const passIds: RelayedFrame[] = [];
  for (const fs of byConn.values()) {
    for (const f of fs) {
      if (f.type === 3) passIds.push(f);
      else if (f.type === 1) reqs.push(parseRequest(f.body, f.headerHex, ""));
      else assert.fail(`the agent sent a frame of type ${f.type}: only PassID (3) and RPC (1) exist for a client`);
    }
  }
  return { reqs, passIds, byConn };
}

/** Request line, header names in order and body of the raw HTTP requests on one connection. */
function httpRequests(raw: string): Array<{ line: string; headers: Array<[string, string]>; body: string }> {
  const out: Array<{ line: string; headers: Array<[string, string]>; body: string }> = [];
  let rest = raw;
  while (rest.length > 0) {
    const end = rest.indexOf("\r\n\r\n");
    if (end < 0) break;
    const [line, ...hs] = rest.slice(0, end).split("\r\n");
    const headers = hs.map((h) => [h.slice(0, h.indexOf(":")), h.slice(h.indexOf(":") + 1).trim()] as [string, string]);
    const len = Number(headers.find(([k]) => k.toLowerCase() === "content-length")?.[1] ?? 0);
    const chunked = headers.some(([k, v]) => k.toLowerCase() === "transfer-encoding" && v === "chunked");
    if (chunked) {
      out.push({ line: line!, headers, body: "<chunked>" });
      break; // log-segment PUTs: not compared here
    }
    out.push({ line: line!, headers, body: Buffer.from(rest.slice(end + 4, end + 4 + len), "latin1").toString("utf8") });
    rest = rest.slice(end + 4 + len);
  }
  return out;
}

describe("pfsagentd speaks 1.17.1 on the wire", { skip }, () => {
  let env: RelayedServers | undefined;
  let servers: Servers | undefined;
  let relay: Relay | undefined;
  const setups: AgentSetup[] = [];

  before(async () => {
    env = await startServersBehindRelay("pfs-interop-tls-");
    ({ relay, servers } = env);
    await relay.setHttpTarget(servers.swiftPort);
  });

  after(async () => {
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await env?.stop();
  });

  test("every request matches the captured 1.17.1 requests field by field", { timeout: 120_000 }, async (t) => {
    const frames: RelayedFrame[] = [];
    const http: string[] = [];
    for (const [run, extra] of [["1", { XAttrEnabled: "true" }], ["2", { ReadDirPlusEnabled: "true" }]] as const) {
      const setup = writeAgentConf(relay!.httpPort, extra);
      setups.push(setup);
      const agent = await startAgent(setup.confPath);
      try {
        python(WORKLOAD, setup.mountpoint, run);
      } finally {
        assert.equal(await agent.stop(), 0, `agent exits cleanly:\n${agent.log()}`);
      }
    }
    const rec = await relay!.records();
    frames.push(...rec.frames);
    http.push(...rec.http.map((h) => h.request));
    const { reqs, passIds, byConn } = ours(frames);
    assert.ok(reqs.length > 300, `only ${reqs.length} requests recorded`);

    // Envelope and framing: PassID first on every connection, then RPCs with Go's envelope.
    const capEnvelope = captured[0]!.envelopeKeys;
    assert.deepEqual(capEnvelope, ["myuniqueid", "requestid", "highestReplySeen", "method", "params"]);
    const mountIds = new Set<string>();
    for (const [conn, fs] of byConn) {
      assert.equal(fs[0]!.type, 3, `connection ${conn} starts with PassID`);
      assert.equal(fs.filter((f) => f.type === 3).length, 1, `connection ${conn} has exactly one PassID`);
      const id = parseJson(fs[0]!.body) as string;
      assert.match(id, /^[A-Za-z0-9+/]{22}==$/, "PassID is a JSON string holding the MountID (base64 of 16 bytes)");
      mountIds.add(id);
      let last = 0;
      for (const f of fs.slice(1)) {
        const r = parseRequest(f.body, f.headerHex, "");
        assert.deepEqual(r.envelopeKeys, capEnvelope, `envelope keys of ${f.body.slice(0, 120)}`);
        assert.equal(r.env.myuniqueid, id, "myuniqueid is the MountID");
        assert.equal(r.params.MountID ?? id, id, "params MountID is the MountID");
        const rid = Number(r.env.requestid);
        const hrs = Number(r.env.highestReplySeen);
        assert.equal(rid, last + 1, "request ids are 1, 2, 3, ... per mount (no reconnects here)");
        assert.ok(hrs >= 0 && hrs < rid, `highestReplySeen ${hrs} < requestid ${rid}`);
        last = rid;
      }
    }
    assert.equal(mountIds.size, 2, "one MountID per mount");
    for (const p of passIds) assert.equal(p.headerHex, (Buffer.byteLength(p.body)).toString(16).padStart(8, "0") + "000100010003cafefeed", "PassID header");
    for (const f of frames.filter((x) => x.dir === "c2s" && x.type === 1)) {
      const len = Buffer.byteLength(f.body).toString(16).padStart(8, "0");
      assert.equal(f.headerHex, len + captured[0]!.headerHex.slice(8), "RPC header: Len, Protocol 1, Version 1, Type 1, Magic cafefeed");
    }

    // Methods: ours ⊆ captured ∪ agreed extensions; captured methods we never send are listed.
    const capMethods = new Set(captured.map((r) => r.method));
    const ourMethods = new Set(reqs.map((r) => r.method));
    const extra = [...ourMethods].filter((m) => !capMethods.has(m));
    const missing = [...capMethods].filter((m) => !ourMethods.has(m));
    t.diagnostic(`captured methods the agent never sent: ${missing.join(" ") || "none"}`);
    t.diagnostic(`methods the agent sent that the captures lack: ${extra.join(" ") || "none"}`);
    for (const m of extra) assert.ok(m in extensionRpcMethods, `${m} is not a 1.17.1 method nor a negotiated extension`);
    for (const m of ourMethods) assert.ok(m in retryRpcMethods || m in extensionRpcMethods, m);
    // RpcLease: 1.17.1 only sent a debugging Exclusive+Release pair around operations; our agent
    // (SEMANTICS.md) re-validates with the server instead. RpcAccess: with default_permissions the
    // kernel checks access itself and never sends ACCESS. Anything else missing is a regression.
    // With the Plus extension agreed, these are sent as their Plus variants (one round trip).
    const supersededBy: Record<string, string> = {
      RpcMkdir: "RpcMkdirPlus", RpcCreate: "RpcCreatePlus", RpcSymlink: "RpcSymlinkPlus", RpcLink: "RpcLinkPlus",
      RpcChmod: "RpcSetAttrPlus", RpcChown: "RpcSetAttrPlus", RpcSetTime: "RpcSetAttrPlus", RpcResize: "RpcSetAttrPlus",
      // Under a directory lease (MetaCache) a small directory is listed whole once and its names
      // are then answered without a lookup each.
      RpcLookupPlus: "RpcReaddirPlusByLoc",
    };
    const superseded = (m: string): boolean => supersededBy[m] !== undefined && ourMethods.has(supersededBy[m]!);
    assert.deepEqual(missing.filter((m) => m !== "RpcLease" && m !== "RpcAccess" && !superseded(m)), [], "captured methods the agent never sent");

    // Shapes: the same field names in the same order with the same JSON kinds, per method.
    const capShapes = new Map<string, Set<string>>();
    for (const r of captured) {
      if (!capShapes.has(r.method)) capShapes.set(r.method, new Set());
      capShapes.get(r.method)!.add(shape(r));
    }
    let compared = 0;
    for (const r of reqs) {
      const want = capShapes.get(r.method);
      if (!want) continue;
      // Go writes a nil slice as null and an empty one as []: both are the same field.
      const s = shape(r).replace(/:null/g, ":array<>");
      const ok = [...want].some((w) => w.replace(/:null/g, ":array<>") === s || w === shape(r));
      assert.ok(ok, `${r.method}: our fields ${shape(r)}\n  captured: ${[...want].join("\n            ")}`);
      compared++;
    }
    t.diagnostic(`${compared} requests compared field by field against ${captured.length} captured ones`);

    // Values that depend neither on allocation nor on the clock: every such captured request of
    // the mirrored workload is sent by our agent with the very same values (names, modes, ids,
    // sizes, times, flags).
    const ourViews = new Set(reqs.map(stableView));
    const clockOps = new Set(["touch_now"]);
    // Requests that depend on the kernel's or 1.17.1's own choices rather than on the workload:
    // xattr probes the kernel makes (security.*, system.posix_acl_*), directory batch sizes
    // (MaxEntries), extent-map fetch offsets and write batching (RpcWrote extents).
    const kernelDriven = (r: Req): boolean =>
      (r.method === "RpcGetXAttr" && !String(r.params.AttrName).startsWith("user.")) ||
      ["RpcReaddirByLoc", "RpcReaddirPlusByLoc", "RpcFetchExtentMapChunk", "RpcWrote", "RpcLease", "RpcAccess", "RpcProvisionObject"].includes(r.method) ||
      // 1.17.1 looked every unlink/rename target up first; ours only when it has dirty data to
      // flush (and for its own hidden directory).
      r.method === "RpcLookup";
    // Requests whose method went out as its Plus variant (same workload, one round trip) are
    // compared by the method-level check above, not view by view.
    const notSent = [...new Set(captured.filter((r) => !clockOps.has(r.op) && !kernelDriven(r) && !superseded(r.method)).map(stableView))].filter((v) => !ourViews.has(v));
    assert.deepEqual(notSent, [], "captured requests (volatile fields aside) our agent never sent for the same workload");
    // And the kernel-driven ones still name the same things.
    for (const r of reqs.filter((x) => x.method === "RpcReaddirByLoc" || x.method === "RpcReaddirPlusByLoc")) {
      assert.equal(typeof r.params.MaxEntries, "number", "MaxEntries is a plain number");
    }

    // HTTP: the auth plug-in's GET and the PROXYFS mount and unmount, as 1.17.1 writes them.
    const all = http.flatMap(httpRequests);
    const auth = all.filter((h) => h.line === CAPTURED_AUTH.line);
    assert.ok(auth.length >= 2, "one tempauth GET per mount");
    for (const a of auth) {
      const names = a.headers.map(([k]) => k.toLowerCase()).filter((k) => !TRANSPORT_HEADERS.has(k));
      for (const h of CAPTURED_AUTH.headers.filter((x) => !TRANSPORT_HEADERS.has(x.toLowerCase()))) assert.ok(names.includes(h.toLowerCase()), `auth request has ${h}`);
      assert.equal(a.headers.find(([k]) => k.toLowerCase() === "x-auth-user")?.[1], CAPTURED_AUTH.user);
      assert.equal(a.headers.find(([k]) => k.toLowerCase() === "x-auth-key")?.[1], CAPTURED_AUTH.key);
    }
    const proxyfs = all.filter((h) => h.line.startsWith("PROXYFS "));
    const mounts = proxyfs.filter((h) => h.body.includes("Server.RpcMountByAccountName"));
    const unmounts = proxyfs.filter((h) => h.body.includes("Server.RpcUnmount"));
    assert.equal(mounts.length, 2);
    assert.equal(unmounts.length, 2);
    const capMount = parseJson(CAPTURED_MOUNT.body) as Record<string, unknown>;
    const capParams = (capMount.params as Array<Record<string, unknown>>)[0]!;
    for (const mreq of mounts) {
      assert.equal(mreq.line, CAPTURED_MOUNT.line, "PROXYFS request line");
      const names = mreq.headers.map(([k]) => k.toLowerCase()).filter((k) => !TRANSPORT_HEADERS.has(k));
      assert.deepEqual(names.sort(), CAPTURED_MOUNT.headers.map((h) => h.toLowerCase()).filter((k) => !TRANSPORT_HEADERS.has(k)).sort(), "PROXYFS headers");
      assert.equal(mreq.headers.find(([k]) => k.toLowerCase() === "content-type")?.[1], "application/json");
      assert.equal(Number(mreq.headers.find(([k]) => k.toLowerCase() === "content-length")?.[1]), Buffer.byteLength(mreq.body));
      const body = parseJson(mreq.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), Object.keys(capMount), "JSON-RPC body keys and order");
      assert.equal(body.jsonrpc, "2.0");
      assert.equal(body.method, capMount.method);
      assert.equal(Number(body.id), 2, "first JSON-RPC id is 2, as 1.17.1");
      const params = (body.params as Array<Record<string, unknown>>)[0]!;
      assert.deepEqual(Object.keys(params).slice(0, 4), Object.keys(capParams), "mount params: 1.17.1's fields first, in order");
      for (const k of Object.keys(capParams)) assert.equal(String(params[k]), String(capParams[k]), `mount param ${k}`);
      assert.deepEqual(Object.keys(params).slice(4), ["Capabilities"], "the only added field is the negotiated Capabilities");
    }
    const capUnmount = parseJson(CAPTURED_UNMOUNT_BODY) as Record<string, unknown>;
    for (const u of unmounts) {
      const body = parseJson(u.body) as Record<string, unknown>;
      assert.deepEqual(Object.keys(body), Object.keys(capUnmount));
      assert.equal(Number(body.id), 3, "unmount is the second JSON-RPC call");
      assert.deepEqual(Object.keys((body.params as Array<Record<string, unknown>>)[0]!), ["MountID"]);
      assert.ok(mountIds.has((body.params as Array<Record<string, string>>)[0]!.MountID!), "unmounts the MountID it used");
    }
  });
});

describe("mknod through the Mknod extension", { skip }, () => {
  let servers: Servers | undefined;
  const setups: AgentSetup[] = [];
  before(async () => {
    servers = await startServers();
  });
  after(async () => {
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await servers?.stop();
  });

  test("mkfifo: a FIFO that carries data between two processes and survives a remount; sockets, devices, regular files", { timeout: 60_000 }, async () => {
    const MKNOD = String.raw`
import os, sys, stat, threading
m, phase = sys.argv[1], sys.argv[2]
p = lambda *a: os.path.join(m, *a)
if phase == "1":
    os.mkfifo(p("fifo"), 0o640)
    os.mknod(p("sock"), 0o600 | stat.S_IFSOCK)
    os.mknod(p("chr"), 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(p("reg"), 0o644 | stat.S_IFREG)
    assert stat.S_ISSOCK(os.stat(p("sock")).st_mode)
    assert stat.S_ISCHR(os.stat(p("chr")).st_mode)
    assert stat.S_ISREG(os.stat(p("reg")).st_mode) and os.stat(p("reg")).st_size == 0
st = os.stat(p("fifo"))
assert stat.S_ISFIFO(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o640, oct(st.st_mode)
got = []
def reader():
    with open(p("fifo"), "rb") as f:
        got.append(f.read())
t = threading.Thread(target=reader); t.start()
with open(p("fifo"), "wb") as f:
    f.write(b"through the fifo " * 1000)
t.join(10)
assert got == [b"through the fifo " * 1000], got[:1]
`;
    for (const phase of ["1", "2"]) {
      const setup = writeAgentConf(servers!.swiftPort);
      setups.push(setup);
      const agent = await startAgent(setup.confPath);
      try {
        python(MKNOD, setup.mountpoint, phase);
      } finally {
        assert.equal(await agent.stop(), 0, agent.log());
      }
    }
  });
});

describe("pfsagentd against a proxyfsd that offers no extensions", { skip }, () => {
  let env: RelayedServers | undefined;
  let servers: Servers | undefined;
  let relay: Relay | undefined;
  const setups: AgentSetup[] = [];

  before(async () => {
    env = await startServersBehindRelay("pfs-interop-tls-", ["--no-extensions"]);
    ({ relay, servers } = env);
  });

  after(async () => {
    killAllChildren();
    for (const s of setups) cleanupSetup(s);
    await env?.stop();
  });

  test("fallocate, renameat2 flags, SEEK_DATA/SEEK_HOLE and mknod fall back; no extension method is sent", { timeout: 60_000 }, async () => {
    const setup = writeAgentConf(servers!.swiftPort);
    setups.push(setup);
    const agent = await startAgent(setup.confPath);
    try {
      assert.match(agent.log(), /extensions: none/, "the agent logs that the server agreed no extension");
      python(FALLBACK, setup.mountpoint);
    } finally {
      assert.equal(await agent.stop(), 0, `agent exits cleanly:\n${agent.log()}`);
    }
    const { reqs } = ours((await relay!.records()).frames);
    assert.ok(reqs.length > 5, "the relay saw the agent's requests");
    const sent = reqs.filter((r) => r.method in extensionRpcMethods).map((r) => r.method);
    assert.deepEqual(sent, [], "no extension method without the capability");
    for (const r of reqs) assert.ok(r.method in retryRpcMethods, `${r.method} is a 1.17.1 method`);
  });
});
