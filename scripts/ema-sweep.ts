/**
 * `npx tsx scripts/ema-sweep.ts [BATCH] [STEPS] [CHECK,STEPS,…]`: what an EMA
 * of G buys at several decays, from ONE training run (the raw trajectory does
 * not depend on the EMA): after each step it updates EMAs with decays 0.9,
 * 0.99, 0.995 and 0.999 (ganpool's warm-up, src/ema.ts) in plain JS, and at
 * the check steps scores the raw weights and each EMA like `ganpool eval`
 * (n = 2,000, the shared batch-norm moving statistics). The README's EMA
 * table came from `npx tsx scripts/ema-sweep.ts 32 1600 400,800,1200`.
 */
import { GanTrainer } from '../src/training/trainer.js';
import { createEngine } from '../src/engines/index.js';
import { emaDecayAt, updateEma } from '../src/optim/ema.js';
import { latentNoise, NoiseStream } from '../src/util/rng.js';
import { Evaluator } from '../src/eval/evaluate.js';
const batch = Number(process.argv[2] ?? 32), steps = Number(process.argv[3] ?? 1200);
const checkAt = new Set((process.argv[4] ?? '').split(',').filter(Boolean).map(Number).concat([steps]));
const decays = [0.9, 0.99, 0.995, 0.999];
const trainer = await GanTrainer.create({ workers: 2, batchSize: batch, steps, lr: 2e-4, ema: 0, finalEval: false, out: `runs/ema-sweep-${batch}-${steps}` });
const emas = decays.map(() => trainer.parameters().g);
const engine = await createEngine('onnx', trainer.preset, { loss: 'ns' });
const ev = await Evaluator.create('mnist', {});
const n = 2000;
const z = latentNoise(new Float32Array(n * 100), 1, 0, NoiseStream.Sample, 0, 100);
let t = 0;
while (trainer.stepsDone < steps) {
  await trainer.step(); t++;
  const p = trainer.parameters().g;
  decays.forEach((d, i) => updateEma(emas[i], p, emaDecayAt(d, t), 0, p.length));
  if (checkAt.has(t)) {
    const bn = trainer.bnStatistics().g;
    const parts: string[] = [];
    for (const [name, w] of [['raw', p] as const, ...decays.map((d, i) => [String(d), emas[i]] as const)]) {
      engine.setParams('g', w);
      const m = ev.metrics(await engine.sample(z, n, bn), n);
      parts.push(`${name}:${m.fcd.toFixed(1)}/${m.classifierScore.toFixed(2)}`);
    }
    console.log(`b${batch} step ${t}: ${parts.join('  ')}`);
  }
}
await trainer.close();
