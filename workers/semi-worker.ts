/**
 * The piscina worker of semi-supervised training: one engine per thread,
 * gradients into shared slots (see src/eval/semi-shard.ts).
 */
import { workerData } from 'piscina';
import { createSemiShard } from '../src/eval/semi-shard.js';
import type { SemiInit, SemiTask } from '../src/eval/semi-protocol.js';

const shard = await createSemiShard(workerData as SemiInit);

/** Runs one task (piscina calls this). */
export default function handle(task: SemiTask): Promise<unknown> {
  return shard.run(task);
}
