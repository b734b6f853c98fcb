// `pfs up [MOUNTPOINT] [--data DIR] [--port-base N]`: the whole file system on one machine, in the
// foreground (what `npm start` runs). The embedded Swift-API object store runs in this process
// (data under DIR/objects); proxyfsd and pfsagentd run as child processes (a process serving FUSE
// must never touch its own mount, and the store must keep serving while the agent flushes).
// The volume is formatted on first run (proxyfsd's AutoFormat of an empty metadata container).
// DIR/proxyfsd.conf and DIR/pfsagentd.conf are the configurations used; a second agent mounts
// the same volume with
//   pfsagentd DIR/pfsagentd.conf Agent.FUSEMountPointPath=DIR2 Agent.HTTPServerTCPPort=PORT2
// SIGINT/SIGTERM: the agent stops first (it flushes dirty data and unmounts), then proxyfsd (final
// checkpoint), then the store; exit 0 when all stopped cleanly, 1 otherwise.
// Exit status: 1 on a start failure (one clear message), 2 on bad usage.
import { appendFileSync, existsSync, mkdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SwiftApiServer } from "../objstore/index.js";
import type { CommandIo } from "../volume/persist/admin-commands.js";
import {
  ACCOUNT_NAME, DEFAULT_PORT_BASE, HOST, PFSAGENTD, PROXYFSD, SWIFT_ACCOUNT, SWIFT_USER, VOLUME_NAME,
  authUrl, layoutOf, lockDataDir, portsFrom, prepareDataDir, writeAgentConf, writeProxyfsdConf,
} from "./pfs-up-conf.js";
import { UpError, checkPortsFree, startService, withProgress, type Service } from "./pfs-up-service.js";

const USAGE = "pfs up [MOUNTPOINT] [--data DIR] [--port-base N]   (defaults: ./pfs-mnt, ./pfs-data, 8480)";

interface UpArgs {
  mountpoint: string;
  data: string;
  portBase: number;
}

function parseArgs(args: readonly string[]): UpArgs {
  let mountpoint: string | undefined;
  let data = "pfs-data";
  let portBase = DEFAULT_PORT_BASE;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = (): string => {
      const v = args[++i];
      if (v === undefined || v === "") throw new UpError("ERR_USAGE", `${a} needs a value`);
      return v;
    };
    if (a === "--data") data = value();
    else if (a === "--port-base") {
      const v = value();
      portBase = Number(v);
      if (!/^\d+$/.test(v) || portBase < 1 || portBase > 65532) throw new UpError("ERR_USAGE", `--port-base ${JSON.stringify(v)} is not a port number from 1 to 65532`);
    } else if (a.startsWith("-")) throw new UpError("ERR_USAGE", `unknown option ${JSON.stringify(a)}`);
    else if (mountpoint === undefined) mountpoint = a;
    else throw new UpError("ERR_USAGE", `one mount point only (got ${JSON.stringify(mountpoint)} and ${JSON.stringify(a)})`);
  }
  return { mountpoint: resolve(mountpoint ?? "pfs-mnt"), data: resolve(data), portBase };
}

