/**
 * `ganpool classifier eval`: a classifier file's accuracy on a data set's
 * held-out split (src/eval/splits.ts), overall and per class, run in ONNX
 * Runtime exactly as a user would: input `images` float32 [N,H,W,C] in
 * [-1, 1], output `logits` [N,K].
 */
import { readFileSync } from 'node:fs';
import { onnxAvailability } from '../engines/backend.js';
import { onnxUnavailable, semiClassifierInvalid } from '../errors.js';
import { accuracyOf, type SemiAccuracy } from './semi-train.js';
import { SEMI_INPUT, SEMI_OUTPUT } from './semi-export.js';
import type { SplitPart } from './splits.js';

/** Rows per ONNX Runtime call. */
const BATCH = 500;

/** Runs the ONNX classifier `file` on `part` and scores its argmax against the labels. */
export async function evaluateClassifierOnnx(file: string, part: SplitPart, classes: number): Promise<SemiAccuracy> {
  const onnx = onnxAvailability();
  if (!onnx.ok) throw onnxUnavailable(onnx.reason);
  const ort = await import('onnxruntime-node');
  let session;
  try {
    session = await ort.InferenceSession.create(readFileSync(file), { intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (e) {
    throw semiClassifierInvalid(file, `ONNX Runtime cannot load it: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!session.inputNames.includes(SEMI_INPUT) || !session.outputNames.includes(SEMI_OUTPUT)) {
    throw semiClassifierInvalid(file, `it has inputs [${session.inputNames.join(', ')}] and outputs [${session.outputNames.join(', ')}], not '${SEMI_INPUT}' and '${SEMI_OUTPUT}'`);
  }
  const { set, indices } = part;
  const P = set.height * set.width * set.channels;
  const predicted = new Int32Array(indices.length);
  for (let first = 0; first < indices.length; first += BATCH) {
    const rows = indices.subarray(first, first + BATCH);
    const x = new Float32Array(rows.length * P);
    rows.forEach((row, r) => { for (let i = 0; i < P; i++) x[r * P + i] = set.images[row * P + i] / 127.5 - 1; });
    let out;
    try {
      out = await session.run({ [SEMI_INPUT]: new ort.Tensor('float32', x, [rows.length, set.height, set.width, set.channels]) });
    } catch (e) {
      throw semiClassifierInvalid(file, `it does not take ${set.height}×${set.width}×${set.channels} images: ${(e as Error).message.split('\n')[0]}`);
    }
    const logits = out[SEMI_OUTPUT].data as Float32Array;
    const K = logits.length / rows.length;
    if (K !== classes) throw semiClassifierInvalid(file, `it has ${K} outputs, the data set ${classes} classes`);
    for (let r = 0; r < rows.length; r++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (logits[r * K + k] > logits[r * K + best]) best = k;
      predicted[first + r] = best;
    }
  }
  return accuracyOf(predicted, Int32Array.from(indices, (row) => set.labels[row]), classes);
}
