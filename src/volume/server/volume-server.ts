// startVolumeServer: proxyfsd's RPC front end for one or more volumes.
//   * retryrpc over TLS (RetryRPCPort): every method the agent uses (rpc-handlers.ts), clients
//     admitted only with a live MountID (authorizeClient); lease interrupts go out as upcalls;
//   * JSON-RPC over TCP (TCPPort): Server.RpcMountByAccountName / RpcUnmount / RpcPing, reached
//     directly or through the Swift proxy's PROXYFS method.
// Volume state is in memory (Volume + MemoryVolumeStore) unless the caller passes a Volume; log
// segment data is PUT by agents straight into the object store, the server only creates the
// containers (and, later, garbage-collects through the same ObjectStore).
//
// Deliberate difference from 1.17.1: Server.RpcUnmount releases the mount's leases and forgets its
// retryrpc client (1.17.1 left the leases behind, a TODO in its code); the reply is unchanged.

import { Errno } from "../../base/errno.js";
import { RetryRpcServer, generateServerCredentials, type ServerCredentials, type RetryRpcServerStats } from "../../rpc/index.js";
import type { ObjectStore } from "../../objstore/index.js";
import {
  Capability, encodeUpcall, negotiateCapabilities, registerProxyFsHandlers, unmountNotFoundError,
  type MountByAccountNameReply, type MountByAccountNameRequest, type UnmountRequest, type PingRequest,
} from "../../proto/index.js";
import { Volume } from "../volume.js";
import { ROOT_INO } from "../types.js";
import { LeaseManager, type LeaseStats } from "./lease-manager.js";
import { MountTable } from "./mount-table.js";
import { createRpcHandlers, type ServedVolume } from "./rpc-handlers.js";
import { JsonRpcError, JsonRpcListener } from "./jsonrpc-listener.js";
import { PersistentVolume, type PersistOptions } from "../persist/index.js";
import type { ClientInfo } from "../../rpc/index.js";
import type { ProxyFsHandlers } from "../../proto/index.js";

export type ServerLogLevel = "debug" | "info" | "warn" | "error";
export type ServerLogger = (level: ServerLogLevel, message: string) => void;

export interface ServedVolumeOptions {
  /** [Volume:<name>] */
  name: string;
  /** Swift account = volume (e.g. "AUTH_test"); what RpcMountByAccountName names. */
  accountName: string;
  /** Existing state; default: a fresh in-memory Volume for accountName. */
  volume?: Volume;
  /** Where agents PUT log segments; the server creates their containers there (and GCs later). */
  objectStore?: ObjectStore;
  /**
   * Keep the volume's whole state in `objectStore` (persist/, LAYOUT.md): recovered at start,
   * every mutating RPC replies only once its journal batch is durable. Ignored with `volume`.
   */
  persist?: Omit<PersistOptions, "objectStore" | "accountName" | "log" | "readOnly">;
  /** Idle lease objects kept (ActiveLeaseEvictLowLimit / HighLimit). */
  leaseEvictLowLimit?: number;
  leaseEvictHighLimit?: number;
}

export interface VolumeServerOptions {
  volumes: ServedVolumeOptions[];
  /** RetryRPCPublicIPAddr handed to agents ([Peer:<WhoAmI>] PublicIPAddr). Default "127.0.0.1". */
  publicAddress?: string;
  /** retryrpc listen address; default publicAddress. */
  retryRpcHost?: string;
  /** RetryRPCPort; 0 (default) picks a free port. */
  retryRpcPort?: number;
  /** JSON-RPC listen address ([Peer:<WhoAmI>] PrivateIPAddr); default "127.0.0.1". */
  jsonRpcHost?: string;
  /** [JSONRPCServer] TCPPort; 0 (default) picks a free port. */
  jsonRpcPort?: number;
  /** TLS credentials; default: a fresh CA + server certificate for publicAddress (as 1.17.1). */
  credentials?: ServerCredentials;
  retryRpc?: { ttlCompletedMs?: number; ackTrimMs?: number; deadlineIoMs?: number; keepAlivePeriodMs?: number };
  lease?: { minLeaseDurationMs?: number; leaseInterruptIntervalMs?: number; leaseInterruptLimit?: number };
  /** Extension capabilities this server grants (default: all it implements). */
  capabilities?: readonly string[];
  /** RpcMountsAlive answers "alive" for MountIDs this process never saw, for this long after start (default 60 s). */
  mountRestartGraceMs?: number;
  log?: ServerLogger;
}

