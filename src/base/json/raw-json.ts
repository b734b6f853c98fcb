// RawJson: a piece of JSON text that stringifyJson() inserts verbatim.
// It lets a codec that already produced exact bytes (a cached reply, a schema encoder writing Go field
// order) embed them in a larger document without a parse/stringify round trip.
// INVARIANT: `text` is one complete, valid JSON value; the constructor does not re-check it (callers
// own that), because the whole point is to avoid re-parsing on hot paths.

export class RawJson {
  readonly text: string;

  constructor(text: string) {
    if (typeof text !== "string" || text.length === 0) {
      throw new TypeError("RawJson needs a non-empty JSON text");
    }
    this.text = text;
  }

  toString(): string {
    return this.text;
  }
}
