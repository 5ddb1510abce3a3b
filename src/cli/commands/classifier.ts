/** `ganpool classifier train`: trains (and caches) a data set's evaluation classifier on the worker pool. */
import { parseFlags } from '../../util/flags.js';
import { availableParallelism } from 'node:os';
import { createProgress } from '../../util/progress.js';
import { GanpoolUsageError, badValue, classifierActionError, missingFlag } from '../../errors.js';
import { augmentedClassifierDir, classifierDir, saveClassifier, trainClassifier } from '../../eval/classifier-store.js';
import { augmentTarget, loadAugmentSet, parseAugmentSpec } from '../../eval/augment-set.js';
import { loadSplit } from '../../eval/splits.js';
import { evaluateClassifierOnnx } from '../../eval/semi-eval.js';
import { classCount } from '../../data/image-set.js';

const EVAL_FLAGS = { model: { type: 'string' }, dataset: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const;

/** `ganpool classifier eval --model FILE --dataset D`: held-out accuracy, per class and overall. */
async function classifierEvalCommand(argv: string[]): Promise<number> {
  const values = parseFlags('classifier eval', argv, EVAL_FLAGS);
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (values.model === undefined) throw missingFlag('classifier eval', '--model', 'the classifier file (OUT/classifier.onnx)');
  const dataset = values.dataset ?? 'mnist';
  const split = await loadSplit(dataset, values['data-dir']);
  const classes = classCount(split.test.set);
  const acc = await evaluateClassifierOnnx(values.model, split.test, classes);
  process.stdout.write(acc.perClass.map((a, k) => `class ${String(k).padStart(2)}: ${(a * 100).toFixed(2).padStart(6)}%  (${acc.counts[k]} images)\n`).join('') +
    `accuracy: ${(acc.accuracy * 100).toFixed(2)}% on ${acc.count} held-out images of '${dataset}' (${split.description})\n`);
  return 0;
}

const HELP = `Usage: ganpool classifier train --dataset D [flags]
       ganpool classifier eval --model FILE --dataset D

'classifier eval' prints the held-out accuracy (overall and per class) of a
classifier file, such as the OUT/classifier.onnx a semi-supervised run writes
(ganpool train --semi-supervised): input 'images' float32 [N,H,W,C] in [-1, 1],
output 'logits' [N,K].

Trains the small CNN that 'ganpool eval' and 'ganpool train --eval-every' score
generated images with, data-parallel on the worker pool, reports its test
accuracy and saves it in the cache (.ganpool-cache/classifiers/<dataset>/).
The test split is Fashion-MNIST's t10k files, or for other labelled sets the
last 20% of a fixed seeded permutation (mnist: 2,000 of the 10,000 digits).

With --augment, each epoch trains on all real training images plus
round(R × their count) generated ones (drawn and shuffled with the seed); the
test split stays real. That classifier is saved beside the plain one
(<dataset>.augmented), so 'ganpool eval' keeps using the real-only classifier.

Flags:
  --dataset D         mnist | fashion-mnist | idx:PATH (labelled) [mnist]
  --data-dir DIR      where to look for the Fashion-MNIST files first
  --epochs E          passes over the training split [~150,000 images, 10 to 20]
  --workers N         worker threads [available cores]
  --batch-size B      global batch size, split across workers [128]
  --lr X              Adam learning rate [0.001]
  --seed K            initialisation and shuffling seed [1]
  --augment SPEC      also train on generated labelled images: a folder written by
                      'ganpool sample --per-class N --out DIR', idx:PATH or folder:DIR
  --augment-ratio R   generated images per real training image per epoch [1]
  --cache-dir DIR     cache folder [.ganpool-cache]
  -h, --help          show this help
`;

const FLAGS = {
  dataset: { type: 'string' }, 'data-dir': { type: 'string' }, epochs: { type: 'string' }, workers: { type: 'string' },
  'batch-size': { type: 'string' }, lr: { type: 'string' }, seed: { type: 'string' }, 'cache-dir': { type: 'string' },
  augment: { type: 'string' }, 'augment-ratio': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Parses a numeric flag; whole numbers from `min` unless `real`. */
export function numberFlag(flag: string, raw: string | undefined, min: number, real = false): number | undefined {
  if (raw === undefined) return undefined;
  const n = raw.trim() === '' ? NaN : Number(raw);
  const ok = Number.isFinite(n) && (real ? n > 0 : Number.isInteger(n) && n >= min);
  if (!ok) throw badValue(`--${flag}`, raw, real ? 'a positive number' : `a whole number ≥ ${min}`);
  return n;
}

/** Runs `ganpool classifier ARGS`; resolves to the exit code. */
export async function classifierCommand(argv: string[]): Promise<number> {
  const [action, ...rest] = argv;
  if (action === '--help' || action === '-h') { process.stdout.write(HELP); return 0; }
  if (action === 'eval') return classifierEvalCommand(rest);
  if (action !== 'train') throw classifierActionError(action);
  const values = parseFlags('classifier', rest, FLAGS);
  if (values.help) { process.stdout.write(HELP); return 0; }
  const dataset = values.dataset ?? 'mnist';
  const workers = numberFlag('workers', values.workers, 1) ?? availableParallelism();
  const options = {
    workers,
    batchSize: numberFlag('batch-size', values['batch-size'], workers) ?? 128,
    ...(values.epochs !== undefined ? { epochs: numberFlag('epochs', values.epochs, 1)! } : {}),
    ...(values.lr !== undefined ? { lr: numberFlag('lr', values.lr, 0, true)! } : {}),
    seed: numberFlag('seed', values.seed, 0) ?? 1,
  };
  const ratio = numberFlag('augment-ratio', values['augment-ratio'], 0, true);
  if (ratio !== undefined && values.augment === undefined) throw new GanpoolUsageError('invalid --augment-ratio: it needs --augment (the generated images to mix in)', '--augment-ratio');
  if (values.augment !== undefined) parseAugmentSpec(values.augment);
  const split = await loadSplit(dataset, values['data-dir']);
  const generated = values.augment === undefined ? undefined
    : { set: await loadAugmentSet(values.augment, augmentTarget(split.train.set)), ratio: ratio ?? 1, source: values.augment };
  const mixed = generated ? ` + round(${generated.ratio} × ${split.train.indices.length}) generated images per epoch from ${generated.set.count} in ${generated.source}` : '';
  process.stderr.write(`ganpool: classifier for '${dataset}': ${split.train.indices.length} training images${mixed}, ${split.description}; ${workers} worker(s)\n`);
  let progress: ReturnType<typeof createProgress> | null = null;
  let lastAcc = '-';
  const { params, info } = await trainClassifier(dataset, split, {
    ...options,
    ...(generated ? { generated } : {}),
    onStep: (s, total) => {
      progress ??= createProgress('classifier', total);
      progress.update(s.step, { epoch: String(s.epoch + 1), loss: s.loss.toFixed(3), 'test acc': lastAcc });
    },
    onEpoch: (_, test) => { lastAcc = `${(test.accuracy * 100).toFixed(2)}%`; },
  });
  (progress as ReturnType<typeof createProgress> | null)?.done();
  const dir = (generated ? augmentedClassifierDir : classifierDir)(dataset, values['cache-dir']);
  await saveClassifier(dir, params, info);
  process.stdout.write(`test accuracy: ${(info.accuracy * 100).toFixed(2)}% on ${info.testCount} images (${info.split})\n` +
    `trained:       ${info.epochs} epochs over ${info.trainCount} images${info.augment ? ` + ${info.augment.generatedPerEpoch} generated` : ''} in ${info.trainSeconds.toFixed(1)} s on ${info.workers} worker(s)\n` +
    `saved:         ${dir}\n`);
  return 0;
}
