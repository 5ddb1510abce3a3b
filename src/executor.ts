/**
 * Where shard tasks run: a piscina pool of worker threads, or (for the
 * no-pool baseline) the main thread itself. Both run the same worker code.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Piscina } from 'piscina';
import type { Task, WorkerInit } from './protocol.js';

/** Runs tasks somewhere and returns their results. */
export interface Executor<T = Task> {
  run<R>(task: T): Promise<R>;
  close(): Promise<void>;
}

/**
 * A worker module under workers/: `tsEntry` (an .mjs that registers tsx and
 * imports the .ts source) when running from sources, the built `jsName` otherwise.
 */
export function workerFile(tsEntry = 'entry.mjs', jsName = 'gan-worker.js'): string {
  const here = fileURLToPath(import.meta.url);
  const workers = join(dirname(here), '..', 'workers');
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
  // Start every thread and wait until each has built its models.
  await Promise.all(Array.from({ length: threads }, () => pool.run({ kind: 'probe' })));
  return {
    run: <R>(task: T) => pool.run(task) as Promise<R>,
    close: () => pool.destroy(),
  };
}

/** Runs tasks one after another on the main thread (the no-pool baseline). */
export async function createInlineExecutor(init: WorkerInit): Promise<Executor> {
  const { createShardWorker } = await import('../workers/shard-worker.js');
  const worker = await createShardWorker(init, 0);
  return {
    run: async <R>(task: Task) => worker.run(task) as R,
    close: async () => {},
  };
}
