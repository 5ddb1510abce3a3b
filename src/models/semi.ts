/**
 * The semi-supervised GAN of Salimans et al. 2016 ("Improved Techniques for
 * Training GANs", the MNIST recipe) as plain data: the discriminator that is
 * also the classifier, the generator trained by feature matching, their
 * parameter layouts and a seeded initialisation. The engines turn it into
 * compute (src/engines/onnx/semi-*.ts, src/engines/tfjs/semi.ts).
 *
 * D: x ∈ [-1, 1] is rescaled to [0, 1] (the recipe's scale), Gaussian noise
 * (σ = `inputNoise`) is added, then each hidden layer is a weight-normalised
 * dense layer, ReLU, and Gaussian noise (σ = `hiddenNoise`); the last layer is
 * a weight-normalised dense layer with K outputs, the class logits. Fake is
 * the implicit class K+1 with logit 0, so D(x) = real has probability
 * Z/(Z+1), Z = Σ exp(logit_k), and log Z = logsumexp(logits).
 * The features G matches are the last hidden layer's ReLU output, before its noise.
 *
 * Weight norm (Salimans & Kingma 2016): W = s · V/‖V‖ column by column (one
 * column per output unit), y = x·W + b. As in the public PyTorch
 * re-implementation of this recipe, hidden layers keep s = 1 fixed and the
 * output layer learns s (initialised to 1).
 *
 * G: z (uniform in [0, 1), `latentDim` values) → two dense layers with
 * batch norm (no scale, then a bias) and softplus → a weight-normalised dense
 * layer with softplus, the image on the recipe's [0, 1] scale (unbounded
 * above, as the recipe's G), mapped to D's input scale by 2y − 1. Batch
 * statistics are taken over fixed groups of `bnGroup` rows of the batch
 * (ghost batch norm), and shards hold whole groups, so they do not depend on
 * the worker count.
 *
 * Losses, each a mean over the batch's rows (so a shard-weighted average of
 * shard means is the batch mean, whatever the worker count):
 * - D: CE(labelled logits, labels) + w·½(−mean lse(unl) + mean softplus(lse(unl)) + mean softplus(lse(fake))),
 *   w = `unlabelledWeight`; without unlabelled rows (`--labels all`) only the CE term.
 * - G: mean over the F features of (mean_rows f(fake) − mean_rows f(unl))².
 */
import { hashInts, sfc32 } from '../util/rng.js';
import type { LayerSpec, NetSpec } from './presets.js';

/**
 * One dense layer: weight-normalised (`batchNorm` unset), or (G's hidden
 * layers) a plain dense map x·W followed by batch norm without scale,
 * computed over fixed groups of {@link SemiSpec.bnGroup} consecutive rows,
 * then the bias b.
 */
export interface WnLayerSpec {
  units: number;
  /** Whether the scale s is a trained parameter (else fixed at 1); weight-normalised layers only. */
  trainScale: boolean;
  /** Plain dense + group batch norm instead of weight norm. */
  batchNorm?: boolean;
  activation: 'relu' | 'softplus' | 'tanh' | 'linear';
}

/** A semi-supervised model: D's and G's layer lists and D's noise. */
export interface SemiSpec {
  /** Image shape [H, W, C]. */
  imageShape: [number, number, number];
  /** Classes K (D's outputs). */
  classes: number;
  /** G's input width. */
  latentDim: number;
  /** D's layers; the last has `classes` units and a linear activation. */
  d: WnLayerSpec[];
  /** G's layers; the last has H·W·C units. */
  g: WnLayerSpec[];
  /**
   * G's output on the recipe's [0, 1] scale (its last activation, softplus, as the recipe's G),
   * mapped to the [-1, 1] scale of the images by 2y − 1; false: the last activation is the image.
   */
  gOutputFrom01: boolean;
  /** σ of the Gaussian noise on D's input (in the [0, 1] scale). */
  inputNoise: number;
  /** σ of the Gaussian noise after each of D's hidden layers. */
  hiddenNoise: number;
  /** Weight w of the unsupervised terms in D's loss. */
  unlabelledWeight: number;
  /**
   * Rows per batch-norm group of G: the statistics of rows [k·g, (k+1)·g) of a step's batch.
   * Shards hold whole groups, so the statistics, like everything else, do not depend on the worker count.
   */
  bnGroup: number;
}

/** Rows per batch-norm group of the recipe's G (a run's batch size is a multiple of it). */
export const SEMI_BN_GROUP = 50;

/** ε of G's group batch norm (as the recipe's re-implementation). */
export const SEMI_BN_EPSILON = 1e-6;

/** The Salimans et al. MNIST recipe for images of `imageShape` and `classes` classes. */
export function semiSpec(imageShape: [number, number, number], classes: number): SemiSpec {
  const pixels = imageShape[0] * imageShape[1] * imageShape[2];
  const hidden = (units: number): WnLayerSpec => ({ units, trainScale: false, activation: 'relu' });
  return {
    imageShape, classes, latentDim: 100,
    d: [hidden(1000), hidden(500), hidden(250), hidden(250), hidden(250), { units: classes, trainScale: true, activation: 'linear' }],
    g: [
      { units: 500, trainScale: false, batchNorm: true, activation: 'softplus' },
      { units: 500, trainScale: false, batchNorm: true, activation: 'softplus' },
      { units: pixels, trainScale: true, activation: 'softplus' },
    ],
    gOutputFrom01: true,
    inputNoise: 0.3, hiddenNoise: 0.5, unlabelledWeight: 1, bnGroup: SEMI_BN_GROUP,
  };
}

/** A network of the pair. */
export type SemiNet = 'd' | 'g';

