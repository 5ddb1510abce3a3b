/**
 * The coordinator: shards each phase's batch across the workers, averages
 * their gradient slots weighted by shard size, applies Adam once to the
 * shared parameters and bumps the network's version.
 */
import { splitRange, type AdamOptions } from '../optim/adam.js';
import { epochPermutation } from '../util/rng.js';
import { bnLayers, bnStatsSize, initParams, modelPreset, paramCount, type BnLayer, type ModelPreset, type NetSpec } from '../models/presets.js';
import { allocSharedNet, averageSlots, bnView, clearApplyRanges, emaView, momentViews, paramsView, undoApplyRange, type SharedNetBuffers } from './shared-params.js';
import { emaDecayAt } from '../optim/ema.js';
import { foldBatchStats, initMovingStats } from './bn-stats.js';
import { faultFromEnv } from './faults.js';
import { GanpoolFaultError } from '../errors.js';
import { createInlineExecutor, createPoolExecutor, type Executor } from './executor.js';
import type { ResolvedConfig } from '../config.js';
import { sharedLabels, type ImageSet } from '../data/image-set.js';
import type { ApplyTask, GradResult, GradTask, ProbeResult, SampleResult, SampleTask, WorkerInit } from './protocol.js';

/** What one training step did. */
export interface StepInfo {
  /** Steps completed, counting this one (1-based). */
  step: number;
  /** The epoch this step's real batch came from (0-based). */
  epoch: number;
  dLoss: number;
  gLoss: number;
  /** Wall time of the step. */
  ms: number;
  samplesPerSec: number;
  /** Time in the step not spent computing inside a worker: averaging, Adam, weight reload, task overhead. */
  outsideMs: number;
  /** Of outsideMs: averaging the slots and applying Adam (both phases). */
  adamMs: number;
  /** Of outsideMs: copying moved weights into the workers' engines (slowest shard, both phases). */
  reloadMs: number;
  /**
   * Set when a shard reported a NaN or infinite loss or gradient: that phase's update was refused
   * (a refused D phase also skips the G phase), and the step's batch is dropped.
   */
  skipped?: { phase: 'd' | 'g'; reason: 'non-finite gradient' };
  /** Worker tasks of this step that failed and were run again (the step's result is as if they had not failed). */
  retries?: RetryInfo[];
}

/** A failed worker task that was run again. */
export interface RetryInfo {
  phase: 'd' | 'g';
  task: 'grad' | 'apply';
  /** How many of the phase's tasks failed. */
  tasks: number;
  error: string;
}

/** One shard of a batch. */
interface Shard {
  first: number;
  count: number;
}

/** Splits `batch` samples into `parts` contiguous shards whose sizes differ by at most one. */
export function splitBatch(batch: number, parts: number): Shard[] {
  const base = Math.floor(batch / parts), extra = batch % parts;
  const shards: Shard[] = [];
  let first = 0;
  for (let k = 0; k < parts; k++) {
    const count = base + (k < extra ? 1 : 0);
    shards.push({ first, count });
    first += count;
  }
  return shards;
}

interface NetState {
  shared: SharedNetBuffers;
  params: Float32Array;
  /** Batch-norm layers and their shared moving statistics (empty without batch norm). */
  bnLayers: BnLayer[];
  bn: Float32Array;
  /** The EMA of the parameters (ema.ts) and its decay; null and 0 when the network keeps none. */
  ema: Float32Array | null;
  emaDecay: number;
  adam: AdamOptions;
  /** Adam updates applied so far. */
  t: number;
  version: number;
}

function netState(spec: NetSpec, slots: number, lr: number, config: ResolvedConfig, emaDecay = 0): NetState {
  const shared = allocSharedNet(paramCount(spec), slots, bnStatsSize(spec), emaDecay > 0, true);
  const layers = bnLayers(spec);
  const bn = bnView(shared);
  initMovingStats(layers, bn);
  return {
    shared,
    params: paramsView(shared),
    bnLayers: layers,
    bn,
    ema: emaView(shared),
    emaDecay,
    adam: { lr, beta1: config.beta1, beta2: config.beta2, epsilon: config.epsilon },
    t: 0,
    version: 0,
  };
}

