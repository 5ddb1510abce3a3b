/**
 * The local executor: K runs at a time in this process, each on its own
 * worker pool, and one progress report for the whole sweep. An abort (Ctrl-C)
 * stops every run at its next step boundary, where it writes its checkpoint;
 * no further run starts.
 */
import { runOne, type RunOptions } from './run-one.js';
import type { SweepRun } from './plan.js';

/** How one run of a sweep invocation ended. */
export interface RunOutcome {
  run: SweepRun;
  /** finished: trained to its end now; skipped: finished before; stopped: aborted (resumable); failed: threw; pending: not started (the sweep was stopped). */
  status: 'finished' | 'skipped' | 'stopped' | 'failed' | 'pending';
  /** The error's message, when failed. */
  error?: string;
}

/** Steps done over the sweep, and the runs by state: what the progress display shows. */
export interface SweepProgress {
  stepsDone: number;
  stepsTotal: number;
  running: number;
  done: number;
  failed: number;
  runs: number;
}

/** Options of {@link runLocal}. */
export interface LocalOptions {
  /** Runs at a time. */
  parallel: number;
  /** Aborting stops every run at a step boundary (with its checkpoint) and starts no other. */
  signal?: AbortSignal;
  /** Called after each step of any run, and as runs start and end. */
  onProgress?: (p: SweepProgress) => void;
  /** Passed to every run (warnings, log lines). */
  runOptions?: Pick<RunOptions, 'onWarning' | 'onLog'>;
}

/** Runs `runs` of the sweep in DIR, `parallel` at a time; resolves to each run's outcome, in order. */
export async function runLocal(dir: string, runs: SweepRun[], options: LocalOptions): Promise<RunOutcome[]> {
  const outcomes: RunOutcome[] = runs.map((run) => ({ run, status: 'pending' }));
  const steps = new Map<number, { done: number; total: number }>();
  for (const run of runs) steps.set(run.index, { done: 0, total: run.config.steps ?? 0 });
  const progress: SweepProgress = { stepsDone: 0, stepsTotal: 0, running: 0, done: 0, failed: 0, runs: runs.length };
  const report = (): void => {
    let done = 0, total = 0;
    for (const s of steps.values()) { done += s.done; total += s.total; }
    progress.stepsDone = done;
    progress.stepsTotal = total;
    options.onProgress?.({ ...progress });
  };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < runs.length && !options.signal?.aborted) {
      const i = next++;
      const run = runs[i];
      const s = steps.get(run.index)!;
      progress.running++;
      report();
      try {
        const result = await runOne(dir, run, {
          ...options.runOptions,
          ...(options.signal ? { signal: options.signal } : {}),
          onStart: (resolved, firstStep) => { s.total = resolved.steps; s.done = firstStep; report(); },
          onStep: (info) => { s.done = info.step; report(); },
        });
        outcomes[i].status = result === null ? 'skipped' : result.stoppedEarly ? 'stopped' : 'finished';
        if (result === null) s.done = s.total;
      } catch (e) {
        outcomes[i].status = 'failed';
        outcomes[i].error = (e as Error).message;
        progress.failed++;
      } finally {
        progress.running--;
        if (outcomes[i].status === 'finished' || outcomes[i].status === 'skipped') progress.done++;
        report();
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.parallel, runs.length)) }, lane));
  return outcomes;
}
