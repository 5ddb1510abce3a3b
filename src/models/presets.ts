/**
 * Model presets as plain data: the layer lists of each generator and
 * discriminator, the shapes of their trainable parameters, and a seeded
 * initialisation. Nothing here loads TensorFlow.js; the workers turn these
 * specs into compute graphs: src/engines/onnx/compile.ts (ONNX graphs) and
 * src/engines/tfjs/ops-forward.ts (tf ops; build-model.ts for the exported LayersModel).
 */
import { hashInts, sfc32 } from '../util/rng.js';
import { modelShapeMismatch } from '../errors.js';

/** An activation a layer can apply. */
export type Activation = 'linear' | 'relu' | 'tanh' | 'sigmoid';

/**
 * One layer of a network spec. Convolutions use 'same' padding (for kernel 4,
 * stride 2 that is one pixel each side, as PyTorch's `padding=1`), so a
 * stride-2 conv halves height and width and a stride-2 transposed conv
 * doubles them. `useBias: false` drops the bias (before a batch norm, which
 * has its own offset).
 */
export type LayerSpec =
  | { kind: 'dense'; units: number; activation: Activation; useBias: boolean }
  | { kind: 'conv2d'; filters: number; kernelSize: number; strides: number; activation: Activation; useBias: boolean }
  | { kind: 'conv2dTranspose'; filters: number; kernelSize: number; strides: number; activation: Activation; useBias: boolean }
  | { kind: 'batchNorm'; momentum: number; epsilon: number }
  | { kind: 'activation'; activation: Activation }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'flatten' }
  | { kind: 'reshape'; shape: number[] }
  /**
   * A projection discriminator's output (Miyato & Koyama, 2018): one logit
   * ψ(φ) + ⟨E_y, φ⟩ from features φ (a 2-D input of F values) and the class y
   * of each row: a dense map to 1 unit (kernel [F, 1], bias [1]) plus the
   * inner product with row y of a class embedding E [classes, F]. The labels
   * are an input of the pass, beside the images.
   */
  | { kind: 'projection'; classes: number };

/**
 * How a network's parameters start: `glorot` = the Keras defaults (Glorot
 * uniform kernels, zero biases); `dcgan` = the DCGAN paper's N(0, 0.02)
 * kernels, zero biases, batch-norm scale N(1, 0.02) and offset 0.
 */
export type ParamInit = 'glorot' | 'dcgan';

/** A feed-forward network: its input shape (without the batch), its layers and its initialisation. */
export interface NetSpec {
  inputShape: number[];
  layers: LayerSpec[];
  init: ParamInit;
}

/** A generator/discriminator pair for images of one shape. */
export interface ModelPreset {
  name: string;
  latentDim: number;
  /**
   * Classes of a conditional pair; 0 = unconditional. A conditional G's input
   * is [z, one-hot(y)] (latentDim + classes values: its first layer's kernel
   * rows for the one-hot part are a learned class embedding), and D ends in a
   * {@link LayerSpec} `projection` layer instead of `dense(1)`.
   */
  classes: number;
  imageShape: [number, number, number];
  generator: NetSpec;
  discriminator: NetSpec;
}

/** One trainable parameter tensor of a network. */
export interface ParamShape {
  name: string;
  shape: number[];
  /** kernel/bias of a dense or conv layer; gamma (scale)/beta (offset) of a batch norm. */
  role: 'kernel' | 'bias' | 'gamma' | 'beta' | 'embedding';
  fanIn: number;
  fanOut: number;
}

/** The names of the built-in model presets. */
export const MODEL_NAMES = ['mlp', 'seed', 'dcgan', 'dcgan32', 'dcgan64', 'probe-mlp', 'probe-dcgan'] as const;
/** A built-in model preset name. */
export type ModelName = (typeof MODEL_NAMES)[number];

/** Image height and width each preset is built for; absent = any size. */
export const PRESET_IMAGE_SIZE: Readonly<Partial<Record<ModelName, number>>> = {
  dcgan: 28, dcgan32: 32, dcgan64: 64, 'probe-dcgan': 28,
};

/**
 * Feature-map width of the dcgan32 preset (PyTorch's ngf = ndf): 32 rather
 * than the 64 of dcgan64, a quarter of the arithmetic, so it trains at a
 * usable speed on a CPU.
 */
export const DCGAN32_WIDTH = 32;
/** Feature-map width of the dcgan64 preset: 64, as pytorch/examples' DCGAN. */
export const DCGAN64_WIDTH = 64;