/** One network's trainable state: parameters, Adam moments and Adam's step count. */
export interface NetSnapshot {
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
  /** Adam updates applied so far. */
  t: number;
  /** Batch-norm moving statistics (bnLayers layout; empty without batch norm). */
  bn: Float32Array;
  /**
   * The EMA of the parameters (G with `ema` on; see ema.ts). Empty or absent when the network
   * keeps none; restoring an empty or absent one into a run with EMA on starts the EMA at the
   * restored parameters (a checkpoint from before format 3, or one written with EMA off).
   */
  ema?: Float32Array;
}

/**
 * Everything training needs to continue exactly: the step count and both
 * networks' snapshots. Noise and shuffles are pure functions of (seed, step),
 * so no RNG state is needed beyond the config's seed.
 */
export interface TrainingState {
  stepsDone: number;
  g: NetSnapshot;
  d: NetSnapshot;
}

function snapshot(net: NetState): NetSnapshot {
  return {
    params: net.params.slice(),
    m: momentViews(net.shared).m.slice(),
    v: momentViews(net.shared).v.slice(),
    t: net.t,
    bn: net.bn.slice(),
    ema: net.ema?.slice() ?? new Float32Array(0),
  };
}

function restore(net: NetState, snap: NetSnapshot, which: string): void {
  const { size } = net.shared;
  for (const key of ['params', 'm', 'v'] as const) {
    if (snap[key].length !== size) throw new RangeError(`${which}.${key} has ${snap[key].length} values but the model has ${size} parameters`);
  }
  // An empty bn (a version-1 checkpoint) keeps the current moving statistics.
  if (snap.bn.length !== 0 && snap.bn.length !== net.bn.length) {
    throw new RangeError(`${which}.bn has ${snap.bn.length} values but the model has ${net.bn.length} batch-norm statistics`);
  }
  const ema = snap.ema ?? new Float32Array(0);
  if (ema.length !== 0 && ema.length !== size) throw new RangeError(`${which}.ema has ${ema.length} values but the model has ${size} parameters`);
  net.params.set(snap.params);
  if (snap.bn.length !== 0) net.bn.set(snap.bn);
  // Without a stored EMA the average restarts at the restored parameters; a stored one is ignored when EMA is off.
  net.ema?.set(ema.length !== 0 ? ema : snap.params);
  const moments = momentViews(net.shared);
  moments.m.set(snap.m);
  moments.v.set(snap.v);
  net.t = snap.t;
  net.version += 1; // every worker reloads before its next task
}

/** A conditional run's labels in shared memory for the workers (its data always has one per image, below `classes`). */
function conditionalLabels(data: ImageSet, classes: number): SharedArrayBuffer {
  if (!data.labels || data.labels.length !== data.count) throw new Error('internal: a conditional run on data without one label per image');
  if (data.labels.some((y) => y >= classes)) throw new Error(`internal: a label of ${data.name} is not below its ${classes} classes`);
  return sharedLabels(data as ImageSet & { labels: Uint8Array }).buffer as SharedArrayBuffer;
}

/** Where tasks run: `pool` (worker threads, the default) or `inline` (the main thread; the no-pool baseline). */
export type ExecutorKind = 'pool' | 'inline';

/** The data-parallel training engine behind {@link GanTrainer}. */
export class Coordinator {
  readonly preset: ModelPreset;
  private readonly g: NetState;
  private readonly d: NetState;
  private readonly shards: Shard[];
  private executor!: Executor;
  private perm: { epoch: number; order: Uint32Array } | null = null;
  /** Steps completed (a refused step counts: its batch is dropped). */
  stepsDone = 0;
  /** Steps refused in a row for non-finite values. */
  skipsInARow = 0;
  /** Tasks of the current step that failed and were run again. */
  private retries: RetryInfo[] = [];
  /**
   * True once a task failed for good after some of its step's updates were applied: the shared
   * state is then not that of a step boundary, and must not be checkpointed.
   */
  midStep = false;
  /** Tensor counts last reported by each worker thread. */
  readonly workerTensors = new Map<number, number>();

