// Semaphore: a FIFO counting semaphore. The agent bounds its in-flight LogSegments with one
// (DirtyLogSegmentLimit, pfsagent.md §7.2): a write that needs a new LogSegment waits here, which
// is the write back-pressure; a token comes back when the LogSegment is PUT and RpcWrote is done.
//
// INVARIANT: available + (tokens held) == capacity; waiters are served in arrival order.
export class Semaphore {
  readonly capacity: number;
  #available: number;
  #waiters: Array<() => void> = [];

  constructor(capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`Semaphore capacity ${capacity} must be a positive integer`);
    this.capacity = capacity;
    this.#available = capacity;
  }

  get available(): number {
    return this.#available;
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  /** Resolves once a token is held by the caller. */
  acquire(): Promise<void> {
    if (this.#available > 0 && this.#waiters.length === 0) {
      this.#available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Takes a token only if one is free right now. */
  tryAcquire(): boolean {
    if (this.#available > 0 && this.#waiters.length === 0) {
      this.#available--;
      return true;
    }
    return false;
  }

  release(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else if (this.#available < this.capacity) this.#available++;
    else throw new Error("Semaphore released more often than acquired");
  }
}
