import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { initSemiParams, semiParamCount, semiSpec, SEMI_BN_EPSILON, type SemiSpec } from '../src/models/semi.js';
import { semiSamples, writeSemiSamples, SEMI_SAMPLES } from '../src/eval/semi-samples.js';
import { hashInts, sfc32 } from '../src/util/rng.js';
import { gridSize } from '../src/generator/grid.js';
import { assertTensorsClose } from './helpers.js';

/** G of the recipe in plain float64 JavaScript: dense, group batch norm, bias, softplus (twice); weight-normalised dense, softplus, 2y − 1. */
function plainG(spec: SemiSpec, params: Float32Array, z: Float64Array, rows: number): Float64Array {
  let h = z, width = spec.latentDim, k = 0;
  const take = (n: number): Float32Array => { const v = params.subarray(k, k + n); k += n; return v; };
  const softplus = (x: number): number => (x > 30 ? x : Math.log1p(Math.exp(x)));
  for (const l of spec.g) {
    const v = take(width * l.units), b = take(l.units), s = l.trainScale && !l.batchNorm ? take(l.units) : null;
    const y = new Float64Array(rows * l.units);
    const scale = new Float64Array(l.units).fill(1);
    if (!l.batchNorm) {
      for (let j = 0; j < l.units; j++) {
        let sq = 0;
        for (let i = 0; i < width; i++) sq += v[i * l.units + j] ** 2;
        scale[j] = (s ? s[j] : 1) / Math.sqrt(sq);
      }
    }
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < l.units; j++) {
        let acc = 0;
        for (let i = 0; i < width; i++) acc += h[r * width + i] * v[i * l.units + j];
        y[r * l.units + j] = acc * scale[j];
      }
    }
    if (l.batchNorm) {
      for (let g0 = 0; g0 < rows; g0 += spec.bnGroup) {
        for (let j = 0; j < l.units; j++) {
          let mean = 0, sq = 0;
          for (let r = g0; r < g0 + spec.bnGroup; r++) mean += y[r * l.units + j] / spec.bnGroup;
          for (let r = g0; r < g0 + spec.bnGroup; r++) sq += (y[r * l.units + j] - mean) ** 2 / spec.bnGroup;
          for (let r = g0; r < g0 + spec.bnGroup; r++) y[r * l.units + j] = (y[r * l.units + j] - mean) / Math.sqrt(sq + SEMI_BN_EPSILON);
        }
      }
    }
    for (let r = 0; r < rows; r++) for (let j = 0; j < l.units; j++) y[r * l.units + j] = softplus(y[r * l.units + j] + b[j]);
    h = y;
    width = l.units;
  }
  return spec.gOutputFrom01 ? h.map((x) => 2 * x - 1) : h;
}

test('the samples grid draws G as plain JavaScript computes it, from latent vectors keyed by the seed; the PNG is 10 × 10 cells', async (t) => {
  const spec = semiSpec([28, 28, 1], 10);
  const g = initSemiParams(spec, 'g', 3, new Float32Array(semiParamCount(spec, 'g')));
  const z = new Float64Array(SEMI_SAMPLES * spec.latentDim);
  for (let r = 0; r < SEMI_SAMPLES; r++) {
    const next = sfc32(hashInts(5, 0x5a3e, r));
    for (let j = 0; j < spec.latentDim; j++) z[r * spec.latentDim + j] = Math.fround(next());
  }
  const got = await semiSamples(spec, g, 5);
  const want = plainG(spec, g, z, SEMI_SAMPLES);
  assertTensorsClose(t, 'G samples', got, Float32Array.from(want), [{ name: 'images', size: got.length }], { rel: 1e-4, abs: 1e-4 });
  t.true(Math.max(...got) > Math.min(...got), 'the images are not constant');
  const other = await semiSamples(spec, g, 6);
  t.notDeepEqual(Array.from(other.subarray(0, 50)), Array.from(got.subarray(0, 50)), 'another seed draws other latent vectors');
  const out = mkdtempSync(join(tmpdir(), 'ganpool-semi-samples-'));
  const file = await writeSemiSamples(out, spec, g, 5);
  const meta = await sharp(readFileSync(file)).metadata();
  const size = gridSize(SEMI_SAMPLES, 28, 28, { cols: 10, pad: 2 });
  t.deepEqual([meta.width, meta.height], [size.width, size.height]);
});
