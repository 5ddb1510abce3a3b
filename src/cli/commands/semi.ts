/** `ganpool train --semi-supervised --labels N`: the semi-supervised run's progress and final lines. */
import { trainSemi } from '../../app/semi-train.js';
import { createProgress, type Progress } from '../../util/progress.js';
import type { TrainConfig } from '../../config.js';
import type { MeasuredBaseline } from '../../eval/semi-baselines.js';

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;

/** The final accuracy line, with the measured real-only baseline beside it where there is one. */
export function semiAccuracyLine(accuracy: number, count: number, baseline: MeasuredBaseline | null): string {
  const beside = baseline ? `   real labels only: ${baseline.mean.toFixed(1)} ± ${baseline.sd.toFixed(1)}% (${baseline.source})` : '';
  return `held-out accuracy: ${pct(accuracy)} on ${count} images${beside}\n`;
}

/** Runs a semi-supervised training from parsed train flags; resolves to the exit code. */
export async function semiTrainCommand(config: TrainConfig, stopOnSignals: () => AbortController): Promise<number> {
  const controller = stopOnSignals();
  let progress: Progress | null = null;
  let acc = '-';
  const result = await trainSemi(config, {
    signal: controller.signal,
    onStart: (c, info) => {
      const mode = info.unlabelled > 0 ? 'semi-supervised' : 'supervised baseline (--labels all)';
      process.stderr.write(`ganpool: ${mode} on ${c.dataset}: ${info.labelled} labelled + ${info.unlabelled} unlabelled training images, ${info.classes} classes, ` +
        `held-out ${info.heldOut} (${info.description}); ${c.workers} worker(s), backend ${c.backend}, batch ${c.batchSize}, ${c.steps} steps\n`);
      progress = createProgress('train', c.steps, process.stderr);
    },
    onStep: (s) => progress?.update(s.step, { D: s.dLoss.toFixed(3), CE: s.supervised.toFixed(3), G: s.gLoss.toFixed(4), 'held-out': acc }),
    onEval: (e) => { acc = pct(e.accuracy.accuracy); },
  });
  (progress as Progress | null)?.done();
  process.stdout.write(`${result.stoppedEarly ? 'stopped' : 'done'} after ${result.steps} steps in ${result.wallSeconds.toFixed(1)} s\n` +
    `run:          ${result.out}\nclassifier:   ${result.classifierOnnx} (ONNX) and ${result.classifierTfjs} (TensorFlow.js)\n` +
    (result.samples ? `samples:      ${result.samples} (100 images of G)\n` : '') +
    `per class:    ${result.accuracy.perClass.map((a, k) => `${k} ${(a * 100).toFixed(1)}`).join('  ')}\n` +
    semiAccuracyLine(result.accuracy.accuracy, result.accuracy.count, result.baseline));
  return 0;
}