const LATENT = 100;
/** PyTorch's BatchNorm defaults (momentum 0.1 of the new value, eps 1e-5). */
const bn = (): LayerSpec => ({ kind: 'batchNorm', momentum: 0.9, epsilon: 1e-5 });
const dense = (units: number, activation: Activation = 'linear', useBias = true): LayerSpec =>
  ({ kind: 'dense', units, activation, useBias });
const conv = (filters: number, activation: Activation = 'linear', useBias = true): LayerSpec =>
  ({ kind: 'conv2d', filters, kernelSize: 4, strides: 2, activation, useBias });
const convT = (filters: number, activation: Activation = 'linear', useBias = true): LayerSpec =>
  ({ kind: 'conv2dTranspose', filters, kernelSize: 4, strides: 2, activation, useBias });
const act = (activation: Activation): LayerSpec => ({ kind: 'activation', activation });
const lrelu = (alpha = 0.2): LayerSpec => ({ kind: 'leakyRelu', alpha });
const flatten: LayerSpec = { kind: 'flatten' };
const reshape = (...shape: number[]): LayerSpec => ({ kind: 'reshape', shape });

function mlpPair(name: string, g: LayerSpec[], d: LayerSpec[], imageShape: [number, number, number]): ModelPreset {
  const pixels = imageShape[0] * imageShape[1] * imageShape[2];
  return {
    name,
    latentDim: LATENT,
    classes: 0,
    imageShape,
    generator: { inputShape: [LATENT], layers: [...g, dense(pixels, 'tanh'), reshape(...imageShape)], init: 'glorot' },
    discriminator: { inputShape: [...imageShape], layers: [flatten, ...d, dense(1)], init: 'glorot' },
  };
}

function convPair(name: string, g: LayerSpec[], d: LayerSpec[], imageShape: [number, number, number], init: ParamInit): ModelPreset {
  return {
    name,
    latentDim: LATENT,
    classes: 0,
    imageShape,
    generator: { inputShape: [LATENT], layers: g, init },
    discriminator: { inputShape: [...imageShape], layers: d, init },
  };
}

/** dcgan: the TensorFlow DCGAN tutorial's shape for 28×28×C images, batch norm in G and D. */
function dcgan28(c: number): { g: LayerSpec[]; d: LayerSpec[] } {
  return {
    g: [dense(7 * 7 * 128, 'linear', false), bn(), act('relu'), reshape(7, 7, 128),
      convT(64, 'linear', false), bn(), act('relu'), convT(c, 'tanh')],
    d: [conv(64), lrelu(), conv(128, 'linear', false), bn(), lrelu(), flatten, dense(1)],
  };
}

/**
 * pytorch/examples' DCGAN for `size`×`size` images (size 32 or 64): G maps z
 * to 4×4×(8w or 4w) (a dense layer: the same linear map as PyTorch's 4×4
 * ConvTranspose on a 1×1 input), then k4 s2 transposed convs with BN + ReLU
 * halve the width and double the size until the last one makes C channels
 * with tanh; D mirrors it with k4 s2 convs + LeakyReLU 0.2 (BN on all but
 * the first) down to 4×4, then one logit (a dense layer: PyTorch's final 4×4
 * valid conv).
 */
function dcganPyTorch(size: number, width: number, c: number): { g: LayerSpec[]; d: LayerSpec[] } {
  const ups = Math.log2(size / 4);
  const top = width * 2 ** (ups - 1);
  const g: LayerSpec[] = [dense(4 * 4 * top, 'linear', false), reshape(4, 4, top), bn(), act('relu')];
  for (let k = 1; k < ups; k++) g.push(convT(top / 2 ** k, 'linear', false), bn(), act('relu'));
  g.push(convT(c, 'tanh', false));
  const d: LayerSpec[] = [conv(width, 'linear', false), lrelu()];
  for (let k = 1; k < ups; k++) d.push(conv(width * 2 ** k, 'linear', false), bn(), lrelu());
  d.push(flatten, dense(1, 'linear', false));
  return { g, d };
}

function fitsPreset(name: ModelName, imageShape: [number, number, number]): void {
  const size = PRESET_IMAGE_SIZE[name];
  if (size !== undefined && (imageShape[0] !== size || imageShape[1] !== size)) {
    throw modelShapeMismatch(name, size, imageShape);
  }
}

/**
 * Makes a preset conditional on `classes` labels: G's input grows by a
 * one-hot label, and D's final `dense(1)` becomes a `projection` layer.
 */
function conditioned(preset: ModelPreset, classes: number): ModelPreset {
  const d = preset.discriminator.layers;
  const last = d[d.length - 1];
  if (last?.kind !== 'dense' || last.units !== 1) throw new Error(`internal: ${preset.name}'s discriminator does not end in dense(1)`);
  return {
    ...preset,
    classes,
    generator: { ...preset.generator, inputShape: [preset.latentDim + classes] },
    discriminator: { ...preset.discriminator, layers: [...d.slice(0, -1), { kind: 'projection', classes }] },
  };
}

