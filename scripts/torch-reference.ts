/**
 * A PyTorch reference for `npm run bench`, measured in the same sitting as
 * ganpool's own figures: runs scripts/bench-torch.py (the probe models, one
 * or two cores as `t1`, `t2` and `ddp2`) and returns its rows.
 *
 *   npx tsx scripts/torch-reference.ts [--models probe-mlp,probe-dcgan] [--batches 64,256]
 *                                      [--configs t1,t2,ddp2] [--warmup 10] [--steps 20] [--rounds 3]
 *
 * prints the table (and the JSON with --json PATH). Needs Debian's
 * python3-torch and libopenblas0-openmp; without them it says why and
 * returns null.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

/** Where Debian's libopenblas0-openmp puts its libraries. */
export const OPENBLAS_OPENMP_DIR = '/usr/lib/x86_64-linux-gnu/openblas-openmp';

/** The Python script that measures (next to this file). */
export const TORCH_BENCH_SCRIPT = fileURLToPath(new URL('./bench-torch.py', import.meta.url));

/** The environment every PyTorch process runs with; see each variable. */
export const TORCH_ENV: Readonly<Record<string, string>> = {
  /**
   * Debian's torch links the generic libblas.so.3; this makes it load the
   * OpenMP build of OpenBLAS, which shares libgomp's thread pool with torch
   * (the pthreads build would start its own threads and oversubscribe the
   * cores once torch runs two threads).
   */
  LD_LIBRARY_PATH: OPENBLAS_OPENMP_DIR,
  /**
   * One thread unless a configuration asks for more: OpenMP reads this once
   * at start-up, so bench-torch.py sets it per subprocess (2 for `t2`).
   */
  OMP_NUM_THREADS: '1',
  /**
   * glibc serves large allocations (> 128 KiB by default, adaptively more)
   * with mmap and hands them back at free, so every step's activations and
   * gradients are fresh pages that fault in again; on this VM that makes
   * PyTorch 1.5–3× slower (probe-dcgan at batch 256: 470 vs 145 ms/step).
   * A 1 GB threshold keeps them on the heap.
   */
  MALLOC_MMAP_THRESHOLD_: '1000000000',
  /** Keeps glibc from trimming the freed heap top back to the OS after each step (the same page faults). */
  MALLOC_TRIM_THRESHOLD_: '1000000000',
};

/** A way to run the models on two cores or fewer: one thread, two threads, or two DDP processes of one thread. */
export type TorchConfig = 't1' | 't2' | 'ddp2';

/** Every {@link TorchConfig}, in the order they are measured by default. */
export const TORCH_CONFIGS: readonly TorchConfig[] = ['t1', 't2', 'ddp2'];

/** One measured (model, batch, config) of {@link TorchReference}. */
export interface TorchRow {
  /** A preset of src/models.ts: `probe-mlp` or `probe-dcgan`. */
  model: string;
  /** Global batch (ddp2: each of the 2 processes takes half). */
  batch: number;
  config: TorchConfig;
  /** Processes (2 for ddp2) and threads per process. */
  processes: number;
  threads: number;
  /** Median over the rounds of each round's mean ms per step (a D and a G update); ddp2: the global step. */
  msPerStep: number;
  /** Global batch ÷ msPerStep, per second. */
  samplesPerSec: number;
  /** Each round's mean ms per step, in round order. */
  roundsMs: number[];
}

/** What {@link runTorchReference} measured, as bench-torch.py prints it plus the interpreter used. */
export interface TorchReference {
  /** The interpreter that ran the script. */
  python: string;
  /**
   * The generic core OpenBLAS picked by itself when {@link openblasCoreFix} overrode it (the run then
   * used the OPENBLAS_CORETYPE its machine facts record), else null.
   */
  openblasDetected: string | null;
  machine: {
    /** torch.__version__ (Debian's 1.13 reports 1.13.0a0). */
    torch: string;
    /** Python version of the interpreter. */
    python: string;
    /** The BLAS library actually mapped into the process, with OpenBLAS's config line. */
    blas: string;
    /** torch's build-time BLAS_INFO. */
    blasBuild: string;
    /** Whether oneDNN (MKL-DNN) is available; torch runs the convolutions with it. */
    mkldnn: boolean;
    cpu: string;
    cpus: number;
    /** torch.get_num_threads() in each configuration's processes. */
    threads: Partial<Record<TorchConfig, number>>;
    /** The environment the processes ran with (OMP_NUM_THREADS before each config's override). */
    env: Record<string, string | null>;
  };
  settings: { warmup: number; steps: number; rounds: number };
  rows: TorchRow[];
  /** Wall time of the whole measurement, seconds. */
  totalSeconds: number;
}