  private constructor(readonly config: ResolvedConfig, private readonly data: ImageSet) {
    this.preset = modelPreset(config.model, [data.height, data.width, data.channels], config.conditional ? config.classes : 0);
    this.shards = splitBatch(config.batchSize, config.workers);
    this.g = netState(this.preset.generator, this.shards.length, config.lrG, config, config.ema);
    this.d = netState(this.preset.discriminator, this.shards.length, config.lrD, config);
    initParams(this.preset.generator, config.seed, 0, this.g.params);
    initParams(this.preset.discriminator, config.seed, 1, this.d.params);
    this.g.ema?.set(this.g.params); // the EMA starts at G's initial parameters
  }

  /** Allocates shared memory, initialises the parameters and starts the workers. */
  static async start(config: ResolvedConfig, data: ImageSet, kind: ExecutorKind = 'pool'): Promise<Coordinator> {
    const c = new Coordinator(config, data);
    const init: WorkerInit = {
      backend: config.backend,
      preset: c.preset,
      loss: config.loss,
      seed: config.seed,
      data: {
        pixels: data.images.buffer as SharedArrayBuffer, count: data.count, shape: [data.height, data.width, data.channels],
        labels: c.preset.classes > 0 ? conditionalLabels(data, c.preset.classes) : null,
      },
      g: c.g.shared,
      d: c.d.shared,
      fault: faultFromEnv(),
      faultFired: new SharedArrayBuffer(4),
    };
    c.executor = kind === 'pool' ? await createPoolExecutor(init, config.workers) : await createInlineExecutor(init);
    return c;
  }

  /** Steps in one pass over the data (the last incomplete batch is dropped). */
  get stepsPerEpoch(): number {
    return Math.floor(this.data.count / this.config.batchSize);
  }

  /** Dataset rows of step `t`'s real batch: a slice of that epoch's seeded permutation. */
  batchIndices(t: number): Uint32Array {
    const epoch = Math.floor(t / this.stepsPerEpoch);
    if (this.perm?.epoch !== epoch) this.perm = { epoch, order: epochPermutation(this.data.count, this.config.seed, epoch) };
    const start = (t % this.stepsPerEpoch) * this.config.batchSize;
    return this.perm.order.subarray(start, start + this.config.batchSize);
  }

  /**
   * Runs one phase's shard tasks, leaving each shard's mean gradient in its
   * slot. Returns the batch-mean loss, the shards' weights and the longest
   * time a worker spent computing.
   */
  private async shardGradients(phase: 'd' | 'g', t: number): Promise<{ loss: number; weights: number[]; workerMs: number; reloadMs: number; results: GradResult[] }> {
    const indices = phase === 'd' ? this.batchIndices(t) : null;
    const results = await this.runTasks<GradResult>(this.shards.map((s, k) => {
      const task: GradTask = {
        kind: 'grad', phase, step: t, slot: k, first: s.first, count: s.count,
        gVersion: this.g.version, dVersion: this.d.version,
      };
      if (indices) task.indices = indices.slice(s.first, s.first + s.count);
      return task;
    }), phase, t);
    const weights = this.shards.map((s) => s.count / this.config.batchSize);
    for (const r of results) this.workerTensors.set(r.threadId, r.numTensors);
    const loss = results.reduce((acc, r, k) => acc + weights[k] * r.loss, 0);
    return {
      loss, weights, results,
      workerMs: Math.max(...results.map((r) => r.computeMs)),
      reloadMs: Math.max(...results.map((r) => r.reloadMs)),
    };
  }

  /** Folds the shards' batch statistics of each training-mode pass into the shared moving statistics. */
  private foldBnStats(results: GradResult[]): void {
    const counts = this.shards.map((s) => s.count);
    results[0].bnStats.forEach((pass, p) => {
      const net = pass.net === 'g' ? this.g : this.d;
      foldBatchStats(net.bnLayers, net.bn, results.map((r) => r.bnStats[p].values), counts);
    });
  }

