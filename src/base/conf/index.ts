// Public API of base/conf: the ProxyFS `conf` INI format (parser, typed getters, section schemas).
export * from "./conf-error.js";
export * from "./conf-syntax.js";
export * from "./conf-map.js";
export * from "./conf-schema.js";
export * from "./go-duration.js";
export * from "./go-number.js";
