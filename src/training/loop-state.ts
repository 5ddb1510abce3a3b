/**
 * The shared memory of the lockstep loop (lockstep.ts), beside the networks'
 * own (shared-params.ts): control words, each worker's results for the phase
 * in flight, the D phase's results held until its step ends, and the step
 * records the main thread reads while the loop runs on.
 *
 * Phases are numbered across the run: step t's D phase is 2t, its G phase
 * 2t + 1. `committed` is the number of the next phase to run: every phase
 * below it is complete (its Adam stage applied everywhere, or refused), none
 * at or above it has written anything that survives an undo.
 */
import type { BarrierWords } from './barrier.js';

/** Int32 words of the control array. */
export const CTL = {
  abort: 0,
  count: 1,
  generation: 2,
  /** The next phase to run (see the module comment). */
  committed: 3,
  /** Set by the end-of-step leader: 1 while the loop goes on, 0 once it stops at this step boundary. */
  go: 4,
  /** Raised by the main thread: stop at the next step boundary. */
  stop: 5,
  /** Records written by the current attempt. */
  recorded: 6,
  /** Steps refused in a row (non-finite values). */
  skips: 7,
  /** Per worker k: word `stage + k` is 1 in its gradient stage, 2 in its Adam stage. */
  stage: 8,
} as const;

/** The barrier's words in the control array. */
export const BARRIER: BarrierWords = { count: CTL.count, generation: CTL.generation, abort: CTL.abort };

/** Float64 fields of one worker's results for the phase in flight. */
export const SHARD = { loss: 0, computeMs: 1, reloadMs: 2, adamMs: 3, finite: 4, threadId: 5 } as const;
const SHARD_FIELDS = 6;

/** Float64 fields of the D phase's results, kept until the step's G phase ends (the step record needs them). */
export const PENDING = { dLoss: 0, computeMs: 1, reloadMs: 2, adamMs: 3, tD: 4 } as const;
const PENDING_FIELDS = 5;

/** Float64 fields of one step record. */
export const REC = {
  /** 1-based step number. */
  step: 0,
  dLoss: 1,
  gLoss: 2,
  /** 0: both phases applied; 1: the D phase refused (no G phase); 2: the G phase refused. */
  skipped: 3,
  /** When the step ended: performance.timeOrigin + performance.now() of the thread that ended it. */
  endMs: 4,
  /** Slowest worker's gradient stage, D phase and G phase. */
  computeD: 5,
  computeG: 6,
  /** Slowest worker's Adam stage, both phases added. */
  adamMs: 7,
  /** Slowest worker's weight reload, both phases added. */
  reloadMs: 8,
  /** Adam step counts of D and G after the step. */
  tD: 9,
  tG: 10,
  /** Steps refused in a row, this one counted. */
  skips: 11,
} as const;
const REC_FIELDS = 12;

/** The loop's shared buffers (sent to every worker once, in workerData). */
export interface LoopBuffers {
  control: SharedArrayBuffer;
  shards: SharedArrayBuffer;
  /** Each worker's batch-norm statistics of the phase in flight: `bnFloats` floats each. */
  bnStats: SharedArrayBuffer;
  bnFloats: number;
  pending: SharedArrayBuffer;
  records: SharedArrayBuffer;
  /** Records one attempt can hold: the most steps one loop task runs. */
  capacity: number;
}

/** Allocates the loop's buffers for `workers` workers. */
export function allocLoopBuffers(workers: number, bnFloats: number, capacity: number): LoopBuffers {
  return {
    control: new SharedArrayBuffer(4 * (CTL.stage + workers)),
    shards: new SharedArrayBuffer(8 * SHARD_FIELDS * workers),
    bnStats: new SharedArrayBuffer(4 * Math.max(1, bnFloats * workers)),
    bnFloats,
    pending: new SharedArrayBuffer(8 * PENDING_FIELDS),
    records: new SharedArrayBuffer(8 * REC_FIELDS * capacity),
    capacity,
  };
}

/** Typed views of {@link LoopBuffers}, made once per thread. */
export interface LoopViews {
  ctl: Int32Array;
  /** Worker k's result field f: `shard(k)[f]`. */
  shard(k: number): Float64Array;
  /** Worker k's batch-norm statistics. */
  bn(k: number): Float32Array;
  pending: Float64Array;
  /** Record i of the current attempt. */
  record(i: number): Float64Array;
}

/** Views of the loop's buffers. */
export function loopViews(b: LoopBuffers): LoopViews {
  const shards = new Float64Array(b.shards), bn = new Float32Array(b.bnStats), records = new Float64Array(b.records);
  return {
    ctl: new Int32Array(b.control),
    shard: (k) => shards.subarray(k * SHARD_FIELDS, (k + 1) * SHARD_FIELDS),
    bn: (k) => bn.subarray(k * b.bnFloats, (k + 1) * b.bnFloats),
    pending: new Float64Array(b.pending),
    record: (i) => records.subarray(i * REC_FIELDS, (i + 1) * REC_FIELDS),
  };
}

/** The time on a clock every thread shares (each thread's performance.now() has its own origin). */
export function sharedClockMs(): number {
  return performance.timeOrigin + performance.now();
}
