import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { adamUpdate, splitRange } from '../src/optim/adam.js';
import { relErr } from './helpers.js';

test('splitRange covers [0, n) with cache-line aligned, non-overlapping ranges', (t) => {
  const ranges = splitRange(1001, 3);
  t.deepEqual(ranges.map(([lo]) => lo % 16), ranges.map(() => 0));
  t.is(ranges[0][0], 0);
  t.is(ranges[ranges.length - 1][1], 1001);
  for (let k = 1; k < ranges.length; k++) t.is(ranges[k][0], ranges[k - 1][1]);
});

test('Adam from two weighted shard slots, applied in two ranges, matches tf.train.adam on the cpu backend over 5 steps', async (t) => {
  await tf.setBackend('cpu');
  const n = 257, opts = { lr: 2e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 };
  const init = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.3);
  const vec = { params: init.slice(), m: new Float32Array(n), v: new Float32Array(n), slots: [new Float32Array(n), new Float32Array(n)] };
  const variable = tf.variable(tf.tensor1d(init));
  const reference = tf.train.adam(opts.lr, opts.beta1, opts.beta2, opts.epsilon);
  for (let step = 1; step <= 5; step++) {
    // Shards of 3 and 1 samples: the batch gradient is 0.75·s0 + 0.25·s1.
    vec.slots[0].set(Float32Array.from({ length: n }, (_, i) => Math.cos(i + step) * (i % 7 === 0 ? 1e-3 : 1)));
    vec.slots[1].set(Float32Array.from({ length: n }, (_, i) => Math.sin(3 * i - step)));
    const full = vec.slots[0].map((x, i) => 0.75 * x + 0.25 * vec.slots[1][i]);
    for (const [lo, hi] of splitRange(n, 2)) adamUpdate(vec, [0.75, 0.25], step, opts, lo, hi);
    reference.applyGradients([{ name: variable.name, tensor: tf.tensor1d(full) }]);
  }
  const expected = variable.dataSync();
  t.true(relErr(vec.params, init) > 1e-3, 'parameters moved');
  const err = relErr(vec.params, expected);
  t.log(`rel err vs tf.train.adam: ${err.toExponential(2)}`);
  t.true(err <= 1e-6, `rel err ${err}`);
});
