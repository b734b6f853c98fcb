#!/usr/bin/env node
// pfsagentd-swift-auth-plugin <PlugInEnvName>
//
// The reference auth plug-in of pfsagentd (pfsagent.md §4, protocol doc §2): Swift v1 "tempauth".
// The environment variable named by the only argument holds a JSON blob
//   {"AuthURL":"http://host:8080/auth/v1.0","AuthUser":"test:tester","AuthKey":"testing","Account":"AUTH_test"}
// At start, and again for every byte read on stdin, it sends `GET <AuthURL>` with X-Auth-User and
// X-Auth-Key, requires 200, and prints {"AuthToken":<X-Auth-Token>,"StorageURL":<X-Storage-Url
// rewritten to /proxyfs/<Account>>} on stdout with no newline. stdin EOF ⇒ exit 0. Any failure ⇒
// a message on stderr and exit 1 (the agent logs it and restarts the plug-in).
import { readFileSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "lossless-json";
import { rewriteStorageURL } from "../agent/auth/index.js";

/** No reply from the auth endpoint within this long is a failure (the Go client had no timeout). */
const AUTH_TIMEOUT_MS = 60_000;

interface SwiftAuthBlob {
  readonly AuthURL: string;
  readonly AuthUser: string;
  readonly AuthKey: string;
  readonly Account: string;
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** "PFSAgent-Auth <version>", the version taken from the nearest package.json of this project. */
function userAgent(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "proxyfs" && typeof pkg.version === "string") return `PFSAgent-Auth ${pkg.version}`;
    } catch { /* keep looking */ }
    if (dirname(dir) === dir) return "PFSAgent-Auth 0.0.0";
    dir = dirname(dir);
  }
}

function readBlob(envName: string): SwiftAuthBlob {
  const text = process.env[envName];
  if (text === undefined) fail(`Environment variable ${envName} (named by PlugInEnvName) is not set`);
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    fail(`Cannot parse ${envName} as JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const v = (value ?? {}) as Record<string, unknown>;
  for (const key of ["AuthURL", "AuthUser", "AuthKey", "Account"]) {
    if (typeof v[key] !== "string") fail(`${envName} must be a JSON object with string ${key} (and AuthURL, AuthUser, AuthKey, Account)`);
  }
  return v as unknown as SwiftAuthBlob;
}

function get(url: URL, headers: Record<string, string>): Promise<IncomingMessage> {
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, { method: "GET", headers, agent: false, timeout: AUTH_TIMEOUT_MS }, resolve);
    req.on("timeout", () => req.destroy(new Error(`no response within ${AUTH_TIMEOUT_MS} ms`)));
    req.on("error", reject);
    req.end();
  });
}

async function authenticate(blob: SwiftAuthBlob, agentName: string): Promise<string> {
  let url: URL;
  try {
    url = new URL(blob.AuthURL);
  } catch {
    fail(`AuthURL ${JSON.stringify(blob.AuthURL)} is not a valid URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") fail(`AuthURL ${JSON.stringify(blob.AuthURL)} must be http:// or https://`);
  let res: IncomingMessage;
  try {
    res = await get(url, { "User-Agent": agentName, "X-Auth-Key": blob.AuthKey, "X-Auth-User": blob.AuthUser });
  } catch (err) {
    fail(`GET ${blob.AuthURL} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  res.resume(); // tempauth's body is irrelevant; drain it
  if (res.statusCode !== 200) fail(`GET ${blob.AuthURL} returned ${res.statusCode} ${res.statusMessage ?? ""}, expected 200`.trimEnd());
  const token = res.headers["x-auth-token"];
  const storageURL = res.headers["x-storage-url"];
  if (typeof token !== "string" || token === "") fail(`GET ${blob.AuthURL} returned no X-Auth-Token`);
  if (typeof storageURL !== "string" || storageURL === "") fail(`GET ${blob.AuthURL} returned no X-Storage-Url`);
  let rewritten: string;
  try {
    rewritten = rewriteStorageURL({ authURL: blob.AuthURL, storageURL, account: blob.Account });
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err));
  }
  return JSON.stringify({ AuthToken: token, StorageURL: rewritten });
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args.length === 0) fail("Missing PlugInEnvName");
  if (args.length > 1) fail(`Superfluous arguments (only PlugInEnvName expected): ${args.slice(1).join(" ")}`);
  const blob = readBlob(args[0]!);
  const agentName = userAgent();

  const authOnce = async (): Promise<void> => {
    const reply = await authenticate(blob, agentName);
    await new Promise<void>((resolve) => process.stdout.write(reply, () => resolve()));
  };

  // Replies go out strictly in order: one per start plus one per stdin byte.
  let queue = authOnce();
  process.stdin.on("data", (chunk: Buffer) => {
    for (let i = 0; i < chunk.length; i++) queue = queue.then(authOnce);
  });
  process.stdin.on("end", () => {
    void queue.then(() => process.exit(0));
  });
  process.stdin.on("error", (err) => fail(`Reading stdin failed: ${err.message}`));
}

void main();
