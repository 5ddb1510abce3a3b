import test from 'ava';
import { GanTrainer } from '../src/index.js';
import { mnistData } from './helpers.js';

const PIXELS = 28 * 28;

/** Per-pixel mean and standard deviation over a set of images in [-1, 1]. */
function pixelStats(images: ArrayLike<number>, n: number): { mean: Float64Array; std: Float64Array } {
  const mean = new Float64Array(PIXELS), sq = new Float64Array(PIXELS);
  for (let k = 0; k < n; k++) {
    for (let p = 0; p < PIXELS; p++) {
      const v = images[k * PIXELS + p]!;
      mean[p] += v / n;
      sq[p] += (v * v) / n;
    }
  }
  const std = mean.map((m, p) => Math.sqrt(Math.max(0, sq[p]! - m * m)));
  return { mean, std };
}

/** Mean absolute difference of the per-pixel mean maps plus that of the std maps. */
function statsDistance(a: ReturnType<typeof pixelStats>, b: ReturnType<typeof pixelStats>): number {
  let d = 0;
  for (let p = 0; p < PIXELS; p++) d += Math.abs(a.mean[p]! - b.mean[p]!) + Math.abs(a.std[p]! - b.std[p]!);
  return d / PIXELS;
}

const STEPS = 300;

test(`after ${STEPS} steps the generated per-pixel mean and std are much closer to the real data's than at step 0`, async (t) => {
  const data = mnistData();
  const real = pixelStats(Float32Array.from(data.images, (v) => v / 127.5 - 1), data.count);
  const trainer = await GanTrainer.create({ model: 'mlp', workers: 2, batchSize: 64, seed: 1, backend: 'wasm' }, { data });
  try {
    const before = statsDistance(pixelStats(await trainer.sample(512, 99), 512), real);
    for (let i = 0; i < STEPS; i++) await trainer.step();
    const after = statsDistance(pixelStats(await trainer.sample(512, 99), 512), real);
    t.log(`distance to the real per-pixel mean/std: step 0 ${before.toFixed(3)}, step ${STEPS} ${after.toFixed(3)}`);
    // An untrained generator sits near 0 everywhere (distance ≈ 0.8); real digits need a -1 background.
    t.true(before > 0.5, `untrained distance ${before}`);
    t.true(after < 0.25, `trained distance ${after}`);
    t.true(after < before / 3);
  } finally {
    await trainer.close();
  }
});