/** Options of {@link runTorchReference}. */
export interface TorchReferenceOptions {
  /** Presets to measure: `probe-mlp`, `probe-dcgan`. */
  models: string[];
  /** Global batch sizes (even, for ddp2). */
  batches: number[];
  /** Configurations (default all of {@link TORCH_CONFIGS}). */
  configs?: TorchConfig[];
  /** Unmeasured steps per (model, batch) in each round's fresh process (default 10). */
  warmup?: number;
  /** Timed steps per (model, batch) per round (default 20). */
  steps?: number;
  /** Rounds, each starting every configuration once, interleaved (default 3). */
  rounds?: number;
}

/** {@link TORCH_ENV} over the current environment, keeping any LD_LIBRARY_PATH after the OpenBLAS directory. */
export function torchEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const rest = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((p) => p && p !== OPENBLAS_OPENMP_DIR);
  return { ...process.env, ...TORCH_ENV, ...extra, LD_LIBRARY_PATH: [OPENBLAS_OPENMP_DIR, ...rest].join(':') };
}

/** The generic kernels OpenBLAS falls back to on a CPU its DYNAMIC_ARCH table does not know. */
const GENERIC_OPENBLAS_CORES = ['Prescott', 'Core2', 'Penryn', 'Dunnington', 'Nehalem', 'Atom'];

/**
 * OpenBLAS 0.3.21 (Debian 12) does not know every newer CPU: on an Emerald Rapids Xeon it falls
 * back to its generic `Prescott` kernels and PyTorch runs 3× slower, which would flatter ganpool.
 * When the detected core is one of those fallbacks on a CPU with AVX-512 (or AVX2), this returns
 * OPENBLAS_CORETYPE=SkylakeX (or Haswell), the newest kernels that CPU runs; otherwise (or when the
 * user set OPENBLAS_CORETYPE) nothing. `detected` is the core OpenBLAS picked by itself.
 */
export function openblasCoreFix(python: string): { env: Record<string, string>; detected: string | null } {
  if (process.env.OPENBLAS_CORETYPE) return { env: {}, detected: null };
  const lib = `${OPENBLAS_OPENMP_DIR}/libopenblas.so.0`;
  const code = `import ctypes; l = ctypes.CDLL(${JSON.stringify(lib)}); l.openblas_get_corename.restype = ctypes.c_char_p; print(l.openblas_get_corename().decode())`;
  const r = spawnSync(python, ['-c', code], { env: torchEnv(), encoding: 'utf8', timeout: 60_000 });
  const detected = r.status === 0 ? r.stdout.trim() : null;
  if (detected === null || !GENERIC_OPENBLAS_CORES.includes(detected)) return { env: {}, detected };
  let flags: string;
  try {
    flags = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags')) ?? '';
  } catch {
    return { env: {}, detected };
  }
  const core = /\bavx512f\b/.test(flags) ? 'SkylakeX' : /\bavx2\b/.test(flags) ? 'Haswell' : null;
  return { env: core ? { OPENBLAS_CORETYPE: core } : {}, detected };
}

/**
 * Whether PyTorch can run: /usr/bin/python3 (Debian's, where python3-torch
 * installs; else `python3` on PATH) imports torch with {@link TORCH_ENV}.
 * Also fails when the OpenMP OpenBLAS directory is missing, since the
 * figures would then come from another BLAS. Synchronous; takes a few seconds.
 */
export function torchAvailable(): { ok: true; python: string } | { ok: false; reason: string } {
  if (!existsSync(OPENBLAS_OPENMP_DIR)) {
    return { ok: false, reason: `${OPENBLAS_OPENMP_DIR} is missing (apt-get install libopenblas0-openmp)` };
  }
  const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { env: torchEnv(), encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { ok: false, reason: `${python}: ${r.error.message}` };
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').pop() ?? '';
    return { ok: false, reason: `${python} cannot import torch (apt-get install python3-torch): ${last}` };
  }
  return { ok: true, python };
}

/**
 * Runs scripts/bench-torch.py with {@link TORCH_ENV} and returns its rows.
 * Its progress goes to this process's stderr. Resolves to null, after
 * logging why, when PyTorch is not available ({@link torchAvailable});
 * rejects when the script fails or prints something that is not its JSON.
 */
