/**
 * The piscina worker of the classifier trainer: one classifier copy per
 * thread, gradients into shared slots (see workers/classifier-shard.ts).
 */
import { workerData } from 'piscina';
import { createClassifierShard } from '../src/eval/classifier-shard.js';
import type { ClassifierInit, ClassifierTask } from '../src/eval/classifier-protocol.js';

const shard = await createClassifierShard(workerData as ClassifierInit);

/** Runs one task (piscina calls this). */
export default function handle(task: ClassifierTask): unknown {
  return shard.run(task);
}
