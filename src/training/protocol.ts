/**
 * The messages between the coordinator and its workers: what a worker is
 * given once at start-up (workerData) and the tasks it runs.
 */
import type { ModelPreset } from '../models/presets.js';
import type { SharedNetBuffers } from './shared-params.js';
import type { BackendName } from '../engines/backend.js';
import type { AdamOptions } from '../optim/adam.js';
import type { BnPassStats } from '../engines/engine.js';
import type { FaultSpec } from './faults.js';
import type { GanLoss } from '../models/losses.js';
import type { LoopBuffers } from './loop-state.js';

/** The image set in shared memory: uint8 pixels, NHWC, and (conditional runs) one uint8 class per image. */
export interface SharedImages {
  pixels: SharedArrayBuffer;
  count: number;
  shape: [number, number, number];
  /** Conditional runs: the images' classes, one byte each; null otherwise. */
  labels: SharedArrayBuffer | null;
}

/** What every worker receives once, at start-up. */
export interface WorkerInit {
  backend: BackendName;
  preset: ModelPreset;
  /** The GAN loss the engine computes. */
  loss: GanLoss;
  seed: number;
  data: SharedImages;
  g: SharedNetBuffers;
  d: SharedNetBuffers;
  /** The fault to inject (GANPOOL_INJECT_FAULT, tests only), and the flag that makes a one-off fault fire in one worker. */
  fault: FaultSpec | null;
  faultFired: SharedArrayBuffer;
  /** The lockstep loop's settings (training pools; absent in a scoring pool). */
  loop?: LoopSettings;
}

/** What the workers of a training pool share to run whole steps in lockstep (lockstep.ts). */
export interface LoopSettings {
  buffers: LoopBuffers;
  workers: number;
  batch: number;
  /** Worker k's rows of every batch: [first, first + count). */
  shards: { first: number; count: number }[];
  /** Rows of the data set (the epoch permutation's length). */
  dataCount: number;
  stepsPerEpoch: number;
  adamD: AdamOptions;
  adamG: AdamOptions;
  /** G's EMA decay (0: none). */
  emaDecay: number;
  /** How long a worker waits at a barrier for the others before it aborts the loop. */
  barrierTimeoutMs: number;
  /** Refused steps in a row after which the loop stops. */
  maxSkips: number;
}

/**
 * Run whole training steps in lockstep with the other workers (one such task per worker, each on
 * its own thread), from phase `from` (2t: step t's D phase; 2t + 1: its G phase) until step
 * `endStep` is done, the main thread asks to stop, or `maxSkips` steps in a row were refused.
 */
export interface LoopTask {
  kind: 'loop';
  /** This task's worker index: its shard, gradient slot and Adam range. */
  worker: number;
  from: number;
  endStep: number;
  /** Adam step counts of D and G at `from`. */
  tD: number;
  tG: number;
}

/** What a loop task returns. */
export interface LoopResult {
  threadId: number;
  numTensors: number;
}

/** Compute one shard's loss and gradients for one phase, applying nothing (Coordinator.gradients). */
export interface GradTask {
  kind: 'grad';
  phase: 'd' | 'g';
  step: number;
  /** The gradient slot this shard writes. */
  slot: number;
  /** Position of the shard's first sample in the global batch (keys the latent noise). */
  first: number;
  count: number;
  /** Dataset rows of the shard's real images (D phase only). */
  indices?: Uint32Array;
  gVersion: number;
  dVersion: number;
}

/** Render `n` generator outputs from latent noise keyed by `seed`. */
export interface SampleTask {
  kind: 'sample';
  n: number;
  seed: number;
  gVersion: number;
  /** Render with G's EMA weights (shared memory) instead of its raw parameters; the next grad task reloads the raw ones. */
  ema: boolean;
  /** Conditional presets: the class of each of the `n` images (required there); absent otherwise. */
  labels?: Int32Array;
}

/**
 * Score `count` images (`ganpool score`, src/anomaly/): rows [first, first + count) of the
 * shared images. Per image: D's logit and the AnoGAN latent search, `starts` starts of `steps`
 * Adam steps on z each, start s of the image with noise key `keys[r]` drawn as latent noise
 * (seed, step s, `stream`, key). G and D are the shared parameters, batch norm in inference mode.
 */
export interface ScoreTask extends SearchSettings {
  kind: 'score';
  first: number;
  count: number;
  /** Each image's noise key (its index in the scored set, or its row in the training set for calibration). */
  keys: Uint32Array;
  /** Run every batch at this many images (the chunk size), padding a shorter chunk. */
  padTo: number;
}

/** The AnoGAN latent search's settings, shared by a score task and the search it runs (src/anomaly/latent-search.ts). */
export interface SearchSettings {
  /** The noise stream of the starts (rng.ts NoiseStream.Score or .Calibration). */
  stream: number;
  seed: number;
  /** Adam steps on z per start. */
  steps: number;
  /** Seeded starts per image. */
  starts: number;
  /** Weight of the feature distance in the objective. */
  lambda: number;
  /** Adam's learning rate on z. */
  lr: number;
}

/** Report the worker's tensor count without doing any work. */
export interface ProbeTask {
  kind: 'probe';
}

/** Any task a worker runs. */
export type Task = GradTask | LoopTask | SampleTask | ScoreTask | ProbeTask;

/** What a grad task returns. */
export interface GradResult {
  loss: number;
  /** Time spent computing the gradient and writing it to its slot. */
  computeMs: number;
  /** Time spent copying moved weights into the engine. */
  reloadMs: number;
  /** The batch statistics of each training-mode pass through a network with batch norm. */
  bnStats: BnPassStats[];
  /** False when the loss or any gradient value is NaN or infinite (the coordinator then refuses the step). */
  finite: boolean;
  numTensors: number;
  threadId: number;
}

/** What a sample task returns: n images, values in [-1, 1], NHWC. */
export interface SampleResult {
  images: Float32Array;
}

/**
 * What a score task returns, per image: D's logit, and at the best z found (the lowest `recon`
 * over every start and step) the objective, its two distances and G(z) (count × H×W×C).
 */
export interface ScoreResult {
  dLogit: Float32Array;
  pixel: Float32Array;
  feature: Float32Array;
  recon: Float32Array;
  images: Float32Array;
  /** recon at the starts' initial z, per image (the best start's), to see what the search gained. */
  initialRecon: Float32Array;
}

/** What a probe task returns. */
export interface ProbeResult {
  numTensors: number;
  /** The worker thread's V8 heap in use, bytes. */
  heapUsed: number;
  threadId: number;
  backend: string;
}
