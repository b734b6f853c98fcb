// Test helper process: a recording, cuttable relay between pfsagentd and proxyfsd, in a process
// of its own (the test process makes blocking fs calls on the mount, so nothing the agent depends
// on may run in it).
//
//   node rpc-relay-main.js --tls-dir D [--target-host 127.0.0.2] [--target-port Q] [--http-target-port S]
//
// * retryrpc: a TLS server on 127.0.0.1:P (P picked here) with the server certificate of the TLS
//   directory D (created when missing, exactly as proxyfsd's [TLS] Directory), relaying to
//   proxyfsd on target-host:Q (default Q = P on 127.0.0.2: proxyfsd listens there and advertises
//   127.0.0.1:P, so the mount reply sends the agent here). TLS is terminated, so every frame is
//   decoded (src/rpc FrameDecoder) and recorded in both directions; bytes are relayed unchanged.
// * HTTP: a plain TCP relay on 127.0.0.1:H to 127.0.0.1:S (--http-target-port or POST
//   /http-target?port=S) recording what clients send (auth GET, PROXYFS mount request, as written).
// * Control (HTTP on 127.0.0.1:C): GET /records, POST /reset, POST /cut (destroys every relayed
//   retryrpc connection), POST /cut-every?n=K (cut right after every K-th relayed request, while
//   its reply is still due), POST /cut-every?n=0 (stop), GET /stats.
// Prints one JSON line {"port":P,"httpPort":H,"controlPort":C} when ready; exits on SIGTERM.
import net from "node:net";
import tls from "node:tls";
import http from "node:http";
import { HEADER_SIZE, MAGIC, MsgType, readHeader } from "../../../src/rpc/index.js";
import { loadOrCreateTlsDirectory } from "../../../src/volume/index.js";

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const tlsDir = arg("--tls-dir");
if (!tlsDir) {
  process.stderr.write("usage: rpc-relay-main --tls-dir D [--target-host H] [--target-port Q] [--http-target-port S]\n");
  process.exit(2);
}
const targetHost = arg("--target-host") ?? "127.0.0.2";
let httpTarget = arg("--http-target-port");

/** One relayed retryrpc frame. `body` is the exact UTF-8 JSON text (PassID, RPC) or hex (others). */
export interface RelayedFrame {
  conn: number;
  dir: "c2s" | "s2c";
  /** The 14 header bytes as sent (Len, Protocol, Version, Type, Magic). */
  headerHex: string;
  type: number;
  body: string;
  t: number;
}

