/**
 * Messages between the classifier trainer (src/eval/classifier-train.ts) and
 * its workers (workers/classifier-worker.ts): the start-up data and the tasks.
 */
import type { AdamOptions } from '../optim/adam.js';
import type { BackendName } from '../engines/backend.js';
import type { SharedNetBuffers } from '../training/shared-params.js';

/** A labelled image set in shared memory: uint8 NHWC pixels and one uint8 label per image. */
export interface SharedLabeledImages {
  pixels: SharedArrayBuffer;
  labels: SharedArrayBuffer;
  count: number;
}

/** What every classifier worker receives once, at start-up. */
export interface ClassifierInit {
  backend: BackendName;
  imageShape: [number, number, number];
  /** The image sets tasks refer to by index (the training set, and a separate test set when there is one). */
  sets: SharedLabeledImages[];
  net: SharedNetBuffers;
}

/** Mean cross-entropy gradient of one shard, written into gradient slot `slot`. */
export interface ClassifierGradTask {
  kind: 'grad';
  set: number;
  /** Rows of the shard's images in `sets[set]`. */
  indices: Uint32Array;
  slot: number;
  version: number;
  /** When set, each image is shifted by up to ±2 pixels, keyed by (augment, row): the same for any sharding. */
  augment?: number;
  /** When set, a row ≥ `sets[set].count` is row `row − count` of `sets[overflow]` (the generated images mixed into training). */
  overflow?: number;
}

/** Adam update `t` on indices [lo, hi) of the parameters from the first `weights.length` slots. */
export interface ClassifierApplyTask {
  kind: 'apply';
  t: number;
  lo: number;
  hi: number;
  weights: number[];
  opts: AdamOptions;
}

/** Counts correct predictions (and sums the loss) over some rows of a set. */
export interface ClassifierPredictTask {
  kind: 'predict';
  set: number;
  indices: Uint32Array;
  version: number;
}

/** Reports the worker's live tensor count. */
export interface ClassifierProbeTask {
  kind: 'probe';
}

/** Any task a classifier worker runs. */
export type ClassifierTask = ClassifierGradTask | ClassifierApplyTask | ClassifierPredictTask | ClassifierProbeTask;

/** What a grad task returns. */
export interface ClassifierGradResult {
  loss: number;
  numTensors: number;
}

/** What a predict task returns. */
export interface ClassifierPredictResult {
  correct: number;
  lossSum: number;
}
