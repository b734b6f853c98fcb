// connectProxyFs: pfsagentd's start-up sequence from credentials to a usable ProxyFS connection
// (protocol doc §1, 1.17.1 flavour):
//   auth plug-in → {AuthToken, StorageURL} → account = StorageURL.split("/")[4]
//   → PROXYFS Server.RpcMountByAccountName (offering our capabilities)
//   → reply {MountID, RetryRPCPublicIPAddr, RetryRPCPort, RootCAx509CertificatePEM}
//   → retryrpc client over TLS with that CA (dials lazily on the first RPC)
//   → Swift client for LogSegment PUT/GET on the StorageURL (401 ⇒ plug-in renewal).
// disconnect() is the reverse: PROXYFS Server.RpcUnmount, close retryrpc and the Swift pool.
import { readFileSync } from "node:fs";
import { RawJson } from "../../base/json/index.js";
import { SwiftObjectStore, type SwiftRetryConfig } from "../../objstore/index.js";
import {
  Capability, MountByAccountNameReplyCodec, MountByAccountNameRequestCodec, ProxyFsRpcClient, UnmountRequestCodec,
  agreedCapabilities, decodeUpcall, RPCInterruptType, type MountByAccountNameReply,
} from "../../proto/index.js";
import { RetryRpcClient } from "../../rpc/index.js";
import { accountFromStorageURL, type AuthCredentials } from "../auth/index.js";
import type { AgentConfig } from "../config/index.js";
import { ProxyFsHttpClient } from "./proxyfs-http.js";

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
  readonly mountId: string;
  readonly reply: MountByAccountNameReply;
  readonly capabilities: ReadonlySet<string>;
  readonly rpc: ProxyFsRpcClient;
  readonly rpcClient: RetryRpcClient;
  readonly store: SwiftObjectStore;
  /** PROXYFS Server.RpcUnmount, then closes the retryrpc connection and the Swift pool. */
  disconnect(): Promise<void>;
}

const nsToMs = (ns: bigint): number => Number(ns / 1_000_000n);

/** Extensions this agent implements (offered at mount; used only if the reply agrees). */
export const AGENT_CAPABILITIES: string[] = [Capability.Negotiation, Capability.Rename2, Capability.Fallocate, Capability.SeekDataHole];

export function swiftRetryOf(cfg: AgentConfig): SwiftRetryConfig {
  return {
    limit: cfg.SwiftRetryLimit,
    delayMs: Number(cfg.SwiftRetryDelay) / 1e6,
    variancePercent: cfg.SwiftRetryDelayVariance,
    expBackoff: cfg.SwiftRetryExpBackoff,
  };
}

export async function connectProxyFs(cfg: AgentConfig, auth: CredentialSource, options: { log: SessionLogger; userAgent: string }): Promise<ProxyFsSession> {
  const log = options.log;
  let creds = await auth.current();
  const accountName = accountFromStorageURL(creds.storageURL);
  const retry = swiftRetryOf(cfg);
  const timeoutMs = Math.max(1, nsToMs(cfg.SwiftTimeout));
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

  const params = new RawJson(MountByAccountNameRequestCodec.encode({
    AccountName: accountName, MountOptions: 0n, AuthUserID: 0n, AuthGroupID: 0n, Capabilities: AGENT_CAPABILITIES,
  }));
  const reply = MountByAccountNameReplyCodec.decode(await http.call("Server.RpcMountByAccountName", params), "RpcMountByAccountName reply");
  let caCertPem = reply.RootCAx509CertificatePEM.toString("utf8");
  if (!caCertPem.includes("-----BEGIN CERTIFICATE-----") && cfg.RetryRPCCACertFilePath !== "") {
    caCertPem = readFileSync(cfg.RetryRPCCACertFilePath, "utf8");
  }
  const host = reply.RetryRPCPublicIPAddr !== "" ? reply.RetryRPCPublicIPAddr : cfg.RetryRPCPublicIPAddr;
  const port = reply.RetryRPCPort !== 0 ? reply.RetryRPCPort : cfg.RetryRPCPort;
  const mountId = reply.MountID;
  log.info(`mounted account ${accountName} as MountID ${mountId}; retryrpc at ${host}:${port}; extensions: ${(reply.Capabilities ?? []).join(" ") || "none (1.17.1 server)"}`);

  const rpcClient = new RetryRpcClient({
    host, port, clientId: mountId, caCertPem,
    deadlineIoMs: Math.max(1, nsToMs(cfg.RetryRPCDeadlineIO)),
    keepAlivePeriodMs: Math.max(1, nsToMs(cfg.RetryRPCKeepAlivePeriod)),
    onUpcall: (payload) => {
      // This agent holds no leases, so interrupts need no action; log them for diagnosis.
      try {
        const i = decodeUpcall(payload);
        const what = i.RPCInterruptType === RPCInterruptType.Unmount ? "Unmount" : i.RPCInterruptType === RPCInterruptType.Demote ? "Demote" : i.RPCInterruptType === RPCInterruptType.Release ? "Release" : `type ${i.RPCInterruptType}`;
        log.warn(`lease interrupt ${what} for inode ${i.InodeNumber} ignored (no leases held)`);
      } catch (err) {
        log.warn(`undecodable upcall ignored: ${(err as Error).message}`);
      }
    },
    log: (level, message) => {
      if (level === "error") log.error(`retryrpc: ${message}`);
      else if (level === "warn") log.warn(`retryrpc: ${message}`);
    },
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
    mountId,
    reply,
    capabilities: agreedCapabilities(reply),
    rpc: new ProxyFsRpcClient(rpcClient),
    rpcClient,
    store,
    disconnect(): Promise<void> {
      disconnecting ??= (async () => {
        try {
          await http.call("Server.RpcUnmount", new RawJson(UnmountRequestCodec.encode({ MountID: mountId })));
          log.info(`unmounted MountID ${mountId}`);
        } finally {
          await rpcClient.close();
          await store.close();
        }
      })();
      return disconnecting;
    },
  };
}
