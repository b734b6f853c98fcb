// A scriptable auth plug-in for tests, run as `node fake-auth-plugin.js <EnvName>`.
// FAKE_AUTH_DIR (required): a directory where it records each start ("starts", one pid per
// line), its argv and secrets blob ("argv-<pid>.json") and a clean stdin EOF ("eof-<pid>").
// FAKE_AUTH_MODE selects the behaviour:
//   normal        reply at start and for every stdin byte
//   split         like normal, but each reply is written in three pieces 30 ms apart
//   die-first     the first start writes to stderr and exits 1; later starts are normal
//   die           always writes to stderr and exits 1
//   garbage-first the first start prints non-JSON and stays up; later starts are normal
//   slow          waits FAKE_AUTH_DELAY_MS before every reply
//   hang          never replies
//   die-on-renew  normal at start, exits 3 without output on a renewal byte
// Reply: {"AuthToken":"tok-<start#>-<reply#>","StorageURL":"http://127.0.0.1:1/proxyfs/<Account>"}
// where Account comes from the JSON secrets blob in the environment variable named by argv.
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.env.FAKE_AUTH_DIR!;
const mode = process.env.FAKE_AUTH_MODE ?? "normal";
const delayMs = Number(process.env.FAKE_AUTH_DELAY_MS ?? "0");
const envName = process.argv[2] ?? "";
const blob = process.env[envName] ?? "";

appendFileSync(join(dir, "starts"), `${process.pid}\n`);
const startNo = readFileSync(join(dir, "starts"), "utf8").trim().split("\n").length;
writeFileSync(join(dir, `argv-${process.pid}.json`), JSON.stringify({ args: process.argv.slice(2), blob }));

let account = "AUTH_none";
try {
  account = (JSON.parse(blob) as { Account?: string }).Account ?? account;
} catch { /* no or non-JSON blob */ }

let replies = 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function reply(): Promise<void> {
  replies++;
  const text = JSON.stringify({ AuthToken: `tok-${startNo}-${replies}`, StorageURL: `http://127.0.0.1:1/proxyfs/${account}` });
  if (mode === "slow") await sleep(delayMs);
  if (mode === "hang") return;
  if (mode === "split") {
    for (const part of [text.slice(0, 5), text.slice(5, 20), text.slice(20)]) {
      process.stdout.write(part);
      await sleep(30);
    }
    return;
  }
  process.stdout.write(text);
}

if (mode === "die" || (mode === "die-first" && startNo === 1)) {
  process.stderr.write("fake plug-in: cannot authenticate\n");
  process.exit(1);
}
if (mode === "garbage-first" && startNo === 1) {
  process.stdout.write("this is not JSON\n");
} else {
  await reply();
}

let queue = Promise.resolve();
process.stdin.on("data", (chunk: Buffer) => {
  for (let i = 0; i < chunk.length; i++) {
    if (mode === "die-on-renew") process.exit(3);
    queue = queue.then(reply);
  }
});
process.stdin.on("end", () => {
  writeFileSync(join(dir, `eof-${process.pid}`), "");
  process.exit(0);
});