  /** The batch-mean gradient of one phase at the current parameters, without applying it (moving statistics unchanged). */
  async gradients(phase: 'd' | 'g'): Promise<Float32Array> {
    const { weights } = await this.shardGradients(phase, this.stepsDone);
    const net = phase === 'd' ? this.d : this.g;
    const grad = new Float32Array(net.shared.size);
    averageSlots(net.shared, weights, grad);
    return grad;
  }

  /** One phase: shard gradients, then (unless a shard reported a non-finite value) the statistics fold and Adam. */
  private async phase(phase: 'd' | 'g', t: number): Promise<{ loss: number; workerMs: number; reloadMs: number; adamMs: number; finite: boolean }> {
    const { loss, weights, workerMs, reloadMs, results } = await this.shardGradients(phase, t);
    if (results.some((r) => !r.finite)) return { loss, workerMs, reloadMs, adamMs: 0, finite: false };
    const a0 = performance.now();
    this.foldBnStats(results);
    await this.applyAdam(phase, weights, t);
    return { loss, workerMs, reloadMs, adamMs: performance.now() - a0, finite: true };
  }

  /**
   * Averages the slots and applies Adam once, each worker taking one range of the parameters;
   * a network with an EMA has it updated over the same range with β_t of the new step count (ema.ts).
   */
  private async applyAdam(which: 'd' | 'g', weights: number[], step: number): Promise<void> {
    const net = which === 'd' ? this.d : this.g;
    const ranges = splitRange(net.shared.size, this.config.workers);
    const t = net.t + 1;
    const ema = net.ema ? { emaDecay: emaDecayAt(net.emaDecay, t) } : {};
    if (ranges.length > net.shared.slots) throw new Error(`internal: ${ranges.length} Adam ranges but ${net.shared.slots} undo flags`);
    clearApplyRanges(net.shared);
    const tasks = ranges.map(([lo, hi], range): ApplyTask => ({ kind: 'apply', step, net: which, t, range, lo, hi, weights, opts: net.adam, ...ema }));
    // A task that failed part-way left its range half-updated: put it back before the retry (or the stop).
    await this.runTasks(tasks, which, step, (failed) => {
      for (const i of failed) undoApplyRange(net.shared, i, tasks[i].lo, tasks[i].hi);
    });
    net.t += 1;
    net.version += 1;
  }

  /**
   * Runs one phase's tasks; a task that fails (throws, or its thread dies:
   * piscina then starts a new thread with the same shared buffers) is run
   * again, up to `maxRetries` times, while the others' results are kept. A
   * grad task rewrites its whole slot, and `undo` (given the failed tasks'
   * indices, after they have all settled) puts back what a failed apply task
   * wrote before it died, so the retried phase is exactly the phase that had
   * no fault. Throws GanpoolFaultError when a task keeps failing.
   */
  private async runTasks<R>(tasks: (GradTask | ApplyTask)[], phase: 'd' | 'g', step: number, undo?: (failed: number[]) => void): Promise<R[]> {
    const results: R[] = new Array<R>(tasks.length);
    let pending = tasks.map((_, i) => i);
    for (let attempt = 0; ; attempt++) {
      const settled = await Promise.allSettled(pending.map((i) => this.executor.run<R>(tasks[i])));
      const failed: number[] = [];
      let cause = '';
      settled.forEach((s, j) => {
        if (s.status === 'fulfilled') results[pending[j]] = s.value;
        else {
          failed.push(pending[j]);
          cause = s.reason instanceof Error ? s.reason.message : String(s.reason);
        }
      });
      if (failed.length === 0) return results;
      undo?.(failed);
      const kind = tasks[failed[0]].kind;
      if (attempt >= this.config.maxRetries) {
        // A G-phase fault strikes after D's update of this step: the state is no longer that of a step boundary.
        if (phase === 'g' || kind === 'apply') this.midStep = true;
        throw new GanpoolFaultError(step + 1, kind, phase, cause, attempt);
      }
      this.retries.push({ phase, task: kind, tasks: failed.length, error: cause });
      pending = failed;
    }
  }

