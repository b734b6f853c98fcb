// BodySink: where DiskObjectStore.putObject streams a body: it writes the bytes to the temp file
// and computes their MD5; then the trailer goes after them. Two implementations: BufferedSink
// (this file: page-cache writes, any file system) and DirectSink (direct-sink.ts: O_DIRECT slabs).
// Contract: write() in order, then finish() once, then writeTrailer() once; close() always (also
// after a failure) and only it releases resources; after close() resolves no write or hash that
// could still touch the file or the caller's memory is in flight.
import { FileWriter } from "./file-writer.js";
import type { Md5Hasher } from "./md5-hasher.js";

export interface BodySink {
  /** Takes a chunk (the sink may keep a reference to it); when it returns a promise, await it first. */
  write(chunk: Buffer): void | Promise<void>;
  /** Hex MD5 of everything written. */
  finish(): Promise<string>;
  /** Appends `trailer` after the body and waits until all bytes are handed to the kernel (not synced). */
  writeTrailer(trailer: Buffer): Promise<void>;
  close(): Promise<void>;
}

export class BufferedSink implements BodySink {
  readonly #writer: FileWriter;
  readonly #md5: Md5Hasher;
  #finished = false;

  constructor(fd: number, md5: Md5Hasher) {
    this.#writer = new FileWriter(fd);
    this.#md5 = md5;
  }

  write(chunk: Buffer): void | Promise<void> {
    const hashWait = this.#md5.update(chunk);
    const full = !this.#writer.write(chunk);
    if (!full && !hashWait) return undefined;
    return Promise.all([hashWait, full ? this.#writer.drain() : undefined]).then(() => undefined);
  }

  async finish(): Promise<string> {
    const hex = await this.#md5.digest();
    this.#finished = true;
    return hex;
  }

  async writeTrailer(trailer: Buffer): Promise<void> {
    this.#writer.write(trailer);
    await this.#writer.flush();
  }

  async close(): Promise<void> {
    if (!this.#finished) this.#md5.abandon();
    // Writes in flight use the fd: let them end before the caller closes it.
    await this.#writer.flush().catch(() => undefined);
  }
}
