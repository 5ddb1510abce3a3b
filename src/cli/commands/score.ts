/**
 * `ganpool score --run OUT --images SPEC`: anomaly scores of every image of a
 * data set with a trained GAN (src/anomaly/score.ts), written as JSON lines,
 * with an optional grid of the most anomalous images beside their reconstructions.
 */
import { join } from 'node:path';
import { parseFlags } from '../args.js';
import { BACKEND_NAMES, type BackendChoice } from '../../engines/backend.js';
import { writeFileAtomic } from '../../util/atomic.js';
import { badValue, missingFlag, scoreTopInvalid } from '../../errors.js';
import { createProgress } from '../../util/progress.js';
import { CALIBRATION_ROWS, checkSetting, SCORE_CHUNK, SCORE_DEFAULTS, SCORE_RANGES, scoreImages, type ScoreReport } from '../../anomaly/score.js';
import { topGrid, writeScores } from '../../anomaly/score-file.js';

/** Parsed `ganpool score` flags. */
export interface ScoreArgs {
  run: string;
  images: string;
  /** The JSON-lines file [OUT/scores.jsonl]. */
  out: string;
  /** `--top K FILE`: the grid of the K most anomalous images, or null. */
  top: { k: number; file: string } | null;
  workers: number | undefined;
  backend: BackendChoice | undefined;
  steps: number;
  starts: number;
  seed: number;
  lambda: number;
  lr: number;
  limit: number | undefined;
}

const D = SCORE_DEFAULTS;
const HELP = `Usage: ganpool score --run OUT --images SPEC [flags]

Anomaly scores of every image of a data set with a trained (unconditional)
GAN: D's logit and an AnoGAN-style reconstruction from a latent search, run
data-parallel on the worker pool. Higher = more anomalous for every score.

Flags:
  --run OUT           a training run's folder: its latest checkpoint (G's EMA
                      weights where the run keeps an EMA, D's final weights,
                      batch norm with the moving statistics) [required]
  --images SPEC       the images: mnist | fashion-mnist | idx:PATH | folder:DIR,
                      the run's image shape, scaled to [-1, 1] as in training [required]
  --out FILE          the scores, one JSON line per image [OUT/scores.jsonl]
  --top K FILE        also write a PNG grid of the K most anomalous images
                      (highest combined), each followed by its reconstruction,
                      4 pairs per row
  --workers N         worker threads [available cores]
  --backend X         auto | onnx | wasm | cpu | tensorflow [the run's]
  --steps T           Adam steps on z per start [${D.steps}]
  --starts S          seeded starts per image; the best is kept [${D.starts}]
  --seed K            seed of the starts and of the calibration sample [${D.seed}]
  --lambda L          weight of the feature distance in the objective, 0 to 1 [${D.lambda}]
  --lr X              Adam's learning rate on z [${D.lr}]
  --limit N           score only the first N images
  -h, --help          show this help

Fields of each line (every score: higher = more anomalous):
  index     the image's row in SPEC
  label     its class where SPEC is labelled, else null (never used to score)
  dLogit    D's logit; dScore = -dLogit
  pixel     mean squared pixel distance between the image and G(z*), z* the
            best z found (lowest recon over every start and step)
  feature   mean squared distance of D's penultimate features (the input of
            its last dense layer) between the image and G(z*)
  recon     the search objective at z*: (1 - lambda)·pixel + lambda·feature
  combined  z-score of dScore + z-score of recon, both against ${CALIBRATION_ROWS} of the
            run's own training images (seeded) scored the same way, so an
            image's score does not depend on the rest of SPEC

Images are scored in chunks of ${SCORE_CHUNK}, each start keyed by the seed and the
image's index: the scores do not depend on --workers.
`;

/** A numeric flag's value, checked against its range in SCORE_RANGES (errors show the flag's text). */
function numeric(name: keyof typeof SCORE_RANGES, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  return checkSetting(name, raw.trim() === '' ? NaN : Number(raw), raw);
}

/** Takes `--top K FILE` (two values, which node's parser cannot) out of `argv`. */
function takeTop(argv: string[]): { rest: string[]; top: ScoreArgs['top'] } {
  const i = argv.indexOf('--top');
  if (i < 0) return { rest: argv, top: null };
  const [k, file] = [argv[i + 1], argv[i + 2]];
  if (k === undefined || file === undefined || file.startsWith('-') || file === '') {
    throw scoreTopInvalid(false);
  }
  const rest = [...argv.slice(0, i), ...argv.slice(i + 3)];
  if (rest.includes('--top')) throw scoreTopInvalid(true);
  return { rest, top: { k: numeric('top', k)!, file } };
}

