/**
 * A minimal, dependency-free protobuf encoder for the parts of ONNX's
 * ModelProto that ganpool writes (onnx/onnx.proto, proto2 wire format):
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto,
 * ValueInfoProto and metadata_props. Field numbers follow onnx.proto.
 * Also the one reader ganpool needs: a ModelProto's metadata_props
 * (onnxMetadataProps), which ONNX Runtime's Node API does not expose.
 *
 * Attribute kinds are explicit: JavaScript cannot tell 1 from 1.0, and ONNX
 * Runtime rejects an INT where an op wants a FLOAT (LeakyRelu's alpha).
 */

/** Element types of the tensors ganpool writes (TensorProto.DataType). */
export type ElemType = 'float' | 'int64';
const DATA_TYPE: Record<ElemType, number> = { float: 1, int64: 7 };

/** A tensor with its data as little-endian bytes (raw_data). */
export interface TensorProto {
  name: string;
  dims: number[];
  dataType: ElemType;
  raw: Uint8Array;
}

/** One attribute of a node, its kind explicit. */
export type AttrValue =
  | { kind: 'float'; value: number }
  | { kind: 'int'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'floats'; value: readonly number[] }
  | { kind: 'string'; value: string }
  | { kind: 'tensor'; value: TensorProto };

/** A node: op type, named inputs and outputs ('' = an omitted optional input), attributes. */
export interface NodeProto {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttrValue>;
}

/** A graph input or output: its name, element type and shape (a string = symbolic dimension; no shape = unknown). */
export interface ValueInfoProto {
  name: string;
  elemType: ElemType;
  shape?: (number | string)[];
}

export interface GraphProto {
  name: string;
  nodes: NodeProto[];
  initializers: TensorProto[];
  inputs: ValueInfoProto[];
  outputs: ValueInfoProto[];
}

export interface ModelProto {
  graph: GraphProto;
  /** Written as ModelProto.metadata_props. */
  metadata?: Record<string, string>;
}

/** IR version 8 (ONNX 1.10+), opset 17 of the default domain. */
export const IR_VERSION = 8;
export const OPSET = 17;
export const PRODUCER = 'ganpool';

const ATTR_TYPE = { float: 1, int: 2, string: 3, tensor: 4, floats: 6, ints: 7 } as const;
const utf8 = new TextEncoder();

/** Collects bytes; nested messages are appended by reference, so large tensors are copied once. */
class Writer {
  private parts: Uint8Array[] = [];
  private cur: number[] = [];
  length = 0;

  private flush(): void {
    if (this.cur.length > 0) { this.parts.push(Uint8Array.from(this.cur)); this.cur = []; }
  }
  varint(v: number | bigint): void {
    if (typeof v === 'number' && v >= 0 && Number.isSafeInteger(v)) {
      while (v >= 0x80) { this.cur.push((v % 0x80) | 0x80); v = Math.floor(v / 0x80); this.length++; }
      this.cur.push(v); this.length++;
      return;
    }
    // Negative int64s are ten bytes of two's complement.
    let b = BigInt.asUintN(64, BigInt(v));
    while (b >= 0x80n) { this.cur.push(Number(b & 0x7fn) | 0x80); b >>= 7n; this.length++; }
    this.cur.push(Number(b)); this.length++;
  }
  tag(field: number, wire: 0 | 2 | 5): void { this.varint(field * 8 + wire); }
  int(field: number, v: number): void { this.tag(field, 0); this.varint(v); }
  bytes(field: number, bytes: Uint8Array): void {
    this.tag(field, 2); this.varint(bytes.length);
    this.flush(); this.parts.push(bytes); this.length += bytes.length;
  }
  string(field: number, s: string): void { this.bytes(field, utf8.encode(s)); }
  float(field: number, v: number): void {
    this.tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    for (const x of b) this.cur.push(x);
    this.length += 4;
  }
  message(field: number, fill: (w: Writer) => void): void {
    const sub = new Writer();
    fill(sub);
    sub.flush();
    this.tag(field, 2); this.varint(sub.length);
    this.flush();
    for (const p of sub.parts) this.parts.push(p);
    this.length += sub.length;
  }
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const p of this.parts) { out.set(p, offset); offset += p.length; }
    return out;
  }
}

