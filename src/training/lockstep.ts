/**
 * The lockstep loop, as each worker runs it: whole training steps, with the
 * other workers, synchronised through shared memory (the shape of PyTorch's
 * DDP and Horovod). The main thread only starts the loop, reads its records
 * and asks it to stop.
 *
 * One phase (D, then G) on worker k of N:
 *
 *  1. gradient stage: reload the networks that moved, compute shard k's
 *     gradient into slot k, publish its loss, finiteness and batch-norm
 *     statistics;
 *  2. barrier A;
 *  3. Adam stage (a reduce-scatter): when every shard is finite, average the
 *     slots over range k of the parameters and apply Adam and the EMA there,
 *     reading the current bank and writing the other (shared-params.ts);
 *     worker 0 also folds the shards' batch statistics into the moving
 *     statistics, after copying them aside;
 *  4. barrier B, whose last arrival commits the phase: it makes the written
 *     bank current, advances `committed`, and at the end of a step writes the
 *     step's record and decides whether the loop goes on.
 *
 * Every input of a step (batch rows, latent noise, labels) is a pure function
 * of (seed, step, row), so each worker computes its own, and the result does
 * not depend on the worker count. A worker that throws raises the abort flag
 * (every barrier wait then throws too); the main thread puts back the moving
 * statistics if the failed phase folded them (its Adam stage wrote only the
 * bank nobody reads) and runs the phase again.
 */
import { abortBarrier, arrive } from './barrier.js';
import { BARRIER, CTL, PENDING, REC, SHARD, loopViews, sharedClockMs, type LoopViews } from './loop-state.js';
import { splitRange, type AdamOptions } from '../optim/adam.js';
import { emaDecayAt } from '../optim/ema.js';
import { wasmAdam, type WasmAdam } from '../optim/adam-wasm.js';
import { foldBatchStats } from './bn-stats.js';
import { bnLayers, type BnLayer, type ModelPreset } from '../models/presets.js';
import { bankOf, bnView, saveBnStats, setCurrentBank, type SharedNetBuffers } from './shared-params.js';
import { epochPermutation } from '../util/rng.js';
import { faultFires, type FaultSpec } from './faults.js';
import type { LoopResult, LoopSettings, LoopTask } from './protocol.js';
import type { BnPassStats, NetName } from '../engines/engine.js';

/** One shard's gradient for one phase, written into its slot. */
export interface ShardGradient {
  loss: number;
  bnStats: BnPassStats[];
  /** False when the loss or any gradient value is NaN or infinite. */
  finite: boolean;
  computeMs: number;
  reloadMs: number;
}

/** What the loop needs of the shard worker that hosts it (shard.ts). */
export interface LoopHost {
  preset: ModelPreset;
  seed: number;
  nets: Record<NetName, SharedNetBuffers>;
  fault: FaultSpec | null;
  faultFired: Int32Array;
  threadId: number;
  /** Computes the shard's gradient of `phase` at step `step` into gradient slot `slot` (reloading moved networks first). */
  gradient(phase: NetName, step: number, first: number, count: number, indices: Uint32Array | null, slot: number): Promise<ShardGradient>;
  /** Forgets the engine's copy of a network (it moved): the next gradient reloads it. */
  invalidate(net: NetName): void;
  liveObjects(): number;
}

/** "the D phase" or "the G phase", as fault messages name a phase. */
export const phaseName = (phase: NetName): string => `the ${phase.toUpperCase()} phase`;

/**
 * Adam update `t` over floats [lo, hi) of `net`, the gradient being Σ weights[k]·slot k, then (with
 * `emaDecay`) the EMA over the same range. It reads bank (t − 1) mod 2 and writes bank t mod 2 of a
 * double-buffered network (shared-params.ts), bank 0 in place otherwise. The Adam stage's
 * arithmetic; elements are independent, so how the range is split never changes the result.
 */
export function adamRange(net: SharedNetBuffers, adam: WasmAdam, weights: readonly number[], t: number, opts: AdamOptions, lo: number, hi: number, emaDecay?: number): void {
  const double = net.banks[1] !== null;
  const from = double ? (t - 1) & 1 : 0, to = double ? t & 1 : 0;
  const src = bankOf(net, from), dst = bankOf(net, to);
  adam.update({ params: src.params, m: src.m, v: src.v, slots: net.grads, out: dst }, weights, t, opts, lo, hi);
  if (emaDecay === undefined) return;
  if (src.ema === null || dst.ema === null) throw new Error('internal: an EMA update on a network that keeps none');
  adam.ema({ ema: dst.ema, from: src.ema, params: dst.params }, emaDecay, lo, hi);
}

