// Public API of agent/http: the agent's embedded HTTP server.
export { AgentHttpServer, formatMetrics, leaseInodeText, type AgentHttpSources } from "./agent-http-server.js";
