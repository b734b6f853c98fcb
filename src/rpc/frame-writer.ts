// FrameWriter: batches frame writes on one socket.
// The first write of a tick corks the socket and a nextTick uncorks it, so every frame produced in
// the same tick (many replies resolved together, a reconnect's PassID + resends) leaves in one
// writev, which TLS turns into few records. Each frame is already a single buffer (frame.ts), so
// nothing is concatenated here.
// A peer that sends requests but never reads its replies would make the send buffer grow without
// bound; past `maxBufferedBytes` the socket is destroyed instead.

import type { Duplex } from "node:stream";

export class FrameWriter {
  #socket: Duplex;
  #maxBuffered: number;
  #corked = false;
  #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Duplex, maxBufferedBytes = Number.POSITIVE_INFINITY) {
    this.#socket = socket;
    this.#maxBuffered = maxBufferedBytes;
  }

  /** Queues one complete frame. Returns false when the socket is gone (the frame is dropped). */
  write(frame: Buffer): boolean {
    const s = this.#socket;
    if (s.destroyed || !s.writable) return false;
    if (!this.#corked) {
      this.#corked = true;
      s.cork();
      process.nextTick(this.#uncork);
    }
    s.write(frame);
    if (s.writableLength > this.#maxBuffered) {
      s.destroy(new Error(`peer is not reading: more than ${this.#maxBuffered} bytes waiting to be sent`));
      return false;
    }
    return true;
  }
}