/** Blocks this thread for `ms` (the `stall` fault). */
function stall(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** A worker's side of the loop: made once per thread, run once per loop task. */
export function createLockstep(host: LoopHost, s: LoopSettings): (task: LoopTask) => Promise<LoopResult> {
  const v: LoopViews = loopViews(s.buffers);
  const W = s.workers;
  const weights = s.shards.map((sh) => sh.count / s.batch);
  const counts = s.shards.map((sh) => sh.count);
  const layers: Record<NetName, BnLayer[]> = { g: bnLayers(host.preset.generator), d: bnLayers(host.preset.discriminator) };
  const ranges: Record<NetName, [number, number][]> = { g: splitRange(host.nets.g.size, W), d: splitRange(host.nets.d.size, W) };
  const adams: Partial<Record<NetName, WasmAdam>> = {};
  const opts: Record<NetName, AdamOptions> = { d: s.adamD, g: s.adamG };
  let perm: { epoch: number; order: Uint32Array } | null = null;

  /** Dataset rows of this worker's share of step `step`'s real batch. */
  const rows = (step: number, first: number, count: number): Uint32Array => {
    const epoch = Math.floor(step / s.stepsPerEpoch);
    if (perm?.epoch !== epoch) perm = { epoch, order: epochPermutation(s.dataCount, host.seed, epoch) };
    const start = (step % s.stepsPerEpoch) * s.batch + first;
    return perm.order.subarray(start, start + count);
  };

  /** Worker 0, in an applied phase: folds every training-mode pass's shard statistics into the moving statistics. */
  const foldStats = (passes: BnPassStats[], mark: number): void => {
    if (passes.length === 0) return;
    saveBnStats(host.nets.g, mark);
    saveBnStats(host.nets.d, mark);
    let offset = 0;
    for (const pass of passes) {
      const n = pass.values.length;
      const shards = Array.from({ length: W }, (_, j) => v.bn(j).subarray(offset, offset + n));
      foldBatchStats(layers[pass.net], bnView(host.nets[pass.net]), shards, counts);
      offset += n;
    }
  };

  /** The Adam stage of worker k: its range of the trained network, with the faults tests inject. */
  const adamStage = (k: number, phase: NetName, stepNo: number, t: number): void => {
    const where = `apply task of ${phaseName(phase)} of step ${stepNo}`;
    if (faultFires(host.fault, 'apply', phase, stepNo, host.faultFired)) throw new Error(`injected fault: ${where}, before writing`);
    const range = ranges[phase][k];
    if (!range) return;
    const net = host.nets[phase];
    const [lo, hi] = range;
    // A mid-range fault writes the first half of the range (rounded down to 4 floats), then strikes.
    const midFault = faultFires(host.fault, 'apply-mid', phase, stepNo, host.faultFired) ? 'throw'
      : faultFires(host.fault, 'exit-mid', phase, stepNo, host.faultFired) ? 'exit' : null;
    const end = midFault ? lo + (((hi - lo) >> 3) << 2) : hi;
    const adam = adams[phase] ??= wasmAdam(net.memory);
    const ema = phase === 'g' && s.emaDecay > 0 ? emaDecayAt(s.emaDecay, t) : undefined;
    adamRange(net, adam, weights, t, opts[phase], lo, end, ema);
    if (midFault === 'exit') process.exit(1);
    if (midFault === 'throw') throw new Error(`injected fault: ${where}, after writing ${end - lo} of its ${hi - lo} parameters`);
  };

  /** Run by barrier B's last arrival: commits phase p, and at a step's end writes its record and decides whether to go on. */
  const commit = (task: LoopTask, p: number, phase: NetName, finite: boolean, tD: number, tG: number): void => {
    let loss = 0, compute = 0, reload = 0, adam = 0;
    for (let j = 0; j < W; j++) {
      const r = v.shard(j);
      loss += weights[j] * r[SHARD.loss];
      compute = Math.max(compute, r[SHARD.computeMs]);
      reload = Math.max(reload, r[SHARD.reloadMs]);
      adam = Math.max(adam, r[SHARD.adamMs]);
    }
    const step = p >> 1;
    const { ctl, pending } = v;
    // The updated values are in bank t mod 2 of the trained network: make it current for everyone.
    if (finite) setCurrentBank(host.nets[phase], phase === 'd' ? tD + 1 : tG + 1);
    if (phase === 'd' && finite) {
      pending[PENDING.dLoss] = loss;
      pending[PENDING.computeMs] = compute;
      pending[PENDING.reloadMs] = reload;
      pending[PENDING.adamMs] = adam;
      pending[PENDING.tD] = tD + 1;
      Atomics.store(ctl, CTL.committed, p + 1);
      return;
    }
    const skips = finite ? 0 : Atomics.load(ctl, CTL.skips) + 1;
    const i = Atomics.load(ctl, CTL.recorded);
    const rec = v.record(i);
    rec[REC.step] = step + 1;
    if (phase === 'd') {
      rec.set([loss, Number.NaN, 1], REC.dLoss);
      rec[REC.computeD] = compute;
      rec[REC.computeG] = 0;
      rec[REC.adamMs] = adam;
      rec[REC.reloadMs] = reload;
      rec[REC.tD] = tD;
    } else {
      rec.set([pending[PENDING.dLoss], loss, finite ? 0 : 2], REC.dLoss);
      rec[REC.computeD] = pending[PENDING.computeMs];
      rec[REC.computeG] = compute;
      rec[REC.adamMs] = pending[PENDING.adamMs] + adam;
      rec[REC.reloadMs] = pending[PENDING.reloadMs] + reload;
      rec[REC.tD] = tD;
    }
    rec[REC.tG] = tG + (phase === 'g' && finite ? 1 : 0);
    rec[REC.skips] = skips;
    rec[REC.endMs] = sharedClockMs();
    Atomics.store(ctl, CTL.skips, skips);
    Atomics.store(ctl, CTL.recorded, i + 1);
    Atomics.store(ctl, CTL.committed, 2 * (step + 1));
    const go = step + 1 < task.endStep && Atomics.load(ctl, CTL.stop) === 0 && skips < s.maxSkips && i + 1 < s.buffers.capacity;
    Atomics.store(ctl, CTL.go, go ? 1 : 0);
  };

  return async (task: LoopTask): Promise<LoopResult> => {
    const k = task.worker;
    const { first, count } = s.shards[k];
    const mine = v.shard(k);
    mine[SHARD.threadId] = host.threadId;
    let { tD, tG } = task;
    let p = task.from;
    host.invalidate('g');
    host.invalidate('d');
    try {
      for (;;) {
        const step = p >> 1, phase: NetName = (p & 1) === 1 ? 'g' : 'd', stepNo = step + 1, mark = p + 1;
        Atomics.store(v.ctl, CTL.stage + k, 1);
        if (faultFires(host.fault, 'stall', phase, stepNo, host.faultFired)) stall(3 * s.barrierTimeoutMs);
        const r = await host.gradient(phase, step, first, count, phase === 'd' ? rows(step, first, count) : null, k);
        mine[SHARD.loss] = r.loss;
        mine[SHARD.computeMs] = r.computeMs;
        mine[SHARD.reloadMs] = r.reloadMs;
        mine[SHARD.finite] = r.finite ? 1 : 0;
        const stats = v.bn(k);
        let offset = 0;
        for (const pass of r.bnStats) {
          stats.set(pass.values, offset);
          offset += pass.values.length;
        }
        arrive(v.ctl, BARRIER, W, s.barrierTimeoutMs, `after the gradients of ${phaseName(phase)} of step ${stepNo}`);

        let finite = true;
        for (let j = 0; j < W; j++) finite &&= v.shard(j)[SHARD.finite] === 1;
        Atomics.store(v.ctl, CTL.stage + k, 2);
        const a0 = performance.now();
        if (finite) {
          adamStage(k, phase, stepNo, (phase === 'd' ? tD : tG) + 1);
          if (k === 0) foldStats(r.bnStats, mark);
        }
        mine[SHARD.adamMs] = performance.now() - a0;
        const t0D = tD, t0G = tG;
        arrive(v.ctl, BARRIER, W, s.barrierTimeoutMs, `after the Adam stage of ${phaseName(phase)} of step ${stepNo}`,
          () => commit(task, p, phase, finite, t0D, t0G));

        if (finite) {
          if (phase === 'd') tD += 1;
          else tG += 1;
          host.invalidate(phase);
        }
        p = phase === 'd' && finite ? p + 1 : 2 * (step + 1);
        if ((p & 1) === 0 && Atomics.load(v.ctl, CTL.go) === 0) break;
      }
    } catch (e) {
      abortBarrier(v.ctl, BARRIER);
      throw e;
    } finally {
      // The engine's copies may be of any phase now: the next task reloads both.
      host.invalidate('g');
      host.invalidate('d');
    }
    return { threadId: host.threadId, numTensors: host.liveObjects() };
  };
}
