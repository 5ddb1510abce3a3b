/**
 * The coordinator: owns the shared memory of both networks and the lockstep
 * loop's (loop-state.ts), starts the workers, and runs training steps by
 * handing each worker one long loop task (lockstep.ts): the workers then run
 * whole steps by themselves, and the main thread only reads the step records
 * as they arrive, asks the loop to stop at a step boundary, and after a
 * worker fault puts back what the failed phase wrote and runs it again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { AdamOptions } from '../optim/adam.js';
import { epochPermutation } from '../util/rng.js';
import { bnLayers, bnStatsSize, initParams, modelPreset, paramCount, type BnLayer, type ModelPreset, type NetSpec } from '../models/presets.js';
import { allocSharedNet, averageSlots, bnView, emaView, momentViews, paramsView, setCurrentBank, undoBnStats, type SharedNetBuffers } from './shared-params.js';
import { initMovingStats } from './bn-stats.js';
import { faultFromEnv } from './faults.js';
import { GanpoolFaultError, LOOP_ABORTED, loopThreadsNotDistinct } from '../errors.js';
import { createInlineExecutor, createPoolExecutor, registerLoopStopper, type Executor } from './executor.js';
import type { ResolvedConfig } from '../config.js';
import { sharedLabels, type ImageSet } from '../data/image-set.js';
import { abortBarrier } from './barrier.js';
import { BARRIER, CTL, PENDING, REC, allocLoopBuffers, loopViews, sharedClockMs, type LoopBuffers, type LoopViews } from './loop-state.js';
import type { GradResult, GradTask, LoopResult, LoopTask, ProbeResult, SampleResult, SampleTask, WorkerInit } from './protocol.js';

/** What one training step did. */
export interface StepInfo {
  /** Steps completed, counting this one (1-based). */
  step: number;
  /** The epoch this step's real batch came from (0-based). */
  epoch: number;
  dLoss: number;
  gLoss: number;
  /** Wall time of the step: from the end of the previous step (or the loop's start) to the end of this one. */
  ms: number;
  samplesPerSec: number;
  /**
   * Time in the step not spent computing a gradient (the slowest worker's gradient stage, each phase):
   * Adam, weight reload, waiting at barriers, and for the first step of a loop its start.
   */
  outsideMs: number;
  /** Of outsideMs: the slowest worker's Adam stage (averaging its range of the slots, Adam, EMA), both phases added. */
  adamMs: number;
  /** Of outsideMs: copying moved weights into the workers' engines (slowest worker, both phases). */
  reloadMs: number;
  /**
   * Set when a shard reported a NaN or infinite loss or gradient: that phase's update was refused
   * (a refused D phase also skips the G phase), and the step's batch is dropped.
   */
  skipped?: { phase: 'd' | 'g'; reason: 'non-finite gradient' };
  /** Worker tasks of this step that failed and were run again (the step's result is as if they had not failed). */
  retries?: RetryInfo[];
}

/** A phase that failed in some worker and was run again. */
export interface RetryInfo {
  phase: 'd' | 'g';
  /** The stage the failing worker was in: its gradient ('grad') or its Adam range ('apply'). */
  task: 'grad' | 'apply';
  /** How many workers failed (the others stopped because the loop was aborted). */
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
  /** The current bank's parameters (a fresh view each time: the bank changes with every Adam update). */
  readonly params: Float32Array;
  /** Batch-norm layers and their shared moving statistics (empty without batch norm). */
  bnLayers: BnLayer[];
  bn: Float32Array;
  /** The EMA of the parameters (ema.ts; current bank) and its decay; null and 0 when the network keeps none. */
  readonly ema: Float32Array | null;
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
    get params() { return paramsView(shared); },
    bnLayers: layers,
    bn,
    get ema() { return emaView(shared); },
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
  net.t = snap.t;
  setCurrentBank(net.shared, net.t); // the bank the next Adam update reads
  net.params.set(snap.params);
  if (snap.bn.length !== 0) net.bn.set(snap.bn);
  // Without a stored EMA the average restarts at the restored parameters; a stored one is ignored when EMA is off.
  net.ema?.set(ema.length !== 0 ? ema : snap.params);
  const moments = momentViews(net.shared);
  moments.m.set(snap.m);
  moments.v.set(snap.v);
  net.version += 1; // every worker reloads before its next task
}

