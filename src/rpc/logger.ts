// The rpc layer logs through an injected function so daemons route it to their own logger and tests
// can stay quiet or assert on messages.
export type RpcLogLevel = "debug" | "info" | "warn" | "error";
export type RpcLogger = (level: RpcLogLevel, message: string) => void;

/** Default: warnings and errors on stderr. */
export const defaultRpcLogger: RpcLogger = (level, message) => {
  if (level === "warn" || level === "error") process.stderr.write(`retryrpc ${level}: ${message}\n`);
};
