// Test/bench helper: one JSON-RPC call over a fresh TCP connection (as pfs_middleware does), and
// mount helpers that turn a mount reply into a connected ProxyFsRpcClient.
import net from "node:net";
import { RetryRpcClient, type RpcLogger } from "../../../rpc/index.js";
import {
  ProxyFsRpcClient, decodeJsonRpcResponse, encodeJsonRpcRequest, MountByAccountNameReplyCodec, MountByAccountNameRequestCodec,
  type MountByAccountNameReply, type JsonRpcResponse,
} from "../../../proto/index.js";
import { RawJson } from "../../../base/json/index.js";

/** Sends `text` and resolves with the first reply line (including its "\n"). */
export function jsonRpcRaw(port: number, text: string, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => s.write(text));
    let buf = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => {
      buf += d;
      const nl = buf.indexOf("\n");
      if (nl >= 0) {
        s.destroy();
        resolve(buf.slice(0, nl + 1));
      }
    });
    s.on("error", reject);
    s.on("close", () => reject(new Error(`connection closed before a reply line (got ${JSON.stringify(buf)})`)));
  });
}

export async function jsonRpcCall(port: number, method: string, params: unknown, id = 2): Promise<JsonRpcResponse> {
  return decodeJsonRpcResponse(await jsonRpcRaw(port, encodeJsonRpcRequest(method, id, params)));
}

export async function mountViaJsonRpc(port: number, accountName: string, capabilities?: string[]): Promise<MountByAccountNameReply> {
  const params = new RawJson(MountByAccountNameRequestCodec.encode({ AccountName: accountName, MountOptions: 0n, AuthUserID: 0n, AuthGroupID: 0n, ...(capabilities ? { Capabilities: capabilities } : {}) }));
  const r = await jsonRpcCall(port, "Server.RpcMountByAccountName", params);
  if (r.error !== null) throw new Error(`mount failed: ${r.error}`);
  return MountByAccountNameReplyCodec.decode(r.result);
}

export interface MountedClient {
  mountId: string;
  client: ProxyFsRpcClient;
  rpc: RetryRpcClient;
  reply: MountByAccountNameReply;
}

/** Mounts and returns a typed client dialling the retryrpc address from the reply (or `viaPort`). */
export async function mountClient(jsonRpcPort: number, accountName: string, o: { capabilities?: string[]; viaPort?: number; onUpcall?: (p: Buffer) => void; log?: RpcLogger; deadlineIoMs?: number } = {}): Promise<MountedClient> {
  const reply = await mountViaJsonRpc(jsonRpcPort, accountName, o.capabilities);
  const rpc = new RetryRpcClient({
    host: reply.RetryRPCPublicIPAddr, port: o.viaPort ?? reply.RetryRPCPort, clientId: reply.MountID,
    caCertPem: reply.RootCAx509CertificatePEM.toString("utf8"), log: o.log ?? (() => {}),
    ...(o.onUpcall ? { onUpcall: o.onUpcall } : {}),
    ...(o.deadlineIoMs ? { deadlineIoMs: o.deadlineIoMs } : {}),
  });
  return { mountId: reply.MountID, client: new ProxyFsRpcClient(rpc), rpc, reply };
}