/** A conditional run's labels in shared memory for the workers (its data always has one per image, below `classes`). */
function conditionalLabels(data: ImageSet, classes: number): SharedArrayBuffer {
  if (!data.labels || data.labels.length !== data.count) throw new Error('internal: a conditional run on data without one label per image');
  if (data.labels.some((y) => y >= classes)) throw new Error(`internal: a label of ${data.name} is not below its ${classes} classes`);
  return sharedLabels(data as ImageSet & { labels: Uint8Array }).buffer as SharedArrayBuffer;
}

/** Where tasks run: `pool` (worker threads, the default) or `inline` (the main thread; the no-pool baseline, one worker). */
export type ExecutorKind = 'pool' | 'inline';

/** Most steps one loop task runs (the records one attempt holds); a longer run starts the loop again. */
const LOOP_CAPACITY = 4096;
/** How often the main thread looks for new step records while the loop runs. */
const POLL_MS = 20;

/** Called with each step's info as the loop reports it. */
export type StepListener = (info: StepInfo) => void | Promise<void>;

/** The data-parallel training engine behind {@link GanTrainer}. */
export class Coordinator {
  readonly preset: ModelPreset;
  private readonly g: NetState;
  private readonly d: NetState;
  private readonly shards: Shard[];
  private executor!: Executor;
  private perm: { epoch: number; order: Uint32Array } | null = null;
  private readonly loopBuffers: LoopBuffers;
  private readonly loop: LoopViews;
  /** The next phase to run (2t: step t's D phase, 2t + 1: its G phase; see loop-state.ts). */
  private cursor = 0;
  /** Set by {@link requestStop}: no new loop starts, and a running one stops at its next step boundary. */
  private stopping = false;
  /** The phase that failed last, how many times in a row, and the retries not yet reported with its step. */
  private failures = { phase: -1, count: 0 };
  private retries: RetryInfo[] = [];
  private unregisterStopper: () => void = () => {};
  /** Steps completed (a refused step counts: its batch is dropped). */
  stepsDone = 0;
  /** Steps refused in a row for non-finite values. */
  skipsInARow = 0;
  /**
   * True once a fault outlasted its retries after some of its step's updates were applied (D's,
   * with the G phase failing): the shared state is then not that of a step boundary, and must not
   * be checkpointed.
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
    // Each worker's batch-norm statistics of one phase: G(z), D(real), D(fake) in the D phase at most.
    const bnFloats = bnStatsSize(this.preset.generator) + 2 * bnStatsSize(this.preset.discriminator);
    this.loopBuffers = allocLoopBuffers(this.shards.length, bnFloats, LOOP_CAPACITY);
    this.loop = loopViews(this.loopBuffers);
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
      loop: {
        buffers: c.loopBuffers,
        workers: c.shards.length,
        batch: config.batchSize,
        shards: c.shards,
        dataCount: data.count,
        stepsPerEpoch: c.stepsPerEpoch,
        adamD: c.d.adam,
        adamG: c.g.adam,
        emaDecay: c.g.emaDecay,
        barrierTimeoutMs: config.barrierTimeout * 1000,
        maxSkips: config.maxSkips,
      },
    };
    if (kind === 'inline' && config.workers !== 1) throw new Error(`internal: the no-pool baseline runs one worker, not ${config.workers}`);
    c.executor = kind === 'pool' ? await createPoolExecutor(init, config.workers) : await createInlineExecutor(init);
    c.unregisterStopper = registerLoopStopper(() => c.requestStop());
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
   * The batch-mean gradient of one phase at the current parameters, without applying it (moving
   * statistics unchanged): one gradient task per shard, each writing its slot, then the weighted
   * average of the slots.
   */
  async gradients(phase: 'd' | 'g'): Promise<Float32Array> {
    const t = this.stepsDone;
    const indices = phase === 'd' ? this.batchIndices(t) : null;
    const results = await Promise.all(this.shards.map((s, k) => {
      const task: GradTask = {
        kind: 'grad', phase, step: t, slot: k, first: s.first, count: s.count,
        gVersion: this.g.version, dVersion: this.d.version,
      };
      if (indices) task.indices = indices.slice(s.first, s.first + s.count);
      return this.executor.run<GradResult>(task);
    }));
    for (const r of results) this.workerTensors.set(r.threadId, r.numTensors);
    const net = phase === 'd' ? this.d : this.g;
    const grad = new Float32Array(net.shared.size);
    averageSlots(net.shared, this.shards.map((s) => s.count / this.config.batchSize), grad);
    return grad;
  }

