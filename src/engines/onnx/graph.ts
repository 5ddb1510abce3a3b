/**
 * A small ONNX graph builder: unique value names, nodes, float and int64
 * constants (deduplicated), graph inputs and outputs, and the encoded model.
 */
import {
  encodeModel, floatTensor, int64Tensor,
  type AttrValue, type ElemType, type NodeProto, type TensorProto, type ValueInfoProto,
} from './proto.js';

export type { AttrValue } from './proto.js';

/** Attribute constructors: every attribute's kind is explicit. */
export const attr = {
  float: (value: number): AttrValue => ({ kind: 'float', value }),
  int: (value: number): AttrValue => ({ kind: 'int', value }),
  ints: (value: readonly number[]): AttrValue => ({ kind: 'ints', value }),
  floats: (value: readonly number[]): AttrValue => ({ kind: 'floats', value }),
  string: (value: string): AttrValue => ({ kind: 'string', value }),
  tensor: (value: TensorProto): AttrValue => ({ kind: 'tensor', value }),
};

/** A dimension: a size, or a symbolic name ('N' = the batch). */
export type Dim = number | string;

/** The symbolic batch dimension. */
export const BATCH = 'N';

export class GraphBuilder {
  private nodes: NodeProto[] = [];
  private initializers: TensorProto[] = [];
  private inputs: ValueInfoProto[] = [];
  private outputs: ValueInfoProto[] = [];
  private names = new Set<string>();
  private counter = 0;
  private memos = new Map<string, unknown>();

  constructor(readonly name = 'ganpool') {}

  /** A fresh value name starting with `hint`. */
  fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.counter++}`; while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  private claim(name: string): string {
    if (this.names.has(name)) throw new Error(`internal: onnx value '${name}' defined twice`);
    this.names.add(name);
    return name;
  }

  /** Adds a node with one output; returns the output's name. */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}): string {
    return this.nodeN(op, inputs, 1, attrs)[0];
  }

  /** Adds a node with `outputs` outputs; returns their names. */
  nodeN(op: string, inputs: string[], outputs: number, attrs: Record<string, AttrValue> = {}): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(op));
    this.nodes.push({ opType: op, name: `n${this.nodes.length}_${op}`, inputs, outputs: names, attributes: attrs });
    return names;
  }

  /** A graph input. */
  input(name: string, shape: Dim[], elemType: ElemType = 'float'): string {
    this.inputs.push({ name: this.claim(name), elemType, shape });
    return name;
  }

  /** Makes `value` a graph output called `name` (through an Identity, which ONNX Runtime removes). */
  output(name: string, value: string, shape?: Dim[]): void {
    this.claim(name);
    this.nodes.push({ opType: 'Identity', name: `n${this.nodes.length}_out_${name}`, inputs: [value], outputs: [name], attributes: {} });
    this.outputs.push({ name, elemType: 'float', ...(shape ? { shape } : {}) });
  }

  /** A named float32 initializer (the data is copied). */
  initializer(name: string, data: Float32Array | readonly number[], dims: number[]): string {
    this.initializers.push(floatTensor(this.claim(name), dims, data));
    return name;
  }

  /** A float32 constant (a scalar when `dims` is []), shared between equal requests. */
  floatConst(values: number | readonly number[], dims?: number[]): string {
    const v = typeof values === 'number' ? [values] : values;
    const d = dims ?? (typeof values === 'number' ? [] : [v.length]);
    return this.memo(`f:${d.join(',')}:${v.join(',')}`, () => {
      const name = this.fresh('const');
      this.initializers.push(floatTensor(name, d, v));
      return name;
    });
  }

  /** An int64 1-D constant (shapes, axes, slice bounds), shared between equal requests. */
  int64Const(values: readonly number[], dims: number[] = [values.length]): string {
    return this.memo(`i:${dims.join(',')}:${values.join(',')}`, () => {
      const name = this.fresh('shape');
      this.initializers.push(int64Tensor(name, dims, values));
      return name;
    });
  }

  /** `make()` once per key: shares a derived value (a transposed kernel) between its users. */
  memo<T>(key: string, make: () => T): T {
    if (this.memos.has(key)) return this.memos.get(key) as T;
    const v = make();
    this.memos.set(key, v);
    return v;
  }

  /** The encoded ModelProto, with `metadata` as metadata_props. */
  toModel(metadata?: Record<string, string>): Uint8Array {
    return encodeModel({
      graph: { name: this.name, nodes: this.nodes, initializers: this.initializers, inputs: this.inputs, outputs: this.outputs },
      ...(metadata ? { metadata } : {}),
    });
  }
}
