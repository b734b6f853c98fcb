// A struct layout declared once drives both decoding and encoding (little-endian, as the kernel
// uses on every architecture we run on). Field types: unsigned/signed 8..64 bits; 64-bit fields
// are bigint, the rest are number. INVARIANT: the declared fields tile the struct with no implicit
// padding; padding the kernel has is declared as an explicit field so sizes match fuse.h exactly.

export type FieldType = "u8" | "u16" | "u32" | "i32" | "u64" | "i64";

type FieldValue<T extends FieldType> = T extends "u64" | "i64" ? bigint : number;

export type FieldList = readonly (readonly [string, FieldType])[];

export type Decoded<F extends FieldList> = {
  -readonly [K in F[number] as K[0]]: FieldValue<K[1]>;
};

const widths: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, i64: 8 };

export interface StructLayout<F extends FieldList> {
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** Decodes `size` bytes at `offset`; throws RangeError when the buffer is too short. */
  decode(buf: Buffer, offset?: number): Decoded<F>;
  /** Encodes into `buf` at `offset`; missing fields are written as 0. Returns offset + size. */
  encodeInto(value: Partial<Decoded<F>>, buf: Buffer, offset?: number): number;
  /** Encodes into a new zero-filled buffer of exactly `size` bytes. */
  encode(value: Partial<Decoded<F>>): Buffer;
}

export function defineStruct<const F extends FieldList>(name: string, fields: F): StructLayout<F> {
  const offsets: number[] = [];
  let size = 0;
  for (const [, type] of fields) {
    offsets.push(size);
    size += widths[type];
  }
  // Specialised decoder/encoder bodies are generated once per struct: the FUSE hot path decodes
  // a header and an op struct per request, and straight-line code is several times faster than
  // a loop over the field table.
  const reader: Record<FieldType, string> = {
    u8: "buf[o+@]", u16: "buf.readUInt16LE(o+@)", u32: "buf.readUInt32LE(o+@)",
    i32: "buf.readInt32LE(o+@)", u64: "buf.readBigUInt64LE(o+@)", i64: "buf.readBigInt64LE(o+@)",
  };
  const writer: Record<FieldType, string> = {
    u8: "buf[o+@]=(x??0)&255", u16: "buf.writeUInt16LE((x??0)&65535,o+@)", u32: "buf.writeUInt32LE((x??0)>>>0,o+@)",
    i32: "buf.writeInt32LE((x??0)|0,o+@)", u64: "buf.writeBigUInt64LE(BigInt.asUintN(64,x??0n),o+@)",
    i64: "buf.writeBigInt64LE(BigInt.asIntN(64,x??0n),o+@)",
  };
  const decodeBody = "return {" + fields.map(([f, t], i) => `${JSON.stringify(f)}:${reader[t].replace("@", String(offsets[i]))}`).join(",") + "};";
  const encodeBody = fields.map(([f, t], i) => `{const x=v[${JSON.stringify(f)}];${writer[t].replace("@", String(offsets[i]))};}`).join("\n") + `\nreturn o+${size};`;
  const decodeFn = new Function("buf", "o", decodeBody) as (buf: Buffer, o: number) => Decoded<F>;
  const encodeFn = new Function("v", "buf", "o", encodeBody) as (v: Partial<Decoded<F>>, buf: Buffer, o: number) => number;
  const layout: StructLayout<F> = {
    name,
    size,
    fields,
    decode(buf: Buffer, offset = 0): Decoded<F> {
      if (buf.length - offset < size) {
        throw new RangeError(`Cannot decode ${name}: need ${size} bytes at offset ${offset}, buffer has ${buf.length - offset}`);
      }
      return decodeFn(buf, offset);
    },
    encodeInto(value: Partial<Decoded<F>>, buf: Buffer, offset = 0): number {
      return encodeFn(value, buf, offset);
    },
    encode(value: Partial<Decoded<F>>): Buffer {
      const buf = Buffer.alloc(size);
      encodeFn(value, buf, 0);
      return buf;
    },
  };
  return layout;
}