function tensor(w: Writer, t: TensorProto): void {
  for (const d of t.dims) w.int(1, d);
  w.int(2, DATA_TYPE[t.dataType]);
  w.string(8, t.name);
  w.bytes(9, t.raw);
}

function attribute(w: Writer, name: string, a: AttrValue): void {
  w.string(1, name);
  switch (a.kind) {
    case 'float': w.float(2, a.value); break;
    case 'int': w.int(3, a.value); break;
    case 'string': w.string(4, a.value); break;
    case 'tensor': w.message(5, (m) => tensor(m, a.value)); break;
    case 'floats': for (const v of a.value) w.float(7, v); break;
    case 'ints': for (const v of a.value) w.int(8, v); break;
  }
  w.int(20, ATTR_TYPE[a.kind]);
}

function node(w: Writer, n: NodeProto): void {
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, n.name);
  w.string(4, n.opType);
  for (const [name, a] of Object.entries(n.attributes)) w.message(5, (m) => attribute(m, name, a));
}

function valueInfo(w: Writer, v: ValueInfoProto): void {
  w.string(1, v.name);
  w.message(2, (type) => type.message(1, (t) => {
    t.int(1, DATA_TYPE[v.elemType]);
    if (v.shape) {
      const shape = v.shape;
      t.message(2, (s) => {
        for (const d of shape) s.message(1, (dim) => (typeof d === 'string' ? dim.string(2, d) : dim.int(1, d)));
      });
    }
  }));
}

function graph(w: Writer, g: GraphProto): void {
  for (const n of g.nodes) w.message(1, (m) => node(m, n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, (m) => tensor(m, t));
  for (const v of g.inputs) w.message(11, (m) => valueInfo(m, v));
  for (const v of g.outputs) w.message(12, (m) => valueInfo(m, v));
}

/** Encodes a model: IR version 8, producer 'ganpool', opset 17 of the default domain. */
export function encodeModel(model: ModelProto): Uint8Array {
  const w = new Writer();
  w.int(1, IR_VERSION);
  w.string(2, PRODUCER);
  w.message(7, (m) => graph(m, model.graph));
  w.message(8, (m) => { m.string(1, ''); m.int(2, OPSET); });
  for (const [key, value] of Object.entries(model.metadata ?? {})) {
    w.message(14, (m) => { m.string(1, key); m.string(2, value); });
  }
  return w.finish();
}

/** A float32 tensor (copied into raw_data). */
export function floatTensor(name: string, dims: number[], data: Float32Array | readonly number[]): TensorProto {
  const f = Float32Array.from(data);
  return { name, dims, dataType: 'float', raw: new Uint8Array(f.buffer) };
}

/** An int64 tensor (shape and axes constants). */
export function int64Tensor(name: string, dims: number[], values: readonly number[]): TensorProto {
  const b = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: 'int64', raw: new Uint8Array(b.buffer) };
}

/**
 * Reads an ONNX ModelProto's metadata_props (field 14: key 1, value 2) with
 * a minimal protobuf walk over the top-level fields. Throws (with a reason)
 * when the bytes are not a ModelProto: a bad wire type or length, or no
 * ir_version (field 1) or graph (field 7). ONNX Runtime's Node API does not
 * expose the model's custom metadata.
 */