/**
 * Builds the named preset for images of the given shape (height, width,
 * channels), conditional on `classes` labels when that is above 0. Throws a
 * GanpoolUsageError naming `model` when the preset is built for another image size.
 */
export function modelPreset(name: ModelName, imageShape: [number, number, number], classes = 0): ModelPreset {
  const preset = unconditionalPreset(name, imageShape);
  return classes > 0 ? conditioned(preset, classes) : preset;
}

function unconditionalPreset(name: ModelName, imageShape: [number, number, number]): ModelPreset {
  fitsPreset(name, imageShape);
  const c = imageShape[2];
  switch (name) {
    case 'seed':
      return mlpPair(name, [dense(128, 'relu'), dense(128, 'relu')], [dense(128, 'relu'), dense(128, 'relu')], imageShape);
    case 'mlp':
      return mlpPair(name, [dense(256, 'relu'), dense(512, 'relu')], [dense(512), lrelu(), dense(256), lrelu()], imageShape);
    case 'probe-mlp':
      return mlpPair(name, [dense(256, 'relu'), dense(256, 'relu')], [dense(256), lrelu(), dense(256), lrelu()], imageShape);
    case 'probe-dcgan':
      return convPair(name,
        [dense(7 * 7 * 64, 'relu'), reshape(7, 7, 64), convT(32, 'relu'), convT(c, 'tanh')],
        [conv(32), lrelu(), conv(64), lrelu(), flatten, dense(1)], imageShape, 'glorot');
    case 'dcgan': {
      const { g, d } = dcgan28(c);
      return convPair(name, g, d, imageShape, 'dcgan');
    }
    case 'dcgan32':
    case 'dcgan64': {
      const size = PRESET_IMAGE_SIZE[name]!;
      const { g, d } = dcganPyTorch(size, name === 'dcgan32' ? DCGAN32_WIDTH : DCGAN64_WIDTH, c);
      return convPair(name, g, d, imageShape, 'dcgan');
    }
  }
}

/** Layer i's kernel, then its bias of `units` values if it has one. */
function kernelParams(i: number, shape: number[], units: number, fans: [number, number], useBias: boolean): ParamShape[] {
  const [fanIn, fanOut] = fans;
  const out: ParamShape[] = [{ name: `layer${i}/kernel`, shape, role: 'kernel', fanIn, fanOut }];
  if (useBias) out.push({ name: `layer${i}/bias`, shape: [units], role: 'bias', fanIn, fanOut });
  return out;
}

/**
 * The trainable parameter shapes of a network, in the order tf.layers lists
 * its trainable weights (per layer: kernel then bias; gamma then beta). Conv
 * kernels are [k, k, in, out], transposed-conv kernels [k, k, out, in] (as
 * tf.layers stores them); fans follow Keras (receptive field × channels).
 */
export function paramShapes(net: NetSpec): ParamShape[] {
  const out: ParamShape[] = [];
  let shape = [...net.inputShape];
  net.layers.forEach((layer, i) => {
    const channels = shape[shape.length - 1];
    switch (layer.kind) {
      case 'dense':
        out.push(...kernelParams(i, [channels, layer.units], layer.units, [channels, layer.units], layer.useBias));
        break;
      case 'conv2d': {
        const k = layer.kernelSize, area = k * k;
        out.push(...kernelParams(i, [k, k, channels, layer.filters], layer.filters, [area * channels, area * layer.filters], layer.useBias));
        break;
      }
      case 'conv2dTranspose': {
        const k = layer.kernelSize, area = k * k;
        // tf.layers stores it as [k, k, out, in]; Keras computes its fans from that shape.
        out.push(...kernelParams(i, [k, k, layer.filters, channels], layer.filters, [area * layer.filters, area * channels], layer.useBias));
        break;
      }
      case 'projection':
        out.push(...kernelParams(i, [channels, 1], 1, [channels, 1], true));
        out.push({ name: `layer${i}/embedding`, shape: [layer.classes, channels], role: 'embedding', fanIn: layer.classes, fanOut: channels });
        break;
      case 'batchNorm':
        out.push({ name: `layer${i}/gamma`, shape: [channels], role: 'gamma', fanIn: channels, fanOut: channels });
        out.push({ name: `layer${i}/beta`, shape: [channels], role: 'beta', fanIn: channels, fanOut: channels });
        break;
      default:
        break;
    }
    shape = outputShape(layer, shape);
  });
  return out;
}

