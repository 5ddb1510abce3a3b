/**
 * Shared test utilities: error measures (per tensor, failing on NaN), the one rule for tests whose
 * prerequisite is absent, a cached copy of the embedded data and the type of a model.json.
 */
import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { loadEmbeddedMnist } from '../src/data/mnist.js';
import { paramShapes, sizeOf, type NetSpec } from '../src/models/presets.js';
import type { ImageSet } from '../src/data/image-set.js';
import type { io } from '@tensorflow/tfjs-core';
import type { GeneratorMetadata } from '../src/generator/export.js';

/** The model.json fields the tests read (JSON.parse gives `any`): tfjs's ModelJSON plus ganpool's metadata. */
export type ModelJson = io.ModelJSON & {
  modelTopology: { class_name: string };
  generatedBy: string;
  userDefinedMetadata: { ganpool: GeneratorMetadata & { inputs: string[] } };
};

/** max|a-b| / max|b|: relative to the reference's largest magnitude. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1e-12);
}

/** max|a-b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return diff;
}

let mnist: ImageSet | null = null;
/** The embedded MNIST set, loaded once per test process. */
export function mnistData(): ImageSet {
  mnist ??= loadEmbeddedMnist();
  return mnist;
}

/** One tensor of a flat vector (parameters or gradients): its name and number of values. */
export interface TensorSlice {
  name: string;
  size: number;
}

/** The tensors of a network's flat parameter or gradient vector, in paramShapes order. */
export function tensorsOf(net: NetSpec): TensorSlice[] {
  return paramShapes(net).map((p) => ({ name: `${p.name} [${p.shape.join('×')}]`, size: sizeOf(p.shape) }));
}

/** A tolerance per tensor: max|got − want| ≤ rel · max|want| + abs, both over that tensor alone. */
export interface TensorTol {
  rel: number;
  abs: number;
}

/** How far one tensor is off. */
export interface TensorError {
  name: string;
  /** max|got − want| over the tensor. */
  maxAbs: number;
  /** max|want| over the tensor. */
  scale: number;
  /** maxAbs / scale (Infinity for a nonzero error on an all-zero tensor). */
  rel: number;
}

/**
 * Compares `got` with `want` tensor by tensor. A tensor fails when any value of either side is NaN
 * or infinite, or when its max|got − want| is not ≤ rel·max|want| + abs (written so that a NaN
 * fails: every comparison is `!(err <= bound)`). Throws when the lengths do not add up.
 */
export function tensorErrors(got: ArrayLike<number>, want: ArrayLike<number>, tensors: readonly TensorSlice[], tol: TensorTol): { errors: TensorError[]; failures: string[] } {
  const total = tensors.reduce((n, s) => n + s.size, 0);
  if (got.length !== total || want.length !== total) throw new Error(`lengths ${got.length} and ${want.length}, but the tensors hold ${total} values`);
  const errors: TensorError[] = [], failures: string[] = [];
  let o = 0;
  for (const { name, size } of tensors) {
    let maxAbs = 0, scale = 0, bad = -1;
    for (let i = o; i < o + size; i++) {
      const a = got[i], b = want[i];
      if (bad < 0 && !(Number.isFinite(a) && Number.isFinite(b))) bad = i;
      maxAbs = Math.max(maxAbs, Math.abs(a - b));
      scale = Math.max(scale, Math.abs(b));
    }
    const rel = maxAbs === 0 ? 0 : maxAbs / scale;
    errors.push({ name, maxAbs, scale, rel });
    if (bad >= 0) failures.push(`${name}: value ${bad - o} is ${got[bad]} (want ${want[bad]})`);
    else if (!(maxAbs <= tol.rel * scale + tol.abs)) failures.push(`${name}: max |Δ| ${maxAbs} > ${tol.rel}·${scale} + ${tol.abs} (rel ${rel.toExponential(2)})`);
    o += size;
  }
  return { errors, failures };
}

/** The `n` tensors with the largest relative error, as one line for t.log. */
export function worstTensors(errors: readonly TensorError[], n = 3): string {
  const key = (e: TensorError): number => (Number.isNaN(e.rel) ? Infinity : e.rel);
  return [...errors].sort((a, b) => key(b) - key(a)).slice(0, n)
    .map((e) => `${e.name} rel ${e.rel.toExponential(1)} (|Δ| ${e.maxAbs.toExponential(1)}, max ${e.scale.toExponential(1)})`).join('; ');
}

/** Asserts {@link tensorErrors} finds no failure (each failing tensor named in the message); returns the per-tensor errors. */
export function assertTensorsClose(t: ExecutionContext, label: string, got: ArrayLike<number>, want: ArrayLike<number>, tensors: readonly TensorSlice[], tol: TensorTol): TensorError[] {
  const { errors, failures } = tensorErrors(got, want, tensors, tol);
  t.deepEqual(failures, [], `${label}: tensors out of tolerance`);
  return errors;
}

/** The one test of "under CI": CI set to anything but "", "0" or "false". */
export const IN_CI = !['', '0', 'false'].includes(process.env.CI ?? '');

/**
 * The one rule for tests that need something the machine may lack (a data set, a browser): when
 * `have` is false, the tests are skipped and `reason` printed once, except under CI
 * ({@link IN_CI}), where each of them fails with `reason`. Returns the function to declare them with.
 */
export function requireOrSkip(have: boolean, reason: string, declare: typeof test | typeof test.serial = test): (title: string, impl: ImplementationFn<[]>) => void {
  if (have) return (title, impl) => { declare(title, impl); };
  if (IN_CI) return (title) => { declare(title, (t) => { t.fail(`${reason} (required under CI)`); }); };
  console.log(`skipped: ${reason}`);
  return (title, impl) => { test.skip(title, impl); };
}
