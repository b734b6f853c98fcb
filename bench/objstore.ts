// Object-store benchmark (npm run bench:objstore = node dist/bench/objstore.js).
//
// Measures, in one run on this machine:
//  1. our SwiftObjectStore against real Swift beside curl doing the same requests
//     (PUT and GET of a 256 MiB object; PUT and GET of 4 KiB objects, sequential, one connection);
//  2. the embedded server (pfs-objserver, disk-backed under /srv, its own process) beside real
//     Swift, both driven by curl for 256 MiB and by our client for 4 KiB objects.
// Real Swift is started with scripts/swift-saio.sh if it is not answering.
// Each figure is the median of PFS_BENCH_REPS runs (default 3); runs of the compared pair are
// interleaved so drift in machine load hits both. Before each timed 256 MiB transfer the bench
// runs sync(1) (untimed), so no transfer pays for write-back or journal commits (e.g. blocks freed
// by the previous overwrite, with the `discard` mount option) left behind by the one before it,
// whichever server that was. The last line is
//   RESULT put_vs_curl=<x> get_vs_curl=<x> embedded_put_vs_swift=<x> embedded_get_vs_swift=<x>
// where the ratios are of 256 MiB throughputs (4 KiB ratios are printed above it).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { SwiftObjectStore, tempAuth, type ObjectStore } from "../src/objstore/index.js";

const MiB = 1 << 20;
const BIG = 256 * MiB;
const SMALL = 4096;
const SMALL_N = Number(process.env.PFS_BENCH_SMALL_N ?? 300);
const REPS = Number(process.env.PFS_BENCH_REPS ?? 3);
const SWIFT_AUTH = "http://127.0.0.1:8080/auth/v1.0";
const here = dirname(fileURLToPath(import.meta.url));

/** The repository root: two levels up from dist/bench/, else the current directory. */
function repoFile(rel: string): string {
  for (const base of [resolve(here, "..", ".."), resolve(here, ".."), process.cwd()]) {
    if (existsSync(join(base, rel))) return join(base, rel);
  }
  throw new Error(`cannot find ${rel} (looked beside ${here} and in ${process.cwd()})`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

async function authOk(url: string): Promise<{ token: string; storageUrl: string } | undefined> {
  try {
    return await tempAuth({ authUrl: url, user: "test:tester", key: "testing", timeoutMs: 3000 })();
  } catch {
    return undefined;
  }
}

function curl(args: string[]): { code: string; seconds: number } {
  const r = spawnSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", ...args], { encoding: "utf8" });
  if (r.error) throw new Error(`curl could not run (${r.error.message}); install it (apt-get install curl)`);
  const [code, t] = r.stdout.trim().split(" ");
  return { code: code ?? "", seconds: Number(t) };
}

function curlOk(what: string, r: { code: string; seconds: number }, want: string[]): number {
  if (!want.includes(r.code)) throw new Error(`curl ${what} answered ${r.code}`);
  return r.seconds;
}

/** One curl process doing n sequential transfers over one connection; returns ops/s. */
async function curlBatch(tmp: string, urls: string[], token: string, upload: string | undefined): Promise<number> {
  const cfg = join(tmp, "curl-batch.cfg");
  const lines = [`header = "X-Auth-Token: ${token}"`, "silent", "fail"];
  for (const u of urls) {
    lines.push(`url = "${u}"`, upload ? `upload-file = "${upload}"` : "", "output = /dev/null");
  }
  await writeFile(cfg, lines.filter(Boolean).join("\n"));
  const t0 = process.hrtime.bigint();
  const r = spawnSync("curl", ["-K", cfg], { encoding: "utf8" });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`curl batch failed with status ${r.status}: ${r.stderr}`);
  return urls.length / secs;
}

/** Flushes dirty state of earlier steps (both servers share the file system) outside the timings. */
function settle(): void {
  spawnSync("sync");
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function drain(store: ObjectStore, c: string, n: string): Promise<number> {
  const r = await store.getObjectStream(c, n);
  let bytes = 0;
  for await (const chunk of r.body) bytes += (chunk as Buffer).length;
  if (bytes !== r.info.size) throw new Error(`GET ${n}: got ${bytes} of ${r.info.size} bytes`);
  return bytes;
}

function objUrl(storageUrl: string, c: string, n: string): string {
  return `${storageUrl}/${encodeURIComponent(c)}/${encodeURIComponent(n)}`;
}

async function startEmbedded(dataDir: string): Promise<{ authUrl: string; stop: () => Promise<void> }> {
  const cmd = repoFile("src/cmd/pfs-objserver.js");
  const child = spawn(process.execPath, [cmd, "--dir", dataDir, "--port", "0", "--user", "test:tester:testing"], { stdio: ["ignore", "pipe", "inherit"] });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolveUrl(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`pfs-objserver exited with ${code} before listening`)));
  });
  return {
    authUrl: `${url}/auth/v1.0`,
    stop: () => new Promise<void>((r) => { child.on("exit", () => r()); child.kill("SIGTERM"); }),
  };
}

