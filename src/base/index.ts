// Public API of base/: leaf utilities every other layer may use.
export * from "./errno.js";
export * from "./json/index.js";
