/**
 * Fault injection for tests: GANPOOL_INJECT_FAULT names a fault that one
 * worker raises at a given 1-based step. This module is the one place that
 * reads the variable; the shard worker asks it at fixed points of its tasks.
 *
 *   KIND@K[+][:PHASE]
 *
 *   grad@K       one worker's gradient stage of step K throws at its start (once)
 *   apply@K      one worker's Adam (apply) stage of step K throws before it writes (once)
 *   apply-mid@K  one worker's Adam stage of step K throws after writing the first half of its
 *                parameter range (parameters, Adam moments and EMA; once)
 *   exit@K       one worker thread exits (process.exit) at the start of its gradient stage of step K (once)
 *   exit-mid@K   one worker thread exits after writing the first half of its Adam range (once)
 *   stall@K      one worker stalls at the start of its gradient stage of step K for three times the
 *                barrier timeout, so the others time out waiting for it (once)
 *   nan@K        one worker's gradient and loss turn to NaN at step K (once)
 *   nan-grad@K   one value in the middle of one worker's gradient turns to NaN at step K, its
 *                loss stays finite (once)
 *   …@K+         (nan and nan-grad only) the same at every step from K on
 *   …:d, …:g     the phase the fault strikes: D (the default) or G
 */
import { badFaultSpec } from '../errors.js';

/** The environment variable that switches fault injection on. */
export const INJECT_FAULT_ENV = 'GANPOOL_INJECT_FAULT';

/** The faults that can be injected. */
export type FaultKind = 'grad' | 'apply' | 'apply-mid' | 'exit' | 'exit-mid' | 'stall' | 'nan' | 'nan-grad';

/** A parsed fault: its kind, first step (1-based), whether it repeats (nan kinds only) and the phase it strikes. */
export interface FaultSpec {
  kind: FaultKind;
  step: number;
  repeat: boolean;
  phase: 'd' | 'g';
}

/** The fault GANPOOL_INJECT_FAULT asks for, or null; a malformed value is a usage error naming the variable. */
export function faultFromEnv(env: NodeJS.ProcessEnv = process.env): FaultSpec | null {
  const raw = env[INJECT_FAULT_ENV];
  if (raw === undefined || raw === '') return null;
  const m = /^(grad|apply-mid|apply|exit-mid|exit|stall|nan-grad|nan)@([1-9]\d*)(\+?)(?::([dg]))?$/.exec(raw);
  if (!m || (m[3] === '+' && !m[1].startsWith('nan'))) throw badFaultSpec(INJECT_FAULT_ENV, raw);
  return { kind: m[1] as FaultKind, step: Number(m[2]), repeat: m[3] === '+', phase: (m[4] ?? 'd') as 'd' | 'g' };
}

/**
 * Whether fault `kind` fires in this worker for the `phase` task of 1-based step `step`.
 * `fired` is shared by every worker of the pool, so a one-off fault fires in
 * exactly one of them (and a repeating one in one task per step).
 */
export function faultFires(fault: FaultSpec | null, kind: FaultKind, phase: 'd' | 'g', step: number, fired: Int32Array): boolean {
  if (fault?.kind !== kind || fault.phase !== phase) return false;
  if (fault.repeat) return step >= fault.step && Atomics.exchange(fired, 0, step) !== step;
  return step === fault.step && Atomics.compareExchange(fired, 0, 0, 1) === 0;
}
