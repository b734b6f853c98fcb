// connectProxyFs: pfsagentd's start-up sequence from credentials to a usable ProxyFS connection
// (protocol doc §1, 1.17.1 flavour):
//   auth plug-in → {AuthToken, StorageURL} → account = StorageURL.split("/")[4]
//   → PROXYFS Server.RpcMountByAccountName (offering our capabilities)
//   → reply {MountID, RetryRPCPublicIPAddr, RetryRPCPort, RootCAx509CertificatePEM}
//   → retryrpc client over TLS with that CA (dials lazily on the first RPC)
//   → Swift client for LogSegment PUT/GET on the StorageURL (401 ⇒ plug-in renewal).
// disconnect() is the reverse: PROXYFS Server.RpcUnmount, close retryrpc and the Swift pool.
// The mount and retryrpc steps are repeated whenever proxyfsd stops knowing the MountID (it was
// restarted, perhaps elsewhere): session.rpc is a RemountingRpc (remounting-rpc.ts).
import { readFile } from "node:fs/promises";
import { RawJson } from "../../base/json/index.js";
import { SwiftObjectStore, type SwiftRetryConfig } from "../../objstore/index.js";
import {
  Capability, MountByAccountNameReplyCodec, MountByAccountNameRequestCodec, ProxyFsRpcClient, UnmountRequestCodec,
  agreedCapabilities, decodeUpcall, unmountNotFoundError, RPCInterruptType, type MountByAccountNameReply, type RPCInterrupt,
} from "../../proto/index.js";
import { RetryRpcClient } from "../../rpc/index.js";
import { accountFromStorageURL, type AuthCredentials } from "../auth/index.js";
import type { AgentConfig } from "../config/index.js";
import { ProxyFsHttpClient, ProxyFsHttpError } from "./proxyfs-http.js";
import { RemountingRpc, type MountedRpc, type RemountListener } from "./remounting-rpc.js";

/** What connectProxyFs needs from the auth plug-in (AuthPlugin fits). */
export interface CredentialSource {
  current(): Promise<AuthCredentials>;
  renew(): Promise<AuthCredentials>;
}

export interface SessionLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface ProxyFsSession {
  readonly accountName: string;
  /** The current MountID (changes when the agent re-mounts). */
  readonly mountId: string;
  /** The current mount's reply. */
  readonly reply: MountByAccountNameReply;
  /** Extensions agreed at the first mount (what the agent was built around). */
  readonly capabilities: ReadonlySet<string>;
  /** Typed RPCs under the current MountID, re-mounting when proxyfsd forgot it. */
  readonly rpc: RemountingRpc;
  /** The current mount's retryrpc client. */
  readonly rpcClient: RetryRpcClient;
  readonly store: SwiftObjectStore;
  /** Called after each re-mount, before failed calls are re-sent (see RemountingRpc). */
  onRemount(listener: RemountListener): void;
  /**
   * PROXYFS Server.RpcUnmount of the current MountID (one proxyfsd no longer knows counts as
   * done: it was restarted and forgot every mount), then closes retryrpc and the Swift pool.
   */
  disconnect(): Promise<void>;
}

/** Options of connectProxyFs. */
export interface ConnectOptions {
  log: SessionLogger;
  userAgent: string;
  onInterrupt?: (interrupt: RPCInterrupt) => void;
  /** RpcPing after this long without a successful RPC, to notice a proxyfsd restart while idle; 0 = never. */
  probeIntervalMs?: number;
  /** retryrpc redial schedule (default: RetryRpcClient's, 8 retries from 100 ms doubling); for tests. */
  redial?: { connectRetryLimit?: number; connectRetryDelayMs?: number };
}

const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n);

/** Extensions this agent implements (offered at mount; used only if the reply agrees). */
export const AGENT_CAPABILITIES: string[] = [
  Capability.Negotiation, Capability.Rename2, Capability.Fallocate, Capability.SeekDataHole, Capability.Mknod, Capability.MountsAlive, Capability.StatExtended,
  Capability.Plus, Capability.EarlyReply, Capability.MetaCache, Capability.CreateLease,
];

export function swiftRetryOf(cfg: AgentConfig): SwiftRetryConfig {
  return {
    limit: cfg.SwiftRetryLimit,
    delayMs: Number(cfg.SwiftRetryDelay) / 1e6,
    variancePercent: cfg.SwiftRetryDelayVariance,
    expBackoff: cfg.SwiftRetryExpBackoff,
  };
}

