/**
 * The piscina worker: holds an engine (onnx or tfjs, src/engines) with its
 * own copies of G and D, computes one shard's loss and gradients per task,
 * writes the gradients into the shard's slot in shared memory, applies its
 * range of Adam, and reloads weights when their version has moved.
 */
import { threadId } from 'node:worker_threads';
import { workerData } from 'piscina';
import { createShardWorker } from '../src/training/shard.js';
import type { Task, WorkerInit } from '../src/training/protocol.js';

const worker = await createShardWorker(workerData as WorkerInit, threadId);

/** Runs one task (piscina calls this). */
export default function handle(task: Task): unknown {
  return worker.run(task);
}
