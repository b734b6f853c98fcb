// `pfs mkfs` and `pfs fsck` (dispatched by src/cmd/pfs.ts). The volume is addressed either by a
// proxyfsd .conf (its [ObjectStore] and [Volume:V] sections) or directly:
//   pfs mkfs  (--conf FILE [--volume V] | --auth-url URL --user U --key K --account AUTH_x)
//             [--container-prefix P] [--force]
//   pfs fsck  (same addressing) [--repair] [--quiet]
// Exit status: 0 done / clean, 1 failure / problems found, 2 bad usage.
import { ConfError, ConfMap, ConfProblemsError } from "../../base/conf/index.js";
import { SwiftObjectStore, tempAuth, type ObjectStore } from "../../objstore/index.js";
import { forAccount, loadProxyfsdConfig, objectStoreForAccount } from "../config/index.js";
import { fsck } from "./fsck.js";
import { DEFAULT_CONTAINER_PREFIX, metaContainer } from "./layout.js";
import { PersistError, PersistentVolume } from "./persistent-volume.js";

export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

class UsageError extends Error {
  readonly code = "ERR_USAGE";
}

interface Target {
  store: ObjectStore;
  accountName: string;
  containerPrefix: string;
}

function parseFlags(args: readonly string[], valued: readonly string[], bools: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (bools.includes(a)) m.set(a, "1");
    else if (valued.includes(a)) {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      m.set(a, v);
    } else throw new UsageError(`unknown argument ${JSON.stringify(a)}`);
  }
  return m;
}


function target(f: Map<string, string>): Target {
  const prefixFlag = f.get("--container-prefix");
  if (f.has("--conf")) {
    const cfg = loadProxyfsdConfig(ConfMap.fromArgs([f.get("--conf")!]));
    const name = f.get("--volume");
    const vol = name === undefined ? cfg.volumes[0] : cfg.volumes.find((v) => v.name === name);
    if (vol === undefined) throw new UsageError(`${f.get("--conf")} serves no volume ${JSON.stringify(name)} (it serves ${cfg.volumes.map((v) => v.name).join(", ")})`);
    if (name === undefined && cfg.volumes.length > 1) throw new UsageError(`${f.get("--conf")} serves several volumes; name one with --volume`);
    const store = objectStoreForAccount(cfg, vol.accountName, "pfs");
    if (store === undefined) throw new UsageError(`${f.get("--conf")} has no [ObjectStore] section`);
    return { store, accountName: vol.accountName, containerPrefix: prefixFlag ?? vol.persist?.containerPrefix ?? DEFAULT_CONTAINER_PREFIX };
  }
  const url = f.get("--auth-url");
  const user = f.get("--user");
  const key = f.get("--key");
  const account = f.get("--account");
  if (url === undefined || user === undefined || key === undefined || account === undefined) {
    throw new UsageError("name the volume with --conf FILE [--volume V], or with --auth-url, --user, --key and --account");
  }
  const authenticate = tempAuth({ authUrl: url, user, key, transformStorageUrl: (u) => forAccount(u, account) });
  return { store: new SwiftObjectStore({ authenticate, userAgent: "pfs" }), accountName: account, containerPrefix: prefixFlag ?? DEFAULT_CONTAINER_PREFIX };
}

const ADDRESS = ["--conf", "--volume", "--auth-url", "--user", "--key", "--account", "--container-prefix"];

async function run(io: CommandIo, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${err.message}\nusage: ${usage}`);
      return 2;
    }
    if (err instanceof ConfProblemsError) {
      for (const p of err.problems) io.err(`bad configuration: ${p.message}`);
      return 1;
    }
    if (err instanceof ConfError || err instanceof PersistError) {
      io.err(err.message);
      return 1;
    }
    io.err(`failed: ${(err as Error).message}`);
    return 1;
  }
}

export function mkfsCommand(args: readonly string[], io: CommandIo): Promise<number> {
  return run(io, "pfs mkfs (--conf FILE [--volume V] | --auth-url URL --user U --key K --account AUTH_x) [--container-prefix P] [--force]", async () => {
    const f = parseFlags(args, ADDRESS, ["--force"]);
    const t = target(f);
    try {
      const h = await PersistentVolume.format({ objectStore: t.store, accountName: t.accountName, containerPrefix: t.containerPrefix, force: f.has("--force") });
      io.out(`formatted ${t.accountName} container ${metaContainer(t.containerPrefix)} (epoch ${h.epoch}, ${h.pageCount} page${h.pageCount === 1 ? "" : "s"})`);
      return 0;
    } finally {
      await t.store.close();
    }
  });
}

export function fsckCommand(args: readonly string[], io: CommandIo): Promise<number> {
  return run(io, "pfs fsck (--conf FILE [--volume V] | --auth-url URL --user U --key K --account AUTH_x) [--container-prefix P] [--repair] [--quiet]", async () => {
    const f = parseFlags(args, ADDRESS, ["--repair", "--quiet"]);
    const t = target(f);
    try {
      const r = await fsck({
        objectStore: t.store, accountName: t.accountName, containerPrefix: t.containerPrefix, repair: f.has("--repair"),
        ...(f.has("--quiet") ? {} : { progress: (l: string) => io.err(`fsck: ${l}`) }),
      });
      for (const p of r.problems) io.out(`problem: ${p}`);
      for (const o of r.orphans) io.out(`orphan: ${o}`);
      for (const x of r.repaired) io.out(`repaired: ${x}`);
      io.out(`${r.clean ? "clean" : "NOT clean"}: ${r.inodes} inodes, ${r.directories} directories, ${r.entries} entries, ${r.segments} segments; ${r.problems.length} problems, ${r.orphans.length} orphans, ${r.repaired.length} repaired`);
      return r.clean ? 0 : 1;
    } finally {
      await t.store.close();
    }
  });
}
