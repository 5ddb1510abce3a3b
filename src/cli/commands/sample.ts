/**
 * `ganpool sample --generator DIR|FILE.onnx`: draws images from an exported
 * generator (OUT/generator or OUT/generator.onnx) on the main thread, with the same latent noise the trainer
 * uses for its sample grid, so a seed reproduces the run's grid. A conditional
 * generator draws one class (`--label K`) or N of every class, one class per
 * grid row (`--per-class N`, the default with N = 8: the run's grid). With
 * `--format png|idx`, `--per-class N --out DIR` writes those images as a
 * labelled data set instead (src/sample-export.ts).
 */
import { parseFlags } from '../../util/flags.js';
import { BACKEND_NAMES, type BackendChoice } from '../../engines/backend.js';
import { GENERATE_BATCH } from '../../generator/load.js';
import { badValue, conflictingFlags, missingFlag } from '../../errors.js';
import { createProgress, type Progress } from '../../util/progress.js';
import { EXPORT_FORMATS, MANIFEST_NAME, type ExportFormat } from '../../generator/sample-export.js';
import { runSample, runSampleExport, type SampleArgs } from '../../generator/sample.js';

const HELP = `Usage: ganpool sample --generator DIR|FILE.onnx [flags]

Draws images from a generator exported by 'ganpool train' (OUT/generator or
OUT/generator.onnx).

Flags:
  --generator PATH    the exported generator: a folder (model.json + weights.bin)
                      or an ONNX file (.onnx) [required]
  --n N               number of images, 1 to 10000 [64; a conditional generator:
                      8 per class, see --per-class]
  --label K           conditional generators: draw class K (0 to classes-1)
  --per-class N       conditional generators: N images of every class, class k
                      in grid row k [8, unless --n or --label is given; with --n
                      alone the classes are drawn uniformly from the seed]
  --seed K            latent noise seed; the run's seed reproduces its sample grid [the run's seed]
  --out FILE|DIR      grid PNG to write [grid.png]; with --format, the folder
  --individual DIR    also write one PNG per image, sample-0000.png, ...
  --format png|idx    conditional generators: write a labelled data set to the
                      folder --out (required, with --per-class N, up to 100000)
                      instead of a grid: png = OUT/<class>/<i>.png, read back by
                      --dataset folder:OUT; idx = OUT/images-idx3-ubyte and
                      OUT/labels-idx1-ubyte, read back by --dataset
                      idx:OUT/images-idx3-ubyte; OUT/manifest.json last. OUT must
                      be new, empty or an earlier export
  --backend X         for a generator folder: auto | wasm | cpu | tensorflow (auto
                      and onnx mean wasm) [auto]; an ONNX file runs on ONNX Runtime
  -h, --help          show this help
`;

function whole(flag: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined) return undefined;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw badValue(flag, raw, `a whole number from ${min} to ${max}`);
  return n;
}

/** Parses `ganpool sample` arguments; throws GanpoolUsageError naming the flag. Null means --help. */
export function parseSampleArgs(argv: string[]): SampleArgs | null {
  const v = parseFlags('sample', argv, {
    generator: { type: 'string' }, n: { type: 'string' }, seed: { type: 'string' }, out: { type: 'string' },
    individual: { type: 'string' }, backend: { type: 'string' }, label: { type: 'string' }, 'per-class': { type: 'string' },
    format: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return null;
  if (v.generator === undefined || v.generator === '') throw missingFlag('sample', '--generator', 'an exported generator: a folder (OUT/generator of a training run) or an ONNX file (OUT/generator.onnx)');
  const backends = ['auto', ...BACKEND_NAMES];
  if (v.backend !== undefined && !backends.includes(v.backend)) throw badValue('--backend', v.backend, `one of ${backends.join(', ')}`);
  const format = v.format === undefined ? null : exportFormat(v.format);
  if (v.out === '') throw badValue('--out', v.out, format ? 'a folder path' : 'a file path');
  if (v.individual === '') throw badValue('--individual', v.individual, 'a folder path');
  if (v.label !== undefined && v['per-class'] !== undefined) throw conflictingFlags('--label', '--per-class');
  if (v.n !== undefined && v['per-class'] !== undefined) throw conflictingFlags('--n', '--per-class');
  if (format !== null) {
    if (v.individual !== undefined) throw conflictingFlags('--individual', '--format');
    if (v['per-class'] === undefined) throw missingFlag('sample', '--per-class', `the images of every class to write with --format ${format}`);
    if (v.out === undefined) throw missingFlag('sample', '--out', `the folder to write the --format ${format} data set to`);
  }
  return {
    generator: v.generator,
    n: whole('--n', v.n, 1, 10_000) ?? 64,
    seed: whole('--seed', v.seed, 0, 2 ** 32 - 1),
    out: v.out ?? 'grid.png',
    individual: v.individual ?? null,
    backend: (v.backend ?? 'auto') as BackendChoice,
    label: whole('--label', v.label, 0, 65_535) ?? null,
    perClass: whole('--per-class', v['per-class'], 1, format ? MAX_EXPORT_PER_CLASS : 1000) ?? null,
    nGiven: v.n !== undefined,
    format,
  };
}

/** The most images per class `--format` writes (a grid takes up to 1000). */
const MAX_EXPORT_PER_CLASS = 100_000;

/** The `--format` value, checked. */
function exportFormat(raw: string): ExportFormat {
  if (!(EXPORT_FORMATS as readonly string[]).includes(raw)) {
    throw badValue('--format', raw, `one of ${EXPORT_FORMATS.join(', ')} (a labelled data set; leave --format out for a grid PNG)`);
  }
  return raw as ExportFormat;
}

/** Runs the export with a progress display when it spans more than one batch; prints what was written. */
async function exportCommand(args: SampleArgs): Promise<number> {
  let progress: Progress | null = null;
  const m = await runSampleExport(args, (done, total) => {
    if (total <= GENERATE_BATCH) return;
    progress ??= createProgress('export', total);
    progress.update(done);
  });
  (progress as Progress | null)?.done();
  const { readBack: rb } = m;
  const flags = rb.channels !== undefined ? ` --channels ${rb.channels} --image-size ${rb.imageSize}` : '';
  process.stdout.write(`wrote ${m.count} images (${m.classes} classes × ${m.perClass}, ${m.imageShape.join('×')}, seed ${m.seed}) ` +
    `as ${m.format} to ${args.out}, then ${MANIFEST_NAME}; read back with --dataset ${rb.dataset}${flags}${rb.note ? ` (${rb.note})` : ''}\n`);
  return 0;
}

/** Runs `ganpool sample ARGS`; resolves to the exit code. */
export async function sampleCommand(argv: string[]): Promise<number> {
  const args = parseSampleArgs(argv);
  if (args === null) { process.stdout.write(HELP); return 0; }
  if (args.format) return exportCommand(args);
  const r = await runSample(args);
  process.stdout.write(`wrote ${r.n} samples (${r.shape.join('×')}, seed ${r.seed}) to ${r.grid}` +
    `${r.individual.length ? ` and ${r.individual.length} PNGs to ${args.individual}` : ''}\n`);
  return 0;
}
