/**
 * The one interface a shard worker computes through. An engine holds its own
 * copies of G's and D's parameters and runs a phase's forward and backward
 * pass on one shard; it knows nothing of shared memory, versions, Adam or
 * the other shards. Each backend's engine lives in its own folder
 * (engines/onnx, engines/tfjs), and only createEngine (engines/index.ts) picks one, so
 * the coordinator, the workers and the CLI never branch on the backend.
 */
import type { BackendName } from './backend.js';
import type { GanLoss } from '../models/losses.js';

/** A network of the pair. */
export type NetName = 'g' | 'd';

/** One shard's inputs to a phase. */
export interface PhaseInput {
  /** 'd': D's gradient on real and fake; 'g': G's gradient through D. */
  phase: NetName;
  /** Samples in the shard. */
  count: number;
  /**
   * G's input, count × generator.inputShape[0]: the latent noise, followed in
   * each row by the one-hot fake label for a conditional preset.
   */
  z: Float32Array;
  /** D phase: the shard's real images, NHWC, scaled to [-1, 1]; null in the G phase. */
  real: Float32Array | null;
  /** Conditional presets, D phase: the real images' classes (one per row); null otherwise. */
  realLabels: Int32Array | null;
  /** Conditional presets: the fake rows' classes (the labels one-hot encoded in `z`); null otherwise. */
  fakeLabels: Int32Array | null;
}

/**
 * The batch statistics of one training-mode forward pass through a network
 * with batch norm: per BN layer (bnLayers order) its C means then its C
 * biased variances over the shard.
 */
export interface BnPassStats {
  net: NetName;
  values: Float32Array;
}

/** What a phase computed, beside the gradient it wrote. */
export interface PhaseOutput {
  /** The shard-mean loss. */
  loss: number;
  /**
   * One entry per training-mode pass through a network with batch norm, in
   * the order the passes ran: D phase G(z), D(real), D(fake); G phase G(z),
   * D(G(z)). Networks without batch norm contribute none.
   */
  bnStats: BnPassStats[];
}

/**
 * One evaluation of the latent search's objective (`ganpool score`, src/anomaly/) on
 * `count` rows: row r asks how well G(z_r) reproduces the image `target_r`.
 * Unconditional presets only.
 */
export interface LatentInput {
  count: number;
  /** G's input, count × latentDim. */
  z: Float32Array;
  /** The images to reproduce, count × H×W×C, NHWC, scaled to [-1, 1]. */
  target: Float32Array;
  /** D's penultimate features of each target image (see {@link Engine.discriminate}), count × F. */
  targetFeatures: Float32Array;
  /** The objective's weight of the feature distance, in [0, 1]. */
  lambda: number;
}

/**
 * Per row r, with G and D in inference mode (batch norm on the moving statistics):
 * pixel_r = mean over the H·W·C values of (G(z_r) − target_r)²,
 * feature_r = mean over the F features of (f(G(z_r)) − targetFeatures_r)², f = D's penultimate features,
 * recon_r = (1 − λ)·pixel_r + λ·feature_r (the objective), and d recon_r / d z_r.
 */
export interface LatentOutput {
  recon: Float32Array;
  pixel: Float32Array;
  feature: Float32Array;
  /** d recon_r / d z_r, count × latentDim (rows are independent: the gradient of Σ recon). */
  dz: Float32Array;
  /** G(z), count × H×W×C, NHWC. */
  images: Float32Array;
}

/** D's inference-mode view of some images. */
export interface Discrimination {
  /** D's logit per image. */
  logits: Float32Array;
  /** D's penultimate features (the activation its last dense layer reads), n × F. */
  features: Float32Array;
}

/** A backend's compute for one thread. */
export interface Engine {
  /** The backend it runs on. */
  readonly backend: BackendName;
  /** Replaces a network's parameters (flat, paramShapes order). The engine copies what it keeps. */
  setParams(net: NetName, params: Float32Array): void;
  /**
   * Runs one phase on one shard: writes the shard-mean gradient of the trained
   * network's parameters (the D phase trains D, the G phase G) into `grad`
   * (paramShapes order) and returns the loss and batch-norm statistics.
   */
  phase(input: PhaseInput, grad: Float32Array): Promise<PhaseOutput>;
  /**
   * The generator's images (NHWC, [-1, 1]) for `n` latent vectors, batch norm
   * in inference mode with the moving statistics `gBn` (bnLayers layout).
   */
  sample(z: Float32Array, n: number, gBn: Float32Array): Promise<Float32Array>;
  /**
   * D's logits and penultimate features for `n` images (NHWC, [-1, 1]), batch norm in inference
   * mode with the moving statistics `dBn`. Unconditional presets only.
   */
  discriminate(images: Float32Array, n: number, dBn: Float32Array): Promise<Discrimination>;
  /**
   * The latent search's objective and its gradient in z (see {@link LatentOutput}), G with moving
   * statistics `gBn`, D with `dBn`. Unconditional presets only.
   */
  latent(input: LatentInput, gBn: Float32Array, dBn: Float32Array): Promise<LatentOutput>;
  /** Live backend objects (tfjs tensors; 0 where the engine allocates none that outlive a call), for leak checks. */
  liveObjects(): number;
}

/** How an engine trains, fixed when it starts. */
export interface EngineOptions {
  /** The GAN loss both phases compute (src/losses.ts); only the engines know how it differentiates. */
  loss: GanLoss;
}
