/** `ganpool eval`: scores an exported generator against a data set with its evaluation classifier. */
import { parseFlags } from '../../util/flags.js';
import { availableParallelism } from 'node:os';
import { missingFlag } from '../../errors.js';
import { balancedLabels, Evaluator } from '../../eval/evaluate.js';
import type { ClassAgreement, EvalMetrics } from '../../metrics/frechet.js';
import { checkGeneratorShape, generateImages, loadGenerator } from '../../generator/load.js';
import { numberFlag } from './classifier.js';

const HELP = `Usage: ganpool eval --generator DIR|FILE.onnx --dataset D [flags]

Scores a generator (an exported LayersModel folder, e.g. OUT/generator, or an
ONNX file, e.g. OUT/generator.onnx) in the feature space of the data set's
evaluation classifier (trained and cached on first use; see 'ganpool
classifier train'):
  FCD               Fréchet distance between the classifier's penultimate
                    features of generated and of real training images (lower is better)
  classifier score  the Inception-score formula with the classifier (1 … 10)
  classes covered   classes holding at least a tenth of their balanced share
  as drawn          conditional generators (scored on balanced classes): the
                    share of each class's images classified as that class
The held-out real split scored the same way is printed as the floor.

Flags:
  --generator PATH    the exported generator: a folder (model.json + weights.bin)
                      or an ONNX file (.onnx)
  --dataset D         the data set it was trained on [mnist]
  --data-dir DIR      where to look for the Fashion-MNIST files first
  --n N               generated images to score [10000]
  --seed K            latent noise seed (same noise as the trainer's samples) [1]
  --json              print the report as JSON
  --cache-dir DIR     classifier cache folder [.ganpool-cache]
  --workers N         worker threads, if the classifier must be trained [available cores]
  -h, --help          show this help
`;

const FLAGS = {
  generator: { type: 'string' }, dataset: { type: 'string' }, 'data-dir': { type: 'string' }, n: { type: 'string' },
  seed: { type: 'string' }, json: { type: 'boolean' }, 'cache-dir': { type: 'string' }, workers: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `ganpool eval --json` prints. */
export interface EvalReport {
  generator: string;
  dataset: string;
  seed: number;
  generated: EvalMetrics;
  /** The held-out real split, scored the same way. */
  heldOut: EvalMetrics;
  /** Real training images the reference feature statistics come from. */
  realReferenceN: number;
  classifier: { accuracy: number; testCount: number; split: string };
  seconds: number;
}

function fmt(m: EvalMetrics): string {
  return `FCD ${m.fcd.toFixed(3).padStart(9)}   score ${m.classifierScore.toFixed(3)}   classes ${m.classesCovered}/10   n ${m.n}`;
}

/**
 * A conditional generator's per-class agreement: the share of each class's images the classifier
 * reads as that class; the label is padded to `width` characters to line up with its neighbours.
 */
export function agreementLine(a: ClassAgreement, width = 12): string {
  return `${'as drawn:'.padEnd(width)}${(a.mean * 100).toFixed(1)}% of images classified as the class they were drawn for (per class ` +
    `${a.perClass.map((x, k) => `${k}:${(x * 100).toFixed(0)}%`).join(' ')})`;
}

function human(r: EvalReport): string {
  return [
    `generator:  ${r.generator} (seed ${r.seed})`,
    `dataset:    ${r.dataset} (classifier ${(r.classifier.accuracy * 100).toFixed(2)}% on ${r.classifier.testCount} held-out images)`,
    `generated:  ${fmt(r.generated)}`,
    `held-out:   ${fmt(r.heldOut)}   (real images: the floor)`,
    `histogram:  ${r.generated.histogram.map((c, k) => `${k}:${c}`).join(' ')}`,
    ...(r.generated.classAgreement ? [agreementLine(r.generated.classAgreement)] : []),
    `reference:  features of ${r.realReferenceN} real training images; ${r.seconds.toFixed(1)} s`, '',
  ].join('\n');
}

/** Runs `ganpool eval ARGS`; resolves to the exit code. */
export async function evalCommand(argv: string[]): Promise<number> {
  const values = parseFlags('eval', argv, FLAGS);
  if (values.help) { process.stdout.write(HELP); return 0; }
  if (values.generator === undefined) throw missingFlag('eval', '--generator', 'an exported generator: a folder (model.json + weights.bin) or an ONNX file (.onnx)');
  const t0 = performance.now();
  const dataset = values.dataset ?? 'mnist';
  const n = numberFlag('n', values.n, 2) ?? 10_000;
  const seed = numberFlag('seed', values.seed, 0) ?? 1;
  const gen = await loadGenerator(values.generator);
  const evaluator = await Evaluator.create(dataset, {
    ...(values['cache-dir'] !== undefined ? { cacheDir: values['cache-dir'] } : {}),
    ...(values['data-dir'] !== undefined ? { dataDir: values['data-dir'] } : {}),
    workers: numberFlag('workers', values.workers, 1) ?? availableParallelism(),
    log: (m) => process.stderr.write(`ganpool: ${m}\n`),
    generatorShape: gen.imageShape,
  });
  checkGeneratorShape(gen, evaluator.imageShape, 'generator');
  // A conditional generator draws balanced classes, and is also scored on how often its images read as their class.
  const labels = gen.classes > 0 ? balancedLabels(n, gen.classes) : undefined;
  let images: Float32Array;
  try {
    images = await generateImages(gen, n, seed, labels);
  } finally {
    await gen.dispose();
  }
  const generated = evaluator.metrics(images, n, labels);
  const { info } = evaluator;
  const report: EvalReport = {
    generator: values.generator, dataset, seed, generated, heldOut: evaluator.floor, realReferenceN: evaluator.realN,
    classifier: { accuracy: info.accuracy, testCount: info.testCount, split: info.split },
    seconds: (performance.now() - t0) / 1000,
  };
  process.stdout.write(values.json ? JSON.stringify(report, null, 2) + '\n' : human(report));
  return 0;
}
