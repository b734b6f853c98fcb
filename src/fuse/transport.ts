// FuseTransport: moves whole FUSE messages between the kernel and a FuseSession.
// DevFuseTransport reads /dev/fuse through libuv's epoll loop (a pipe handle opened on the
// device fd, reading into one preallocated buffer) and writes each reply with one synchronous
// writev, which the kernel requires (one write per reply) and which never blocks on /dev/fuse.
// Notifications may block in the kernel (they take inode and page locks that a request queued to
// this process can hold), so they go through sendAsync: one write(2) on a libuv thread-pool thread.
// MemoryTransport feeds byte fixtures to a session in tests, with no kernel.
import { closeSync, write, writevSync } from "node:fs";
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
  /**
   * Sends one complete message (a single buffer, written with one write) without ever blocking
   * the calling thread: for notifications, whose write the kernel may hold until a request queued
   * to this process is answered. Resolves when the write returned; rejects with its errno error
   * (code ENOENT, ENODEV, ...), or with code ENODEV once the transport is closed. The caller must
   * not modify `message` until the promise settles. Callers bound how many are outstanding.
   */
  sendAsync(message: Buffer): Promise<void>;
  close(): void;
}

function errnoError(code: string, message: string): NodeJS.ErrnoException {
  const err = new Error(message) as NodeJS.ErrnoException;
  err.code = code;
  return err;
}

interface PipeHandleCtor {
  new (type: number): { open(fd: number): number };
}

export class DevFuseTransport implements FuseTransport {
  readonly fd: number;
  #socket: net.Socket | undefined;
  #buffer: Buffer;
  #closed = false;
  /** sendAsync writes handed to libuv and not yet returned. */
  #asyncWrites = 0;
  /** Runs once #asyncWrites drops to 0: the fd is closed only then (see #whenWritesDone). */
  #afterWrites: (() => void)[] = [];

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
    // Destroying the socket closes the fd, also when Node does it by itself on a read error
    // (ENODEV at unmount). A sendAsync write queued in the thread pool but not yet running would
    // then write to a closed fd, or to whatever file reuses its number: the close waits for them.
    // (A write already inside the kernel holds its own reference to the file either way.)
    const s = socket as unknown as { _destroy(err: Error | null, cb: (err?: Error | null) => void): void };
    const destroyHandle = s._destroy;
    s._destroy = (err, cb) => {
      this.#closed = true;
      this.#whenWritesDone(() => destroyHandle.call(socket, err, cb));
    };
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

  sendAsync(message: Buffer): Promise<void> {
    if (this.#closed) return Promise.reject(errnoError("ENODEV", "the /dev/fuse channel is closed"));
    this.#asyncWrites++;
    return new Promise((resolve, reject) => {
      // One buffer and no position: libuv issues exactly one write(2) on a thread-pool thread.
      write(this.fd, message, 0, message.length, null, (err, n) => {
        if (--this.#asyncWrites === 0) {
          const after = this.#afterWrites;
          this.#afterWrites = [];
          for (const f of after) f();
        }
        if (err) reject(err);
        else if (n !== message.length) reject(new Error(`short write to /dev/fuse: ${n} of ${message.length} bytes`));
        else resolve();
      });
    });
  }

  #whenWritesDone(fn: () => void): void {
    if (this.#asyncWrites === 0) fn();
    else this.#afterWrites.push(fn);
  }

  close(): void {
    const wasClosed = this.#closed;
    this.#closed = true;
    if (this.#socket) this.#socket.destroy();
    else if (!wasClosed) {
      this.#whenWritesDone(() => {
        try { closeSync(this.fd); } catch { /* already closed */ }
      });
    }
  }
}

/** In-memory transport for tests: push request bytes in, read replies out. */
export class MemoryTransport implements FuseTransport {
  readonly sent: Buffer[] = [];
  #onRequest: ((msg: Buffer) => void) | undefined;
  #onClose: ((err?: Error) => void) | undefined;
  #waiters: (() => void)[] = [];
  paused = false;
  /**
   * Tests may stand in for the kernel's side of sendAsync: called with each message after it is
   * recorded in `sent`; the promise it returns is what sendAsync returns. Default: resolved.
   */
  onSendAsync: ((msg: Buffer) => Promise<void>) | undefined;

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

  sendAsync(message: Buffer): Promise<void> {
    this.send([message]);
    return this.onSendAsync ? this.onSendAsync(message) : Promise.resolve();
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
