/**
 * The exponential moving average (EMA) of the generator's parameters
 * (`ema` in the config; 0 = off).
 *
 * Definition: the EMA starts equal to G's initial parameters. After the t-th
 * Adam update of G (t = 1, 2, …: G's Adam step count after the update),
 *
 *     ema ← β_t·ema + (1 − β_t)·θ,   β_t = min(decay, (1 + t)/(10 + t)),
 *
 * where θ are G's parameters after that update. The warm-up keeps early
 * averages from clinging to the random initialisation. A refused
 * (non-finite) G phase makes no Adam update and so no EMA update.
 *
 * Arithmetic: each element is computed in float64 from the float32 values,
 * `b·ema[i] + (1 − b)·θ[i]`, and rounded once to float32 on store. Elements
 * are independent, so splitting the range across workers never changes the
 * result: it is bitwise the same for any worker count.
 *
 * The EMA lives in G's shared memory (`emaView`), beside the raw parameters;
 * the coordinator computes β_t and each worker updates its Adam range right
 * after the Adam update of that range.
 */

/** β_t for G's Adam step count `t` (after the update): min(decay, (1 + t)/(10 + t)). */
export function emaDecayAt(decay: number, t: number): number {
  return Math.min(decay, (1 + t) / (10 + t));
}

/**
 * One EMA update over indices [lo, hi): `ema[i] ← decay·from[i] + (1 − decay)·params[i]`,
 * in float64, stored as float32; `from` is the previous EMA (default: `ema` itself, in place;
 * the training loop's double-buffering passes the other bank).
 */
export function updateEma(ema: Float32Array, params: Float32Array, decay: number, lo: number, hi: number, from: Float32Array = ema): void {
  const keep = 1 - decay;
  for (let i = lo; i < hi; i++) ema[i] = decay * from[i] + keep * params[i];
}