/** The output shape (without the batch) of `layer` applied to inputs of `shape`. */
export function outputShape(layer: LayerSpec, shape: number[]): number[] {
  switch (layer.kind) {
    case 'dense':
      return [...shape.slice(0, -1), layer.units];
    case 'projection':
      return [1];
    case 'conv2d':
      return [Math.ceil(shape[0] / layer.strides), Math.ceil(shape[1] / layer.strides), layer.filters];
    case 'conv2dTranspose':
      return [shape[0] * layer.strides, shape[1] * layer.strides, layer.filters];
    case 'flatten':
      return [sizeOf(shape)];
    case 'reshape':
      return [...layer.shape];
    default:
      return shape;
  }
}

/** One batch-norm layer of a network: its index in `net.layers` and its channel count. */
export interface BnLayer {
  layer: number;
  channels: number;
  /** Values per channel in one sample (height × width for a 4-D input, 1 for a 2-D one). */
  spatial: number;
  momentum: number;
  epsilon: number;
}

/**
 * The batch-norm layers of a network, in layer order. A network's moving
 * statistics are one vector of {@link bnStatsSize} floats: per BN layer in
 * this order, its C means then its C variances. A shard's batch statistics
 * of one forward pass use the same layout (variances biased, over the shard).
 */
export function bnLayers(net: NetSpec): BnLayer[] {
  const out: BnLayer[] = [];
  let shape = [...net.inputShape];
  net.layers.forEach((layer, i) => {
    if (layer.kind === 'batchNorm') {
      out.push({ layer: i, channels: shape[shape.length - 1], spatial: sizeOf(shape.slice(0, -1)), momentum: layer.momentum, epsilon: layer.epsilon });
    }
    shape = outputShape(layer, shape);
  });
  return out;
}

/** Floats in a network's moving-statistics vector (2 × channels per BN layer; 0 without BN). */
export function bnStatsSize(net: NetSpec): number {
  return bnLayers(net).reduce((n, l) => n + 2 * l.channels, 0);
}

/** Number of scalars in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Total number of trainable scalars of a network. */
export function paramCount(net: NetSpec): number {
  return paramShapes(net).reduce((n, p) => n + sizeOf(p.shape), 0);
}

/** A standard normal from two uniforms (Box–Muller; 1 - u keeps log away from 0). */
function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/**
 * Seeded initial parameters written into `out` in {@link paramShapes} order,
 * following `net.init` ({@link ParamInit}): Glorot-uniform kernels and zero
 * biases (the Keras defaults), or DCGAN's N(0, 0.02) kernels, N(1, 0.02)
 * batch-norm scales and zero offsets. `stream` separates G from D.
 */
export function initParams(net: NetSpec, seed: number, stream: number, out: Float32Array): void {
  let offset = 0;
  paramShapes(net).forEach((p, i) => {
    const n = sizeOf(p.shape);
    const next = sfc32(hashInts(seed, 0x1417, stream, i));
    const slice = out.subarray(offset, offset + n);
    if (p.role === 'bias' || p.role === 'beta') slice.fill(0);
    else if (p.role === 'gamma') for (let k = 0; k < n; k++) slice[k] = 1 + 0.02 * gaussian(next);
    else if (net.init === 'dcgan') for (let k = 0; k < n; k++) slice[k] = 0.02 * gaussian(next);
    else {
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let k = 0; k < n; k++) slice[k] = (2 * next() - 1) * limit;
    }
    offset += n;
  });
}

/**
 * A discriminator split before its last dense or projection layer: `features`
 * maps an image to D's penultimate features (the activation that layer reads,
 * [F]), `head` maps those to the logit. The parameters of `features` are the
 * first `featureParams` of D's (paramShapes order), the head's the rest; the
 * head holds no batch norm, so `features` uses D's moving statistics as they are.
 */
export function splitDiscriminator(net: NetSpec): { features: NetSpec; head: NetSpec; featureParams: number; featureSize: number } {
  let last = -1;
  net.layers.forEach((l, i) => { if (l.kind === 'dense' || l.kind === 'projection') last = i; });
  if (last < 0) throw new Error('internal: a discriminator without a final dense or projection layer');
  const features: NetSpec = { ...net, layers: net.layers.slice(0, last) };
  const shape = features.layers.reduce((s, l) => outputShape(l, s), [...net.inputShape]);
  if (shape.length !== 1) throw new Error(`internal: D's penultimate activation is not flat ([${shape}])`);
  const head: NetSpec = { ...net, inputShape: shape, layers: net.layers.slice(last) };
  if (bnLayers(head).length > 0) throw new Error('internal: batch norm after D\'s last dense layer');
  return { features, head, featureParams: paramShapes(features).length, featureSize: shape[0] };
}
