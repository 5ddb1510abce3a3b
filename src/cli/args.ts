/**
 * Command-line flags → a TrainConfig. Every flag error names the flag and
 * what it accepts; the CLI turns those into exit code 2.
 */
import { DEFAULT_BATCH_SIZE, DEFAULT_STEPS, type TrainConfig } from '../config.js';
import { GanpoolUsageError, badValue } from '../errors.js';
import { parseFlags } from '../util/flags.js';

/** A train flag: its config field and whether it takes a number, or no value at all (a switch that sets the field to true). */
interface FlagSpec {
  field: keyof TrainConfig;
  numeric: boolean;
  help: string;
  /** A flag with named values: each accepted word and the config value it stands for. */
  choices?: Record<string, unknown>;
  switch?: true;
}

/** The flags of `ganpool train`. */
export const TRAIN_FLAGS: Record<string, FlagSpec> = {
  dataset: { field: 'dataset', numeric: false, help: 'mnist (embedded) | fashion-mnist | idx:PATH | folder:DIR [mnist]' },
  'data-dir': { field: 'dataDir', numeric: false, help: 'folder with the fashion-mnist IDX files [/usr/share/datasets/fashion-mnist]' },
  'image-size': { field: 'imageSize', numeric: true, help: 'folder:DIR only: resize images to 28, 32 or 64 pixels [32]' },
  channels: { field: 'channels', numeric: true, help: 'folder:DIR only: 1 (grey) or 3 (RGB) [3]' },
  model: { field: 'model', numeric: false, help: 'model preset: mlp | seed | dcgan (28×28) | dcgan32 | dcgan64 | probe-mlp | probe-dcgan [dcgan for 28×28 images, mlp for other sizes]' },
  loss: { field: 'loss', numeric: false, help: 'GAN loss: ns (non-saturating) | hinge | lsgan (least squares) [ns]' },
  conditional: { field: 'conditional', numeric: false, switch: true, help: 'conditional GAN: G draws a given class, D judges (image, class); needs a labelled data set [off]' },
  'semi-supervised': { field: 'semiSupervised', numeric: false, switch: true, help: 'semi-supervised GAN (Salimans et al. 2016): D is a K-class classifier, written to OUT/classifier.onnx; needs --labels [off]' },
  labels: { field: 'labels', numeric: false, help: '--semi-supervised: labelled training images, N/K per class (a multiple of the classes), or all (supervised baseline)' },
  unlabelled: { field: 'unlabelled', numeric: true, help: '--semi-supervised: use only N of the unlabelled training images (drawn by the seed) [all]' },
  workers: { field: 'workers', numeric: true, help: 'worker threads [available cores]' },
  'batch-size': { field: 'batchSize', numeric: true, help: `global batch size, split across workers [${DEFAULT_BATCH_SIZE}]` },
  steps: { field: 'steps', numeric: true, help: `training steps, each one D and one G update [${DEFAULT_STEPS}]` },
  epochs: { field: 'epochs', numeric: true, help: 'train for E passes over the data instead of --steps' },
  lr: { field: 'lr', numeric: true, help: 'Adam learning rate for both networks [G 0.0012 for an unconditional dcgan, else 0.0002; D 0.0002]' },
  'lr-g': { field: 'lrG', numeric: true, help: 'generator learning rate [--lr, else 0.0012 for an unconditional dcgan, 0.0002 otherwise]' },
  'lr-d': { field: 'lrD', numeric: true, help: 'discriminator learning rate [--lr, else 0.0002]' },
  beta1: { field: 'beta1', numeric: true, help: 'Adam beta1 [0.5]' },
  beta2: { field: 'beta2', numeric: true, help: 'Adam beta2 [0.999]' },
  ema: { field: 'ema', numeric: true, help: "decay of the EMA of G's weights used for samples, eval and export; 0 = off [0.999 for dcgan, dcgan32, dcgan64; else 0]" },
  seed: { field: 'seed', numeric: true, help: 'seed for init, shuffling, noise and the sample grid [1]' },
  'sample-every': { field: 'sampleEvery', numeric: true, help: 'write a sample grid every K steps [500]' },
  'eval-every': { field: 'evalEvery', numeric: true, help: 'log FCD, classifier score and classes covered every K steps and at the end [off]' },
  'eval-n': { field: 'evalN', numeric: true, help: 'generated images per evaluation (--eval-every, --final-eval) [2000]' },
  'final-eval': {
    field: 'finalEval', numeric: false, choices: { on: true, off: false },
    help: 'on | off: score the generator at the end and print it beside the real-data floor [on for mnist, whose classifier ships with ganpool; off elsewhere]',
  },
  'max-skips': { field: 'maxSkips', numeric: true, help: 'steps in a row refused for NaN/Inf before the run stops [5]' },
  'max-retries': { field: 'maxRetries', numeric: true, help: 'retries of a failed worker task before the run stops [2]' },
  'barrier-timeout': { field: 'barrierTimeout', numeric: true, help: 'seconds a worker waits for the others before the step counts as a fault [120]' },
  'checkpoint-every': { field: 'checkpointEvery', numeric: true, help: 'write OUT/checkpoint and OUT/generator every K steps and at the end [1000]' },
  resume: { field: 'resume', numeric: false, help: 'continue the run in OUT from its checkpoint (--steps = new total)' },
  out: { field: 'out', numeric: false, help: 'output directory [runs/<timestamp>]' },
  backend: { field: 'backend', numeric: false, help: 'auto | onnx | wasm | cpu | tensorflow [auto: onnx where onnxruntime-node loads, else wasm]' },
};

