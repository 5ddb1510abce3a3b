/**
 * What a semi-supervised run leaves for users: D as a classifier, noise off.
 *
 * - OUT/classifier.onnx: input `images` float32 [N, H, W, C] (NHWC) in
 *   [-1, 1] (pixel/127.5 − 1, the scale the generator outputs), output
 *   `logits` float32 [N, K]; argmax is the class. The weight-normalised
 *   layers as trained (W = s·V/‖V‖ computed in the graph).
 * - OUT/classifier/: the same network as a TensorFlow.js LayersModel
 *   (model.json + weights.bin), with weight norm and the input rescaling
 *   folded into plain dense layers (foldSemiClassifier); same input and output.
 */
import { join } from 'node:path';
import { foldSemiClassifier, type SemiSpec } from '../models/semi.js';
import { writeFileAtomic } from '../util/atomic.js';
import { paramShapes, sizeOf } from '../models/presets.js';

/** The ONNX classifier's file inside a run directory. */
export const SEMI_CLASSIFIER_ONNX = 'classifier.onnx';
/** The TensorFlow.js classifier's folder inside a run directory. */
export const SEMI_CLASSIFIER_DIR = 'classifier';
/** The classifier's input: images float32 [N, H, W, C], NHWC, in [-1, 1]. */
export const SEMI_INPUT = 'images';
/** The classifier's output: class logits float32 [N, K]. */
export const SEMI_OUTPUT = 'logits';

/** What the classifier files record about their training. */
export interface SemiClassifierMetadata {
  dataset: string;
  labels: number | 'all';
  seed: number;
  step: number;
  /** Held-out accuracy at export, in [0, 1]. */
  heldOutAccuracy: number;
  /** How the held-out split was chosen. */
  split: string;
}

/** The metadata_props of the ONNX classifier. */
function onnxMetadata(spec: SemiSpec, meta: SemiClassifierMetadata): Record<string, string> {
  const [h, w, c] = spec.imageShape;
  return {
    ganpool: JSON.stringify({ kind: 'semi-supervised-classifier', ...meta, imageShape: spec.imageShape, classes: spec.classes }),
    input: `${SEMI_INPUT}: float32 [N, ${h}, ${w}, ${c}], images NHWC in [-1, 1] (pixel / 127.5 - 1)`,
    output: `${SEMI_OUTPUT}: float32 [N, ${spec.classes}], class logits (argmax = class)`,
  };
}

/** Writes OUT/classifier.onnx and OUT/classifier/ from D's flat parameters (semiParams order). */
export async function writeSemiClassifier(out: string, spec: SemiSpec, dParams: Float32Array, meta: SemiClassifierMetadata): Promise<void> {
  const { semiClassifierOnnx } = await import('../engines/onnx/semi-compile.js');
  await writeFileAtomic(join(out, SEMI_CLASSIFIER_ONNX), semiClassifierOnnx(spec, dParams, onnxMetadata(spec, meta)));
  const [tf, { initBackend }, { buildNet }, { dirSaver }] = await Promise.all([
    import('@tensorflow/tfjs-core'), import('../engines/tfjs/tf-backend.js'),
    import('../engines/tfjs/build-model.js'), import('../engines/tfjs/model-io.js'),
  ]);
  if (!tf.engine().backendName) await initBackend('cpu');
  const folded = foldSemiClassifier(spec, dParams);
  const { model } = buildNet(folded.net, 'classifier');
  try {
    tf.tidy(() => {
      let offset = 0;
      paramShapes(folded.net).forEach((p, i) => {
        const n = sizeOf(p.shape);
        model.trainableWeights[i].write(tf.tensor(folded.params.subarray(offset, offset + n), p.shape));
        offset += n;
      });
    });
    model.setUserDefinedMetadata({ ganpool: { kind: 'semi-supervised-classifier', ...meta, imageShape: spec.imageShape, classes: spec.classes } });
    await model.save(dirSaver(join(out, SEMI_CLASSIFIER_DIR)));
  } finally {
    model.dispose();
  }
}
