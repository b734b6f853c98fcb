// Public API of agent/http: the agent's embedded HTTP server.
export { AgentHttpServer, formatMetrics, type AgentHttpSources } from "./agent-http-server.js";
