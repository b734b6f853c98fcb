// Unprivileged mounting through fusermount3. The setuid helper passes the /dev/fuse fd back over
// a unix socket with SCM_RIGHTS, which Node.js cannot receive, so a small Python relay receives it
// and forwards whole messages over its stdin/stdout; RelayTransport speaks to that relay. Each
// message costs one extra copy through a pipe: root mounts (mount.ts) are the fast path.
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import type { FuseTransport } from "./transport.js";
import { FUSERMOUNT_RELAY_PY } from "./fusermount-relay-py.js";
import type { MountArgs } from "./mount.js";

export class RelayTransport implements FuseTransport {
  readonly #child: ChildProcess;
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  constructor(child: ChildProcess) {
    this.#child = child;
  }

  start(onRequest: (msg: Buffer) => void, onClose: (err?: Error) => void): void {
    const out = this.#child.stdout!;
    out.on("data", (chunk: Buffer) => {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      // Messages arrive back to back on the pipe; each begins with its u32 length.
      while (this.#pendingBytes >= 4) {
        const buf = this.#pending.length === 1 ? this.#pending[0]! : Buffer.concat(this.#pending);
        const len = buf.readUInt32LE(0);
        if (len < 4 || buf.length < len) {
          this.#pending = [buf];
          break;
        }
        onRequest(buf.subarray(0, len));
        const rest = buf.subarray(len);
        this.#pending = rest.length ? [rest] : [];
        this.#pendingBytes = rest.length;
      }
    });
    let done = false;
    const finish = (err?: Error) => { if (!done) { done = true; onClose(err); } };
    this.#child.on("exit", () => finish());
    this.#child.on("error", (err) => finish(err));
  }

  pause(): void { this.#child.stdout!.pause(); }
  resume(): void { this.#child.stdout!.resume(); }

  send(chunks: Buffer[]): void {
    // The relay reads each reply by its length and writes it to /dev/fuse in one write. The pipe
    // write is asynchronous, so the chunks are copied: callers may reuse them after send returns.
    this.#child.stdin!.write(Buffer.concat(chunks));
  }

  sendAsync(message: Buffer): Promise<void> {
    // The relay writes notifications to /dev/fuse from their own thread, so one the kernel holds
    // does not stop the replies behind it. It reports no result: this resolves once the message
    // is in the pipe, and ENOENT (nothing cached) or ENODEV are never seen here.
    const stdin = this.#child.stdin!;
    if (stdin.destroyed || stdin.writableEnded) {
      const err = new Error("the fusermount3 relay is gone") as NodeJS.ErrnoException;
      err.code = "ENODEV";
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => {
      stdin.write(message, (err) => {
        if (!err) return resolve();
        const e = err as NodeJS.ErrnoException;
        e.code = "ENODEV";
        reject(e);
      });
    });
  }

  close(): void {
    this.#child.stdin!.end();
    this.#child.kill("SIGTERM");
  }
}

/** Mounts through fusermount3 and returns a transport over the relay. */
export async function mountWithFusermount(args: MountArgs, bufferSize: number): Promise<RelayTransport> {
  const opts = [`fsname=${args.fsname}`, `subtype=${args.subtype}`];
  if (args.allowOther) opts.push("allow_other");
  if (args.defaultPermissions) opts.push("default_permissions");
  if (args.maxRead !== undefined) opts.push(`max_read=${args.maxRead}`);
  for (const o of args.extraOptions ?? []) opts.push(o);
  if (opts.some((o) => /[\0\n]/.test(o) || o.split(",").length > 1)) {
    throw new TypeError(`Cannot mount with options "${opts.join(",")}": a value contains a comma, NUL or newline`);
  }
  const child = spawn("python3", ["-c", FUSERMOUNT_RELAY_PY, resolve(args.mountpoint), opts.join(","), String(bufferSize)], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  await new Promise<void>((res, rej) => {
    let err = "";
    const onData = (d: Buffer) => {
      err += d.toString();
      if (err.includes("mounted\n")) {
        child.stderr!.off("data", onData);
        child.stderr!.resume();
        res();
      }
    };
    child.stderr!.on("data", onData);
    child.on("error", (e) => rej(new Error(`Cannot run the fusermount3 relay (python3): ${e.message}`)));
    child.on("exit", (code) => rej(new Error(`Cannot mount "${args.mountpoint}" as uid ${process.getuid?.()}: ${err.trim() || `relay exited ${code}`}`)));
  });
  child.removeAllListeners("exit");
  return new RelayTransport(child);
}
