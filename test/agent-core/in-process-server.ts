// An in-process proxyfsd for AgentFs tests: the REAL volume RPC handlers (createRpcHandlers over
// a Volume, MountTable and LeaseManager) called directly, without retryrpc, TLS or TCP, over an
// in-memory object store. Requests and replies still go through the methods' wire codecs (encode,
// JSON, decode), and handler errors become the RpcReplyError a real client would see, so AgentFs
// meets the same values and errstrs as over the wire. Lease interrupts (LeaseManager
// sendInterrupt) reach the mount's AgentFs.leaseInterrupt asynchronously, as retryrpc upcalls do.
// Lives under test/ because src/agent may not import src/volume (scripts/lint-layers.ts).
import { parseJson } from "../../src/base/json/index.js";
import { MemoryObjectStore } from "../../src/objstore/index.js";
import { Capability, negotiateCapabilities, proxyFsRpcMethods, type ProxyFsHandlers, type ProxyFsRpcMethod, type ReplyOf, type RequestOf } from "../../src/proto/index.js";
import { errstrOf, RpcReplyError, UNKNOWN_METHOD_ERRSTR, type ClientInfo } from "../../src/rpc/index.js";
import { Volume } from "../../src/volume/index.js";
import { createRpcHandlers, LeaseManager, MountTable, SERVER_CAPABILITIES, type LeaseManagerOptions, type ServedVolume } from "../../src/volume/server/index.js";
import type { AgentRpc } from "../../src/agent/fs/index.js";

/** Where a mount's lease interrupts go (AgentFs fits). */
export interface InterruptTarget {
  leaseInterrupt(type: number, ino: bigint): Promise<void>;
}

export interface InProcessMount {
  readonly mountId: string;
  /** The capabilities agreed (pass them to AgentFs as `capabilities`). */
  readonly capabilities: ReadonlySet<string>;
  /** The agent's RPC port: each call runs the real handler for this MountID. */
  readonly rpc: AgentRpc & { readonly calls: Map<string, number> };
  /** Where this mount's lease interrupts are delivered from now on. */
  attach(target: InterruptTarget): void;
}

/** Every capability the in-process server offers (Plus, EarlyReply and MetaCache included). */
export const ALL_CAPABILITIES: readonly string[] = SERVER_CAPABILITIES;
/** The capabilities before Plus / EarlyReply / MetaCache (mount with a chosen subset: mount(caps)). */
export const BASE_CAPABILITIES: readonly string[] = SERVER_CAPABILITIES.filter(
  (c) => c !== Capability.Plus && c !== Capability.EarlyReply && c !== Capability.MetaCache,
);

export interface InProcessServerOptions {
  accountName?: string;
  lease?: Omit<LeaseManagerOptions, "sendInterrupt">;
}

type AnyCodec = { encode(v: unknown, path?: string): string; decode(v: unknown, path: string): unknown };
type AnyHandler = (req: unknown, client: ClientInfo) => Promise<unknown>;

export class InProcessServer {
  /** The object store both the server (containers) and the agents (segments) use. */
  readonly store = new MemoryObjectStore({ description: "in-process test store" });
  readonly volume: Volume;
  readonly mounts = new MountTable<ServedVolume>();
  readonly leases: LeaseManager;
  readonly served: ServedVolume;
  readonly handlers: ProxyFsHandlers;
  /** Interrupts sent, per MountID ("type:ino"), for assertions. */
  readonly interrupts: Array<{ mountId: string; type: number; ino: bigint }> = [];
  readonly #targets = new Map<string, InterruptTarget>();
  /** Interrupt deliveries still running (awaited by idle()). */
  readonly #delivering = new Set<Promise<void>>();
  /**
   * The LeaseManager's interrupt timers are unref'd (a real server's sockets keep the process
   * alive); without sockets this handle does, until close().
   */
  readonly #keepAlive = setInterval(() => {}, 1 << 30);

  constructor(opts: InProcessServerOptions = {}) {
    const accountName = opts.accountName ?? "AUTH_test";
    this.volume = new Volume({ accountName });
    this.leases = new LeaseManager({
      ...opts.lease,
      sendInterrupt: (mountId, type, ino) => {
        const target = this.#targets.get(mountId);
        if (target === undefined) return false;
        this.interrupts.push({ mountId, type, ino });
        // An upcall: delivered later, never inside the server's call stack.
        const p = new Promise<void>((resolve) => setImmediate(resolve))
          .then(() => target.leaseInterrupt(type, ino))
          .finally(() => this.#delivering.delete(p));
        this.#delivering.add(p);
        return true;
      },
    });
    this.served = { name: "v", accountName, volume: this.volume, objectStore: this.store, leases: this.leases, containers: new Map() };
    this.handlers = createRpcHandlers({ mounts: this.mounts, log: () => {} });
  }

  /** Server.RpcMountByAccountName: a new MountID; `offered` capabilities (default: all the server has). */
  mount(offered: readonly string[] = SERVER_CAPABILITIES): InProcessMount {
    const caps = negotiateCapabilities(offered, SERVER_CAPABILITIES);
    const m = this.mounts.add(this.served, caps);
    const client: ClientInfo = { clientId: m.mountId, remoteAddress: undefined, remotePort: undefined };
    const handlers = this.handlers as unknown as Record<string, AnyHandler | undefined>;
    const calls = new Map<string, number>();
    const rpc = {
      calls,
      async call<M extends ProxyFsRpcMethod>(method: M, request: RequestOf<M>): Promise<ReplyOf<M>> {
        calls.set(method, (calls.get(method) ?? 0) + 1);
        const spec = proxyFsRpcMethods[method] as unknown as { request: AnyCodec; reply: AnyCodec };
        const handler = handlers[method];
        if (handler === undefined) throw new RpcReplyError(method, UNKNOWN_METHOD_ERRSTR);
        const req = spec.request.decode(parseJson(spec.request.encode(request)), `${method} request`);
        let reply: unknown;
        try {
          reply = await handler(req, client);
        } catch (err) {
          throw new RpcReplyError(method, errstrOf(err));
        }
        return spec.reply.decode(parseJson(spec.reply.encode(reply, `${method} reply`)), `${method} reply`) as ReplyOf<M>;
      },
    };
    return {
      mountId: m.mountId,
      capabilities: new Set(caps),
      rpc,
      attach: (target) => this.#targets.set(m.mountId, target),
    };
  }

  /**
   * pfsagentd's re-mount after proxyfsd forgot `old` (restart): a new MountID with the same
   * capabilities, whose interrupts go to `target`. The old MountID is unmounted (its leases gone).
   * The old mount's `rpc` keeps working for the new MountID (handlers use the request's MountID).
   */
  remount(old: InProcessMount, target: InterruptTarget): InProcessMount {
    this.unmount(old.mountId);
    const m = this.mount([...old.capabilities]);
    m.attach(target);
    return m;
  }

  /** Server.RpcUnmount: the mount's leases are released, it gets no more interrupts. */
  unmount(mountId: string): void {
    this.mounts.delete(mountId);
    this.leases.releaseAll(mountId);
    this.#targets.delete(mountId);
  }

  /** Waits until every interrupt delivered so far was handled by its agent. */
  async idle(): Promise<void> {
    while (this.#delivering.size > 0) await Promise.all([...this.#delivering]);
  }

  close(): void {
    clearInterval(this.#keepAlive);
    this.leases.close();
  }
}
