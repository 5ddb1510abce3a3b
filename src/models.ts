/**
 * Model presets as plain data: the layer lists of each generator and
 * discriminator, the shapes of their trainable parameters, and a seeded
 * initialisation. Nothing here loads TensorFlow.js; the workers turn these
 * specs into tf.layers models (workers/build-model.ts).
 */
import { hashInts, sfc32 } from './rng.js';

/** An activation a layer can apply. */
export type Activation = 'linear' | 'relu' | 'tanh' | 'sigmoid';

/** One layer of a network spec. */
export type LayerSpec =
  | { kind: 'dense'; units: number; activation: Activation }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'flatten' }
  | { kind: 'reshape'; shape: number[] };

/** A feed-forward network: its input shape (without the batch) and its layers. */
export interface NetSpec {
  inputShape: number[];
  layers: LayerSpec[];
}

/** A generator/discriminator pair for images of one shape. */
export interface ModelPreset {
  name: string;
  latentDim: number;
  imageShape: [number, number, number];
  generator: NetSpec;
  discriminator: NetSpec;
}

/** One trainable parameter tensor of a network. */
export interface ParamShape {
  name: string;
  shape: number[];
  role: 'kernel' | 'bias';
  fanIn: number;
  fanOut: number;
}

/** The names of the built-in model presets. */
export const MODEL_NAMES = ['mlp', 'seed'] as const;
/** A built-in model preset name. */
export type ModelName = (typeof MODEL_NAMES)[number];

const dense = (units: number, activation: Activation = 'linear'): LayerSpec => ({ kind: 'dense', units, activation });
const lrelu = (alpha = 0.2): LayerSpec => ({ kind: 'leakyRelu', alpha });

function mlpPair(name: string, g: LayerSpec[], d: LayerSpec[], imageShape: [number, number, number]): ModelPreset {
  const pixels = imageShape[0] * imageShape[1] * imageShape[2];
  return {
    name,
    latentDim: 100,
    imageShape,
    generator: { inputShape: [100], layers: [...g, dense(pixels, 'tanh'), { kind: 'reshape', shape: [...imageShape] }] },
    discriminator: { inputShape: [...imageShape], layers: [{ kind: 'flatten' }, ...d, dense(1)] },
  };
}

/** Builds the named preset for images of the given shape (height, width, channels). */
export function modelPreset(name: ModelName, imageShape: [number, number, number]): ModelPreset {
  switch (name) {
    case 'seed':
      return mlpPair(name, [dense(128, 'relu'), dense(128, 'relu')], [dense(128, 'relu'), dense(128, 'relu')], imageShape);
    case 'mlp':
      return mlpPair(name, [dense(256, 'relu'), dense(512, 'relu')], [dense(512), lrelu(), dense(256), lrelu()], imageShape);
  }
}

/** The trainable parameter shapes of a network, in the order tf.layers lists its trainable weights. */
export function paramShapes(net: NetSpec): ParamShape[] {
  const out: ParamShape[] = [];
  let shape = [...net.inputShape];
  net.layers.forEach((layer, i) => {
    switch (layer.kind) {
      case 'dense': {
        const fanIn = shape[shape.length - 1]!;
        out.push({ name: `layer${i}/kernel`, shape: [fanIn, layer.units], role: 'kernel', fanIn, fanOut: layer.units });
        out.push({ name: `layer${i}/bias`, shape: [layer.units], role: 'bias', fanIn, fanOut: layer.units });
        shape = [...shape.slice(0, -1), layer.units];
        break;
      }
      case 'flatten':
        shape = [shape.reduce((a, b) => a * b, 1)];
        break;
      case 'reshape':
        shape = [...layer.shape];
        break;
      case 'leakyRelu':
        break;
    }
  });
  return out;
}

/** Number of scalars in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Total number of trainable scalars of a network. */
export function paramCount(net: NetSpec): number {
  return paramShapes(net).reduce((n, p) => n + sizeOf(p.shape), 0);
}

/**
 * Seeded Glorot-uniform kernels and zero biases (the Keras defaults), written
 * into `out` in {@link paramShapes} order. `stream` separates G from D.
 */
export function initParams(net: NetSpec, seed: number, stream: number, out: Float32Array): void {
  let offset = 0;
  paramShapes(net).forEach((p, i) => {
    const n = sizeOf(p.shape);
    if (p.role === 'kernel') {
      const next = sfc32(hashInts(seed, 0x1417, stream, i));
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let k = 0; k < n; k++) out[offset + k] = (2 * next() - 1) * limit;
    } else {
      out.fill(0, offset, offset + n);
    }
    offset += n;
  });
}
