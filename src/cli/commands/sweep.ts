/**
 * `ganpool sweep SPEC --out DIR`: trains every run of a SPEC's grid, here
 * (K at a time) or as a Slurm array job, then writes DIR/results.csv and
 * prints the table. `--task I` is what each Slurm array task runs.
 */
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { resolveConfig } from '../../config.js';
import { parseArgs } from 'node:util';
import { badValue, sweepSpecMissing, sweepTaskMissing, sweepUnfinishedRuns, unknownFlag } from '../../errors.js';
import { createProgress } from '../../util/progress.js';
import { readSweepSpec } from '../sweep-spec.js';
import { readSweepFile, runState, withWorkers, writeSweepFile, type SweepFile, type SweepRun } from '../../sweep/plan.js';
import { runOne } from '../../sweep/run-one.js';
import { runLocal } from '../../sweep/local.js';
import { checkSbatchLines, followJob, sbatchScript, submit, tail, taskLog, taskStates, writeSbatchScript } from '../../sweep/slurm.js';
import { runsTable, stepsOnDisk, summaryTable, sweepRows, writeResults } from '../../sweep/results.js';
import { stopOnSignals } from './train.js';

const HELP = `Usage: ganpool sweep SPEC --out DIR [flags]

Trains every run of SPEC (JSON or YAML): the base train flags, a grid (the
cross product of value lists) and/or a list of variants, each repeated over
the seeds. Each run gets a folder DIR/<name>/ named from its settings, and
DIR/sweep.json lists them. At the end DIR/results.csv and the table give one
row per run (FCD, classifier score, classes covered, samples/s, wall time) and
the mean ± sd of each configuration over its seeds. A run already finished is
left alone, so re-running the same SPEC only does what is missing.

  base: { model: mlp, steps: 2000, batch-size: 64 }
  grid: { lr: [1e-4, 2e-4], loss: [ns, hinge] }
  seeds: [1, 2]

Flags:
  --out DIR               the sweep's folder (required)
  --executor E            local | slurm [local]
  --parallel K            local: runs at a time; slurm: array tasks at a time
                          (--array=…%K) [local: 1; slurm: no limit]
  --workers N             worker threads of each run, and Slurm's
                          --cpus-per-task [⌊cores / K⌋]
  --resume                continue unfinished runs from their checkpoints
                          (without it, unfinished runs in DIR are refused)
  --dry-run               slurm: print the sbatch script and submit nothing;
                          local: list the runs and their state
  --sbatch OPT            an extra #SBATCH line, e.g. --sbatch=--partition=cpu
                          (repeatable; also SPEC's sbatch: list)
  --poll S                slurm: seconds between squeue polls [5]
  --task I                run only run I of DIR/sweep.json (what each Slurm
                          array task runs)
  -h, --help              show this help
`;

/** Parsed flags of `ganpool sweep`. */
interface SweepArgs {
  spec: string | null;
  out: string | null;
  executor: 'local' | 'slurm';
  parallel: number | null;
  workers: number | null;
  resume: boolean;
  dryRun: boolean;
  sbatch: string[];
  pollSeconds: number;
  task: string | null;
}

function wholeNumber(flag: string, raw: string | undefined, min: number): number | null {
  if (raw === undefined) return null;
  const n = raw.trim() === '' ? NaN : Number(raw);
  if (!Number.isInteger(n) || n < min) throw badValue(flag, raw, `a whole number ≥ ${min}`);
  return n;
}

