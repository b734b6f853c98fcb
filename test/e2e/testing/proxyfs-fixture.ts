// Test fixture for agent/mount (in-process, no FUSE): proxyfsd's RPC front end (startVolumeServer: retryrpc over TLS,
// JSON-RPC over TCP) behind the Swift-API server's PROXYFS relay, in this process, with tempauth
// credentials for connectProxyFs. restart() closes the volume server and starts a new one over the
// same Volume (inode numbers persist, the mount table does not), on the same JSON-RPC port (the
// proxy relays there) and, unless `moved`, the same retryrpc port and TLS credentials (as proxyfsd
// with a [TLS] Directory); `moved`: another retryrpc port and a new CA.
import { ConfMap } from "../../../src/base/conf/index.js";
import { SwiftApiServer, proxyfsStorageUrl, tempAuth } from "../../../src/objstore/index.js";
import { Volume } from "../../../src/volume/index.js";
import { startVolumeServer, type VolumeServer } from "../../../src/volume/server/index.js";
import { generateServerCredentials, type ServerCredentials } from "../../../src/rpc/index.js";
import { loadAgentConfig, type AgentConfig } from "../../../src/agent/config/index.js";
import type { AuthCredentials } from "../../../src/agent/auth/index.js";
import type { CredentialSource } from "../../../src/agent/mount/index.js";

export interface Fixture {
  volume: Volume;
  server: VolumeServer;
  swift: SwiftApiServer;
  jsonRpcPort: number;
  restart(opts?: { moved?: boolean; jsonRpcPort?: number }): Promise<VolumeServer>;
  close(): Promise<void>;
}

export async function fixture(): Promise<Fixture> {
  const volume = new Volume({ accountName: "AUTH_test" });
  const start = (o: { jsonRpcPort?: number; retryRpcPort?: number; credentials: ServerCredentials }) => startVolumeServer({
    volumes: [{ name: "CommonVolume", accountName: "AUTH_test", volume }],
    ...o,
    log: () => {},
  });
  const credentials = await generateServerCredentials({ publicAddress: "127.0.0.1" });
  let server = await start({ credentials });
  const jsonRpcPort = server.jsonRpcPort;
  const swift = await SwiftApiServer.start({ users: [{ account: "test", user: "tester", key: "testing" }], proxyfs: { host: "127.0.0.1", port: jsonRpcPort } });
  const f: Fixture = {
    volume, server, swift, jsonRpcPort,
    async restart(opts = {}) {
      const retryRpcPort = server.retryRpcPort;
      await server.close();
      server = await start({
        jsonRpcPort: opts.jsonRpcPort ?? jsonRpcPort,
        ...(opts.moved ? { credentials: await generateServerCredentials({ publicAddress: "127.0.0.1" }) } : { retryRpcPort, credentials }),
      });
      f.server = server;
      return server;
    },
    async close() {
      await server.close();
      await swift.close();
    },
  };
  return f;
}

export function credentials(swift: SwiftApiServer): CredentialSource {
  const auth = tempAuth({ authUrl: swift.authUrl, user: "test:tester", key: "testing", transformStorageUrl: proxyfsStorageUrl });
  let cur: AuthCredentials | undefined;
  const renew = async (): Promise<AuthCredentials> => {
    const c = await auth();
    return (cur = { authToken: c.token, storageURL: c.storageUrl });
  };
  return { current: async () => cur ?? renew(), renew };
}

export function agentConfig(extra = ""): AgentConfig {
  return loadAgentConfig(ConfMap.fromText([
    "[Agent]", "FUSEVolumeName: CommonVolume", "FUSEMountPointPath: /nonexistent", "PlugInPath: /bin/true", "PlugInEnvName: X",
    "SwiftRetryLimit: 1", "SwiftRetryDelay: 20ms", "RetryRPCDeadlineIO: 5s", extra, "",
  ].join("\n"), "pfsagent.conf")).config;
}

export function logger() {
  const lines: string[] = [];
  return { lines, log: { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) } };
}
