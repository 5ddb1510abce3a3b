/**
 * A semi-supervised worker's state and task handling (hosted by
 * workers/semi-worker.ts): its engine, with its own copies of D and G loaded
 * from shared memory when their versions move, and each shard's inputs
 * computed here from (seed, step, first row, count) by semiShardInputs.
 */
import { createSemiEngine } from '../engines/index.js';
import { gradSlot, paramsView } from '../training/shared-params.js';
import { wasmAdam, type WasmAdam } from '../optim/adam-wasm.js';
import { semiNoiseWidth } from '../models/semi.js';
import { semiShardInputs, type SemiBatchPlan } from '../data/label-split.js';
import type { SemiGInput } from '../engines/semi-engine.js';
import type { SemiDResult, SemiInit, SemiStatsResult, SemiTask } from './semi-protocol.js';

/** Rows per inference pass when predicting. */
const PREDICT_BATCH = 500;

/** A worker that runs semi-supervised tasks. */
export interface SemiShard {
  run(task: SemiTask): Promise<unknown>;
}

/** Builds the worker: starts its engine. */
export async function createSemiShard(init: SemiInit): Promise<SemiShard> {
  const unlabelled = init.split.unlabelled.length > 0;
  const engine = await createSemiEngine(init.backend, init.spec, unlabelled);
  const sets = init.sets.map((s) => ({ pixels: new Uint8Array(s.pixels), labels: new Uint8Array(s.labels) }));
  const [h, w, c] = init.spec.imageShape;
  const P = h * w * c;
  const plan: SemiBatchPlan = { split: init.split, batchSize: init.batchSize, latentDim: init.spec.latentDim, noiseWidth: semiNoiseWidth(init.spec) };
  const versions = { d: -1, g: -1 };
  /** The inputs of the last stats pass (G's update of the same shard reuses them). */
  let lastStats: { key: string; input: SemiGInput } | null = null;
  const adam: Partial<Record<'d' | 'g', WasmAdam>> = {};
  const reload = (dVersion: number, gVersion: number): void => {
    if (versions.d !== dVersion) { engine.setParams('d', paramsView(init.d)); versions.d = dVersion; }
    if (unlabelled && versions.g !== gVersion) { engine.setParams('g', paramsView(init.g)); versions.g = gVersion; }
  };
  /** Rows of a set as [-1, 1] images. */
  const images = (set: number, rows: Uint32Array): Float32Array => {
    const px = sets[set].pixels;
    const out = new Float32Array(rows.length * P);
    for (let r = 0; r < rows.length; r++) {
      const src = rows[r] * P;
      for (let i = 0; i < P; i++) out[r * P + i] = px[src + i] / 127.5 - 1;
    }
    return out;
  };
  return {
    async run(task) {
      switch (task.kind) {
        case 'probe': return { backend: engine.backend };
        case 'd': {
          reload(task.dVersion, task.gVersion);
          const inp = semiShardInputs(plan, init.seed, task.step, 'd', task.first, task.count);
          const out: SemiDResult = await engine.dPhase({
            count: task.count,
            labelled: images(0, inp.labelledRows),
            labels: Int32Array.from(inp.labelledRows, (row) => sets[0].labels[row]),
            unlabelled: images(0, inp.unlabelledRows),
            z: inp.z,
            noise: inp.noise,
          }, gradSlot(init.d, task.slot));
          return out;
        }
        case 'stats': {
          reload(task.dVersion, task.gVersion);
          const inp = semiShardInputs(plan, init.seed, task.step, 'g', task.first, task.count);
          const input = { count: task.count, unlabelled: images(0, inp.unlabelledRows), z: inp.z, noise: inp.noise };
          lastStats = { key: `${task.step}:${task.first}:${task.count}`, input };
          return (await engine.features(input)) satisfies SemiStatsResult;
        }
        case 'g': {
          reload(task.dVersion, task.gVersion);
          // The stats pass of this shard usually ran here just before: its inputs are the same pure function.
          const key = `${task.step}:${task.first}:${task.count}`;
          let input = lastStats?.key === key ? lastStats.input : null;
          if (!input) {
            const inp = semiShardInputs(plan, init.seed, task.step, 'g', task.first, task.count, true);
            input = { count: task.count, unlabelled: new Float32Array(0), z: inp.z, noise: inp.noise };
          }
          lastStats = null;
          return engine.gPhase(input, task.delta, gradSlot(init.g, task.slot));
        }
        case 'apply': {
          const net = init[task.net];
          const kernel = adam[task.net] ??= wasmAdam(net.memory);
          const { params, m, v } = net.banks[0];
          kernel.update({ params, m, v, slots: net.grads }, task.weights, task.t, task.opts, task.lo, task.hi);
          return null;
        }
        case 'predict': {
          reload(task.dVersion, versions.g);
          const K = init.spec.classes;
          const predicted = new Int32Array(task.indices.length);
          for (let first = 0; first < task.indices.length; first += PREDICT_BATCH) {
            const rows = task.indices.subarray(first, first + PREDICT_BATCH);
            const logits = await engine.logits(images(task.set, rows), rows.length);
            for (let r = 0; r < rows.length; r++) {
              let best = 0;
              for (let k = 1; k < K; k++) if (logits[r * K + k] > logits[r * K + best]) best = k;
              predicted[first + r] = best;
            }
          }
          return predicted;
        }
      }
    },
  };
}
