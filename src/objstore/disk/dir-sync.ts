// Coalesced directory fsync: callers that need a directory entry change to be durable call
// sync(dir). While one fsync of a directory runs, later callers share the next one (which starts
// after it and therefore covers their changes), so N concurrent small PUTs cost about two
// directory fsyncs instead of N.
import { open } from "node:fs/promises";

interface DirState {
  running: Promise<void> | undefined;
  next: Promise<void> | undefined;
}

export class DirSync {
  readonly #dirs = new Map<string, DirState>();

  sync(dir: string): Promise<void> {
    let st = this.#dirs.get(dir);
    if (!st) {
      st = { running: undefined, next: undefined };
      this.#dirs.set(dir, st);
    }
    const s = st;
    if (!s.running) {
      s.running = this.#run(dir, s);
      return s.running;
    }
    if (!s.next) {
      s.next = s.running.catch(() => undefined).then(() => {
        s.next = undefined;
        s.running = this.#run(dir, s);
        return s.running;
      });
    }
    return s.next;
  }

  async #run(dir: string, s: DirState): Promise<void> {
    try {
      const fh = await open(dir, "r");
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    } finally {
      s.running = undefined;
      if (!s.next) this.#dirs.delete(dir);
    }
  }
}
