// Public API of agent/log.
export { AgentLogger, type AgentLogLevel, type AgentLoggerOptions } from "./agent-logger.js";