interface Figures { putMiBs: number; getMiBs: number; putOps: number; getOps: number }

async function main(): Promise<void> {
  if (spawnSync("curl", ["--version"]).error) throw new Error("curl is not installed (apt-get install curl)");
  let swift = await authOk(SWIFT_AUTH);
  if (!swift) {
    log("real Swift is not answering; starting it with scripts/swift-saio.sh");
    const r = spawnSync("bash", [repoFile("scripts/swift-saio.sh"), "start"], { stdio: "inherit" });
    if (r.status !== 0) throw new Error("scripts/swift-saio.sh start failed");
    swift = await authOk(SWIFT_AUTH);
    if (!swift) throw new Error("real Swift does not authenticate after start");
  }
  const tmp = "/dev/shm/pfs-objstore-bench";
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  const data = randomBytes(BIG);
  const small = randomBytes(SMALL);
  const bigFile = join(tmp, "big");
  const smallFile = join(tmp, "small");
  await writeFile(bigFile, data);
  await writeFile(smallFile, small);

  const embDir = "/srv/pfs-objserver-bench";
  await rm(embDir, { recursive: true, force: true });
  const emb = await startEmbedded(embDir);
  const embCreds = (await authOk(emb.authUrl))!;

  const container = `bench-${process.pid}`;
  const mkStore = (authUrl: string): SwiftObjectStore =>
    new SwiftObjectStore({ authenticate: tempAuth({ authUrl, user: "test:tester", key: "testing" }), retry: { limit: 2, delayMs: 200 }, timeoutMs: 120_000 });
  const swiftStore = mkStore(SWIFT_AUTH);
  const embStore = mkStore(emb.authUrl);
  await swiftStore.putContainer(container);
  await embStore.putContainer(container);

  const token = (c: { token: string }): string => c.token;
  const curlPutBig = (storageUrl: string, tok: string, name: string): number =>
    curlOk("PUT", curl(["-X", "PUT", "-T", bigFile, "-H", `X-Auth-Token: ${tok}`, objUrl(storageUrl, container, name)]), ["201"]);
  const curlGetBig = (storageUrl: string, tok: string, name: string): number =>
    curlOk("GET", curl(["-H", `X-Auth-Token: ${tok}`, objUrl(storageUrl, container, name)]), ["200"]);

  // ---- large objects: client vs curl on real Swift, and curl on embedded vs real Swift ----
  const t = { clientPut: [] as number[], clientGet: [] as number[], curlPut: [] as number[], curlGet: [] as number[], embPut: [] as number[], embGet: [] as number[] };
  await swiftStore.headAccount(); // authenticate outside the timings
  for (let i = 0; i < REPS; i++) {
    log(`large objects: round ${i + 1}/${REPS}`);
    settle();
    t.curlPut.push(BIG / MiB / curlPutBig(swift.storageUrl, token(swift), "big-curl"));
    settle();
    t.clientPut.push(BIG / MiB / (await timeIt(() => swiftStore.putObject(container, "big-client", data))));
    settle();
    t.embPut.push(BIG / MiB / curlPutBig(embCreds.storageUrl, token(embCreds), "big-curl"));
    settle();
    t.curlGet.push(BIG / MiB / curlGetBig(swift.storageUrl, token(swift), "big-curl"));
    settle();
    t.clientGet.push(BIG / MiB / (await timeIt(() => drain(swiftStore, container, "big-client"))));
    settle();
    t.embGet.push(BIG / MiB / curlGetBig(embCreds.storageUrl, token(embCreds), "big-curl"));
  }

  // ---- 4 KiB objects, sequential over one connection ----
  const names = Array.from({ length: SMALL_N }, (_, i) => `small/${String(i).padStart(5, "0")}`);
  const clientOps = async (store: ObjectStore): Promise<{ put: number; get: number }> => {
    const put = SMALL_N / (await timeIt(async () => { for (const n of names) await store.putObject(container, n, small); }));
    const get = SMALL_N / (await timeIt(async () => { for (const n of names) await store.getObject(container, n); }));
    return { put, get };
  };
  const s = { clientPut: [] as number[], clientGet: [] as number[], curlPut: [] as number[], curlGet: [] as number[], embPut: [] as number[], embGet: [] as number[] };
  for (let i = 0; i < REPS; i++) {
    log(`4 KiB objects: round ${i + 1}/${REPS}`);
    const urls = names.map((n) => objUrl(swift!.storageUrl, container, `${n}-curl`));
    s.curlPut.push(await curlBatch(tmp, urls, token(swift), smallFile));
    s.curlGet.push(await curlBatch(tmp, urls, token(swift), undefined));
    const c = await clientOps(swiftStore);
    s.clientPut.push(c.put);
    s.clientGet.push(c.get);
    const e = await clientOps(embStore);
    s.embPut.push(e.put);
    s.embGet.push(e.get);
  }

  const big: Record<string, Figures> = {
    "real Swift, curl": { putMiBs: median(t.curlPut), getMiBs: median(t.curlGet), putOps: median(s.curlPut), getOps: median(s.curlGet) },
    "real Swift, our client": { putMiBs: median(t.clientPut), getMiBs: median(t.clientGet), putOps: median(s.clientPut), getOps: median(s.clientGet) },
    "embedded server": { putMiBs: median(t.embPut), getMiBs: median(t.embGet), putOps: median(s.embPut), getOps: median(s.embGet) },
  };
  const f = (x: number): string => x.toFixed(1).padStart(9);
  console.log(`objstore benchmark: median of ${REPS} runs; 256 MiB single stream; ${SMALL_N} x 4 KiB sequential`);
  console.log(`${"".padEnd(24)}${"PUT MiB/s".padStart(10)}${"GET MiB/s".padStart(10)}${"PUT 4K/s".padStart(10)}${"GET 4K/s".padStart(10)}`);
  for (const [k, v] of Object.entries(big)) console.log(`${k.padEnd(24)}${f(v.putMiBs)} ${f(v.getMiBs)} ${f(v.putOps)} ${f(v.getOps)}`);
  console.log("(embedded 256 MiB figures are curl against the embedded server; 4 KiB figures of the embedded server and of \"our client\" use our client; \"curl\" 4 KiB is one curl process doing all transfers)");
  const sw = big["real Swift, curl"]!;
  const cl = big["real Swift, our client"]!;
  const em = big["embedded server"]!;
  const r = (a: number, b: number): string => (a / b).toFixed(2);
  console.log(`4 KiB ratios: client_put_vs_curl=${r(cl.putOps, sw.putOps)} client_get_vs_curl=${r(cl.getOps, sw.getOps)} embedded_put_vs_swift=${r(em.putOps, cl.putOps)} embedded_get_vs_swift=${r(em.getOps, cl.getOps)}`);

  // cleanup
  for (const st of [swiftStore, embStore]) {
    for (const n of [...names, "big-client", "big-curl"]) await st.deleteObject(container, n).catch(() => undefined);
    for (const n of names) await st.deleteObject(container, `${n}-curl`).catch(() => undefined);
    await st.deleteContainer(container).catch(() => undefined);
    await st.close();
  }
  await emb.stop();
  await rm(embDir, { recursive: true, force: true });
  await rm(tmp, { recursive: true, force: true });
  console.log(`RESULT put_vs_curl=${r(cl.putMiBs, sw.putMiBs)} get_vs_curl=${r(cl.getMiBs, sw.getMiBs)} embedded_put_vs_swift=${r(em.putMiBs, sw.putMiBs)} embedded_get_vs_swift=${r(em.getMiBs, sw.getMiBs)}`);
}

main().catch((err) => {
  console.error(`bench objstore: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
