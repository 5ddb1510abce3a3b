/**
 * The compute of semi-supervised GAN training (src/models/semi.ts) for one
 * shard, beside the GAN engine (engine.ts): D's phase, G's feature
 * statistics and feature-matching phase, and D's inference logits. Like an
 * Engine it holds its own copies of the parameters and knows nothing of
 * shared memory, shards or Adam. createSemiEngine (engines/index.ts) picks the backend.
 */
import type { BackendName } from './backend.js';

/** One shard's inputs to D's phase (`count` rows of each part; the unlabelled and fake parts are empty with `--labels all`). */
export interface SemiDInput {
  count: number;
  /** Labelled images, NHWC in [-1, 1], and their classes. */
  labelled: Float32Array;
  labels: Int32Array;
  /** Unlabelled real images, NHWC in [-1, 1] (empty without unlabelled rows). */
  unlabelled: Float32Array;
  /** G's input, count × latentDim (empty without unlabelled rows). */
  z: Float32Array;
  /** D's standard normal noise per pass, count × semiNoiseWidth each. */
  noise: { labelled: Float32Array; unlabelled: Float32Array; fake: Float32Array };
}

/** One shard's inputs to G's statistics and training passes. */
export interface SemiGInput {
  count: number;
  /** Unlabelled real images (the statistics pass only). */
  unlabelled: Float32Array;
  z: Float32Array;
  noise: { unlabelled: Float32Array; fake: Float32Array };
}

/** What D's phase computed, beside its gradient. */
export interface SemiDOutput {
  /** Shard means: the whole loss, its cross-entropy part and its (weighted) unsupervised part. */
  loss: number;
  supervised: number;
  unsupervised: number;
}

/** A backend's semi-supervised compute for one thread. */
export interface SemiEngine {
  readonly backend: BackendName;
  /** Replaces a network's parameters (flat, semiParams order); the engine copies them. */
  setParams(net: 'd' | 'g', params: Float32Array): void;
  /** D's phase: writes D's shard-mean gradient into `grad`. */
  dPhase(input: SemiDInput, grad: Float32Array): Promise<SemiDOutput>;
  /** Sums over the shard's rows of D's features of the unlabelled real rows and of G(z). */
  features(input: SemiGInput): Promise<{ real: Float32Array; fake: Float32Array }>;
  /** G's phase with δ = 2(m_fake − m_real)/F: writes G's shard gradient into `grad`, returns ⟨δ, mean f(G(z))⟩. */
  gPhase(input: SemiGInput, delta: Float32Array, grad: Float32Array): Promise<number>;
  /** D's inference logits (noise off) of `n` images, n × K. */
  logits(images: Float32Array, n: number): Promise<Float32Array>;
}
