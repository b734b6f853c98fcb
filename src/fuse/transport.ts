// FuseTransport: moves whole FUSE messages between the kernel and a FuseSession.
// DevFuseTransport reads /dev/fuse through libuv's epoll loop (a pipe handle opened on the
// device fd, reading into one preallocated buffer) and writes each reply with one synchronous
// writev, which the kernel requires (one write per reply) and which never blocks on /dev/fuse.
// MemoryTransport feeds byte fixtures to a session in tests, with no kernel.
import { closeSync, writevSync } from "node:fs";
import net from "node:net";

export interface FuseTransport {
  /**
   * Starts delivering requests. `onRequest` gets a view that is valid only during the call
   * (the transport reuses its buffer): decode or copy before returning.
   * `onClose` is called once when the channel ends: err undefined for a clean unmount (ENODEV).
   */
  start(onRequest: (msg: Buffer) => void, onClose: (err?: Error) => void): void;
  /** Stop reading until resume(): back-pressure when too many requests are in flight. */
  pause(): void;
  resume(): void;
  /**
   * Sends one complete message (the chunks are written as one write). The chunks are consumed
   * before send returns: the caller may reuse their memory afterwards.
   */
  send(chunks: Buffer[]): void;
  close(): void;
}

interface PipeHandleCtor {
  new (type: number): { open(fd: number): number };
}

export class DevFuseTransport implements FuseTransport {
  readonly fd: number;
  #socket: net.Socket | undefined;
  #buffer: Buffer;
  #closed = false;

  /** `fd` is an open /dev/fuse descriptor already attached to a mount; `bufferSize` >= max_write + 4 KiB. */
  constructor(fd: number, bufferSize: number) {
    this.fd = fd;
    this.#buffer = Buffer.allocUnsafe(bufferSize);
  }

  start(onRequest: (msg: Buffer) => void, onClose: (err?: Error) => void): void {
    // libuv's pipe handle accepts any pollable fd; net.Socket refuses character devices by
    // guessing their type, so the handle is made here and given to the socket ready-made.
    const binding = (process as unknown as { binding(name: string): { Pipe: PipeHandleCtor; constants: { SOCKET: number } } }).binding("pipe_wrap");
    const handle = new binding.Pipe(binding.constants.SOCKET);
    const rc = handle.open(this.fd);
    if (rc !== 0) throw new Error(`Cannot poll /dev/fuse fd ${this.fd}: libuv error ${rc}`);
    const buffer = this.#buffer;
    const socket = new net.Socket({
      handle: handle as never,
      readable: true,
      writable: false,
      onread: {
        buffer,
        callback: (n: number) => {
          onRequest(buffer.subarray(0, n));
          return true;
        },
      },
    } as net.SocketConstructorOpts);
    this.#socket = socket;
    let reported = false;
    const finish = (err?: Error) => {
      if (reported) return;
      reported = true;
      this.#closed = true;
      onClose(err);
    };
    socket.on("error", (err: NodeJS.ErrnoException) => {
      // ENODEV: the file system was unmounted (from here or from outside). ECONNABORTED: aborted
      // through /sys/fs/fuse/connections. Both end the session; only the second is an error.
      if (err.code === "ENODEV" || err.code === "EOF") finish();
      else finish(err);
    });
    socket.on("close", () => finish());
    socket.on("end", () => finish());
  }

  pause(): void {
    this.#socket?.pause();
  }

  resume(): void {
    this.#socket?.resume();
  }

  send(chunks: Buffer[]): void {
    if (this.#closed) return;
    try {
      writevSync(this.fd, chunks);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ENOENT: the request was interrupted and already answered by the kernel; ENODEV: unmounted.
      if (code === "ENOENT" || code === "ENODEV") return;
      throw err;
    }
  }

  close(): void {
    if (this.#socket) this.#socket.destroy();
    else {
      try { closeSync(this.fd); } catch { /* already closed */ }
    }
    this.#closed = true;
  }
}

/** In-memory transport for tests: push request bytes in, read replies out. */
export class MemoryTransport implements FuseTransport {
  readonly sent: Buffer[] = [];
  #onRequest: ((msg: Buffer) => void) | undefined;
  #onClose: ((err?: Error) => void) | undefined;
  #waiters: (() => void)[] = [];
  paused = false;

  start(onRequest: (msg: Buffer) => void, onClose: (err?: Error) => void): void {
    this.#onRequest = onRequest;
    this.#onClose = onClose;
  }

  /** Delivers one request message as the kernel would. */
  push(msg: Buffer): void {
    if (!this.#onRequest) throw new Error("MemoryTransport: session not started");
    this.#onRequest(msg);
  }

  pause(): void { this.paused = true; }
  resume(): void { this.paused = false; }

  send(chunks: Buffer[]): void {
    this.sent.push(Buffer.concat(chunks));
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  /** Resolves once at least `count` replies have been sent. */
  async waitForReplies(count: number): Promise<Buffer[]> {
    while (this.sent.length < count) await new Promise<void>((r) => this.#waiters.push(r));
    return this.sent;
  }

  /** Simulates the kernel ending the channel (ENODEV). */
  end(err?: Error): void {
    this.#onClose?.(err);
  }

  close(): void {}
}
