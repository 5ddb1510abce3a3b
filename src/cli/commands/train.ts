/** `ganpool train`: flags → config → train(), with a progress display and Ctrl-C handling. */
import { planRun, train } from '../../app/train.js';
import { parseTrainArgs, trainHelp } from '../args.js';
import { createProgress, type Progress } from '../../util/progress.js';
import { resolveConfig } from '../../config.js';
import { settleAllPools } from '../../training/executor.js';
import type { EvalMetrics } from '../../metrics/frechet.js';
import { agreementLine } from './eval.js';
import { semiTrainCommand } from './semi.js';

/**
 * Ctrl-C or SIGTERM once: stop after the current step (samples, checkpoint
 * and summary are still written; exit 0). A second signal: exit at once
 * (130 for SIGINT, 143 for SIGTERM) without writing anything more, as soon
 * as no worker thread is inside a native call (terminating a thread inside
 * ONNX Runtime's session.run aborts the process).
 */
export function stopOnSignals(): AbortController {
  const controller = new AbortController();
  const onSignal = (signal: 'SIGINT' | 'SIGTERM'): void => {
    if (controller.signal.aborted) {
      void settleAllPools().then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
      return;
    }
    const again = signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM';
    process.stderr.write(`\nstopping after the current step (${again} again to quit now)…\n`);
    controller.abort();
  };
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  return controller;
}

/** One metrics row: FCD, classifier score, classes covered. */
function metricsRow(m: EvalMetrics): string {
  return `FCD ${m.fcd.toFixed(2).padStart(7)}   classifier score ${m.classifierScore.toFixed(2).padStart(5)}   classes ${m.classesCovered}/${m.histogram.length}`;
}

/** The quality lines at the end of a run: the generator's scores, and the real held-out split's (the floor) beside them. */
export function qualityLines(generated: EvalMetrics, floor: EvalMetrics | null): string {
  return `quality:      ${metricsRow(generated)}   (n ${generated.n}, as 'ganpool eval'; log in metrics.jsonl)\n` +
    (generated.classAgreement ? `${agreementLine(generated.classAgreement, 14)}\n` : '') +
    (floor ? `real floor:   ${metricsRow(floor)}   (n ${floor.n} held-out real images: the best a generator can reach)\n` : '');
}

/** Runs `ganpool train ARGS`; resolves to the exit code. */
export async function trainCommand(argv: string[]): Promise<number> {
  const { config, help } = parseTrainArgs(argv);
  if (help) { process.stdout.write(trainHelp()); return 0; }
  if (config.semiSupervised !== undefined || config.labels !== undefined || config.unlabelled !== undefined) return semiTrainCommand(config, stopOnSignals);
  const plan = planRun(config);
  resolveConfig(plan.config); // every flag checked before any data is loaded or anything written
  const controller = stopOnSignals();
  let decoding: Progress | null = null;
  let progress: Progress | null = null;
  let fcd: string | null = null;
  const result = await train(plan.config, {
    signal: controller.signal,
    onDataProgress: (done, total) => {
      if (total < 500) return;
      decoding ??= createProgress('decode images', total);
      decoding.update(done);
      if (done === total) decoding.done();
    },
    onWarning: (message) => process.stderr.write(`ganpool: warning: ${message}\n`),
    onStart: (resolved, firstStep) => {
      const from = firstStep > 0 ? `, resuming at step ${firstStep}` : '';
      const conditional = resolved.conditional ? ` (conditional, ${resolved.classes} classes)` : '';
      process.stderr.write(`ganpool: dataset ${resolved.dataset} (${resolved.datasetSize} images), model ${resolved.model}${conditional}, ` +
        `${resolved.workers} worker(s), backend ${resolved.backend}, batch ${resolved.batchSize}, ${resolved.steps} steps${from}\n`);
      progress = createProgress('train', resolved.steps, process.stderr, firstStep);
    },
    onStep: (s) => progress?.update(s.step, {
      'samples/s': s.samplesPerSec.toFixed(0), D: s.dLoss.toFixed(3), G: s.gLoss.toFixed(3), ...(fcd ? { FCD: fcd } : {}),
    }),
    onLog: (message) => process.stderr.write(`ganpool: ${message}\n`),
    onEval: (e) => { fcd = e.eval.fcd.toFixed(2); },
  }, plan);
  (progress as Progress | null)?.done();
  process.stdout.write(`${result.stoppedEarly ? 'stopped' : 'done'} after ${result.steps} steps in ${result.wallSeconds.toFixed(1)} s ` +
    `(${result.samplesPerSec.toFixed(0)} samples/s, ${(result.outsideShare * 100).toFixed(1)}% of each step outside the workers)\n` +
    `run:          ${result.out}\nsample grid:  ${result.latestGrid}\ncheckpoint:   ${result.checkpoint}\n` +
    `generator:    ${result.generator} (TensorFlow.js) and ${result.generatorOnnx} (ONNX)\n` +
    `report:       ${result.report} (live page: ganpool view ${result.out})\n` +
    (result.eval ? qualityLines(result.eval, result.evalFloor ?? null) : ''));
  return 0;
}