export interface VolumeServer {
  readonly retryRpcPort: number;
  readonly jsonRpcPort: number;
  readonly publicAddress: string;
  /** PEM of the root CA (what RootCAx509CertificatePEM carries). */
  readonly caCertPem: string;
  /** Live MountIDs. */
  mountIds(): string[];
  stats(): { mounts: number; retryRpc: RetryRpcServerStats; leases: Record<string, LeaseStats> };
  close(): Promise<void>;
}

/** Every capability this server implements. */
export const SERVER_CAPABILITIES: readonly string[] = [
  Capability.Negotiation, Capability.Rename2, Capability.Fallocate, Capability.SeekDataHole, Capability.Mknod, Capability.MountsAlive, Capability.StatExtended,
  Capability.Plus, Capability.EarlyReply, Capability.MetaCache, Capability.CreateLease,
];

export class VolumeServerError extends Error {
  override readonly name = "VolumeServerError";
  readonly code = "ERR_VOLUME_SERVER";
}

export async function startVolumeServer(opts: VolumeServerOptions): Promise<VolumeServer> {
  const log: ServerLogger = opts.log ?? ((level, message) => {
    if (level === "warn" || level === "error") process.stderr.write(`proxyfsd ${level}: ${message}\n`);
  });
  if (!Array.isArray(opts.volumes) || opts.volumes.length === 0) throw new VolumeServerError("startVolumeServer needs at least one volume");
  const byAccount = new Map<string, ServedVolume>();
  const names = new Set<string>();
  const publicAddress = opts.publicAddress ?? "127.0.0.1";
  const supported = opts.capabilities ?? SERVER_CAPABILITIES;
  const mounts = new MountTable<ServedVolume>(opts.mountRestartGraceMs !== undefined ? { restartGraceMs: opts.mountRestartGraceMs } : {});
  /** Mounts whose lease expired after ignoring interrupts: unmounted at the next RpcLease (1.17.1). */
  const delayedUnmounts = new Set<string>();

  // Created below, used by the lease managers' interrupt path.
  let rpc: RetryRpcServer | undefined;
  const persisted = new Map<ServedVolume, PersistentVolume>();
  const closePersisted = async (): Promise<void> => {
    for (const pv of persisted.values()) await pv.close().catch((err) => log("error", `closing ${pv.container}: ${(err as Error).message}`));
  };

  for (const v of opts.volumes) {
    if (names.has(v.name)) throw new VolumeServerError(`volume ${JSON.stringify(v.name)} is configured twice`);
    if (byAccount.has(v.accountName)) throw new VolumeServerError(`account ${JSON.stringify(v.accountName)} is served by two volumes`);
    names.add(v.name);
    const leases = new LeaseManager({
      ...opts.lease,
      ...(v.leaseEvictLowLimit !== undefined ? { evictLowLimit: v.leaseEvictLowLimit } : {}),
      ...(v.leaseEvictHighLimit !== undefined ? { evictHighLimit: v.leaseEvictHighLimit } : {}),
      sendInterrupt: (mountId, type, ino) => rpc?.sendUpcall(mountId, encodeUpcall({ RPCInterruptType: type, InodeNumber: ino })) ?? false,
      onExpired: (mountId, ino) => {
        log("warn", `volume ${v.name}: mount ${mountId} ignored lease interrupts for inode ${ino}; lease expired, mount will be unmounted`);
        delayedUnmounts.add(mountId);
      },
    });
    let pv: PersistentVolume | undefined;
    if (v.volume === undefined && v.persist !== undefined) {
      if (v.objectStore === undefined) throw new VolumeServerError(`volume ${JSON.stringify(v.name)}: persistence needs an object store`);
      try {
        pv = await PersistentVolume.open({ ...v.persist, objectStore: v.objectStore, accountName: v.accountName, log: (level, m) => log(level, `volume ${v.name}: ${m}`) });
      } catch (err) {
        leases.close();
        await closePersisted();
        throw err;
      }
      log("info", `volume ${v.name}: state in ${v.objectStore.description} container ${pv.container} (${pv.store.inodeCount()} inodes)`);
    }
    const served: ServedVolume = {
      name: v.name,
      accountName: v.accountName,
      volume: pv?.volume ?? v.volume ?? new Volume({ accountName: v.accountName }),
      objectStore: v.objectStore,
      leases,
      containers: new Map(),
    };
    byAccount.set(v.accountName, served);
    if (pv !== undefined) persisted.set(served, pv);
  }

  const unmount = (mountId: string): boolean => {
    const m = mounts.get(mountId);
    if (m === undefined) return false;
    mounts.delete(mountId);
    m.volume.leases.releaseAll(mountId);
    rpc?.forgetClient(mountId);
    return true;
  };

  const credentials = opts.credentials ?? (await generateServerCredentials({ publicAddress }));
  rpc = new RetryRpcServer({
    credentials,
    host: opts.retryRpcHost ?? publicAddress,
    port: opts.retryRpcPort ?? 0,
    ...opts.retryRpc,
    authorizeClient: (clientId) => mounts.has(clientId),
    log: (level, message) => log(level, `retryrpc: ${message}`),
  });
  registerProxyFsHandlers(rpc, durable(mounts, persisted, createRpcHandlers({
    mounts,
    log,
    beforeLease: () => {
      if (delayedUnmounts.size === 0) return;
      for (const id of delayedUnmounts) {
        if (unmount(id)) log("warn", `mount ${id} unmounted: its lease expired (ignored ${opts.lease?.leaseInterruptLimit ?? 20} interrupts)`);
      }
      delayedUnmounts.clear();
    },
  })));
  const retryRpcPort = await rpc.listen();

  const caPem = Buffer.from(credentials.caCertPem, "utf8");
  const json = new JsonRpcListener({
    host: opts.jsonRpcHost ?? "127.0.0.1",
    port: opts.jsonRpcPort ?? 0,
    log,
    handlers: {
      "Server.RpcMountByAccountName": async (r) => {
        const req = r as MountByAccountNameRequest;
        const served = byAccount.get(req.AccountName);
        if (served === undefined) {
          log("warn", `mount of unknown account ${JSON.stringify(req.AccountName)} refused`);
          throw new JsonRpcError(`errno: ${Errno.ENOENT}`);
        }
        const caps = negotiateCapabilities(req.Capabilities, supported);
        const m = mounts.add(served, caps);
        log("info", `volume ${served.name}: mounted as ${m.mountId}${req.Capabilities ? ` (capabilities: ${caps.join(" ") || "none"})` : ""}`);
        const reply: MountByAccountNameReply = {
          MountID: m.mountId, RootDirInodeNumber: ROOT_INO, RetryRPCPublicIPAddr: publicAddress, RetryRPCPort: retryRpcPort,
          RootCAx509CertificatePEM: caPem,
        };
        if (req.Capabilities !== undefined) reply.Capabilities = caps;
        return reply;
      },
      "Server.RpcUnmount": async (r) => {
        const req = r as UnmountRequest;
        if (!unmount(req.MountID)) throw new JsonRpcError(unmountNotFoundError(req.MountID));
        log("info", `unmounted ${req.MountID}`);
        return { RequestTimeSec: 0n, RequestTimeNsec: 0n, SendTimeSec: 0n, SendTimeNsec: 0n };
      },
      "Server.RpcPing": async (r) => ({ Message: `pong ${Buffer.byteLength((r as PingRequest).Message)} bytes` }),
    },
  });
  let jsonRpcPort: number;
  try {
    jsonRpcPort = await json.listen();
  } catch (err) {
    await rpc.close();
    await closePersisted();
    throw err;
  }

  let closing: Promise<void> | undefined;
  const server = rpc;
  return {
    retryRpcPort,
    jsonRpcPort,
    publicAddress,
    caCertPem: credentials.caCertPem,
    mountIds: () => mounts.ids(),
    stats: () => ({
      mounts: mounts.size,
      retryRpc: server.stats,
      leases: Object.fromEntries([...byAccount.values()].map((s) => [s.name, s.leases.stats])),
    }),
    close: () => {
      closing ??= (async () => {
        for (const s of byAccount.values()) s.leases.close();
        await Promise.all([json.close(), server.close()]);
        await closePersisted();
      })();
      return closing;
    },
  };
}

