// pfs-objserver: runs the embedded Swift-API server (objstore/server) from the command line.
//   node dist/src/cmd/pfs-objserver.js --dir D --port P --user test:tester:testing [--user ...]
//        [--host 127.0.0.1] [--token-lifetime SECONDS]
// Without --dir everything is kept in memory. Prints "pfs-objserver listening on <url>" once
// ready; SIGINT/SIGTERM close it.
import { SwiftApiServer, parseUserSpec, type SwiftUser } from "../objstore/index.js";

function usage(msg: string): never {
  process.stderr.write(`pfs-objserver: ${msg}\nusage: pfs-objserver [--dir DIR] [--host ADDR] [--port PORT] --user account:user:key[:AUTH_name] ...\n`);
  process.exit(2);
}

const users: SwiftUser[] = [];
let dir: string | undefined;
let host = "127.0.0.1";
let port = 8080;
let tokenLifetimeSec: number | undefined;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = (): string => {
    const v = args[++i];
    if (v === undefined) usage(`${a} needs a value`);
    return v;
  };
  switch (a) {
    case "--dir": dir = value(); break;
    case "--host": host = value(); break;
    case "--port": {
      const v = value();
      port = Number(v);
      if (!/^\d+$/.test(v) || port > 65535) usage(`--port ${JSON.stringify(v)} is not a port number`);
      break;
    }
    case "--user":
      try { users.push(parseUserSpec(value())); } catch (err) { usage((err as Error).message); }
      break;
    case "--token-lifetime": {
      const v = value();
      tokenLifetimeSec = Number(v);
      if (!/^\d+$/.test(v) || tokenLifetimeSec === 0) usage(`--token-lifetime ${JSON.stringify(v)} is not a positive number of seconds`);
      break;
    }
    case "-h": case "--help": usage("help");
    default: usage(`unknown argument ${JSON.stringify(a)}`);
  }
}
if (users.length === 0) usage("at least one --user is required");

try {
  const server = await SwiftApiServer.start({
    users, host, port,
    ...(dir !== undefined ? { dir } : {}),
    ...(tokenLifetimeSec !== undefined ? { tokenLifetimeSec } : {}),
    log: (line) => process.stderr.write(`pfs-objserver: ${line}\n`),
  });
  process.stdout.write(`pfs-objserver listening on ${server.url} (auth ${server.authUrl}, ${dir ? `data in ${dir}` : "in memory"})\n`);
  const stop = (): void => {
    server.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
} catch (err) {
  process.stderr.write(`pfs-objserver: cannot start: ${(err as Error).message}\n`);
  process.exit(1);
}