/** Parses `ganpool score` arguments; throws GanpoolUsageError naming the flag. Null means --help. */
export function parseScoreArgs(argv: string[]): ScoreArgs | null {
  if (argv.includes('--help') || argv.includes('-h')) return null;
  const { rest, top } = takeTop(argv);
  const v = parseFlags('score', rest, {
    run: { type: 'string' }, images: { type: 'string' }, out: { type: 'string' }, workers: { type: 'string' },
    backend: { type: 'string' }, steps: { type: 'string' }, starts: { type: 'string' }, seed: { type: 'string' },
    lambda: { type: 'string' }, lr: { type: 'string' }, limit: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.run === undefined || v.run === '') throw missingFlag('score', '--run', 'a training run\'s folder (the OUT of ganpool train)');
  if (v.images === undefined || v.images === '') throw missingFlag('score', '--images', 'the images to score: mnist, fashion-mnist, idx:PATH or folder:DIR');
  const backends = ['auto', ...BACKEND_NAMES];
  if (v.backend !== undefined && !backends.includes(v.backend)) throw badValue('--backend', v.backend, `one of ${backends.join(', ')}`);
  if (v.out === '') throw badValue('--out', v.out, 'a file path');
  return {
    run: v.run, images: v.images, out: v.out ?? join(v.run, 'scores.jsonl'), top,
    workers: numeric('workers', v.workers),
    backend: v.backend as BackendChoice | undefined,
    steps: numeric('steps', v.steps) ?? D.steps,
    starts: numeric('starts', v.starts) ?? D.starts,
    seed: numeric('seed', v.seed) ?? D.seed,
    lambda: numeric('lambda', v.lambda) ?? D.lambda,
    lr: numeric('lr', v.lr) ?? D.lr,
    limit: numeric('limit', v.limit),
  };
}

/** Scores `args.images` and writes the scores (and the grid); resolves to the report. */
export async function runScore(args: ScoreArgs, onProgress?: (done: number, total: number) => void): Promise<ScoreReport> {
  const report = await scoreImages({
    run: args.run, images: args.images, steps: args.steps, starts: args.starts, seed: args.seed, lambda: args.lambda, lr: args.lr,
    ...(args.workers !== undefined ? { workers: args.workers } : {}),
    ...(args.backend !== undefined ? { backend: args.backend } : {}),
    ...(args.limit !== undefined ? { limit: args.limit } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  await writeScores(args.out, report.rows);
  if (args.top) await writeFileAtomic(args.top.file, await topGrid(report, args.top.k));
  return report;
}

/** Runs `ganpool score ARGS`; resolves to the exit code. */
export async function scoreCommand(argv: string[]): Promise<number> {
  const args = parseScoreArgs(argv);
  if (args === null) { process.stdout.write(HELP); return 0; }
  let progress: ReturnType<typeof createProgress> | null = null;
  const r = await runScore(args, (done, total) => {
    progress ??= createProgress('score', total);
    progress.update(done);
  });
  (progress as ReturnType<typeof createProgress> | null)?.done();
  const n = r.rows.length, s = r.settings;
  process.stdout.write(
    `scored ${n} images of ${args.images} with ${args.run} (${r.model}, step ${r.step}; G: ${r.weights === 'ema' ? 'EMA weights' : 'raw weights (no EMA)'}, ` +
    `D: final weights; batch norm with the moving statistics)\n` +
    `search: ${s.starts} starts × ${s.steps} Adam steps, lr ${s.lr}, lambda ${s.lambda}, seed ${s.seed}; ` +
    `${r.backend}, ${r.workers} worker${r.workers === 1 ? '' : 's'}, ${r.seconds.toFixed(1)} s (${((n + r.calibration.rows) / r.seconds).toFixed(1)} images/s with the ${r.calibration.rows} calibration images)\n` +
    `wrote ${args.out}${args.top ? ` and the top ${Math.min(args.top.k, n)} grid ${args.top.file}` : ''}\n`,
  );
  return 0;
}
