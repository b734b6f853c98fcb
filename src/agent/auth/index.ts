// Public API of agent/auth: the auth plug-in runner and StorageURL helpers.
export * from "./auth-plugin.js";
export * from "./auth-plugin-error.js";
export * from "./json-object-scanner.js";
export * from "./storage-url.js";
