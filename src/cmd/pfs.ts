#!/usr/bin/env node
// pfs: the admin command. A thin dispatcher: each subcommand lives with the code it drives.
//   pfs <subcommand> [args...]       (pfs help lists them)
// Exit status: the subcommand's (0 success), 2 for an unknown subcommand.
import { fsckCommand, mkfsCommand, type CommandIo } from "../volume/persist/admin-commands.js";
import { upCommand } from "./pfs-up.js";

type Subcommand = { run: (args: readonly string[], io: CommandIo) => Promise<number>; summary: string };

const subcommands: Record<string, Subcommand> = {
  mkfs: { run: mkfsCommand, summary: "format a volume's metadata container in the object store (refuses to overwrite without --force)" },
  up: { run: upCommand, summary: "run object store + proxyfsd + pfsagentd on this machine and mount the volume (pfs up [MOUNTPOINT] [--data DIR] [--port-base N])" },
  fsck: { run: fsckCommand, summary: "check a volume's references and counters (--repair fixes the simple cases)" },
};

const io: CommandIo = { out: (l) => process.stdout.write(`${l}\n`), err: (l) => process.stderr.write(`${l}\n`) };
const [name, ...rest] = process.argv.slice(2);
const sub = name === undefined ? undefined : subcommands[name];
if (sub === undefined) {
  const list = Object.entries(subcommands).map(([n, s]) => `  ${n.padEnd(6)} ${s.summary}`).join("\n");
  if (name !== undefined && name !== "help" && name !== "-h" && name !== "--help") io.err(`pfs: unknown subcommand ${JSON.stringify(name)}`);
  io.err(`usage: pfs <subcommand> [args...]\n${list}`);
  process.exit(name === "help" || name === "-h" || name === "--help" ? 0 : 2);
}
process.exitCode = await sub.run(rest, io);
