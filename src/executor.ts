/**
 * Where shard tasks run: a piscina pool of worker threads, or (for the
 * no-pool baseline) the main thread itself. Both run the same worker code.
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { Piscina } from 'piscina';
import type { Task, WorkerInit } from './protocol.js';

/** Runs tasks somewhere and returns their results. */
export interface Executor {
  run<R>(task: Task): Promise<R>;
  close(): Promise<void>;
}

/** The worker module: the .ts source through a tsx-registering entry under tsx, the built .js otherwise. */
function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const workers = join(dirname(here), '..', 'workers');
  return here.endsWith('.ts') ? join(workers, 'entry.mjs') : join(workers, 'gan-worker.js');
}

/** A fixed-size pool of `threads` workers, one task at a time each. */
export async function createPoolExecutor(init: WorkerInit, threads: number): Promise<Executor> {
  const pool = new Piscina({
    filename: workerFile(),
    minThreads: threads,
    maxThreads: threads,
    concurrentTasksPerWorker: 1,
    idleTimeout: 2 ** 31 - 1,
    workerData: init,
  });
  // Start every thread and wait until each has built its models.
  await Promise.all(Array.from({ length: threads }, () => pool.run({ kind: 'probe' } satisfies Task)));
  return {
    run: <R>(task: Task) => pool.run(task) as Promise<R>,
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