/** One parameter tensor of a weight-normalised layer. */
export interface SemiParam {
  layer: number;
  role: 'v' | 'b' | 's';
  shape: number[];
}

/** The input width of each layer of `net`. */
function inputWidths(spec: SemiSpec, net: SemiNet): number[] {
  const layers = spec[net];
  const first = net === 'd' ? spec.imageShape[0] * spec.imageShape[1] * spec.imageShape[2] : spec.latentDim;
  return layers.map((_, i) => (i === 0 ? first : layers[i - 1].units));
}

/** `net`'s parameter tensors in order: per layer V [in, out], b [out], then s [out] when trained. */
export function semiParams(spec: SemiSpec, net: SemiNet): SemiParam[] {
  const widths = inputWidths(spec, net);
  return spec[net].flatMap((l, i) => [
    { layer: i, role: 'v' as const, shape: [widths[i], l.units] },
    { layer: i, role: 'b' as const, shape: [l.units] },
    ...(l.trainScale && !l.batchNorm ? [{ layer: i, role: 's' as const, shape: [l.units] }] : []),
  ]);
}

/** Scalars in `net`'s flat parameter vector. */
export function semiParamCount(spec: SemiSpec, net: SemiNet): number {
  return semiParams(spec, net).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}

/** Noise values D draws per row of a training pass: the input's, then each hidden layer's. */
export function semiNoiseWidth(spec: SemiSpec): number {
  const pixels = spec.imageShape[0] * spec.imageShape[1] * spec.imageShape[2];
  return pixels + spec.d.slice(0, -1).reduce((n, l) => n + l.units, 0);
}

/** Width of the features G matches: D's last hidden layer. */
export function semiFeatureWidth(spec: SemiSpec): number {
  return spec.d[spec.d.length - 2].units;
}

/** Standard deviation of V's entries at initialisation (as the recipe's re-implementation: N(0, 0.1²)). */
const V_STD = 0.1;

/**
 * Fills `out` with `net`'s initial parameters, a pure function of `seed`:
 * V ~ N(0, 0.1²) (a batch-norm layer's W ~ N(0, 1/(3·in)), PyTorch's default
 * scale), b = 0, s = 1.
 */
export function initSemiParams(spec: SemiSpec, net: SemiNet, seed: number, out: Float32Array): Float32Array {
  const next = sfc32(hashInts(seed, 0x5e41, net === 'd' ? 0 : 1));
  let offset = 0;
  for (const p of semiParams(spec, net)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const view = out.subarray(offset, offset + n);
    const std = spec[net][p.layer].batchNorm ? 1 / Math.sqrt(3 * p.shape[0]) : V_STD;
    if (p.role === 'v') {
      for (let i = 0; i < n; i += 2) {
        const u = 1 - next(), w = next();
        const r = Math.sqrt(-2 * Math.log(u)) * std;
        view[i] = r * Math.cos(2 * Math.PI * w);
        if (i + 1 < n) view[i + 1] = r * Math.sin(2 * Math.PI * w);
      }
    } else view.fill(p.role === 's' ? 1 : 0);
    offset += n;
  }
  if (offset !== out.length) throw new Error(`internal: ${out.length} parameters for a ${net} of ${offset}`);
  return out;
}

/**
 * D in inference mode as a plain network (flatten, then dense layers with
 * ReLU and linear logits) and its flat parameters (paramShapes order): each
 * weight-normalised layer's W = s·V/‖V‖ computed once, and the first layer's
 * input rescaling x ↦ (x+1)/2 folded in (W₁/2, b₁ + ½·Σ_rows W₁). The same
 * logits as D with its noise off, for x in [-1, 1].
 */
export function foldSemiClassifier(spec: SemiSpec, dParams: Float32Array): { net: NetSpec; params: Float32Array } {
  const chunks: Float32Array[] = [];
  let offset = 0;
  const take = (n: number): Float32Array => { const v = dParams.subarray(offset, offset + n); offset += n; return v; };
  const [h, w, c] = spec.imageShape;
  let inWidth = h * w * c;
  spec.d.forEach((l, i) => {
    const v = take(inWidth * l.units), b = take(l.units), s = l.trainScale ? take(l.units) : null;
    const W = new Float64Array(inWidth * l.units);
    for (let j = 0; j < l.units; j++) {
      let sq = 0;
      for (let r = 0; r < inWidth; r++) sq += v[r * l.units + j] ** 2;
      const scale = (s ? s[j] : 1) / Math.sqrt(sq);
      for (let r = 0; r < inWidth; r++) W[r * l.units + j] = v[r * l.units + j] * scale;
    }
    const bias = Float64Array.from(b);
    if (i === 0) {
      for (let j = 0; j < l.units; j++) {
        let sum = 0;
        for (let r = 0; r < inWidth; r++) sum += W[r * l.units + j];
        bias[j] += 0.5 * sum;
      }
      for (let k = 0; k < W.length; k++) W[k] *= 0.5;
    }
    chunks.push(Float32Array.from(W), Float32Array.from(bias));
    inWidth = l.units;
  });
  if (offset !== dParams.length) throw new Error(`foldSemiClassifier: ${dParams.length} parameters, D has ${offset}`);
  const net: NetSpec = {
    inputShape: [...spec.imageShape],
    layers: [
      { kind: 'flatten' },
      ...spec.d.map((l): LayerSpec => ({ kind: 'dense', units: l.units, activation: l.activation === 'relu' ? 'relu' : 'linear', useBias: true })),
    ],
    init: 'glorot',
  };
  const params = new Float32Array(chunks.reduce((n, ch) => n + ch.length, 0));
  let at = 0;
  for (const ch of chunks) { params.set(ch, at); at += ch.length; }
  return { net, params };
}
