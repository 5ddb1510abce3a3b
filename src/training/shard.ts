/**
 * One shard worker's state and task handling, independent of how it is
 * hosted: piscina runs it in a worker thread (gan-worker.ts), and the no-pool
 * baseline runs it on the main thread. It moves data between shared memory
 * and its engine (src/engines); the engine does the compute.
 */
import { getHeapStatistics } from 'node:v8';
import { latentNoise, NoiseStream, randomLabels } from '../util/rng.js';
import { conditionedInput } from '../models/conditioning.js';
import { bnView, emaView, gradSlot, paramsView, type SharedNetBuffers } from './shared-params.js';
import { createEngine } from '../engines/index.js';
import type { Engine, NetName } from '../engines/engine.js';
import { faultFires } from './faults.js';
import { latentSearch } from './latent-search.js';
import { createLockstep, phaseName, type ShardGradient } from './lockstep.js';
import type {
  GradResult, GradTask, LoopResult, ProbeResult, SampleResult, SampleTask, ScoreResult, ScoreTask, Task, WorkerInit,
} from './protocol.js';

/** A worker that runs tasks against its engine's copies of G and D. */
export interface ShardWorker {
  run(task: Task): Promise<GradResult | SampleResult | ScoreResult | LoopResult> | ProbeResult;
}

interface Net {
  shared: SharedNetBuffers;
  /** The parameter version the engine holds (-1: none, or stale). */
  version: number;
}

/**
 * True when every value is finite: a NaN or ±Infinity anywhere makes the sum
 * NaN or infinite (gradients are far too small for finite values to overflow
 * it), so one pass of additions checks the whole vector. Four running sums
 * let the additions overlap: ~0.33 ms for 533k values instead of ~0.65 ms.
 */
function allFinite(values: Float32Array): boolean {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, i = 0;
  for (const n = values.length - (values.length & 3); i < n; i += 4) {
    s0 += values[i]; s1 += values[i + 1]; s2 += values[i + 2]; s3 += values[i + 3];
  }
  for (; i < values.length; i++) s0 += values[i];
  return Number.isFinite(s0 + s1 + s2 + s3);
}

