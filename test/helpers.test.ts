/** The shared comparison helper itself: it must fail on NaN and Infinity, and judge each tensor on its own scale. */
import test from 'ava';
import { modelPreset, paramCount } from '../src/models/presets.js';
import { relErr, tensorErrors, tensorsOf, worstTensors } from './helpers.js';

const TENSORS = [{ name: 'kernel', size: 6 }, { name: 'gamma', size: 2 }];
const TOL = { rel: 1e-3, abs: 0 };
const want = Float32Array.from([10, -20, 30, -40, 50, -60, 1, 1]);

test('tensorErrors: equal vectors pass; NaN or ±Infinity on either side fails, naming the tensor and the value', (t) => {
  t.deepEqual(tensorErrors(want, want, TENSORS, TOL).failures, []);
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    const got = want.slice();
    got[7] = bad;
    t.deepEqual(tensorErrors(got, want, TENSORS, TOL).failures, [`gamma: value 1 is ${bad} (want 1)`]);
    t.deepEqual(tensorErrors(want, got, TENSORS, TOL).failures, [`gamma: value 1 is 1 (want ${bad})`]);
  }
  // What the old pattern did: `err > tol` is false for NaN, so a NaN gradient passed it.
  const nan = want.slice();
  nan[0] = Number.NaN;
  const e = relErr(nan, want);
  t.false(e > TOL.rel, 'the old comparison lets NaN through');
  t.deepEqual(tensorErrors(nan, want, TENSORS, TOL).failures, ['kernel: value 0 is NaN (want 10)']);
  t.regex(worstTensors(tensorErrors(nan, want, TENSORS, TOL).errors, 1), /^kernel rel NaN/);
});

test('tensorErrors: a small tensor 10% off fails on its own scale, though the whole vector is within 0.2%', (t) => {
  const got = want.slice();
  got[6] = 1.1; // gamma[0] 10% off
  t.true(relErr(got, want) <= 2e-3, 'one tolerance over the whole vector would pass it');
  const { errors, failures } = tensorErrors(got, want, TENSORS, TOL);
  t.is(failures.length, 1);
  t.regex(failures[0], /^gamma: max \|Δ\| 0\.1/);
  t.is(errors[0].maxAbs, 0);
  t.true(Math.abs(errors[1].rel - 0.1) < 1e-6);
  t.regex(worstTensors(errors, 1), /^gamma rel 1\.0e-1/);
});

test('tensorErrors: the absolute floor; lengths that do not match the tensors throw; tensorsOf follows paramShapes', (t) => {
  const zero = new Float32Array(8), tiny = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 1e-9]);
  t.is(tensorErrors(tiny, zero, TENSORS, TOL).failures.length, 1, 'an all-zero tensor with rel alone fails on any difference');
  t.deepEqual(tensorErrors(tiny, zero, TENSORS, { rel: 1e-3, abs: 1e-8 }).failures, []);
  t.throws(() => tensorErrors(want.subarray(1), want, TENSORS, TOL), { message: /lengths 7 and 8, but the tensors hold 8 values/ });
  const g = modelPreset('dcgan', [28, 28, 1]).generator;
  const slices = tensorsOf(g);
  t.is(slices.reduce((n, s) => n + s.size, 0), paramCount(g));
  t.true(slices.some((s) => /gamma \[\d+\]$/.test(s.name)));
});
