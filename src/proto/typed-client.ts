// ProxyFsRpcClient: typed calls over a RetryRpcClient. Requests are encoded by the method's struct
// codec (Go field order, exact bytes); replies are decoded into typed values with bigint fields.

import { RawJson } from "../base/json/index.js";
import type { RetryRpcClient } from "../rpc/index.js";
import { proxyFsRpcMethods, type ReplyOf, type RequestOf, type ProxyFsRpcMethod } from "./methods.js";

export class ProxyFsRpcClient {
  readonly #rpc: RetryRpcClient;

  constructor(rpc: RetryRpcClient) {
    this.#rpc = rpc;
  }

  get rpc(): RetryRpcClient {
    return this.#rpc;
  }

  /**
   * @throws RpcReplyError (errstr from the server; `.errno` set for "errno: N")
   * @throws ProtoDecodeError when the reply does not fit the method's reply struct
   * @throws RpcConnectError / RpcClosedError from the transport
   */
  async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>> {
    const spec = proxyFsRpcMethods[method];
    const params = new RawJson((spec.request as { encode(v: unknown): string }).encode(request));
    const result = await this.#rpc.call(method, params);
    return (spec.reply as { decode(v: unknown, path: string): unknown }).decode(result, `${method} reply`) as ReplyOf<M>;
  }
}