/** Builds the worker: starts its engine; parameters load on the first task. */
export async function createShardWorker(init: WorkerInit, threadId: number): Promise<ShardWorker> {
  const { preset, data } = init;
  const engine: Engine = await createEngine(init.backend, preset, { loss: init.loss });
  const nets: Record<NetName, Net> = {
    g: { shared: init.g, version: -1 },
    d: { shared: init.d, version: -1 },
  };
  const pixels = new Uint8Array(data.pixels);
  const imageSize = data.shape[0] * data.shape[1] * data.shape[2];
  const latent = preset.latentDim;
  const classes = preset.classes;
  const labels = data.labels ? new Uint8Array(data.labels) : null;
  if (classes > 0 && labels === null) throw new Error('internal: a conditional preset without labels in shared memory');
  const faultFired = new Int32Array(init.faultFired);

  const reload = (which: NetName, version: number): void => {
    const net = nets[which];
    if (net.version === version) return;
    engine.setParams(which, paramsView(net.shared));
    net.version = version;
  };

  /** Each byte's pixel value in [-1, 1]: the same float32 as computing `p / 127.5 - 1` per pixel, at a table lookup's cost. */
  const scale = Float32Array.from({ length: 256 }, (_, p) => p / 127.5 - 1);
  /** Buffers the gradient stage reuses from step to step (engines copy what they keep), by length. */
  const scratch = new Map<string, Float32Array<ArrayBuffer>>();
  const reuse = (key: string, length: number): Float32Array<ArrayBuffer> => {
    let b = scratch.get(key);
    if (b?.length !== length) scratch.set(key, (b = new Float32Array(length)));
    return b;
  };

  /** The real images at `indices`, scaled to [-1, 1], into `out` (default: a new array). */
  const realImages = (indices: Uint32Array, out = new Float32Array(indices.length * imageSize)): Float32Array => {
    for (let r = 0; r < indices.length; r++) {
      const src = indices[r] * imageSize, dst = r * imageSize;
      for (let i = 0; i < imageSize; i++) out[dst + i] = scale[pixels[src + i]];
    }
    return out;
  };

  /** The classes of the real images at `indices` (the same rows as their pixels). */
  const realLabels = (indices: Uint32Array): Int32Array => {
    const out = new Int32Array(indices.length);
    for (let r = 0; r < indices.length; r++) out[r] = labels![indices[r]]!;
    return out;
  };

  /** G's input for latent noise `noise`: as is, or with each row's one-hot class appended (conditional presets). */
  const generatorInput = (noise: Float32Array, fake: Int32Array | null): Float32Array =>
    fake ? conditionedInput(noise, latent, fake, classes) : noise;

  /**
   * Shard [first, first + count) of step `step`'s batch: reloads the networks whose version moved,
   * computes the phase's gradient into gradient slot `slot` and checks it for non-finite values.
   * `indices` are the dataset rows of the shard's real images (D phase).
   */
  const gradient = async (phase: NetName, step: number, first: number, count: number, indices: Uint32Array | null, slot: number, versions: Record<NetName, number>): Promise<ShardGradient> => {
    if (faultFires(init.fault, 'grad', phase, step + 1, faultFired)) throw new Error(`injected fault: grad task of ${phaseName(phase)} of step ${step + 1}`);
    if (faultFires(init.fault, 'exit', phase, step + 1, faultFired)) process.exit(1);
    const r0 = performance.now();
    reload('g', versions.g);
    reload('d', versions.d);
    const t0 = performance.now();
    const stream = phase === 'd' ? NoiseStream.Discriminator : NoiseStream.Generator;
    const noise = latentNoise(reuse('noise', count * latent), init.seed, step, stream, first, latent);
    const fakeLabels = classes > 0 ? randomLabels(new Int32Array(count), init.seed, step, stream, first, classes) : null;
    const z = generatorInput(noise, fakeLabels);
    const real = phase === 'd' ? realImages(indices!, reuse('real', count * imageSize)) : null;
    const realClasses = phase === 'd' && classes > 0 ? realLabels(indices!) : null;
    const grad = gradSlot(nets[phase].shared, slot);
    const out = await engine.phase({ phase, count, z, real, realLabels: realClasses, fakeLabels }, grad);
    if (faultFires(init.fault, 'nan', phase, step + 1, faultFired)) {
      grad[0] = Number.NaN;
      out.loss = Number.NaN;
    }
    if (faultFires(init.fault, 'nan-grad', phase, step + 1, faultFired)) grad[grad.length >> 1] = Number.NaN;
    const finite = Number.isFinite(out.loss) && allFinite(grad);
    return { loss: out.loss, bnStats: out.bnStats, finite, computeMs: performance.now() - t0, reloadMs: t0 - r0 };
  };

  const grad = async (task: GradTask): Promise<GradResult> => {
    const r = await gradient(task.phase, task.step, task.first, task.count, task.indices ?? null, task.slot, { g: task.gVersion, d: task.dVersion });
    return { ...r, numTensors: engine.liveObjects(), threadId };
  };

  /**
   * The lockstep loop (lockstep.ts) on this worker's engine. Inside the loop a network is current
   * at version 0 and forgotten (-1) when it moves, so the next gradient reloads it.
   */
  const live: Record<NetName, number> = { g: 0, d: 0 };
  const loop = init.loop ? createLockstep({
    preset, seed: init.seed, fault: init.fault, faultFired, threadId,
    nets: { g: init.g, d: init.d },
    gradient: (phase, step, first, count, indices, slot) => gradient(phase, step, first, count, indices, slot, live),
    invalidate: (which) => { nets[which].version = -1; },
    liveObjects: () => engine.liveObjects(),
  }, init.loop) : null;

  /**
   * With `task.ema`, G's EMA weights go into the engine for this sample and the loaded version is
   * forgotten, so the next grad task reloads the raw parameters. Batch norm uses the shared moving
   * statistics either way (they follow the raw training, not the EMA).
   */
  const sample = async (task: SampleTask): Promise<SampleResult> => {
    const ema = task.ema ? emaView(nets.g.shared) : null;
    if (task.ema && ema === null) throw new Error('sample task asks for EMA weights but G keeps no EMA');
    if (ema) {
      nets.g.version = -1;
      engine.setParams('g', ema);
    } else reload('g', task.gVersion);
    if (classes > 0 && task.labels?.length !== task.n) throw new Error('internal: a conditional sample task needs one label per image');
    const noise = latentNoise(new Float32Array(task.n * latent), task.seed, 0, NoiseStream.Sample, 0, latent);
    const z = generatorInput(noise, classes > 0 ? task.labels! : null);
    return { images: await engine.sample(z, task.n, bnView(nets.g.shared).slice()) };
  };

  /**
   * The latent search on rows [first, first + count) of the shared images, with the shared
   * parameters (a scoring pool holds the weights to score with there, version 0) and moving statistics.
   */
  const score = async (task: ScoreTask): Promise<ScoreResult> => {
    reload('g', 0);
    reload('d', 0);
    const rows = Uint32Array.from({ length: task.count }, (_, r) => task.first + r);
    return latentSearch(engine, {
      ...task, images: realImages(rows), latentDim: latent, gBn: bnView(nets.g.shared).slice(), dBn: bnView(nets.d.shared).slice(),
    });
  };

  return {
    run(task: Task) {
      switch (task.kind) {
        case 'grad': return grad(task);
        case 'loop':
          if (!loop) throw new Error('internal: a loop task in a pool started without loop settings');
          return loop(task);
        case 'sample': return sample(task);
        case 'score': return score(task);
        case 'probe': return { numTensors: engine.liveObjects(), threadId, backend: engine.backend, heapUsed: getHeapStatistics().used_heap_size };
      }
    },
  };
}
