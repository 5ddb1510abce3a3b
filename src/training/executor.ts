/**
 * Where shard tasks run: a piscina pool of worker threads, or (for the
 * no-pool baseline) the main thread itself. Both run the same worker code.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Piscina } from 'piscina';
import type { Task, WorkerInit } from './protocol.js';
import { executorClosed } from '../errors.js';

/** Runs tasks somewhere and returns their results. */
export interface Executor<T = Task> {
  run<R>(task: T): Promise<R>;
  /**
   * Stops the workers cooperatively: refuses new tasks, waits until every
   * task already handed over has finished (resolved or failed), then ends the
   * threads. A thread is never terminated inside a native call: ONNX Runtime
   * aborts the whole process when a thread is torn down inside `session.run`.
   */
  close(): Promise<void>;
}

/**
 * A worker module under workers/: `tsEntry` (an .mjs that registers tsx and
 * imports the .ts source) when running from sources, the built `jsName` otherwise.
 */
export function workerFile(tsEntry = 'entry.mjs', jsName = 'gan-worker.js'): string {
  const here = fileURLToPath(import.meta.url);
  const workers = join(dirname(here), '..', '..', 'workers');
  return here.endsWith('.ts') ? join(workers, tsEntry) : join(workers, jsName);
}

/**
 * A fixed-size pool of `threads` workers, one task at a time each, running
 * `filename` (default: the GAN shard worker) with `init` as workerData. Every
 * worker module answers `{ kind: 'probe' }`.
 */
export async function createPoolExecutor<T = Task, I = WorkerInit>(init: I, threads: number, filename = workerFile()): Promise<Executor<T>> {
  const pool = new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 2 ** 31 - 1,
    workerData: init,
  });
  const inFlight = new Set<Promise<unknown>>();
  let accepting = true;
  let closing: Promise<void> | null = null;
  const run = <R>(task: unknown): Promise<R> => {
    if (!accepting) return Promise.reject(executorClosed());
    const p = pool.run(task) as Promise<R>;
    const tracked = p.then(() => undefined, () => undefined);
    inFlight.add(tracked);
    void tracked.then(() => inFlight.delete(tracked));
    return p;
  };
  /** Refuses new tasks and resolves once every task handed over has settled. */
  const settle = async (): Promise<void> => {
    accepting = false;
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
  };
  const close = (): Promise<void> => closing ??= (async () => {
    await settle();
    livePools.delete(settle);
    await pool.destroy();
  })();
  livePools.add(settle);
  try {
    // Start every thread and wait until each has built its models.
    await Promise.all(Array.from({ length: threads }, () => run({ kind: 'probe' })));
  } catch (e) {
    await close();
    throw e;
  }
  return { run, close };
}

/** The `settle` functions of the pools not yet closed. */
const livePools = new Set<() => Promise<void>>();
/** The stop requests of the lockstep loops not yet closed. */
const loopStoppers = new Set<() => void>();

/**
 * Registers a lockstep loop's stop request, so that {@link settleAllPools} stops the loop at its
 * next step boundary instead of waiting for all its steps. Returns the function that unregisters it.
 */
export function registerLoopStopper(stop: () => void): () => void {
  loopStoppers.add(stop);
  return () => loopStoppers.delete(stop);
}

/**
 * Makes every open pool refuse new tasks and resolves once no worker thread
 * is inside a task; a running lockstep loop is first asked to stop at its next
 * step boundary. Call this before `process.exit()` while pools are open:
 * exiting while a thread is inside ONNX Runtime's `session.run` aborts the
 * process (exit code 134) instead of exiting with the code asked for.
 */
export async function settleAllPools(): Promise<void> {
  for (const stop of loopStoppers) stop();
  await Promise.all([...livePools].map((settle) => settle()));
}

/** Runs tasks one after another on the main thread (the no-pool baseline). */
export async function createInlineExecutor(init: WorkerInit): Promise<Executor> {
  const { createShardWorker } = await import('./shard.js');
  const worker = await createShardWorker(init, 0);
  return {
    run: async <R>(task: Task) => worker.run(task) as R,
    close: async () => {},
  };
}