  /**
   * One training step: a D update, then a G update against the new D. A
   * phase with a non-finite loss or gradient is refused (no update; a refused
   * D phase skips the G phase too) and the step's batch is dropped;
   * {@link skipsInARow} counts such steps.
   */
  async step(): Promise<StepInfo> {
    const t = this.stepsDone;
    const t0 = performance.now();
    this.retries = [];
    const d = await this.phase('d', t);
    const g = d.finite ? await this.phase('g', t) : { loss: Number.NaN, workerMs: 0, reloadMs: 0, adamMs: 0, finite: false };
    const ms = performance.now() - t0;
    this.stepsDone = t + 1;
    this.skipsInARow = d.finite && g.finite ? 0 : this.skipsInARow + 1;
    const skipped = d.finite && g.finite ? {} : { skipped: { phase: d.finite ? 'g' as const : 'd' as const, reason: 'non-finite gradient' as const } };
    return {
      ...skipped,
      ...(this.retries.length > 0 ? { retries: this.retries } : {}),
      step: t + 1,
      epoch: Math.floor(t / this.stepsPerEpoch),
      dLoss: d.loss,
      gLoss: g.loss,
      ms,
      samplesPerSec: (this.config.batchSize * 1000) / ms,
      outsideMs: Math.max(0, ms - d.workerMs - g.workerMs),
      adamMs: d.adamMs + g.adamMs,
      reloadMs: d.reloadMs + g.reloadMs,
    };
  }

  /**
   * `n` generator outputs (NHWC, values in [-1, 1]) for latent noise keyed by `seed`, from G's EMA
   * weights when `ema` is on (batch norm uses the shared moving statistics), else its raw parameters;
   * a conditional generator draws image i of class `labels[i]`.
   */
  async sample(n: number, seed: number, labels?: Int32Array): Promise<Float32Array> {
    const task: SampleTask = { kind: 'sample', n, seed, gVersion: this.g.version, ema: this.g.ema !== null };
    if (labels) task.labels = labels;
    const r = await this.executor.run<SampleResult>(task);
    return r.images;
  }

  /** Copies of the current generator and discriminator parameter vectors. */
  parameters(): { g: Float32Array; d: Float32Array } {
    return { g: this.g.params.slice(), d: this.d.params.slice() };
  }

  /** Copies of the step count, both networks' parameters, Adam moments and Adam step counts (call between steps). */
  exportState(): TrainingState {
    return { stepsDone: this.stepsDone, g: snapshot(this.g), d: snapshot(this.d) };
  }

  /** Writes `state` into the shared buffers and bumps both versions so every worker reloads; throws RangeError on a size mismatch. */
  importState(state: TrainingState): void {
    restore(this.g, state.g, 'g');
    restore(this.d, state.d, 'd');
    this.stepsDone = state.stepsDone;
  }

  /**
   * Copies of the generator's parameters — the EMA weights when `ema` is on — and its batch-norm
   * moving statistics (shared by raw and EMA weights): what an export holds.
   */
  generatorWeights(): { params: Float32Array; bn: Float32Array } {
    return { params: (this.g.ema ?? this.g.params).slice(), bn: this.g.bn.slice() };
  }

  /** A copy of the EMA of G's parameters, or null when `ema` is off. */
  emaParameters(): Float32Array | null {
    return this.g.ema?.slice() ?? null;
  }

  /** Copies of both networks' batch-norm moving statistics. */
  bnStatistics(): { g: Float32Array; d: Float32Array } {
    return { g: this.g.bn.slice(), d: this.d.bn.slice() };
  }

  /** Asks one worker for its live tensor count. */
  async probe(): Promise<ProbeResult> {
    return this.executor.run<ProbeResult>({ kind: 'probe' });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.executor.close();
  }
}
