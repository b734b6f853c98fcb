// emptyAccount: deletes every object and container of the store's account. For cleanups of
// throw-away accounts (tests, benchmarks): an object that cannot be deleted is skipped, a container
// that vanished meanwhile is fine, any other failure to delete a container is thrown.
import { listAllObjects } from "./list-all.js";
import { ObjectStoreError } from "./object-store-error.js";
import type { ObjectStore } from "./object-store.js";

export async function emptyAccount(store: ObjectStore): Promise<void> {
  for (const c of await store.listContainers()) {
    try {
      for await (const e of listAllObjects(store, c.name)) if (e.kind === "object") await store.deleteObject(c.name, e.name).catch(() => {});
      await store.deleteContainer(c.name);
    } catch (err) {
      if (!ObjectStoreError.is(err, "NotFound")) throw err;
    }
  }
}
