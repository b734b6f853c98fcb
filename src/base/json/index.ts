// Public API of base/json/: a bigint-safe JSON codec whose output matches Go's encoding/json.
export { parseJson, JsonParseError, type ParseJsonOptions } from "./parse-json.js";
export { stringifyJson, quoteGoString, JsonStringifyError, type StringifyJsonOptions } from "./stringify-json.js";
export { RawJson } from "./raw-json.js";
