// AgentLogger: pfsagentd's log lines, in the original's format (pfsagent.md §11):
//   [<RFC3339 time>][<FUSEVolumeName>][<pid>][<LEVEL>] <message>
// written to stderr (LogToConsole) and appended to LogFilePath (if set). A log file that cannot
// be opened is reported once on stderr and then ignored (the original silently retried forever).
import { createWriteStream, type WriteStream } from "node:fs";

export type AgentLogLevel = "FATAL" | "ERROR" | "WARN" | "INFO" | "TRACE";

export interface AgentLoggerOptions {
  volumeName: string;
  toConsole: boolean;
  filePath: string;
  trace?: boolean;
}

export class AgentLogger {
  readonly #o: AgentLoggerOptions;
  #file: WriteStream | undefined;
  #fileFailed = false;

  constructor(options: AgentLoggerOptions) {
    this.#o = options;
    if (options.filePath !== "") {
      this.#file = createWriteStream(options.filePath, { flags: "a", mode: 0o666 });
      this.#file.on("error", (err) => {
        if (!this.#fileFailed) process.stderr.write(`${this.#line("WARN", `cannot write log file ${options.filePath}: ${err.message}`)}\n`);
        this.#fileFailed = true;
        this.#file = undefined;
      });
    }
  }

  #line(level: AgentLogLevel, msg: string): string {
    return `[${new Date().toISOString()}][${this.#o.volumeName}][${process.pid}][${level}] ${msg}`;
  }

  log(level: AgentLogLevel, msg: string): void {
    if (level === "TRACE" && !this.#o.trace) return;
    const line = `${this.#line(level, msg)}\n`;
    if (this.#o.toConsole) process.stderr.write(line);
    this.#file?.write(line);
  }

  info(msg: string): void { this.log("INFO", msg); }
  warn(msg: string): void { this.log("WARN", msg); }
  error(msg: string): void { this.log("ERROR", msg); }
  trace(msg: string): void { this.log("TRACE", msg); }

  /** Flushes and closes the log file. */
  close(): Promise<void> {
    const f = this.#file;
    this.#file = undefined;
    return f ? new Promise((resolve) => f.end(resolve)) : Promise.resolve();
  }
}