/** Splits a byte stream into frames exactly as sent (header kept); a bad magic throws. */
class FrameSplitter {
  #buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer, onFrame: (header: Buffer, body: Buffer) => void): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    while (this.#buf.length >= HEADER_SIZE) {
      const h = readHeader(this.#buf);
      if (h.magic !== MAGIC) throw new Error(`bad magic ${h.magic.toString(16)}`);
      if (this.#buf.length < HEADER_SIZE + h.length) return;
      onFrame(this.#buf.subarray(0, HEADER_SIZE), this.#buf.subarray(HEADER_SIZE, HEADER_SIZE + h.length));
      this.#buf = this.#buf.subarray(HEADER_SIZE + h.length);
    }
  }
}

const { credentials } = await loadOrCreateTlsDirectory(tlsDir, "127.0.0.1");
const frames: RelayedFrame[] = [];
const httpRecords: Array<{ conn: number; request: string }> = [];
const pairs = new Set<{ a: net.Socket; b: net.Socket }>();
let accepted = 0;
let cuts = 0;
let cutEvery = 0;
let requestsSinceCut = 0;
let targetPort = 0;

function cutAll(): number {
  const n = pairs.size;
  for (const { a, b } of pairs) {
    a.destroy();
    b.destroy();
  }
  pairs.clear();
  if (n > 0) cuts++;
  return n;
}

const server = tls.createServer({ cert: credentials.certPem, key: credentials.keyPem, minVersion: "TLSv1.2" }, (a) => {
  const conn = ++accepted;
  const b = tls.connect({ host: targetHost, port: targetPort, ca: credentials.caCertPem, checkServerIdentity: () => undefined });
  const pair = { a, b };
  pairs.add(pair);
  const early: Buffer[] = [];
  let up = false;
  const end = (): void => {
    a.destroy();
    b.destroy();
    pairs.delete(pair);
  };
  const record = (dir: "c2s" | "s2c"): { feed(c: Buffer): void } => {
    const split = new FrameSplitter();
    return {
      feed: (chunk: Buffer) => split.push(chunk, (header, body) => {
        const type = readHeader(header).type;
        const text = type === MsgType.RPC || type === MsgType.PassID ? body.toString("utf8") : body.toString("hex");
        frames.push({ conn, dir, headerHex: header.toString("hex"), type, body: text, t: Date.now() });
      }),
    };
  };
  const c2s = record("c2s");
  const s2c = record("s2c");
  b.once("secureConnect", () => {
    up = true;
    for (const c of early) b.write(c);
    early.length = 0;
  });
  a.on("data", (d: Buffer) => {
    const before = frames.length;
    try {
      c2s.feed(d);
    } catch {
      end();
      return;
    }
    if (up) b.write(d);
    else early.push(d);
    if (cutEvery > 0) {
      for (let i = before; i < frames.length; i++) if (frames[i]!.type === MsgType.RPC) requestsSinceCut++;
      if (requestsSinceCut >= cutEvery) {
        requestsSinceCut = 0;
        // Let the request reach proxyfsd first, so it runs while its reply has nowhere to go.
        setTimeout(cutAll, 2);
      }
    }
  });
  b.on("data", (d: Buffer) => {
    try {
      s2c.feed(d);
    } catch {
      end();
      return;
    }
    a.write(d);
  });
  for (const s of [a, b]) {
    s.on("close", end);
    s.on("error", end);
  }
});
const port = await new Promise<number>((resolve, reject) => {
  server.once("error", reject);
  server.listen(Number(arg("--listen-port") ?? 0), "127.0.0.1", () => resolve((server.address() as net.AddressInfo).port));
});
targetPort = Number(arg("--target-port") ?? port);

let httpConns = 0;
const hs = net.createServer((a) => {
    if (httpTarget === undefined) {
      a.destroy();
      return;
    }
    const rec = { conn: ++httpConns, request: "" };
    httpRecords.push(rec);
    const b = net.connect(Number(httpTarget), "127.0.0.1");
    a.on("data", (d: Buffer) => {
      rec.request += d.toString("latin1");
      b.write(d);
    });
    b.on("data", (d: Buffer) => a.write(d));
    const end = (): void => {
      a.destroy();
      b.destroy();
    };
    for (const s of [a, b]) {
      s.on("close", end);
      s.on("error", end);
    }
  });
const httpPort = await new Promise<number>((resolve) => hs.listen(0, "127.0.0.1", () => resolve((hs.address() as net.AddressInfo).port)));

const control = http.createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  const reply = (v: unknown): void => {
    res.setHeader("Content-Type", "application/json");
    res.end(JSON.stringify(v));
  };
  if (req.method === "GET" && url.pathname === "/records") return reply({ frames, http: httpRecords });
  if (req.method === "GET" && url.pathname === "/stats") return reply({ accepted, live: pairs.size, cuts });
  if (req.method === "POST" && url.pathname === "/reset") {
    frames.length = 0;
    httpRecords.length = 0;
    return reply({ ok: true });
  }
  if (req.method === "POST" && url.pathname === "/cut") return reply({ cut: cutAll() });
  if (req.method === "POST" && url.pathname === "/http-target") {
    httpTarget = url.searchParams.get("port") ?? undefined;
    return reply({ httpTarget });
  }
  if (req.method === "POST" && url.pathname === "/cut-every") {
    cutEvery = Number(url.searchParams.get("n") ?? 0);
    requestsSinceCut = 0;
    return reply({ cutEvery });
  }
  res.statusCode = 404;
  res.end(`no such control request ${req.method} ${url.pathname}`);
});
const controlPort = await new Promise<number>((resolve) => control.listen(0, "127.0.0.1", () => resolve((control.address() as net.AddressInfo).port)));
process.stdout.write(`${JSON.stringify({ port, httpPort, controlPort })}\n`);

process.on("SIGTERM", () => {
  cutAll();
  process.exit(0);
});
