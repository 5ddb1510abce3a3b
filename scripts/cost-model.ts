/**
 * The cost model of one lockstep training step (docs/cost-model.md), fitted to
 * a `ganpool bench` sweep, and its predictions for more cores.
 *
 *   npx tsx scripts/cost-model.ts [--bench docs/bench.json] [--cores N] [--bandwidth GBps]
 *
 * Model, per step, W workers on C ≥ W cores, global batch B, P parameters (G + D):
 *
 *   T(W, B) = F + c·B/W + s(W)
 *
 *   F      fixed cost of each worker's step, whatever W and B: ONNX Runtime's per-run costs
 *          (kernel launches, packing every weight matrix for its GEMMs), and the O(P) passes
 *          every worker makes (reloading both networks, copying its gradient into its slot,
 *          the finiteness check, and its Adam range, which reads all W slots: W · P/W = P);
 *   c·B/W  the per-row compute of its shard (matmuls and convolutions, noise, image scaling);
 *   s(W)   synchronisation: four barriers a step and waiting for the slowest worker;
 *          s(1) = 0, and s(W) = s(2)·log2(W) is assumed beyond 2 (the expected maximum of W
 *          noisy stage times grows about logarithmically).
 *
 * F, c and s(2) are fitted by least squares to the 1- and 2-worker rows of each model (both
 * batch sizes); 3 and 4 workers on a 2-core machine are compared with the model's
 * oversubscribed form, T·W/C (each core time-slices W/C workers). For W beyond the fit the
 * model adds a memory-bandwidth floor: a step moves about 3·W·P·4 bytes (each worker reloads
 * P floats, writes a P-float slot and its Adam range reads P floats of slots) plus 8·P·4 for
 * Adam's own vectors, at `--bandwidth` GB/s (default 100, a typical many-core server).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { modelPreset, paramCount, type ModelName } from '../src/models/presets.js';
import type { BenchReport } from '../src/bench/report.js';

const { values } = parseArgs({ options: { bench: { type: 'string', default: 'docs/bench.json' }, cores: { type: 'string' }, bandwidth: { type: 'string', default: '100' } } });
const report = JSON.parse(readFileSync(values.bench, 'utf8')) as BenchReport;
const cores = Number(values.cores ?? report.machine.cores);
const bandwidth = Number(values.bandwidth) * 1e9;

interface Fit { model: ModelName; F: number; c: number; s2: number; params: number; rms: number }

/** Least squares for T = F + c·x + s·y over (x = B/W, y = [W > 1], T). */
function fit(points: { x: number; y: number; t: number }[]): { F: number; c: number; s: number } {
  // Normal equations of a 3-parameter linear model.
  const cols = (p: { x: number; y: number }): number[] => [1, p.x, p.y];
  const ata = [[0, 0, 0], [0, 0, 0], [0, 0, 0]], atb = [0, 0, 0];
  for (const p of points) {
    const r = cols(p);
    for (let i = 0; i < 3; i++) {
      atb[i] += r[i] * p.t;
      for (let j = 0; j < 3; j++) ata[i][j] += r[i] * r[j];
    }
  }
  // Gaussian elimination.
  const m = ata.map((row, i) => [...row, atb[i]]);
  for (let i = 0; i < 3; i++) {
    const piv = m[i][i];
    for (let j = i; j < 4; j++) m[i][j] /= piv;
    for (let k = 0; k < 3; k++) if (k !== i) { const f = m[k][i]; for (let j = i; j < 4; j++) m[k][j] -= f * m[i][j]; }
  }
  return { F: m[0][3], c: m[1][3], s: m[2][3] };
}

const models = [...new Set(report.rows.map((r) => r.model))];
const fits: Fit[] = [];
for (const model of models) {
  const rows = report.rows.filter((r) => r.model === model && (r.workers === 1 || r.workers === 2));
  if (new Set(rows.map((r) => r.batchSize)).size < 2) continue;
  const points = rows.map((r) => ({ x: r.batchSize / r.workers, y: r.workers > 1 ? 1 : 0, t: r.msPerStep }));
  const { F, c, s } = fit(points);
  const rms = Math.sqrt(points.reduce((a, p) => a + (F + c * p.x + s * p.y - p.t) ** 2, 0) / points.length);
  const preset = modelPreset(model, [28, 28, 1]);
  fits.push({ model, F, c, s2: s, params: paramCount(preset.generator) + paramCount(preset.discriminator), rms });
}

const predict = (f: Fit, w: number, b: number): number => {
  const sync = w <= 1 ? 0 : f.s2 * Math.log2(w);
  const compute = f.F + (f.c * b) / w + sync;
  const memory = ((3 * w * f.params + 8 * f.params) * 4 / bandwidth) * 1000;
  return Math.max(compute, memory);
};
const onCores = (f: Fit, w: number, b: number): number => predict(f, w, b) * Math.max(1, w / cores);

const out: string[] = [];
out.push(`Fitted to ${values.bench} (${report.command}; ${report.machine.cores} CPUs, ${report.machine.cpuModel}).`, '');
out.push('| model | P (G + D) | F ms | c µs/row | s(2) ms | rms of the fit ms |', '|---|---:|---:|---:|---:|---:|');
for (const f of fits) out.push(`| ${f.model} | ${f.params.toLocaleString('en-US')} | ${f.F.toFixed(2)} | ${(f.c * 1000).toFixed(1)} | ${f.s2.toFixed(2)} | ${f.rms.toFixed(2)} |`);
out.push('', `Measured against the model on this machine (${cores} cores; rows with more workers than cores use T·W/C):`, '');
out.push('| model | batch | workers | measured ms/step | model ms/step |', '|---|---:|---:|---:|---:|');
for (const r of report.rows.filter((x) => x.workers > 0)) {
  const f = fits.find((x) => x.model === r.model);
  if (f) out.push(`| ${r.model} | ${r.batchSize} | ${r.workers} | ${r.msPerStep.toFixed(1)} | ${onCores(f, r.workers, r.batchSize).toFixed(1)} |`);
}
out.push('', `Predicted speedup over 1 worker with one core per worker, memory bandwidth ${values.bandwidth} GB/s:`, '');
const ws = [1, 2, 4, 8, 16, 32, 64];
out.push(`| model | batch | ${ws.map((w) => `${w} w`).join(' | ')} |`, `|---|---:|${ws.map(() => '---:').join('|')}|`);
for (const f of fits) {
  for (const b of [64, 256, 1024]) out.push(`| ${f.model} | ${b} | ${ws.map((w) => `${(predict(f, 1, b) / predict(f, w, b)).toFixed(1)}×`).join(' | ')} |`);
}
console.log(out.join('\n'));
