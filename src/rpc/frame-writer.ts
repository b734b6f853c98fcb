// FrameWriter: batches frame writes on one socket.
// The first write of a tick corks the socket and a nextTick uncorks it, so every frame produced in
// the same tick (many replies resolved together, a reconnect's PassID + resends) leaves in one
// writev, which TLS turns into few records. Each frame is already a single buffer (frame.ts), so
// nothing is concatenated here.

import type { Duplex } from "node:stream";

export class FrameWriter {
  #socket: Duplex;
  #corked = false;
  #uncork = (): void => {
    this.#corked = false;
    this.#socket.uncork();
  };

  constructor(socket: Duplex) {
    this.#socket = socket;
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
    return true;
  }
}