/** The CLI flag for a config field (`batchSize` → `--batch-size`). */
export function flagFor(field: string): string {
  const entry = Object.entries(TRAIN_FLAGS).find(([, s]) => s.field === field);
  return entry ? `--${entry[0]}` : field;
}

/** Rewrites a usage error about a config field so it names the CLI flag instead. */
export function asFlagError(e: GanpoolUsageError): GanpoolUsageError {
  if (!e.field) return e;
  const flag = flagFor(e.field);
  return new GanpoolUsageError(e.message.replace(`invalid ${e.field}:`, `invalid ${flag}:`), e.field);
}

/** Parses `ganpool train` arguments into a config; throws GanpoolUsageError on any bad flag. */
export function parseTrainArgs(argv: string[]): { config: TrainConfig; help: boolean } {
  const options = Object.fromEntries(Object.entries(TRAIN_FLAGS).map(([k, s]) => [k, { type: s.switch ? 'boolean' as const : 'string' as const }]));
  const values = parseFlags('train', argv, { ...options, help: { type: 'boolean', short: 'h' } });
  const config: Record<string, unknown> = {};
  for (const [flag, spec] of Object.entries(TRAIN_FLAGS)) {
    const raw = (values as Record<string, string | boolean | undefined>)[flag];
    if (spec.switch && raw === true) { config[spec.field] = true; continue; }
    if (typeof raw !== 'string') continue;
    if (spec.choices) {
      if (!Object.hasOwn(spec.choices, raw)) throw new GanpoolUsageError(badValue(`--${flag}`, raw, `one of ${Object.keys(spec.choices).join(', ')}`).message, spec.field);
      config[spec.field] = spec.choices[raw];
      continue;
    }
    if (!spec.numeric) { config[spec.field] = raw; continue; }
    const n = raw.trim() === '' ? NaN : Number(raw);
    if (!Number.isFinite(n)) throw new GanpoolUsageError(badValue(`--${flag}`, raw, 'a number').message, spec.field);
    config[spec.field] = n;
  }
  return { config: config, help: values.help === true };
}

/** The help text of `ganpool train`. */
export function trainHelp(): string {
  const rows = Object.entries(TRAIN_FLAGS).map(([flag, s]) => `  --${(flag + (s.switch ? '' : s.numeric ? ' N' : ' X')).padEnd(18)} ${s.help}`);
  return ['Usage: ganpool train [flags]', '', 'Trains a GAN data-parallel on a pool of worker threads.', '', 'Flags:', ...rows,
    '  -h, --help           show this help', ''].join('\n');
}