export async function connectProxyFs(cfg: AgentConfig, auth: CredentialSource, options: ConnectOptions): Promise<ProxyFsSession> {
  const log = options.log;
  let creds = await auth.current();
  const accountName = accountFromStorageURL(creds.storageURL);
  const retry = swiftRetryOf(cfg);
  const timeoutMs = Math.max(1, nsToMs(cfg.SwiftTimeout));
  const deadlineIoMs = Math.max(1, nsToMs(cfg.RetryRPCDeadlineIO));
  const http = new ProxyFsHttpClient({
    storageUrl: () => creds.storageURL,
    token: async () => (creds = await auth.current()).authToken,
    renewToken: async () => {
      creds = await auth.renew();
      log.info("PROXYFS got 401: token renewed through the auth plug-in");
      return creds.authToken;
    },
    retry,
    timeoutMs,
    userAgent: options.userAgent,
    log: (m) => log.warn(m),
  });

  const onUpcall = (payload: Buffer): void => {
    // Lease interrupts go to onInterrupt (AgentFs's lease table); without one they are logged.
    try {
      const i = decodeUpcall(payload);
      if (options.onInterrupt) {
        options.onInterrupt(i);
        return;
      }
      const what = i.RPCInterruptType === RPCInterruptType.Unmount ? "Unmount" : i.RPCInterruptType === RPCInterruptType.Demote ? "Demote" : i.RPCInterruptType === RPCInterruptType.Release ? "Release" : `type ${i.RPCInterruptType}`;
      log.warn(`lease interrupt ${what} for inode ${i.InodeNumber} ignored (no leases held)`);
    } catch (err) {
      log.warn(`undecodable upcall ignored: ${(err as Error).message}`);
    }
  };

  /** PROXYFS mount + a retryrpc client for the MountID, at start and at every re-mount. */
  const replies = new Map<string, MountByAccountNameReply>();
  const mountOnce = async (): Promise<MountedRpc> => {
    const params = new RawJson(MountByAccountNameRequestCodec.encode({
      AccountName: accountName, MountOptions: 0n, AuthUserID: 0n, AuthGroupID: 0n, Capabilities: AGENT_CAPABILITIES,
    }));
    const reply = MountByAccountNameReplyCodec.decode(await http.call("Server.RpcMountByAccountName", params), "RpcMountByAccountName reply");
    let caCertPem = reply.RootCAx509CertificatePEM.toString("utf8");
    if (!caCertPem.includes("-----BEGIN CERTIFICATE-----") && cfg.RetryRPCCACertFilePath !== "") {
      caCertPem = await readFile(cfg.RetryRPCCACertFilePath, "utf8");
    }
    const host = reply.RetryRPCPublicIPAddr !== "" ? reply.RetryRPCPublicIPAddr : cfg.RetryRPCPublicIPAddr;
    const port = reply.RetryRPCPort !== 0 ? reply.RetryRPCPort : cfg.RetryRPCPort;
    const mountId = reply.MountID;
    log.info(`mounted account ${accountName} as MountID ${mountId}; retryrpc at ${host}:${port}; extensions: ${(reply.Capabilities ?? []).join(" ") || "none (1.17.1 server)"}`);
    let rpcClient: RetryRpcClient;
    try {
      rpcClient = new RetryRpcClient({
        host, port, clientId: mountId, caCertPem,
        deadlineIoMs,
        keepAlivePeriodMs: Math.max(1, nsToMs(cfg.RetryRPCKeepAlivePeriod)),
        ...options.redial,
        onUpcall,
        log: (level, message) => {
          if (level === "error") log.error(`retryrpc: ${message}`);
          else if (level === "warn") log.warn(`retryrpc: ${message}`);
        },
      });
    } catch (err) {
      // A mount nobody can use must not linger on the server.
      await http.call("Server.RpcUnmount", new RawJson(UnmountRequestCodec.encode({ MountID: mountId }))).catch(() => {});
      throw err;
    }
    replies.set(mountId, reply);
    return {
      mountId,
      rpc: new ProxyFsRpcClient(rpcClient),
      capabilities: agreedCapabilities(reply),
      close: () => rpcClient.close(),
    };
  };

  const first = await mountOnce();
  const rpc = new RemountingRpc({
    initial: first,
    mount: mountOnce,
    unmount: async (mountId) => {
      await http.call("Server.RpcUnmount", new RawJson(UnmountRequestCodec.encode({ MountID: mountId })));
      log.info(`unmounted the previous MountID ${mountId}`);
    },
    retry,
    waitLimitMs: deadlineIoMs,
    probeIntervalMs: options.probeIntervalMs ?? 0,
    log,
  });
  const store = new SwiftObjectStore({
    authenticate: async () => {
      creds = await auth.renew();
      log.info("Swift got 401: token renewed through the auth plug-in");
      return { token: creds.authToken, storageUrl: creds.storageURL };
    },
    credentials: { token: creds.authToken, storageUrl: creds.storageURL },
    retry,
    timeoutMs,
    connectionPoolSize: cfg.SwiftConnectionPoolSize,
    userAgent: options.userAgent,
  });

  let disconnecting: Promise<void> | undefined;
  return {
    accountName,
    get mountId() {
      return rpc.mountId;
    },
    get reply() {
      return replies.get(rpc.mountId)!;
    },
    capabilities: first.capabilities,
    rpc,
    get rpcClient() {
      return rpc.current.rpc.rpc;
    },
    store,
    onRemount: (listener) => rpc.onRemount(listener),
    disconnect(): Promise<void> {
      disconnecting ??= (async () => {
        try {
          await rpc.quiesce();
          const mountId = rpc.mountId;
          try {
            await http.call("Server.RpcUnmount", new RawJson(UnmountRequestCodec.encode({ MountID: mountId })));
            log.info(`unmounted MountID ${mountId}`);
          } catch (err) {
            // proxyfsd restarted (or an operator unmounted us) and the agent had no call since
            // to notice: the mount is already gone, which is what unmounting wants.
            if (!(err instanceof ProxyFsHttpError && err.code === "PROXYFS_RPC_ERROR" && err.message.endsWith(unmountNotFoundError(mountId)))) throw err;
            log.info(`MountID ${mountId} was already unknown to proxyfsd (restarted?): nothing to unmount`);
          }
        } finally {
          await rpc.close();
          await store.close();
        }
      })();
      return disconnecting;
    },
  };
}
