import test from 'ava';
import { foldBatchStats, initMovingStats } from '../src/training/bn-stats.js';
import type { BnLayer } from '../src/models/presets.js';
import { sfc32 } from '../src/util/rng.js';

/** Per-channel mean and biased variance of `rows` (each row: spatial × channels values, channel last). */
function stats(rows: Float64Array[], spatial: number, c: number): { mean: number[]; variance: number[] } {
  const mean: number[] = [], variance: number[] = [];
  for (let ch = 0; ch < c; ch++) {
    const xs: number[] = [];
    for (const r of rows) for (let s = 0; s < spatial; s++) xs.push(r[s * c + ch]);
    const m = xs.reduce((a, b) => a + b, 0) / xs.length;
    mean.push(m);
    variance.push(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
  }
  return { mean, variance };
}

test('folding shard statistics gives the whole batch\'s statistics, however the batch is split', (t) => {
  const next = sfc32(42);
  const layers: BnLayer[] = [{ layer: 0, channels: 3, spatial: 4, momentum: 0.9, epsilon: 1e-5 }, { layer: 3, channels: 2, spatial: 1, momentum: 0.8, epsilon: 1e-5 }];
  const batch = 7;
  const data = layers.map((l) => Array.from({ length: batch }, (_, i) =>
    Float64Array.from({ length: l.spatial * l.channels }, () => 3 * next() - 1 + (i % 3))));
  const size = layers.reduce((n, l) => n + 2 * l.channels, 0);
  const fold = (splits: number[]): Float32Array => {
    const moving = new Float32Array(size);
    initMovingStats(layers, moving);
    const shards: Float32Array[] = [];
    let first = 0;
    for (const count of splits) {
      const report = new Float32Array(size);
      let offset = 0;
      layers.forEach((l, li) => {
        const s = stats(data[li].slice(first, first + count), l.spatial, l.channels);
        report.set(s.mean, offset);
        report.set(s.variance, offset + l.channels);
        offset += 2 * l.channels;
      });
      shards.push(report);
      first += count;
    }
    foldBatchStats(layers, moving, shards, splits);
    return moving;
  };
  // The analytic result: PyTorch's update from (0, 1) with the whole batch's mean and unbiased variance.
  const expected: number[] = [];
  layers.forEach((l, li) => {
    const s = stats(data[li], l.spatial, l.channels);
    const n = batch * l.spatial;
    expected.push(...s.mean.map((m) => (1 - l.momentum) * m));
    expected.push(...s.variance.map((v) => l.momentum + (1 - l.momentum) * v * n / (n - 1)));
  });
  for (const splits of [[7], [4, 3], [3, 2, 2], [1, 1, 5]]) {
    const got = fold(splits);
    const err = Math.max(...expected.map((e, i) => Math.abs(e - got[i])));
    t.log(`split ${splits.join('+')}: max |error| ${err.toExponential(2)}`);
    t.true(err < 1e-6, `split ${splits.join('+')}: ${err}`);
  }
  t.true(expected.some((e, i) => i < 3 && Math.abs(e) > 0.05), 'means moved away from the start');
});

test('moving statistics start at mean 0, variance 1 per layer', (t) => {
  const layers: BnLayer[] = [{ layer: 1, channels: 2, spatial: 9, momentum: 0.9, epsilon: 1e-5 }, { layer: 4, channels: 1, spatial: 1, momentum: 0.9, epsilon: 1e-5 }];
  const moving = new Float32Array(6).fill(7);
  initMovingStats(layers, moving);
  t.deepEqual([...moving], [0, 0, 1, 1, 0, 1]);
});
