// The retryrpc methods of proxyfsd over Volume, with 1.17.1 semantics (protocol doc §7, §9):
// * every request names a MountID; an unknown one is "errno: 22" (RpcLease: its plain-text error);
// * Create/Mkdir/Symlink/Access run as the request's UserID/GroupID, everything else as root
//   (the agent does its own permission checks), as 1.17.1;
// * RpcRename replaces and destroys the target; RpcUnlink destroys at link count 0;
// * reply values 1.17.1 leaves zero stay zero (Reply timestamps, AttrValueSize, Access InodeNumber);
// * extension methods (RpcRename2, RpcFallocate, RpcSeek, RpcMknod) answer "errno: 2", as an unknown method
//   does, unless their capability was agreed for the MountID;
// * StatStructs carry AllocatedBytes and Rdev only for a mount that agreed StatExtended;
// * RpcStatVFS free/avail counts track usage (Volume.statfs), totals stay as configured.
// Volume methods are synchronous, so each RPC is atomic with respect to every other.

import { Errno, FsError } from "../../base/errno.js";
import { RpcHandlerError } from "../../rpc/index.js";
import type { ObjectStore } from "../../objstore/index.js";
import {
  Capability, LeaseRequestType, UNKNOWN_MOUNT_ERRSTR, leaseUnknownMountErrstr, SEEK_DATA, SEEK_HOLE,
  SETATTR_ATIME, SETATTR_GID, SETATTR_MODE, SETATTR_MTIME, SETATTR_SIZE, SETATTR_UID,
  type ProxyFsHandlers, type StatStruct, type Reply, type DirEntry as WireDirEntry, type LookupPlusReply,
} from "../../proto/index.js";
import { replayOps } from "./replay.js";
import { ROOT_CALLER, type Attr, type Caller } from "../types.js";
import type { Volume, DirEntry } from "../volume.js";
import type { LeaseManager } from "./lease-manager.js";
import type { Mount, MountTable } from "./mount-table.js";

/** One volume as the server serves it. */
export interface ServedVolume {
  readonly name: string;
  readonly accountName: string;
  readonly volume: Volume;
  readonly objectStore: ObjectStore | undefined;
  readonly leases: LeaseManager;
  /** Log-segment containers known to exist (or being created) in the object store. */
  readonly containers: Map<string, Promise<void>>;
}

