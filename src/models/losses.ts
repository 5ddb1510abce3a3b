/**
 * The GAN losses ganpool trains with, by name. With r = D's logits on the
 * real rows and f = D's logits on the fake rows (means over the shard):
 *
 * - `ns`, the non-saturating loss (Goodfellow et al., 2014; the default):
 *   L_D = mean softplus(−r) + mean softplus(f), L_G = mean softplus(−f).
 * - `hinge` (SNGAN, BigGAN): L_D = mean relu(1 − r) + mean relu(1 + f),
 *   L_G = −mean f. At a kink the subgradient is relu'(0) = 0, as tfjs.
 * - `lsgan`, least squares (Mao et al., 2017, a = 0, b = c = 1):
 *   L_D = ½ mean (r − 1)² + ½ mean f², L_G = ½ mean (f − 1)².
 *
 * Only the names live here; each engine (src/engines/onnx/layers.ts,
 * src/engines/tfjs/losses.ts) writes the formulas in its own ops.
 */

/** The GAN losses, by name. */
export const GAN_LOSSES = ['ns', 'hinge', 'lsgan'] as const;

/** A GAN loss's name (see the module comment for the formulas). */
export type GanLoss = (typeof GAN_LOSSES)[number];

/** The loss a run uses unless told otherwise: the non-saturating loss. */
export const DEFAULT_GAN_LOSS: GanLoss = 'ns';
