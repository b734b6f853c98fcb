// listAllObjects: pages through a whole listing with markers (one page is at most 10000 entries).
import type { ListOptions, ObjectEntry, ObjectStore } from "./object-store.js";

export async function* listAllObjects(store: ObjectStore, container: string, opts: Omit<ListOptions, "marker" | "limit"> = {}): AsyncGenerator<ObjectEntry> {
  let marker: string | undefined;
  for (;;) {
    const page = await store.listObjects(container, { ...opts, ...(marker !== undefined ? { marker } : {}) });
    if (page.length === 0) return;
    yield* page;
    const last = page[page.length - 1]!;
    marker = last.kind === "object" ? last.name : last.subdir;
  }
}