function ensureDir(path: string, what: string): void {
  try {
    mkdirSync(path, { recursive: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A stale FUSE mount (an agent killed without unmounting) answers ENOTCONN: the agent clears it.
    if (e.code === "EEXIST" || e.code === "ENOTCONN") return;
    throw new UpError("ERR_DIR", `cannot create the ${what} ${path}: ${e.message}`);
  }
  let isDir = false;
  try {
    isDir = statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOTCONN") return;
    throw err;
  }
  if (!isDir) throw new UpError("ERR_DIR", `the ${what} ${path} exists and is not a directory`);
}

export async function upCommand(args: readonly string[], io: CommandIo): Promise<number> {
  let a: UpArgs;
  try {
    a = parseArgs(args);
  } catch (err) {
    io.err(`pfs up: ${(err as Error).message}\nusage: ${USAGE}`);
    return 2;
  }
  const say = (l: string): void => io.out(l);
  const l = layoutOf(a.data);
  const ports = portsFrom(a.portBase);
  const services: Service[] = [];
  let store: SwiftApiServer | undefined;
  let unlock: (() => void) | undefined;

  // Signals before anything starts: a Ctrl-C during start-up stops what is already running.
  let stopRequested: ((sig: string) => void) | undefined;
  let signalled: string | undefined;
  const onSignal = (sig: string): void => {
    if (signalled) {
      io.err(`pfs up: ${sig} again: still stopping (waiting for the agent to flush)`);
      return;
    }
    signalled = sig;
    stopRequested?.(sig);
  };
  const sigint = (): void => onSignal("SIGINT");
  const sigterm = (): void => onSignal("SIGTERM");
  process.on("SIGINT", sigint);
  process.on("SIGTERM", sigterm);

  const stopAll = async (): Promise<boolean> => {
    let clean = true;
    // Agent first (flush + unmount need proxyfsd and the store), then proxyfsd (checkpoint), then the store.
    for (const s of [...services].reverse()) {
      const code = await withProgress(`stopping ${s.name}`, say, s.stop("SIGTERM", 60_000));
      if (code !== 0) {
        clean = false;
        io.err(`pfs up: ${s.name} exited with status ${code}${s.name === "pfsagentd" ? ` (see ${join(l.logs, "pfsagentd.log")})` : ""}`);
      }
    }
    if (store) await store.close().catch((e: Error) => {
      clean = false;
      io.err(`pfs up: closing the object store: ${e.message}`);
    });
    unlock?.();
    return clean;
  };

  try {
    const firstRun = !existsSync(l.keyFile);
    const key = prepareDataDir(l);
    unlock = lockDataDir(l);
    ensureDir(a.mountpoint, "mount point");
    await checkPortsFree(HOST, { "object store": ports.store, "proxyfsd JSON-RPC": ports.jsonRpc, "proxyfsd retryrpc": ports.retryRpc, "pfsagentd HTTP": ports.agentHttp });
    writeProxyfsdConf(l, ports, key);
    writeAgentConf(l, ports, key, a.mountpoint);
    say(`pfs up: ${firstRun ? "new data directory" : "data directory"} ${l.data}`);

    const storeLog = join(l.logs, "objstore.log");
    store = await withProgress("starting the object store", say, SwiftApiServer.start({
      dir: l.objects, host: HOST, port: ports.store,
      users: [{ account: SWIFT_ACCOUNT, user: SWIFT_USER, key }],
      proxyfs: { host: HOST, port: ports.jsonRpc },
      log: (line) => appendFileSync(storeLog, `${new Date().toISOString()} ${line}\n`),
    }));
    if (signalled) throw new UpError("ERR_SIGNAL", `${signalled} during start-up`);

    services.push(await withProgress(firstRun ? "starting proxyfsd (formatting the new volume)" : "starting proxyfsd (loading the volume)", say, startService({
      name: "proxyfsd", args: [PROXYFSD, l.proxyfsdConf], logFile: join(l.logs, "proxyfsd.log"),
      ready: / proxyfsd info: serving /, timeoutMs: 120_000,
      echo: (line) => io.err(line), echoIf: / proxyfsd error:/,
    })));
    if (signalled) throw new UpError("ERR_SIGNAL", `${signalled} during start-up`);

    // The agent writes its own log file (LogFilePath); only problems are echoed here.
    services.push(await withProgress(`starting pfsagentd (mounting at ${a.mountpoint})`, say, startService({
      name: "pfsagentd", args: [PFSAGENTD, l.agentConf],
      ready: /\]\[INFO\] ready: /, timeoutMs: 60_000,
      echo: (line) => io.err(line), echoIf: /\]\[(WARN|ERROR|FATAL)\]/,
    })));
    if (signalled) throw new UpError("ERR_SIGNAL", `${signalled} during start-up`);
  } catch (err) {
    const e = err as Error;
    if (e instanceof UpError && e.code === "ERR_SIGNAL") io.err(`pfs up: ${e.message}: stopping`);
    else io.err(`pfs up: cannot start: ${e.message}`);
    await stopAll();
    process.off("SIGINT", sigint);
    process.off("SIGTERM", sigterm);
    return e instanceof UpError && e.code === "ERR_SIGNAL" ? 0 : 1;
  }

  say([
    `pfs up: ready: volume ${VOLUME_NAME} is mounted at ${a.mountpoint}`,
    `  data:          ${l.data} (objects in objects/, TLS in tls/)`,
    `  logs:          ${l.logs} (objstore.log, proxyfsd.log, pfsagentd.log)`,
    `  object store:  http://${HOST}:${ports.store}/v1/${ACCOUNT_NAME} (auth ${authUrl(ports)}, user ${SWIFT_ACCOUNT}:${SWIFT_USER}, key in ${l.keyFile})`,
    `  proxyfsd:      JSON-RPC ${HOST}:${ports.jsonRpc}, retryrpc ${HOST}:${ports.retryRpc} (config ${l.proxyfsdConf})`,
    `  pfsagentd:     http://${HOST}:${ports.agentHttp}/ (GET /version, /config, /metrics; config ${l.agentConf})`,
    `  another agent: node ${PFSAGENTD} ${l.agentConf} Agent.FUSEMountPointPath=DIR2 Agent.HTTPServerTCPPort=PORT2`,
    "  Ctrl-C flushes, unmounts and stops.",
  ].join("\n"));

  // Run until a signal or until a child dies on its own (then stop the rest and fail).
  const why = await new Promise<string>((resolveWhy) => {
    stopRequested = resolveWhy;
    if (signalled) resolveWhy(signalled);
    for (const s of services) void s.exited.then((code) => resolveWhy(`${s.name} exited unexpectedly with status ${code}`));
  });
  const unexpected = signalled === undefined;
  say(`pfs up: ${why}: stopping (agent flushes and unmounts, proxyfsd checkpoints, then the store)`);
  const clean = await stopAll();
  process.off("SIGINT", sigint);
  process.off("SIGTERM", sigterm);
  say(`pfs up: stopped${clean && !unexpected ? "" : " (with errors)"}`);
  return clean && !unexpected ? 0 : 1;
}