  /**
   * Asks the loop to stop: a running loop stops at its next step boundary (its last step complete),
   * and {@link run} starts no new one until it is called again. Safe to call at any time.
   */
  requestStop(): void {
    this.stopping = true;
    Atomics.store(this.loop.ctl, CTL.stop, 1);
  }

  /**
   * One training step (see {@link run}); returns its info.
   */
  async step(): Promise<StepInfo> {
    let info: StepInfo | null = null;
    await this.run(1, (i) => { info = i; });
    if (info === null) throw new Error('internal: a step ran but reported nothing');
    return info;
  }

  /**
   * Runs up to `steps` training steps in lockstep on the workers: each step a D update, then a G
   * update against the new D. A phase with a non-finite loss or gradient is refused (no update; a
   * refused D phase skips the G phase too) and the step's batch is dropped; {@link skipsInARow}
   * counts such steps, and the loop stops once it reaches `maxSkips`. `onStep` gets each step's
   * info in order, while the loop runs on; the last step's only once the loop has stopped, so the
   * state is then that of a step boundary. Stops early, at a step boundary, after
   * {@link requestStop}. A worker that fails is retried as the phase that failed (up to
   * `maxRetries` times, bit-identical to a run without the fault); past that it throws
   * GanpoolFaultError.
   */
  async run(steps: number, onStep: StepListener = () => {}): Promise<void> {
    const target = this.stepsDone + steps;
    this.stopping = false;
    // A retry or a continued loop times its first step from the end of the last step reported,
    // so a retried step's time includes the failure and the recovery.
    const clock = { lastEnd: null as number | null };
    while (this.stepsDone < target && !this.stopping) {
      const ended = await this.attempt(target, onStep, clock);
      if (ended === 'stopped') break;
    }
  }

