/**
 * The evaluation classifier as plain data: its architecture (a small CNN),
 * the shapes of its trainable parameters in tf.layers order, and a seeded
 * Glorot initialisation. Nothing here loads TensorFlow.js.
 *
 * Conv 32 k3 stride 2 → ReLU → Conv 64 k3 stride 2 → ReLU → Flatten →
 * Dense 128 ReLU (the features) → Dense 10 (softmax). Strided convs instead
 * of conv + max pool: on the wasm backend the pooled net's training step was
 * 6× slower (202 vs 32 ms per batch of 64 on one thread; MaxPoolGrad alone 62 ms).
 */
import { hashInts, sfc32 } from '../util/rng.js';
import { sizeOf, type ParamShape } from '../models/presets.js';
import { classifierImageTooSmall } from '../errors.js';

/** Number of classes the classifier predicts. */
export const CLASSES = 10;
/** Length of the penultimate-layer feature vector used for the Fréchet distance. */
export const FEATURES_DIM = 128;
/** Filters of the two conv layers. */
export const CONV_FILTERS = [32, 64] as const;

/** Side length after a 3×3 valid conv with stride 2. */
const conv = (side: number): number => Math.floor((side - 3) / 2) + 1;

/** The classifier's trainable parameter shapes for images of `imageShape`, in tf.layers order. */
export function classifierParamShapes(imageShape: readonly [number, number, number]): ParamShape[] {
  const [h, w, c] = imageShape;
  const h2 = conv(conv(h)), w2 = conv(conv(w));
  if (h2 < 1 || w2 < 1) throw classifierImageTooSmall(imageShape);
  const [f1, f2] = CONV_FILTERS;
  const convShapes = (name: string, cin: number, cout: number): ParamShape[] => [
    { name: `${name}/kernel`, shape: [3, 3, cin, cout], role: 'kernel', fanIn: 9 * cin, fanOut: 9 * cout },
    { name: `${name}/bias`, shape: [cout], role: 'bias', fanIn: 9 * cin, fanOut: 9 * cout },
  ];
  const dense = (name: string, fanIn: number, units: number): ParamShape[] => [
    { name: `${name}/kernel`, shape: [fanIn, units], role: 'kernel', fanIn, fanOut: units },
    { name: `${name}/bias`, shape: [units], role: 'bias', fanIn, fanOut: units },
  ];
  return [...convShapes('conv1', c, f1), ...convShapes('conv2', f1, f2), ...dense('features', h2 * w2 * f2, FEATURES_DIM), ...dense('logits', FEATURES_DIM, CLASSES)];
}

/** Total trainable scalars of the classifier. */
export function classifierParamCount(imageShape: readonly [number, number, number]): number {
  return classifierParamShapes(imageShape).reduce((n, p) => n + sizeOf(p.shape), 0);
}

/** Seeded Glorot-uniform kernels and zero biases (the Keras defaults), written into `out` in parameter order. */
export function initClassifierParams(imageShape: readonly [number, number, number], seed: number, out: Float32Array): void {
  let offset = 0;
  classifierParamShapes(imageShape).forEach((p, i) => {
    const n = sizeOf(p.shape);
    if (p.role === 'kernel') {
      const next = sfc32(hashInts(seed, 0xc1a5, i));
      const limit = Math.sqrt(6 / (p.fanIn + p.fanOut));
      for (let k = 0; k < n; k++) out[offset + k] = (2 * next() - 1) * limit;
    } else {
      out.fill(0, offset, offset + n);
    }
    offset += n;
  });
}
