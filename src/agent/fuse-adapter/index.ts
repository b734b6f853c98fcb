// Public API of agent/fuse-adapter: AgentFs served through the FUSE library.
export { AgentFuseAdapter, agentCapabilities, attrOf, kernelInvalidator, type FuseAdapterOptions } from "./fuse-adapter.js";