export interface HandlerContext {
  readonly mounts: MountTable<ServedVolume>;
  /** Called before each RpcLease (1.17.1 runs delayed unmounts there). */
  readonly beforeLease?: () => void;
  readonly log: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

const ZERO_REPLY: Reply = Object.freeze({ RequestTimeSec: 0n, RequestTimeNsec: 0n, SendTimeSec: 0n, SendTimeNsec: 0n });
/** Upper bound on entries per readdir/extent-map reply whatever the client asks (replies stay < 64 MiB). */
const MAX_ENTRIES = 65536;

/**
 * The wire StatStruct of `a`. With `extended` (the mount agreed StatExtended) it also carries
 * AllocatedBytes and Rdev; without, it is exactly 1.17.1's (the optional fields stay unset).
 */
export function statOf(a: Attr, extended?: { allocatedBytes: bigint }): StatStruct {
  const st: StatStruct = {
    CTimeNs: a.ctimeNs, CRTimeNs: a.crtimeNs, MTimeNs: a.mtimeNs, ATimeNs: a.atimeNs, Size: a.size,
    NumLinks: BigInt(a.nlink), StatInodeNumber: a.ino, FileMode: a.mode, UserID: a.uid, GroupID: a.gid,
  };
  if (extended !== undefined) {
    st.AllocatedBytes = extended.allocatedBytes;
    st.Rdev = a.rdev;
  }
  return st;
}

function dirEnt(e: DirEntry): WireDirEntry {
  return { InodeNumber: e.ino, FileType: e.type, Basename: e.name, NextDirLocation: e.nextLoc };
}

function clampCount(n: bigint): number {
  return n > BigInt(MAX_ENTRIES) ? MAX_ENTRIES : Number(n);
}

/** The request's ids as a Caller (Go int32 on the wire; negative ids are not valid owners). */
function callerOf(uid: number, gid: number): Caller {
  if (uid < 0 || gid < 0) throw new FsError(Errno.EINVAL, `negative UserID/GroupID ${uid}/${gid}`);
  return { uid, gid };
}

export function createRpcHandlers(ctx: HandlerContext): ProxyFsHandlers {
  const renameInos = (mountId: string, req: Parameters<typeof renameInosOf>[1]): bigint[] => renameInosOf(vol(mountId), req);
  const mountOf = (mountId: string): Mount<ServedVolume> => {
    const m = ctx.mounts.get(mountId);
    if (m === undefined) throw new RpcHandlerError(UNKNOWN_MOUNT_ERRSTR);
    return m;
  };
  const vol = (mountId: string): Volume => mountOf(mountId).volume.volume;
  const extension = (mountId: string, capability: string): Volume => {
    const m = mountOf(mountId);
    // Not agreed: exactly what an unknown method gets (README "Extensions").
    if (!m.capabilities.has(capability)) throw new FsError(Errno.ENOENT, `capability ${capability} not agreed`);
    return m.volume.volume;
  };
  /**
   * Runs `apply` once no mount other than `mountId` holds a lease on `inos` or on a directory
   * covering them (LeaseManager.fence): synchronously when none does, else right after they
   * are revoked (no await between the revocation and the change, see fence()).
   */
  const fenced = <T>(mountId: string, inos: readonly bigint[], apply: () => T): T | Promise<T> => {
    const wait = mountOf(mountId).volume.leases.fence(mountId, inos);
    return wait === undefined ? apply() : wait.then(apply);
  };
  /** The inode `name` in `dir` names now, if any (the victim a removal or rename will touch). */
  const entryIno = (mountId: string, dir: bigint, name: string): bigint[] => {
    try {
      return [vol(mountId).lookup(ROOT_CALLER, dir, name).ino];
    } catch {
      return [];
    }
  };
  /** MetaCache: record that `mountId` learned `child`'s attributes under its lease on `dir`. */
  const covers = (mountId: string, dir: bigint, child: bigint): void => {
    const m = mountOf(mountId);
    if (m.capabilities.has(Capability.MetaCache)) m.volume.leases.cover(mountId, dir, child);
  };
  const plusOf = (mountId: string, dir: bigint, a: Attr): LookupPlusReply => {
    covers(mountId, dir, a.ino);
    return { InodeNumber: a.ino, ...statFor(mountId)(a) };
  };

  /** statOf for this mount: extended fields only when it agreed StatExtended. */
  const statFor = (mountId: string): ((a: Attr) => StatStruct) => {
    const m = mountOf(mountId);
    if (!m.capabilities.has(Capability.StatExtended)) return (a) => statOf(a);
    const v = m.volume.volume;
    return (a) => statOf(a, { allocatedBytes: v.allocatedBytes(a.ino) });
  };

  const self: ProxyFsHandlers = {
    RpcPing: async (req) => ({ Message: `pong ${Buffer.byteLength(req.Message)} bytes` }),

    RpcLease: async (req) => {
      ctx.beforeLease?.();
      const m = ctx.mounts.get(req.MountID);
      if (m === undefined) throw new RpcHandlerError(leaseUnknownMountErrstr(req.MountID));
      return { LeaseReplyType: await m.volume.leases.request(req.MountID, req.InodeNumber, req.LeaseRequestType) };
    },

    RpcGetStat: async (req) => statFor(req.MountID)(vol(req.MountID).getattr(req.InodeNumber)),

    RpcLookup: async (req) => ({ InodeNumber: vol(req.MountID).lookup(ROOT_CALLER, req.InodeNumber, req.Basename).ino }),

    RpcLookupPlus: async (req) => plusOf(req.MountID, req.InodeNumber, vol(req.MountID).lookup(ROOT_CALLER, req.InodeNumber, req.Basename)),

    RpcCreate: async (req) => ({
      InodeNumber: (await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).create(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode & 0o7777))).ino,
    }),

