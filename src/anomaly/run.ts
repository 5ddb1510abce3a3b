/**
 * `ganpool score` for scripts and the CLI alike: its flags parsed into
 * settings (every error names the flag), then the scores of every image
 * written as JSON lines, with an optional grid of the most anomalous images.
 */
import { join } from 'node:path';
import { parseFlags } from '../util/flags.js';
import { BACKEND_NAMES, type BackendChoice } from '../engines/backend.js';
import { writeFileAtomic } from '../util/atomic.js';
import { badValue, missingFlag, scoreTopInvalid } from '../errors.js';
import { checkSetting, SCORE_DEFAULTS, SCORE_RANGES, scoreImages, type ScoreReport } from './score.js';
import { topGrid, writeScores } from './score-file.js';

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
