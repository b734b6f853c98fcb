// Group-committed journal writer (LAYOUT.md §3). Committed transactions are appended as lines;
// the lines that accumulate while one batch PUT is in flight become the next batch, so any
// number of concurrent commits cost one PUT. Batches are written strictly one at a time in seq
// order, so the durable journal is always a gap-free prefix: batch k durable => all < k durable.
// A line is durable ("synced") when the PUT of its batch has returned.
import { ObjectStoreError, type ObjectStore } from "../../objstore/index.js";
import { journalName } from "./layout.js";

interface Waiter {
  upTo: number;
  resolve: () => void;
}

interface Batch {
  readonly seq: number;
  readonly lines: string[];
  /** Position (lines appended) covered once this batch is durable. */
  readonly upTo: number;
}

export interface JournalOptions {
  store: ObjectStore;
  container: string;
  epoch: number;
  /** First seq to write. */
  seq: number;
  log?: (level: "warn" | "error", message: string) => void;
  /**
   * While nobody waits for durability (early replies), lines gather this long before a batch is
   * written (fewer, larger PUTs); a sync() starts the write at once. 0 = write at once always.
   */
  lazyMs?: number;
}

export class JournalWriter {
  readonly #store: ObjectStore;
  readonly #container: string;
  readonly #epoch: number;
  readonly #log: (level: "warn" | "error", message: string) => void;
  #nextSeq: number;
  #pending: string[] = [];
  #appended = 0;
  #durable = 0;
  #bytesWritten = 0;
  readonly #queue: Batch[] = [];
  #writing = false;
  #scheduled = false;
  #waiters: Waiter[] = [];
  readonly #written: number[] = [];

  constructor(o: JournalOptions) {
    this.#store = o.store;
    this.#container = o.container;
    this.#epoch = o.epoch;
    this.#nextSeq = o.seq;
    this.#log = o.log ?? (() => {});
    this.#lazyMs = o.lazyMs ?? 0;
  }

  readonly #lazyMs: number;
  #lazyTimer: NodeJS.Timeout | undefined;

  get epoch(): number {
    return this.#epoch;
  }
  /** Lines appended so far (a position to sync through). */
  get position(): number {
    return this.#appended;
  }
  get durablePosition(): number {
    return this.#durable;
  }
  /** Bytes PUT since the writer started (for the checkpoint size trigger). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  append(line: string): void {
    this.#pending.push(line);
    this.#appended++;
    if (!this.#scheduled) {
      this.#scheduled = true;
      // After the current task: commits made in the same tick share a batch.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#kick();
      });
    }
  }

  /** Resolves when every line appended up to `position` (default: now) is durable. */
  sync(position = this.#appended): Promise<void> {
    if (this.#durable >= position) return Promise.resolve();
    const p = new Promise<void>((resolve) => this.#waiters.push({ upTo: position, resolve }));
    this.#kick(); // someone waits: no lazy gathering
    return p;
  }

  /**
   * Seals the pending lines into a batch and returns the seq the next batch will get: every
   * line appended before this call lives in a batch below it (a checkpoint's journal position).
   */
  cut(): number {
    this.#seal();
    this.#kickNow();
    return this.#nextSeq;
  }

  /** Seqs of batches written so far, oldest first (the caller deletes the trimmed ones). */
  takeWrittenBelow(seq: number): number[] {
    const out: number[] = [];
    while (this.#written.length > 0 && this.#written[0]! < seq) out.push(this.#written.shift()!);
    return out;
  }

  #seal(): void {
    if (this.#pending.length === 0) return;
    this.#queue.push({ seq: this.#nextSeq++, lines: this.#pending, upTo: this.#appended });
    this.#pending = [];
  }

  /** Starts the writer when idle; lines pending meanwhile wait for the next batch. */
  #kick(): void {
    if (this.#writing) return;
    if (this.#lazyMs > 0 && this.#waiters.length === 0 && this.#queue.length === 0) {
      this.#lazyTimer ??= setTimeout(() => {
        this.#lazyTimer = undefined;
        this.#kickNow();
      }, this.#lazyMs);
      return;
    }
    this.#kickNow();
  }

  #kickNow(): void {
    if (this.#lazyTimer !== undefined) {
      clearTimeout(this.#lazyTimer);
      this.#lazyTimer = undefined;
    }
    if (this.#writing) return;
    if (this.#queue.length === 0) this.#seal();
    if (this.#queue.length === 0) return;
    this.#writing = true;
    void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue[0]!;
      const body = Buffer.from(batch.lines.join("\n") + "\n", "utf8");
      const name = journalName(this.#epoch, batch.seq);
      for (let attempt = 1; ; attempt++) {
        try {
          await this.#store.putObject(this.#container, name, body, { contentType: "application/x-ndjson" });
          break;
        } catch (err) {
          if (ObjectStoreError.is(err, "NotFound")) {
            // The container vanished (a wiped store): recreate it rather than stall every reply.
            this.#log("error", `journal ${this.#container}/${name}: container missing; recreating it (the volume needs a checkpoint to be recoverable)`);
            await this.#store.putContainer(this.#container).catch(() => {});
          }
          // Later batches must not land before this one, so keep retrying it, forever: a store
          // that stays down blocks syncs (and thus replies: clients see their own deadline) but
          // never loses order, and giving up would leave this process serving in-memory changes
          // that can never become durable. Once the store answers again, everything resumes.
          if (attempt % 30 === 0) this.#log("error", `journal ${this.#container}/${name}: still failing after ${attempt} attempts (replies to mutations wait): ${(err as Error).message}`);
          this.#log("warn", `journal ${this.#container}/${name}: PUT failed (attempt ${attempt}): ${(err as Error).message}`);
          await new Promise((r) => setTimeout(r, Math.min(5000, 10 * 2 ** Math.min(attempt, 10))));
        }
      }
      this.#queue.shift();
      if (this.#queue.length === 0) this.#seal(); // everything that piled up meanwhile: one batch
      this.#written.push(batch.seq);
      this.#bytesWritten += body.length;
      this.#durable = batch.upTo;
      const still: Waiter[] = [];
      for (const w of this.#waiters) {
        if (w.upTo <= this.#durable) w.resolve();
        else still.push(w);
      }
      this.#waiters = still;
    }
    this.#writing = false;
  }
}
