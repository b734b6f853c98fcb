// Public API of agent/config: the typed [Agent] configuration of pfsagentd.
export * from "./agent-config.js";
export * from "./redact.js";
export * from "./render-effective-config.js";
export * from "./check-config.js";
