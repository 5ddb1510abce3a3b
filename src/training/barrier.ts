/**
 * The lockstep loop's synchronisation: a reusable barrier for N threads on
 * two int32 words of shared memory (an arrival count and a generation), with
 * an abort flag that wakes every waiter and a timeout on every wait.
 *
 * The last thread to arrive runs the barrier's `leader` action (while every
 * other thread is still waiting), then starts the next generation and wakes
 * them: a serial section between two parallel ones, as in OpenMP's
 * `barrier` + `single`. A waiter spins briefly before it sleeps in
 * `Atomics.wait`, since the phases of a small model last about a millisecond
 * and a futex wake-up costs tens of microseconds.
 */
import { barrierTimeoutError, loopAbortedError } from '../errors.js';

/** Int32 word indices of a barrier's state inside its control array. */
export interface BarrierWords {
  /** Threads that have arrived in the current generation. */
  count: number;
  /** Incremented by the leader to release a generation. */
  generation: number;
  /** Non-zero once any thread (or the main thread) aborted the loop. */
  abort: number;
}

/** Spins before sleeping: about 20 µs of `Atomics.load` on current CPUs. */
const SPINS = 2000;

/**
 * Raises the abort flag and wakes every thread waiting at the barrier. Safe to
 * call from any thread, any number of times, including the main thread when a
 * worker thread died without raising it.
 */
export function abortBarrier(ctl: Int32Array, words: BarrierWords): void {
  Atomics.store(ctl, words.abort, 1);
  // Moving the generation too means a thread about to sleep on the old value cannot miss the wake-up;
  // waiters test the abort flag before the generation, so they do not take this for a release.
  Atomics.add(ctl, words.generation, 1);
  Atomics.notify(ctl, words.generation);
}

/** True once the loop was aborted. */
export function isAborted(ctl: Int32Array, words: BarrierWords): boolean {
  return Atomics.load(ctl, words.abort) !== 0;
}

/**
 * Arrives at the barrier of `parties` threads and returns once all have
 * arrived (the last one runs `leader` first). Throws a loop-aborted error when
 * the abort flag is up (before or while waiting), and after `timeoutMs` of
 * waiting raises the abort flag and throws a barrier-timeout error naming
 * `where`: every wait has a bound, so a hung thread stops the loop instead of
 * freezing it.
 */
export function arrive(ctl: Int32Array, words: BarrierWords, parties: number, timeoutMs: number, where: string, leader?: () => void): void {
  if (isAborted(ctl, words)) throw loopAbortedError();
  const gen = Atomics.load(ctl, words.generation);
  if (Atomics.add(ctl, words.count, 1) === parties - 1) {
    Atomics.store(ctl, words.count, 0);
    leader?.();
    Atomics.add(ctl, words.generation, 1);
    Atomics.notify(ctl, words.generation);
    return;
  }
  for (let i = 0; i < SPINS; i++) {
    if (isAborted(ctl, words)) throw loopAbortedError();
    if (Atomics.load(ctl, words.generation) !== gen) return;
  }
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (isAborted(ctl, words)) throw loopAbortedError();
    if (Atomics.load(ctl, words.generation) !== gen) return;
    const left = deadline - performance.now();
    if (left <= 0) {
      abortBarrier(ctl, words);
      throw barrierTimeoutError(where, timeoutMs);
    }
    Atomics.wait(ctl, words.generation, gen, left);
  }
}
