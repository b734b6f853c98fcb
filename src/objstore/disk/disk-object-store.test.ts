import { after } from "node:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { objectStoreConformance } from "../testing/object-store-conformance.js";
import { DiskObjectStore } from "./disk-object-store.js";

const dirs: string[] = [];
after(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }); });

// Large PUTs take the O_DIRECT path where the file system allows it and the buffered path
// otherwise: run the contract against both.
for (const directIo of [true, false]) {
  objectStoreConformance(directIo ? "disk" : "disk, buffered writes only", async () => {
    const d = await mkdtemp(join(tmpdir(), "objstore-disk-"));
    dirs.push(d);
    return DiskObjectStore.open({ dir: join(d, "acct"), directIo });
  });
}