export async function runTorchReference(opts: TorchReferenceOptions): Promise<TorchReference | null> {
  const avail = torchAvailable();
  if (!avail.ok) {
    console.error(`PyTorch reference skipped: ${avail.reason}`);
    return null;
  }
  const args = [
    TORCH_BENCH_SCRIPT,
    '--models', opts.models.join(','),
    '--batches', opts.batches.join(','),
    '--configs', (opts.configs ?? TORCH_CONFIGS).join(','),
    '--warmup', String(opts.warmup ?? 10),
    '--steps', String(opts.steps ?? 20),
    '--rounds', String(opts.rounds ?? 3),
  ];
  const fix = openblasCoreFix(avail.python);
  if (fix.env.OPENBLAS_CORETYPE) console.error(`PyTorch reference: OpenBLAS picked its generic ${fix.detected} kernels on this CPU; measuring with OPENBLAS_CORETYPE=${fix.env.OPENBLAS_CORETYPE}`);
  const child = spawn(avail.python, args, { env: torchEnv(fix.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderrTail = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    process.stderr.write(s);
    stderrTail = (stderrTail + s).slice(-2000);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  if (code !== 0) {
    throw new Error(`bench-torch.py exited with ${code}: ${stderrTail.trim().split('\n').slice(-3).join(' | ')}`);
  }
  let parsed: Omit<TorchReference, 'python'>;
  try {
    parsed = JSON.parse(stdout) as Omit<TorchReference, 'python'>;
  } catch (e) {
    throw new Error(`bench-torch.py printed no JSON object: ${(e as Error).message}; stdout began ${JSON.stringify(stdout.slice(0, 200))}`, { cause: e });
  }
  if (!Array.isArray(parsed.rows) || typeof parsed.machine !== 'object') {
    throw new Error('bench-torch.py printed JSON without rows or machine facts');
  }
  return { python: avail.python, ...parsed, openblasDetected: fix.env.OPENBLAS_CORETYPE ? fix.detected : null };
}

/** A markdown table of a {@link TorchReference}: one line per model and batch, ms/step and samples/s per config. */
export function torchMarkdown(ref: TorchReference): string {
  const configs = TORCH_CONFIGS.filter((c) => ref.rows.some((r) => r.config === c));
  const pairs = [...new Set(ref.rows.map((r) => `${r.model}\u0000${r.batch}`))].map((k) => k.split('\u0000') as [string, string]);
  const head = `| model | batch | ${configs.map((c) => `${c} ms/step | ${c} samples/s`).join(' | ')} |`;
  const rule = `|---|---:|${configs.map(() => '---:|---:').join('|')}|`;
  const lines = pairs.map(([model, batch]) => {
    const cells = configs.map((c) => {
      const r = ref.rows.find((x) => x.model === model && String(x.batch) === batch && x.config === c);
      return r ? `${r.msPerStep.toFixed(2)} | ${r.samplesPerSec.toFixed(0)}` : '– | –';
    });
    return `| ${model} | ${batch} | ${cells.join(' | ')} |`;
  });
  const m = ref.machine;
  const fixed = ref.openblasDetected ? `OpenBLAS detected only its generic ${ref.openblasDetected} kernels on this CPU, so OPENBLAS_CORETYPE=${m.env.OPENBLAS_CORETYPE ?? '?'} was set; ` : '';
  const foot = `PyTorch ${m.torch} (${ref.python}), ${m.cpus} × ${m.cpu}, ${m.blas}; ${fixed}` +
    `t1 = 1 thread, t2 = 2 threads, ddp2 = 2 DDP (gloo) processes × 1 thread; ` +
    `median of ${ref.settings.rounds} rounds × ${ref.settings.steps} steps after ${ref.settings.warmup} warm-up; ${ref.totalSeconds} s in all.`;
  return [head, rule, ...lines, '', foot].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({
    options: {
      models: { type: 'string', default: 'probe-mlp,probe-dcgan' },
      batches: { type: 'string', default: '64,256' },
      configs: { type: 'string', default: TORCH_CONFIGS.join(',') },
      warmup: { type: 'string', default: '10' },
      steps: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '3' },
      json: { type: 'string' },
    },
  });
  const list = (s: string): string[] => s.split(',').filter(Boolean);
  const configs = list(values.configs);
  for (const c of configs) {
    if (!(TORCH_CONFIGS as readonly string[]).includes(c)) {
      console.error(`invalid --configs: "${c}"; expected a comma-separated list of ${TORCH_CONFIGS.join(', ')}`);
      process.exit(2);
    }
  }
  const ref = await runTorchReference({
    models: list(values.models),
    batches: list(values.batches).map(Number),
    configs: configs as TorchConfig[],
    warmup: Number(values.warmup),
    steps: Number(values.steps),
    rounds: Number(values.rounds),
  });
  if (ref) {
    console.log(torchMarkdown(ref));
    if (values.json) writeFileSync(values.json, `${JSON.stringify(ref, null, 2)}\n`);
  }
}