  /** One loop attempt: starts the loop tasks, streams their records, and handles a failure. */
  private async attempt(target: number, onStep: StepListener, clock: { lastEnd: number | null }): Promise<'stopped' | 'more' | 'retry'> {
    const { ctl } = this.loop;
    const W = this.shards.length;
    ctl.fill(0);
    Atomics.store(ctl, CTL.committed, this.cursor);
    Atomics.store(ctl, CTL.go, 1);
    Atomics.store(ctl, CTL.skips, this.skipsInARow);
    if (this.stopping) Atomics.store(ctl, CTL.stop, 1);
    const from = this.cursor;
    const endStep = Math.min(target, (from >> 1) + this.loopBuffers.capacity);
    const started = sharedClockMs();
    const tasks = Array.from({ length: W }, (_, worker) => {
      const task: LoopTask = { kind: 'loop', worker, from, endStep, tD: this.d.t, tG: this.g.t };
      const p = this.executor.run<LoopResult>(task);
      // A worker that dies cannot raise the abort flag itself: wake the others at once.
      p.catch(() => abortBarrier(ctl, BARRIER));
      return p;
    });
    const all = Promise.allSettled(tasks);
    let settled = false;
    void all.then(() => { settled = true; });

    // Stream the records; the newest one waits until the loop has stopped (see run()).
    let emitted = 0, prevEnd = clock.lastEnd ?? started;
    /** The first error a listener threw (the loop is then asked to stop, and it is rethrown once it has). */
    const listener: { error: Error | null } = { error: null };
    const emit = async (upTo: number): Promise<void> => {
      for (; emitted < upTo; emitted++) {
        const info = this.recordInfo(emitted, prevEnd);
        prevEnd = clock.lastEnd = this.loop.record(emitted)[REC.endMs];
        this.stepsDone = info.step;
        if (listener.error !== null) continue;
        try {
          await onStep(info);
        } catch (e) {
          listener.error = e instanceof Error ? e : new Error(String(e));
          this.requestStop();
        }
      }
    };
    while (!settled) {
      await Promise.race([all, sleep(POLL_MS)]);
      if (!settled) await emit(Atomics.load(ctl, CTL.recorded) - 1);
    }
    const results = await all;
    const recorded = Atomics.load(ctl, CTL.recorded);
    if (recorded > 0) {
      const last = this.loop.record(recorded - 1);
      this.stepsDone = last[REC.step];
      this.d.t = last[REC.tD];
      this.g.t = last[REC.tG];
      this.skipsInARow = last[REC.skips];
    }
    for (const net of [this.d, this.g]) setCurrentBank(net.shared, net.t);
    this.d.version += 1;
    this.g.version += 1;
    const committed = Atomics.load(ctl, CTL.committed);
    this.cursor = committed;
    const failed = results.flatMap((r, k) => r.status === 'rejected' ? [{ k, error: r.reason instanceof Error ? r.reason.message : String(r.reason) }] : []);
    if (failed.length === 0) {
      const threads = results.map((r) => (r as PromiseFulfilledResult<LoopResult>).value.threadId);
      for (const r of results) this.workerTensors.set((r as PromiseFulfilledResult<LoopResult>).value.threadId, (r as PromiseFulfilledResult<LoopResult>).value.numTensors);
      if (new Set(threads).size !== W) throw loopThreadsNotDistinct(threads);
      await emit(recorded);
      if (listener.error !== null) throw listener.error;
      return this.stopping || this.skipsInARow >= this.config.maxSkips ? 'stopped' : 'more';
    }

    // A failure: the phase at `committed` may be half-applied. Its Adam stage wrote only into the
    // bank nobody reads (the current one follows the committed Adam counts); put back the moving
    // statistics it may have folded, then retry it.
    for (const net of [this.d, this.g]) undoBnStats(net.shared, committed + 1);
    // An odd cursor: D's update of that step stands (its Adam count was kept for the step's record).
    if ((committed & 1) === 1) this.d.t = this.loop.pending[PENDING.tD];
    for (const net of [this.d, this.g]) setCurrentBank(net.shared, net.t);
    await emit(recorded);
    if (listener.error !== null) throw listener.error;
    const real = failed.filter((f) => !f.error.startsWith(LOOP_ABORTED));
    const first = real[0] ?? failed[0];
    const phase = (committed & 1) === 1 ? 'g' as const : 'd' as const;
    const task = Atomics.load(ctl, CTL.stage + first.k) === 2 ? 'apply' as const : 'grad' as const;
    this.failures = this.failures.phase === committed ? { phase: committed, count: this.failures.count + 1 } : { phase: committed, count: 1 };
    if (this.failures.count > this.config.maxRetries) {
      this.midStep = phase === 'g';
      throw new GanpoolFaultError((committed >> 1) + 1, task, phase, first.error, this.failures.count - 1);
    }
    this.retries.push({ phase, task, tasks: Math.max(1, real.length), error: first.error });
    return 'retry';
  }

  /** Record i of the current attempt as a StepInfo; `prevEnd` is when the step before it ended (or the loop started). */
  private recordInfo(i: number, prevEnd: number): StepInfo {
    const r = this.loop.record(i);
    const step = r[REC.step];
    const ms = Math.max(1e-6, r[REC.endMs] - prevEnd);
    const skipped = r[REC.skipped];
    const info: StepInfo = {
      ...(skipped !== 0 ? { skipped: { phase: skipped === 1 ? 'd' as const : 'g' as const, reason: 'non-finite gradient' as const } } : {}),
      step,
      epoch: Math.floor((step - 1) / this.stepsPerEpoch),
      dLoss: r[REC.dLoss],
      gLoss: r[REC.gLoss],
      ms,
      samplesPerSec: (this.config.batchSize * 1000) / ms,
      outsideMs: Math.max(0, ms - r[REC.computeD] - r[REC.computeG]),
      adamMs: r[REC.adamMs],
      reloadMs: r[REC.reloadMs],
    };
    if (this.retries.length > 0 && (this.failures.phase >> 1) + 1 === step) {
      info.retries = this.retries;
      this.retries = [];
    }
    return info;
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
    this.cursor = 2 * state.stepsDone;
    this.skipsInARow = 0;
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

  /** Stops the workers: a running loop first stops at its next step boundary. */
  async close(): Promise<void> {
    this.requestStop();
    this.unregisterStopper();
    await this.executor.close();
  }
}
