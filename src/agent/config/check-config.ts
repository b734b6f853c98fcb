// `pfsagentd --check-config <file.conf|-> [Section.Option=value ...]`: load and validate the
// configuration exactly as the daemon would, check what the daemon needs from the machine
// (mount point, plug-in executable, CA file), and print every problem at once, or the
// effective configuration with secrets redacted. Never throws; the command wiring only prints
// `output` and exits with `exitCode` (0 valid, 1 invalid, 2 usage).
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join, resolve } from "node:path";
import { ConfError, ConfMap, ConfProblemsError, formatOrigin, type ConfOrigin } from "../../base/conf/index.js";
import { AGENT_SECTION, type AgentConfig, loadAgentConfig, type LoadedAgentConfig } from "./agent-config.js";
import { renderEffectiveConfig } from "./render-effective-config.js";

export interface CheckConfigOptions {
  /** Directory relative paths are resolved against (default process.cwd()). */
  readonly cwd?: string;
  /** Environment for the PATH lookup of PlugInPath (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  /** Source of the configuration when the path is "-" (default: read fd 0). */
  readonly readStdin?: () => Buffer | string;
}

export interface CheckConfigResult {
  readonly exitCode: 0 | 1 | 2;
  readonly output: string;
}

export const CHECK_CONFIG_USAGE = "usage: pfsagentd --check-config <file.conf|-> [Section.Option=value ...]";

export interface EnvironmentFindings {
  readonly errors: string[];
  readonly warnings: string[];
}

function isReadableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.R_OK);
    return true;
  } catch {
    return false;
  }
}

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks what the daemon will need at start-up: FUSEMountPointPath is an existing directory,
 * PlugInPath is executable (explicit path) or found in PATH, RetryRPCCACertFilePath holds a PEM
 * certificate, LogFilePath's directory exists.
 */
export function checkAgentEnvironment(loaded: LoadedAgentConfig, options: CheckConfigOptions = {}): EnvironmentFindings {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const cfg: AgentConfig = loaded.config;
  const errors: string[] = [];
  const warnings: string[] = [];
  const at = (key: keyof AgentConfig, msg: string): string =>
    `${formatOrigin(loaded.origins[key] as ConfOrigin)}: [${AGENT_SECTION}] ${key}: ${msg}`;

  const mountPoint = resolve(cwd, cfg.FUSEMountPointPath);
  try {
    if (!statSync(mountPoint).isDirectory()) errors.push(at("FUSEMountPointPath", `${mountPoint} is not a directory`));
  } catch (err) {
    errors.push(at("FUSEMountPointPath", `${mountPoint} does not exist or cannot be accessed (${(err as NodeJS.ErrnoException).code ?? err}); the mount point must already exist`));
  }

  if (cfg.PlugInPath.includes("/")) {
    const p = resolve(cwd, cfg.PlugInPath);
    // pfsagentd runs a plug-in given as a .js file with its own node, so it need not be executable.
    if (p.endsWith(".js") ? !isReadableFile(p) : !isExecutableFile(p)) {
      errors.push(at("PlugInPath", `${p} is not ${p.endsWith(".js") ? "a readable file" : "an executable file"}`));
    }
  } else {
    const dirs = (env.PATH ?? "").split(delimiter).filter((d) => d !== "");
    if (!dirs.some((d) => isExecutableFile(join(isAbsolute(d) ? d : resolve(cwd, d), cfg.PlugInPath)))) {
      warnings.push(at("PlugInPath", `${cfg.PlugInPath} was not found in PATH`));
    }
  }

  if (cfg.RetryRPCCACertFilePath !== "") {
    const p = resolve(cwd, cfg.RetryRPCCACertFilePath);
    try {
      if (!readFileSync(p, "utf8").includes("-----BEGIN CERTIFICATE-----")) {
        errors.push(at("RetryRPCCACertFilePath", `${p} contains no PEM certificate`));
      }
    } catch (err) {
      errors.push(at("RetryRPCCACertFilePath", `cannot read ${p} (${(err as NodeJS.ErrnoException).code ?? err})`));
    }
  }

  if (cfg.LogFilePath !== "") {
    const dir = dirname(resolve(cwd, cfg.LogFilePath));
    try {
      if (!statSync(dir).isDirectory()) warnings.push(at("LogFilePath", `${dir} is not a directory; nothing will be logged to a file`));
    } catch {
      warnings.push(at("LogFilePath", `directory ${dir} does not exist; nothing will be logged to a file`));
    }
  }
  return { errors, warnings };
}

/** Runs the whole check; see the module comment. */
export function checkConfig(argv: readonly string[], options: CheckConfigOptions = {}): CheckConfigResult {
  if (argv.length === 0 || argv[0] === "") return { exitCode: 2, output: `${CHECK_CONFIG_USAGE}\n` };
  const cwd = options.cwd ?? process.cwd();
  const file = argv[0]!;
  // Without an explicit cwd keep the path as typed, so messages read "pfsagent.conf:12: ...".
  const path = file === "-" || isAbsolute(file) || options.cwd === undefined ? file : resolve(cwd, file);
  const invalid = (problems: readonly string[]): CheckConfigResult => ({
    exitCode: 1,
    output: problems.map((p) => `error: ${p}\n`).join("") +
      `${file}: configuration is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"})\n`,
  });

  let loaded: LoadedAgentConfig;
  try {
    const conf = ConfMap.fromFile(path, options.readStdin ? { readStdin: options.readStdin } : {});
    conf.updateFromStrings(argv.slice(1));
    loaded = loadAgentConfig(conf);
  } catch (err) {
    if (err instanceof ConfProblemsError) return invalid(err.problems.map((p) => p.message));
    if (err instanceof ConfError) return invalid([err.message]);
    return invalid([`unexpected failure: ${err instanceof Error ? err.message : String(err)}`]);
  }

  const env = checkAgentEnvironment(loaded, options);
  const warnings = [...loaded.warnings, ...env.warnings].map((w) => `warning: ${w}\n`).join("");
  if (env.errors.length > 0) {
    const r = invalid(env.errors);
    return { exitCode: 1, output: warnings + r.output };
  }
  return {
    exitCode: 0,
    output: `${warnings}${file}: configuration OK\n; effective configuration (secrets redacted)\n` +
      renderEffectiveConfig(loaded.config, { origins: loaded.origins }),
  };
}
