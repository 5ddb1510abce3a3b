/**
 * `ganpool score --run OUT --images SPEC`: anomaly scores of every image of a
 * data set with a trained GAN (src/anomaly/score.ts), written as JSON lines,
 * with an optional grid of the most anomalous images beside their reconstructions.
 */
import { createProgress } from '../../util/progress.js';
import { CALIBRATION_ROWS, SCORE_CHUNK, SCORE_DEFAULTS } from '../../anomaly/score.js';
import { parseScoreArgs, runScore } from '../../anomaly/run.js';

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
