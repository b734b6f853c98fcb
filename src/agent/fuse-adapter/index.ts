// Public API of agent/fuse-adapter: AgentFs served through the FUSE library.
export { AgentFuseAdapter, agentCapabilities, attrOf, kernelEntryInvalidator, kernelInvalidator, type FuseAdapterOptions, type InvalidatorLogger, type KernelNotifier } from "./fuse-adapter.js";
