// registerProxyFsHandlers: typed method implementations on a RetryRpcServer. Each request is decoded
// with Go's rules into its typed struct (a malformed one is answered "errno: 22" without running the
// handler) and each reply is encoded with Go's field order, so the bytes match 1.17.1.

import { RawJson } from "../base/json/index.js";
import { RpcHandlerError, type ClientInfo, type RetryRpcServer } from "../rpc/index.js";
import { Errno } from "../base/errno.js";
import { proxyFsRpcMethods, type ReplyOf, type RequestOf, type ProxyFsRpcMethod } from "./methods.js";
import { ProtoDecodeError } from "./schema.js";

export type ProxyFsHandler<M extends ProxyFsRpcMethod> = (request: RequestOf<M>, client: ClientInfo) => Promise<ReplyOf<M>>;
export type ProxyFsHandlers = { [M in ProxyFsRpcMethod]?: ProxyFsHandler<M> };

export function registerProxyFsHandlers(server: RetryRpcServer, handlers: ProxyFsHandlers): void {
  for (const name of Object.keys(handlers) as ProxyFsRpcMethod[]) {
    const handler = handlers[name] as ((req: unknown, client: ClientInfo) => Promise<unknown>) | undefined;
    if (!handler) continue;
    const spec = proxyFsRpcMethods[name] as unknown as { request: { decode(v: unknown, p: string): unknown }; reply: { encode(v: unknown, p: string): string } };
    server.register(name, async (_method, params, client) => {
      let req: unknown;
      try {
        req = spec.request.decode(params, `${name} request`);
      } catch (err) {
        if (err instanceof ProtoDecodeError) throw new RpcHandlerError(`errno: ${Errno.EINVAL}`, { cause: err });
        throw err;
      }
      const reply = await handler(req, client);
      return new RawJson(spec.reply.encode(reply, `${name} reply`));
    });
  }
}