    RpcMkdir: async (req) => ({
      InodeNumber: (await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).mkdir(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode & 0o7777))).ino,
    }),

    RpcSymlink: async (req) => ({
      InodeNumber: (await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).symlink(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.Target))).ino,
    }),

    RpcReadSymlink: async (req) => ({ Target: vol(req.MountID).readlink(req.InodeNumber) }),

    RpcLink: async (req) => {
      await fenced(req.MountID, [req.InodeNumber, req.TargetInodeNumber], () => vol(req.MountID).link(ROOT_CALLER, req.TargetInodeNumber, req.InodeNumber, req.Basename));
      return ZERO_REPLY;
    },

    RpcUnlink: async (req) => {
      const inos = [req.InodeNumber, ...entryIno(req.MountID, req.InodeNumber, req.Basename)];
      await fenced(req.MountID, inos, () => vol(req.MountID).unlink(ROOT_CALLER, req.InodeNumber, req.Basename));
      return ZERO_REPLY;
    },

    RpcRmdir: async (req) => {
      const inos = [req.InodeNumber, ...entryIno(req.MountID, req.InodeNumber, req.Basename)];
      await fenced(req.MountID, inos, () => vol(req.MountID).rmdir(ROOT_CALLER, req.InodeNumber, req.Basename));
      return ZERO_REPLY;
    },

    RpcRename: async (req) => {
      await fenced(req.MountID, renameInos(req.MountID, req), () =>
        vol(req.MountID).rename(ROOT_CALLER, req.SrcDirInodeNumber, req.SrcBasename, req.DstDirInodeNumber, req.DstBasename, 0));
      return ZERO_REPLY;
    },

    RpcChmod: async (req) => {
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).setattr(ROOT_CALLER, req.InodeNumber, { mode: req.FileMode & 0o7777 }));
      return ZERO_REPLY;
    },

    RpcChown: async (req) => {
      const ch: { uid?: number; gid?: number } = {};
      if (req.UserID !== -1) ch.uid = callerOf(req.UserID, 0).uid;
      if (req.GroupID !== -1) ch.gid = callerOf(0, req.GroupID).gid;
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).setattr(ROOT_CALLER, req.InodeNumber, ch));
      return ZERO_REPLY;
    },

    RpcResize: async (req) => {
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).setattr(ROOT_CALLER, req.InodeNumber, { size: req.NewSize }));
      return ZERO_REPLY;
    },

    RpcSetTime: async (req) => {
      const ch: { atimeNs?: bigint; mtimeNs?: bigint } = {};
      if (req.ATimeNs !== 0n) ch.atimeNs = req.ATimeNs;
      if (req.MTimeNs !== 0n) ch.mtimeNs = req.MTimeNs;
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).setattr(ROOT_CALLER, req.InodeNumber, ch));
      return ZERO_REPLY;
    },

    RpcAccess: async (req) => {
      vol(req.MountID).access(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.AccessMode);
      return { InodeNumber: 0n };
    },

    RpcStatVFS: async (req) => {
      const s = vol(req.MountID).statfs();
      return {
        BlockSize: s.blockSize, FragmentSize: s.fragmentSize, TotalBlocks: s.totalBlocks, FreeBlocks: s.freeBlocks,
        AvailBlocks: s.availBlocks, TotalInodes: s.totalInodes, FreeInodes: s.freeInodes, AvailInodes: s.availInodes,
        FileSystemID: s.fsid, MountFlags: s.mountFlags, MaxFilenameLen: s.maxNameLen,
      };
    },

    RpcReaddirByLoc: async (req) => {
      const ents = vol(req.MountID).readdirByLoc(ROOT_CALLER, req.InodeNumber, req.PrevDirEntLocation, clampCount(req.MaxEntries), false);
      return { DirEnts: ents.map(dirEnt) };
    },

    RpcReaddirPlusByLoc: async (req) => {
      const ents = vol(req.MountID).readdirByLoc(ROOT_CALLER, req.InodeNumber, req.PrevDirEntLocation, clampCount(req.MaxEntries), true);
      for (const e of ents) covers(req.MountID, req.InodeNumber, e.ino);
      const stat = statFor(req.MountID);
      return { DirEnts: ents.map(dirEnt), StatEnts: ents.map((e) => stat(e.attr!)) };
    },

    RpcGetXAttr: async (req) => {
      const v = vol(req.MountID).getxattr(ROOT_CALLER, req.InodeNumber, req.AttrName);
      // 1.17.1 never fills in AttrValueSize.
      return { AttrValueSize: 0n, AttrValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength) };
    },

    RpcSetXAttr: async (req) => {
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).setxattr(ROOT_CALLER, req.InodeNumber, req.AttrName, req.AttrValue, req.AttrFlags));
      return ZERO_REPLY;
    },

    RpcListXAttr: async (req) => ({ AttrNames: vol(req.MountID).listxattr(ROOT_CALLER, req.InodeNumber) }),

    RpcRemoveXAttr: async (req) => {
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).removexattr(ROOT_CALLER, req.InodeNumber, req.AttrName));
      return ZERO_REPLY;
    },

    RpcProvisionObject: async (req) => {
      const served = mountOf(req.MountID).volume;
      const p = served.volume.provisionObject();
      await ensureContainer(served, p.containerName, ctx.log);
      return { PhysPath: p.physPath };
    },

    RpcWrote: async (req) => {
      const n = req.FileOffset.length;
      if (req.ObjectOffset.length !== n || req.Length.length !== n) {
        throw new FsError(Errno.EINVAL, `RpcWrote: FileOffset/ObjectOffset/Length have ${n}/${req.ObjectOffset.length}/${req.Length.length} entries`);
      }
      const extents = req.FileOffset.map((fileOffset, i) => ({ fileOffset, objectOffset: req.ObjectOffset[i]!, length: req.Length[i]! }));
      await fenced(req.MountID, [req.InodeNumber], () => vol(req.MountID).wrote(ROOT_CALLER, req.InodeNumber, { containerName: req.ContainerName, objectName: req.ObjectName, extents }));
      return {};
    },

    RpcFetchExtentMapChunk: async (req) => {
      const maxFrom = req.MaxEntriesFromFileOffset > BigInt(MAX_ENTRIES) ? MAX_ENTRIES : Number(req.MaxEntriesFromFileOffset);
      const maxBefore = req.MaxEntriesBeforeFileOffset > BigInt(MAX_ENTRIES) ? MAX_ENTRIES : Number(req.MaxEntriesBeforeFileOffset);
      const c = vol(req.MountID).fetchExtentMapChunk(req.InodeNumber, req.FileOffset, maxFrom, maxBefore);
      return {
        FileOffsetRangeStart: c.rangeStart, FileOffsetRangeEnd: c.rangeEnd, FileSize: c.fileSize,
        ExtentMapEntry: c.extents.map((e) => ({
          FileOffset: e.fileOffset, LogSegmentOffset: e.segmentOffset, Length: e.length, ContainerName: e.containerName, ObjectName: e.objectName,
        })),
      };
    },

    // ---- extensions (only with the agreed capability) ----

    RpcRename2: async (req) => {
      const v = extension(req.MountID, Capability.Rename2);
      await fenced(req.MountID, renameInos(req.MountID, req), () =>
        v.rename(ROOT_CALLER, req.SrcDirInodeNumber, req.SrcBasename, req.DstDirInodeNumber, req.DstBasename, req.Flags));
      return ZERO_REPLY;
    },

    RpcFallocate: async (req) => {
      const v = extension(req.MountID, Capability.Fallocate);
      await fenced(req.MountID, [req.InodeNumber], () => v.fallocate(ROOT_CALLER, req.InodeNumber, req.Mode, req.Offset, req.Length));
      return ZERO_REPLY;
    },

    RpcSeek: async (req) => {
      const v = extension(req.MountID, Capability.SeekDataHole);
      if (req.Whence !== SEEK_DATA && req.Whence !== SEEK_HOLE) throw new FsError(Errno.EINVAL, `RpcSeek: Whence ${req.Whence} is not SEEK_DATA (3) or SEEK_HOLE (4)`);
      return { Offset: v.seek(req.InodeNumber, req.Offset, req.Whence === SEEK_DATA ? "data" : "hole") };
    },

    RpcMountsAlive: async (req) => {
      extension(req.MountID, Capability.MountsAlive);
      if (req.MountIDs.length > MAX_ENTRIES) throw new FsError(Errno.EINVAL, `RpcMountsAlive: ${req.MountIDs.length} MountIDs, at most ${MAX_ENTRIES}`);
      return { Alive: req.MountIDs.map((id) => ctx.mounts.mayBeAlive(id)) };
    },

    // Like RpcCreate, runs as the request's ids: a device node needs root (Volume.mknod: EPERM).
    RpcMknod: async (req) => {
      const v = extension(req.MountID, Capability.Mknod);
      return { InodeNumber: (await fenced(req.MountID, [req.InodeNumber], () => v.mknod(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode, req.Rdev))).ino };
    },

    // ---- Plus: one round trip, the new attributes in the reply ----

    RpcCreatePlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      const a = await fenced(req.MountID, [req.InodeNumber], () => {
        const made = v.create(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode & 0o7777);
        // CreateLease: in the same tick as the create, before any other mount can name the inode,
        // so the grant is immediate.
        const m = mountOf(req.MountID);
        if (m.capabilities.has(Capability.CreateLease)) {
          const granted = m.volume.leases.request(req.MountID, made.ino, LeaseRequestType.Exclusive);
          if (typeof granted !== "number") void granted.catch(() => {}); // cannot happen for a new inode
        }
        return made;
      });
      return plusOf(req.MountID, req.InodeNumber, a);
    },

    RpcMkdirPlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      return plusOf(req.MountID, req.InodeNumber, await fenced(req.MountID, [req.InodeNumber], () =>
        v.mkdir(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode & 0o7777)));
    },

    RpcSymlinkPlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      return plusOf(req.MountID, req.InodeNumber, await fenced(req.MountID, [req.InodeNumber], () =>
        v.symlink(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.Target)));
    },

    RpcMknodPlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      return plusOf(req.MountID, req.InodeNumber, await fenced(req.MountID, [req.InodeNumber], () =>
        v.mknod(callerOf(req.UserID, req.GroupID), req.InodeNumber, req.Basename, req.FileMode, req.Rdev)));
    },

    RpcLinkPlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      return plusOf(req.MountID, req.InodeNumber, await fenced(req.MountID, [req.InodeNumber, req.TargetInodeNumber], () =>
        v.link(ROOT_CALLER, req.TargetInodeNumber, req.InodeNumber, req.Basename)));
    },

    RpcSetAttrPlus: async (req) => {
      const v = extension(req.MountID, Capability.Plus);
      const ch: { mode?: number; uid?: number; gid?: number; size?: bigint; atimeNs?: bigint; mtimeNs?: bigint } = {};
      if (req.Valid & SETATTR_MODE) ch.mode = req.FileMode & 0o7777;
      if (req.Valid & SETATTR_UID) ch.uid = callerOf(req.UserID, 0).uid;
      if (req.Valid & SETATTR_GID) ch.gid = callerOf(0, req.GroupID).gid;
      if (req.Valid & SETATTR_SIZE) ch.size = req.Size;
      if (req.Valid & SETATTR_ATIME) ch.atimeNs = req.ATimeNs;
      if (req.Valid & SETATTR_MTIME) ch.mtimeNs = req.MTimeNs;
      return statFor(req.MountID)(await fenced(req.MountID, [req.InodeNumber], () => v.setattr(ROOT_CALLER, req.InodeNumber, ch)));
    },

    // ---- EarlyReply (the durability wait itself is volume-server.ts's, around every handler) ----

    RpcSync: async (req) => {
      extension(req.MountID, Capability.EarlyReply);
      return {};
    },

    RpcReplay: async (req) => {
      const v = extension(req.MountID, Capability.EarlyReply);
      return { Outcomes: await replayOps(req.Ops, { mountId: req.MountID, volume: v, handlers: self, fence: (inos) => mountOf(req.MountID).volume.leases.fence(req.MountID, inos) }) };
    },
  };
  return self;
}

