/**
 * Batch-norm moving statistics, one set per network for the whole pool.
 *
 * Each shard normalises with its own batch statistics (as PyTorch's DDP does
 * without SyncBatchNorm) and reports them; the coordinator folds the shards'
 * reports of one forward pass into the statistics of the whole batch (exact:
 * the pooled mean, and the pooled variance with the between-shard term), so
 * the moving statistics do not depend on how the batch was split or which
 * thread ran which shard. The update is PyTorch's: the unbiased batch
 * variance, moving = momentum · moving + (1 − momentum) · batch.
 */
import type { BnLayer } from '../models/presets.js';

/** Sets moving statistics to their start: means 0, variances 1 (bnLayers layout). */
export function initMovingStats(layers: readonly BnLayer[], moving: Float32Array): void {
  let offset = 0;
  for (const { channels: c } of layers) {
    moving.fill(0, offset, offset + c);
    moving.fill(1, offset + c, offset + 2 * c);
    offset += 2 * c;
  }
}

/**
 * Folds one forward pass's shard statistics into `moving`. `shards[k]` is
 * shard k's report (per BN layer its C means then C biased variances) and
 * `counts[k]` its number of samples.
 */
export function foldBatchStats(layers: readonly BnLayer[], moving: Float32Array, shards: readonly Float32Array[], counts: readonly number[]): void {
  const total = counts.reduce((a, b) => a + b, 0);
  let offset = 0;
  for (const { channels: c, spatial, momentum } of layers) {
    const values = total * spatial; // values per channel in the whole batch
    const bessel = values > 1 ? values / (values - 1) : 1;
    for (let ch = 0; ch < c; ch++) {
      let mean = 0;
      for (let k = 0; k < shards.length; k++) mean += (counts[k] / total) * shards[k][offset + ch];
      let variance = 0;
      for (let k = 0; k < shards.length; k++) {
        const dm = shards[k][offset + ch] - mean;
        variance += (counts[k] / total) * (shards[k][offset + c + ch] + dm * dm);
      }
      moving[offset + ch] = momentum * moving[offset + ch] + (1 - momentum) * mean;
      moving[offset + c + ch] = momentum * moving[offset + c + ch] + (1 - momentum) * variance * bessel;
    }
    offset += 2 * c;
  }
}