function parseSweepArgs(argv: string[]): SweepArgs | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: {
        out: { type: 'string' }, executor: { type: 'string' }, parallel: { type: 'string' }, workers: { type: 'string' },
        resume: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, sbatch: { type: 'string', multiple: true },
        poll: { type: 'string' }, task: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    throw unknownFlag('sweep', (e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return null;
  if (positionals.length > 1) throw sweepSpecMissing();
  const executor = v.executor ?? 'local';
  if (executor !== 'local' && executor !== 'slurm') throw badValue('--executor', executor, 'local or slurm');
  if (v.out === '') throw badValue('--out', v.out, 'a folder');
  const poll = v.poll === undefined ? 5 : Number(v.poll);
  if (!(poll > 0 && poll <= 3600)) throw badValue('--poll', v.poll, 'seconds between 0 and 3600');
  return {
    spec: positionals[0] ?? null, out: v.out ?? null, executor, resume: v.resume === true, dryRun: v['dry-run'] === true,
    parallel: wholeNumber('--parallel', v.parallel, 1), workers: wholeNumber('--workers', v.workers, 1),
    sbatch: checkSbatchLines(v.sbatch ?? []), pollSeconds: poll, task: v.task ?? null,
  };
}

/** `--task I`: trains run I of DIR/sweep.json (resuming or restarting it as needed). */
async function runTask(out: string, task: string): Promise<number> {
  const sweep = readSweepFile(out);
  const index = Number(task);
  const run = Number.isInteger(index) ? sweep.runs[index] : undefined;
  if (!run) throw sweepTaskMissing(task, sweep.runs.length);
  const controller = stopOnSignals();
  process.stderr.write(`ganpool sweep: run ${run.index} ${run.name} (${run.config.workers} worker(s))\n`);
  let progress: ReturnType<typeof createProgress> | null = null;
  const result = await runOne(out, run, {
    signal: controller.signal,
    onWarning: (m) => process.stderr.write(`ganpool: warning: ${m}\n`),
    onLog: (m) => process.stderr.write(`ganpool: ${m}\n`),
    onStart: (resolved, first) => { progress = createProgress(run.name, resolved.steps, process.stderr, first); },
    onStep: (s) => progress?.update(s.step, { D: s.dLoss.toFixed(3), G: s.gLoss.toFixed(3) }),
  });
  if (result === null) { process.stdout.write(`${run.name}: already finished\n`); return 0; }
  process.stdout.write(`${run.name}: ${result.stoppedEarly ? 'stopped' : 'done'} after ${result.steps} steps in ${result.wallSeconds.toFixed(1)} s\n`);
  return result.stoppedEarly ? 1 : 0;
}

/** Prints the tables and writes results.csv. */
async function report(out: string, sweep: SweepFile): Promise<void> {
  const rows = sweepRows(out, sweep);
  const file = await writeResults(out, sweep, rows);
  process.stdout.write(`\n${runsTable(sweep, rows)}\nper configuration (mean ± sd over seeds, best FCD first):\n${summaryTable(sweep, rows)}\nresults: ${file}\n`);
}

/** Runs `ganpool sweep ARGS`; resolves to the exit code (1 when a run failed). */
export async function sweepCommand(argv: string[]): Promise<number> {
  const args = parseSweepArgs(argv);
  if (args === null) { process.stdout.write(HELP); return 0; }
  if (args.out === null) throw sweepSpecMissing();
  const out = resolve(args.out);
  if (args.task !== null) return runTask(out, args.task);
  if (args.spec === null) throw sweepSpecMissing();

  const spec = readSweepSpec(args.spec);
  checkSbatchLines(spec.sbatch);
  const parallel = args.parallel ?? (args.executor === 'local' ? 1 : null);
  const workers = args.workers ?? Math.max(1, Math.floor(availableParallelism() / (parallel ?? 1)));
  const runs = withWorkers(spec.runs, workers);
  // A SPEC may set workers per run; Slurm's --cpus-per-task covers the largest.
  const sweep: SweepFile = { format: 1, workers: Math.max(...runs.map((r) => r.config.workers ?? workers)), sbatch: spec.sbatch, runs };
  const states = runs.map((r) => runState(out, r));
  const unfinished = runs.filter((_, i) => states[i] === 'resumable' || states[i] === 'restart');
  if (unfinished.length > 0 && !args.resume) throw sweepUnfinishedRuns(out, unfinished.map((r) => r.name));
  const pending = runs.filter((_, i) => states[i] !== 'finished');

  if (args.dryRun) {
    if (args.executor === 'slurm') {
      if (pending.length === 0) { process.stdout.write(`# all ${runs.length} runs are finished: nothing to submit\n`); return 0; }
      process.stdout.write(sbatchScript(out, sweep, pending, { command: nodeCommand(), cwd: process.cwd(), ...(parallel ? { parallel } : {}), extra: args.sbatch }));
    } else {
      for (const [i, r] of runs.entries()) process.stdout.write(`${String(r.index).padStart(3)}  ${r.name}  ${states[i]}\n`);
    }
    return 0;
  }

  mkdirSync(out, { recursive: true });
  await writeSweepFile(out, sweep);
  const skipped = runs.length - pending.length;
  process.stderr.write(`ganpool sweep: ${runs.length} runs in ${out} (${skipped} finished before), ${sweep.workers} worker(s) each, executor ${args.executor}\n`);
  let failed = 0;
  if (pending.length > 0 && args.executor === 'local') failed = await sweepLocal(out, pending, parallel ?? 1);
  if (pending.length > 0 && args.executor === 'slurm') failed = await sweepSlurm(out, sweep, pending, args, parallel);
  await report(out, sweep);
  return failed > 0 ? 1 : 0;
}

/** The command that runs this ganpool on a node: this node binary, its flags (e.g. tsx's loader) and this script. */
function nodeCommand(): string[] {
  return [process.execPath, ...process.execArgv, resolve(process.argv[1])];
}

async function sweepLocal(out: string, pending: SweepRun[], parallel: number): Promise<number> {
  const controller = stopOnSignals();
  const total = pending.reduce((n, r) => n + resolveConfig(r.config).steps, 0);
  const progress = createProgress('sweep', total);
  let shown = 0; // redraw on steps only: on a log, each run's start would print another '0/N' line
  const outcomes = await runLocal(out, pending, {
    parallel, signal: controller.signal,
    onProgress: (p) => {
      if (p.stepsDone === shown) return;
      shown = p.stepsDone;
      progress.update(Math.min(p.stepsDone, total), { runs: `${p.done}/${p.runs} done`, running: String(p.running), failed: String(p.failed) });
    },
    runOptions: { onWarning: (m) => process.stderr.write(`\nganpool: warning: ${m}\n`) },
  });
  progress.done();
  const failed = outcomes.filter((o) => o.status === 'failed');
  for (const o of failed) process.stderr.write(`ganpool sweep: run ${o.run.name} failed: ${o.error}\n`);
  if (controller.signal.aborted) {
    const left = outcomes.filter((o) => o.status === 'stopped' || o.status === 'pending').length;
    process.stderr.write(`ganpool sweep: stopped; ${left} run(s) unfinished (checkpoints written): continue with ganpool sweep SPEC --out ${out} --resume\n`);
  }
  return failed.length;
}

async function sweepSlurm(out: string, sweep: SweepFile, pending: SweepRun[], args: SweepArgs, parallel: number | null): Promise<number> {
  const script = sbatchScript(out, sweep, pending, { command: nodeCommand(), cwd: process.cwd(), ...(parallel ? { parallel } : {}), extra: args.sbatch });
  const file = await writeSbatchScript(out, script);
  const jobId = submit(file);
  process.stderr.write(`ganpool sweep: submitted array job ${jobId} (${pending.length} task(s)): ${file}; logs in ${out}/logs/\n`);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const total = pending.reduce((n, r) => n + resolveConfig(r.config).steps, 0);
  const progress = createProgress('sweep', total);
  const done = await followJob(jobId, {
    pollMs: args.pollSeconds * 1000, signal: controller.signal,
    onPoll: (left) => progress.update(Math.min(total, pending.reduce((n, r) => n + stepsOnDisk(out, r), 0)), { tasks: `${left} queued or running` }),
  });
  progress.done();
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (!done) {
    process.stderr.write(`ganpool sweep: stopped following; job ${jobId} keeps running (scancel ${jobId} cancels it). Re-run this command with --resume once it ends.\n`);
    return 0;
  }
  const states = taskStates(jobId);
  const failed = pending.filter((r) => runState(out, r) !== 'finished');
  for (const r of failed) {
    const log = taskLog(out, jobId, r.index);
    const state = states.get(r.index);
    process.stderr.write(`ganpool sweep: array task ${jobId}_${r.index} (${r.name}) failed${state ? ` (${state})` : ''}; log ${log}:\n` +
      `${tail(log).split('\n').map((l) => `  | ${l}`).join('\n')}\n`);
  }
  if (failed.length > 0) process.stderr.write(`ganpool sweep: ${failed.length} run(s) failed; fix the cause and run again with --resume to resubmit only those\n`);
  return failed.length;
}
