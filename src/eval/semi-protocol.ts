/**
 * Messages between the semi-supervised trainer (src/eval/semi-train.ts) and
 * its workers (workers/semi-worker.ts): the start-up data and the tasks.
 */
import type { AdamOptions } from '../optim/adam.js';
import type { BackendName } from '../engines/backend.js';
import type { SharedNetBuffers } from '../training/shared-params.js';
import type { SemiSpec } from '../models/semi.js';
import type { LabelSplit } from '../data/label-split.js';
import type { SharedLabeledImages } from './classifier-protocol.js';

/** What every semi-supervised worker receives once, at start-up. */
export interface SemiInit {
  backend: BackendName;
  spec: SemiSpec;
  seed: number;
  batchSize: number;
  /** The training set (sets[0]) and, when the held-out split lives in another file, that set (sets[1]). */
  sets: SharedLabeledImages[];
  split: LabelSplit;
  d: SharedNetBuffers;
  g: SharedNetBuffers;
}

/** Versions of the parameters a task must compute with (a worker reloads a network when its version moved). */
interface Versions {
  dVersion: number;
  gVersion: number;
}

/** D's gradient on rows [first, first+count) of step `step`'s batch, into slot `slot` of D. */
export interface SemiDTask extends Versions {
  kind: 'd';
  step: number;
  slot: number;
  first: number;
  count: number;
}

/** The sums of D's features over rows [first, first+count) of the step's unlabelled and fake parts. */
export interface SemiStatsTask extends Versions {
  kind: 'stats';
  step: number;
  first: number;
  count: number;
}

/** G's feature-matching gradient on rows [first, first+count), given δ, into slot `slot` of G. */
export interface SemiGTask extends Versions {
  kind: 'g';
  step: number;
  slot: number;
  first: number;
  count: number;
  delta: Float32Array;
}

/** Adam update `t` on indices [lo, hi) of one network from its first `weights.length` slots. */
export interface SemiApplyTask {
  kind: 'apply';
  net: 'd' | 'g';
  t: number;
  lo: number;
  hi: number;
  weights: number[];
  opts: AdamOptions;
}

/** D's predictions (argmax of the inference logits) for some rows of `sets[set]`. */
export interface SemiPredictTask {
  kind: 'predict';
  set: number;
  indices: Uint32Array;
  dVersion: number;
}

/** Starts the worker (piscina's start-up probe). */
export interface SemiProbeTask {
  kind: 'probe';
}

/** Any task a semi-supervised worker runs. */
export type SemiTask = SemiDTask | SemiStatsTask | SemiGTask | SemiApplyTask | SemiPredictTask | SemiProbeTask;

/** What a D task returns: the shard means of the loss and its parts. */
export interface SemiDResult {
  loss: number;
  supervised: number;
  unsupervised: number;
}

/** What a stats task returns: feature sums over the shard's rows. */
export interface SemiStatsResult {
  real: Float32Array;
  fake: Float32Array;
}
