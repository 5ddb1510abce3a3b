/**
 * `ganpool sample --generator DIR|FILE.onnx`: draws images from an exported
 * generator (OUT/generator or OUT/generator.onnx) on the main thread, with the same latent noise the trainer
 * uses for its sample grid, so a seed reproduces the run's grid.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseFlags } from '../cli-args.js';
import { resolveBackend, BACKEND_NAMES, type BackendChoice } from '../backend.js';
import { writeFileAtomic } from '../atomic.js';
import { gridPng } from '../grid.js';
import { generateImages, loadGenerator } from '../generator.js';
import { badValue, missingFlag } from '../errors.js';

/** Parsed `ganpool sample` flags. */
export interface SampleArgs {
  generator: string;
  n: number;
  /** Undefined: the seed recorded in the generator's metadata (the run's seed), else 1. */
  seed: number | undefined;
  out: string;
  individual: string | null;
  backend: BackendChoice;
}

const HELP = `Usage: ganpool sample --generator DIR|FILE.onnx [flags]

Draws images from a generator exported by 'ganpool train' (OUT/generator or
OUT/generator.onnx).

Flags:
  --generator PATH    the exported generator: a folder (model.json + weights.bin)
                      or an ONNX file (.onnx) [required]
  --n N               number of images, 1 to 10000 [64]
  --seed K            latent noise seed; the run's seed reproduces its sample grid [the run's seed]
  --out FILE          grid PNG to write [grid.png]
  --individual DIR    also write one PNG per image, sample-0000.png, ...
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
    individual: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return null;
  if (v.generator === undefined || v.generator === '') throw missingFlag('sample', '--generator', 'an exported generator: a folder (OUT/generator of a training run) or an ONNX file (OUT/generator.onnx)');
  const backends = ['auto', ...BACKEND_NAMES];
  if (v.backend !== undefined && !backends.includes(v.backend)) throw badValue('--backend', v.backend, `one of ${backends.join(', ')}`);
  if (v.out === '') throw badValue('--out', v.out, 'a file path');
  if (v.individual === '') throw badValue('--individual', v.individual, 'a folder path');
  return {
    generator: v.generator,
    n: whole('--n', v.n, 1, 10_000) ?? 64,
    seed: whole('--seed', v.seed, 0, 2 ** 32 - 1),
    out: v.out ?? 'grid.png',
    individual: v.individual ?? null,
    backend: (v.backend ?? 'auto') as BackendChoice,
  };
}

/** Generates `args.n` images and writes the grid (and the individual PNGs); returns the paths written. */
export async function runSample(args: SampleArgs): Promise<{ grid: string; individual: string[]; seed: number; shape: [number, number, number] }> {
  const gen = await loadGenerator(args.generator, resolveBackend(args.backend));
  const seed = args.seed ?? gen.seed ?? 1;
  let images: Float32Array;
  try {
    images = await generateImages(gen, args.n, seed);
  } finally {
    await gen.dispose();
  }
  await writeFileAtomic(args.out, await gridPng(images, gen.imageShape));
  const individual: string[] = [];
  if (args.individual !== null) {
    mkdirSync(args.individual, { recursive: true });
    const per = gen.imageShape[0] * gen.imageShape[1] * gen.imageShape[2];
    for (let k = 0; k < args.n; k++) {
      const path = join(args.individual, `sample-${String(k).padStart(4, '0')}.png`);
      await writeFileAtomic(path, await gridPng(images.subarray(k * per, (k + 1) * per), gen.imageShape, { cols: 1, pad: 0 }));
      individual.push(path);
    }
  }
  return { grid: args.out, individual, seed, shape: gen.imageShape };
}

/** Runs `ganpool sample ARGS`; resolves to the exit code. */
export async function sampleCommand(argv: string[]): Promise<number> {
  const args = parseSampleArgs(argv);
  if (args === null) { process.stdout.write(HELP); return 0; }
  const r = await runSample(args);
  process.stdout.write(`wrote ${args.n} samples (${r.shape.join('×')}, seed ${r.seed}) to ${r.grid}` +
    `${r.individual.length ? ` and ${r.individual.length} PNGs to ${args.individual}` : ''}\n`);
  return 0;
}
