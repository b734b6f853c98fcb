// Re-applying a committed transaction (a CommitRecord, as the commit hook handed it out) to a
// store: journal replay at recovery does this, and so do tests that rebuild a store from records.
import type { CommitRecord, VolumeStore } from "./volume-store.js";

/** Applies `r` in one transaction of `store`; on an error the transaction is aborted and rethrown. */
export function applyCommit(store: VolumeStore, r: CommitRecord): void {
  const tx = store.begin(r.op);
  try {
    for (const m of r.mutations) {
      switch (m.op) {
        case "putInode": tx.putInode(m.rec); break;
        case "deleteInode": tx.deleteInode(m.ino); break;
        case "putDirEntry": tx.putDirEntry(m.dir, m.name, m.entry); break;
        case "deleteDirEntry": tx.deleteDirEntry(m.dir, m.name); break;
        case "createDir": tx.createDir(m.dir); break;
        case "deleteDir": tx.deleteDir(m.dir); break;
        case "extents": tx.updateExtents(m.ino, (map) => {
          map.apply(m.delta);
          return m.delta;
        }); break;
        case "deleteExtentMap": tx.deleteExtentMap(m.ino); break;
        case "putSegment": tx.putSegment(m.segment, m.container); break;
        case "deleteSegment": tx.deleteSegment(m.segment); break;
        case "nonce": break; // nonces are restored from reservations, not per allocation
      }
    }
    tx.commit();
  } catch (err) {
    tx.abort();
    throw err;
  }
}