/**
 * Wraps the handlers of persistent volumes with the durability rules (SEMANTICS.md "Early
 * replies"):
 *  - a request that committed anything (its own transaction, or one that ran while it awaited)
 *    is answered only once the journal holds it durably (group commit batches the waits), unless
 *    its mount agreed EarlyReply: then it is answered at once and the mount's "unsafe" journal
 *    position is noted (the agent keeps such ops for RpcReplay until an RpcSync returns);
 *  - except when a nonce it may reveal is not yet covered by a durable reservation: a restart
 *    could hand that inode number out again, so that reply waits;
 *  - RpcSync waits until everything committed so far is durable;
 *  - a reply to any mount first waits until the early-answered changes of OTHER mounts are
 *    durable, so no mount ever sees a state that a proxyfsd crash could take back.
 */
function durable(mounts: MountTable<ServedVolume>, persisted: Map<ServedVolume, PersistentVolume>, handlers: ProxyFsHandlers): ProxyFsHandlers {
  if (persisted.size === 0) return handlers;
  /** Per volume: mount -> journal position of its latest early-answered change. */
  const unsafe = new Map<PersistentVolume, Map<string, number>>();
  const othersUnsafe = (pv: PersistentVolume, mountId: string): number => {
    const m = unsafe.get(pv);
    if (m === undefined) return 0;
    const durableNow = pv.durablePosition;
    let max = 0;
    for (const [id, pos] of m) {
      if (pos <= durableNow) m.delete(id);
      else if (id !== mountId && pos > max) max = pos;
    }
    return max;
  };
  const out: Record<string, (req: { MountID?: string }, client: ClientInfo) => Promise<unknown>> = {};
  for (const [name, h] of Object.entries(handlers) as Array<[string, (req: { MountID?: string }, client: ClientInfo) => Promise<unknown>]>) {
    out[name] = async (req, client) => {
      const mountId = typeof req?.MountID === "string" ? req.MountID : undefined;
      const mount = mountId === undefined ? undefined : mounts.get(mountId);
      const pv = mount === undefined ? undefined : persisted.get(mount.volume);
      if (pv === undefined || mountId === undefined) return h(req, client);
      const early = mount!.capabilities.has(Capability.EarlyReply);
      const before = pv.position;
      try {
        return await h(req, client);
      } finally {
        if (name === "RpcSync") {
          await pv.sync();
        } else if (pv.position !== before) {
          // Noted for every mount: a 1.17.1 mount's change is visible before its own reply too.
          let m = unsafe.get(pv);
          if (m === undefined) unsafe.set(pv, (m = new Map()));
          m.set(mountId, Math.max(m.get(mountId) ?? 0, pv.position));
          if (!early || !pv.noncesDurable()) await pv.sync();
        }
        const other = othersUnsafe(pv, mountId);
        if (other > 0) await pv.sync(other);
      }
    };
  }
  return out as ProxyFsHandlers;
}