export function onnxMetadataProps(bytes: Uint8Array): Map<string, string> {
  if (bytes.length === 0) throw new Error('empty file');
  let top: PbField[];
  try {
    top = pbFields(bytes, 0, bytes.length);
  } catch (e) {
    throw new Error(`not protocol-buffer data: ${(e as Error).message}`, { cause: e });
  }
  const has = (num: number): boolean => top.some((f) => f.num === num);
  if (!has(1) || !has(7)) throw new Error(`no ${has(1) ? 'graph' : 'ir_version'} field`);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const props = new Map<string, string>();
  for (const entry of top) {
    if (entry.num !== 14 || entry.from === undefined) continue;
    let k = '', v = '';
    for (const f of pbFields(bytes, entry.from, entry.to!)) {
      if (f.from === undefined) continue;
      if (f.num === 1) k = utf8.decode(bytes.subarray(f.from, f.to));
      else if (f.num === 2) v = utf8.decode(bytes.subarray(f.from, f.to));
    }
    props.set(k, v);
  }
  return props;
}

/** One protobuf field: its number and either a varint value or the byte span of a length-delimited value. */
interface PbField { num: number; varint?: number; from?: number; to?: number }

/** The fields of a protobuf message in bytes [start, end); throws on malformed data. */
function pbFields(bytes: Uint8Array, start: number, end: number): PbField[] {
  let pos = start;
  const varint = (): number => {
    let value = 0, scale = 1;
    for (;;) {
      if (pos >= end) throw new Error('truncated varint');
      const b = bytes[pos++];
      value += (b & 0x7f) * scale;
      if (b < 0x80) return value;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error('varint too long');
    }
  };
  const out: PbField[] = [];
  while (pos < end) {
    const key = varint(), num = Math.floor(key / 8), wire = key % 8;
    if (num === 0) throw new Error('field number 0');
    if (wire === 0) out.push({ num, varint: varint() });
    else if (wire === 1 || wire === 5) pos += wire === 1 ? 8 : 4;
    else if (wire === 2) {
      const len = varint(), from = pos;
      pos += len;
      if (pos > end) throw new Error('a field runs past the end of its message');
      out.push({ num, from, to: pos });
    } else throw new Error(`wire type ${wire}`);
    if (pos > end) throw new Error('truncated field');
  }
  return out;
}

/** Length-delimited field numbers, per message kind, that hold tensors or messages holding tensors (onnx.proto). */
const TENSOR_PATHS: Record<string, Record<number, string>> = {
  model: { 7: 'graph', 25: 'function' },
  function: { 7: 'node' },
  graph: { 1: 'node', 5: 'tensor', 15: 'sparse' },
  node: { 5: 'attribute' },
  attribute: { 5: 'tensor', 6: 'graph', 10: 'tensor', 11: 'graph', 22: 'sparse', 23: 'sparse' },
  sparse: { 1: 'tensor', 2: 'tensor' },
};
/** TensorProto.data_location EXTERNAL. */
const DATA_LOCATION_EXTERNAL = 1;

/**
 * The name of the first tensor of an ONNX ModelProto whose data live in an external file
 * (TensorProto data_location EXTERNAL, or external_data entries), in initializers, sparse
 * initializers, node attributes, subgraphs and functions; null when the model is self-contained.
 * Throws on bytes that are not protocol-buffer data.
 */
export function onnxExternalTensor(bytes: Uint8Array): string | null {
  const utf8d = new TextDecoder('utf-8', { fatal: false });
  const visit = (kind: string, from: number, to: number, depth: number): string | null => {
    if (depth > 64) throw new Error('messages nested more than 64 deep');
    const fields = pbFields(bytes, from, to);
    if (kind === 'tensor') {
      const external = fields.some((f) => (f.num === 14 && f.varint === DATA_LOCATION_EXTERNAL) || (f.num === 13 && f.from !== undefined));
      if (!external) return null;
      const name = fields.find((f) => f.num === 8 && f.from !== undefined);
      return name ? utf8d.decode(bytes.subarray(name.from, name.to)) : '(unnamed)';
    }
    for (const f of fields) {
      const sub = TENSOR_PATHS[kind][f.num];
      if (sub === undefined || f.from === undefined) continue;
      const found = visit(sub, f.from, f.to!, depth + 1);
      if (found !== null) return found;
    }
    return null;
  };
  return visit('model', 0, bytes.length, 0);
}
