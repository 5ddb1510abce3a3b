/**
 * Fault injection for tests: GANPOOL_INJECT_FAULT names a fault that one
 * worker raises at a given 1-based step. This module is the one place that
 * reads the variable; the shard worker asks it at one point of its grad task.
 *
 *   grad@K   one worker's grad task of step K throws (once)
 *   apply@K  one worker's Adam (apply) task of step K throws before it writes (once)
 *   exit@K   one worker thread exits (process.exit) inside its grad task of step K (once)
 *   nan@K    one worker's gradient and loss turn to NaN at step K (once)
 *   nan@K+   the same at every step from K on
 */
import { badFaultSpec } from '../errors.js';

/** The environment variable that switches fault injection on. */
export const INJECT_FAULT_ENV = 'GANPOOL_INJECT_FAULT';

/** The faults that can be injected. */
export type FaultKind = 'grad' | 'apply' | 'exit' | 'nan';

/** A parsed fault: its kind, first step (1-based) and whether it repeats (nan only). */
export interface FaultSpec {
  kind: FaultKind;
  step: number;
  repeat: boolean;
}

/** The fault GANPOOL_INJECT_FAULT asks for, or null; a malformed value is a usage error naming the variable. */
export function faultFromEnv(env: NodeJS.ProcessEnv = process.env): FaultSpec | null {
  const raw = env[INJECT_FAULT_ENV];
  if (raw === undefined || raw === '') return null;
  const m = /^(grad|apply|exit|nan)@([1-9]\d*)(\+?)$/.exec(raw);
  if (!m || (m[3] === '+' && m[1] !== 'nan')) throw badFaultSpec(INJECT_FAULT_ENV, raw);
  return { kind: m[1] as FaultKind, step: Number(m[2]), repeat: m[3] === '+' };
}

/**
 * Whether fault `kind` fires in this worker for the task of 1-based step `step`.
 * `fired` is shared by every worker of the pool, so a one-off fault fires in
 * exactly one of them.
 */
export function faultFires(fault: FaultSpec | null, kind: FaultKind, step: number, fired: Int32Array): boolean {
  if (!fault || fault.kind !== kind) return false;
  if (fault.repeat) return step >= fault.step && Atomics.exchange(fired, 0, step) !== step;
  return step === fault.step && Atomics.compareExchange(fired, 0, 0, 1) === 0;
}