/** Directories and inodes a rename changes: both parents, the moved inode and a replaced one. */
function renameInosOf(v: Volume, req: { SrcDirInodeNumber: bigint; SrcBasename: string; DstDirInodeNumber: bigint; DstBasename: string }): bigint[] {
  const out = [req.SrcDirInodeNumber, req.DstDirInodeNumber];
  for (const [d, n] of [[req.SrcDirInodeNumber, req.SrcBasename], [req.DstDirInodeNumber, req.DstBasename]] as const) {
    try {
      out.push(v.lookup(ROOT_CALLER, d, n).ino);
    } catch {
      // absent: the rename itself reports it
    }
  }
  return out;
}

/**
 * Creates a log-segment container in the object store once (the agent PUTs objects into it and
 * a PUT into a missing container fails). A failed creation is forgotten so the next
 * ProvisionObject retries it; the RPC fails with EIO meanwhile.
 */
async function ensureContainer(served: ServedVolume, container: string, log: HandlerContext["log"]): Promise<void> {
  const store = served.objectStore;
  if (store === undefined) return;
  let p = served.containers.get(container);
  if (p === undefined) {
    p = store.putContainer(container).then(() => undefined);
    served.containers.set(container, p);
  }
  try {
    await p;
  } catch (err) {
    if (served.containers.get(container) === p) served.containers.delete(container);
    log("error", `volume ${served.name}: cannot create container ${container}: ${(err as Error).message}`);
    throw new FsError(Errno.EIO, `cannot create container ${container}`, { cause: err });
  }
}
