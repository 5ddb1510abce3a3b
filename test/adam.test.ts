import test from 'ava';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Adam } from '../src/adam.js';
import { relErr } from './helpers.js';

test('Adam from two weighted shard slots matches tf.train.adam on the cpu backend over 5 steps', async (t) => {
  await tf.setBackend('cpu');
  const n = 257, opts = { lr: 2e-3, beta1: 0.5, beta2: 0.999, epsilon: 1e-7 };
  const init = Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.3);
  const ours = init.slice();
  const adam = new Adam(n, opts);
  const variable = tf.variable(tf.tensor1d(init));
  const reference = tf.train.adam(opts.lr, opts.beta1, opts.beta2, opts.epsilon);
  for (let step = 0; step < 5; step++) {
    // Shards of 3 and 1 samples: the batch gradient is 0.75·s0 + 0.25·s1.
    const s0 = Float32Array.from({ length: n }, (_, i) => Math.cos(i + step) * (i % 7 === 0 ? 1e-3 : 1));
    const s1 = Float32Array.from({ length: n }, (_, i) => Math.sin(3 * i - step));
    const full = s0.map((x, i) => 0.75 * x + 0.25 * s1[i]!);
    adam.step(ours, [s0, s1], [0.75, 0.25]);
    reference.applyGradients([{ name: variable.name, tensor: tf.tensor1d(full) }]);
  }
  const expected = variable.dataSync();
  const moved = relErr(ours, init);
  t.true(moved > 1e-3, 'parameters moved');
  const err = relErr(ours, expected);
  t.log(`rel err vs tf.train.adam: ${err.toExponential(2)}`);
  t.true(err <= 1e-6, `rel err ${err}`);
  t.is(adam.state.t, 5);
});
