/**
 * A network's forward pass written as plain tf ops on its variables: the
 * tfjs engine's training and inference pass (tf.layers models are built only
 * to export the generator, src/export.ts).
 *
 * tf.layers' fused Dense/Conv layers compute every gradient of a fused op
 * eagerly (for example the first discriminator layer's input gradient on real
 * images, and D's weight gradients in the G phase), so `tf.variableGrads`
 * through `model.apply` does 10–24% more work than the step needs. Plain ops
 * let tfjs skip what nobody asked for.
 *
 * Batch norm: in training mode a layer normalises with its shard's batch mean
 * and biased variance (as tf.layers and PyTorch do) and reports them; in
 * inference mode it uses the moving statistics it is given.
 *
 * A projection layer (conditional discriminators) takes the pass's labels
 * as a one-hot float [n, classes] tensor: logit = φW + b + rowsum((Y·E) ⊙ φ),
 * all plain differentiable ops.
 */
import type { Tensor, Tensor1D, Tensor2D, Tensor4D } from '@tensorflow/tfjs-core';
import type { Tf } from './tf-backend.js';
import { bnLayers, type Activation, type NetSpec } from '../../models/presets.js';

function activate(tf: Tf, x: Tensor, a: Activation): Tensor {
  return a === 'relu' ? tf.relu(x) : a === 'tanh' ? tf.tanh(x) : a === 'sigmoid' ? tf.sigmoid(x) : x;
}

/** How batch norm runs in {@link opsForward}. */
export type BnMode =
  /** Batch statistics; each BN layer's mean and variance are pushed (kept) onto `stats`. */
  | { training: true; stats: Tensor[] }
  /** Moving statistics: per BN layer C means then C variances (bnLayers layout). */
  | { training: false; moving: Float32Array };

/**
 * `net`'s forward pass on `x` with its variables in paramShapes order (the
 * order of `vars`). Networks without batch norm need no `bn`; networks
 * without a projection layer need no `labels` (one-hot, [n, classes], one row per row of `x`).
 */
export function opsForward(tf: Tf, net: NetSpec, vars: readonly Tensor[], x: Tensor, bn?: BnMode, labels?: Tensor): Tensor {
  let k = 0, b = 0, offset = 0;
  const next = (): Tensor => vars[k++];
  const layers = bnLayers(net);
  let h = x;
  for (const layer of net.layers) {
    const n = h.shape[0];
    switch (layer.kind) {
      case 'dense': {
        const y = tf.matMul(h, next());
        h = activate(tf, layer.useBias ? tf.add(y, next()) : y, layer.activation);
        break;
      }
      case 'projection': {
        const w = next() as Tensor2D, bias = next(), e = next() as Tensor2D, phi = h as Tensor2D;
        if (!labels) throw new Error('internal: opsForward needs the labels for a network with a projection layer');
        const psi = tf.add(tf.matMul(phi, w), bias);
        h = tf.add(psi, tf.sum(tf.mul(tf.matMul(labels as Tensor2D, e), phi), 1, true));
        break;
      }
      case 'conv2d':
      case 'conv2dTranspose': {
        const w = next() as Tensor4D, s = layer.strides, x4 = h as Tensor4D;
        const y = layer.kind === 'conv2d' ? tf.conv2d(x4, w, s, 'same')
          : tf.conv2dTranspose(x4, w, [n, x4.shape[1] * s, x4.shape[2] * s, layer.filters], s, 'same');
        h = activate(tf, layer.useBias ? tf.add(y, next()) : y, layer.activation);
        break;
      }
      case 'batchNorm': {
        const gamma = next() as Tensor1D, beta = next() as Tensor1D;
        const c = layers[b++].channels;
        if (!bn) throw new Error('internal: opsForward needs a batch-norm mode for a network with batch norm');
        let mean: Tensor, variance: Tensor;
        if (bn.training) {
          const axes = h.shape.map((_, i) => i).slice(0, -1);
          ({ mean, variance } = tf.moments(h, axes));
          bn.stats.push(tf.keep(mean), tf.keep(variance));
        } else {
          mean = tf.tensor1d(bn.moving.subarray(offset, offset + c));
          variance = tf.tensor1d(bn.moving.subarray(offset + c, offset + 2 * c));
        }
        offset += 2 * c;
        h = tf.batchNorm(h, mean, variance, beta, gamma, layer.epsilon);
        break;
      }
      case 'activation': h = activate(tf, h, layer.activation); break;
      case 'leakyRelu': h = tf.leakyRelu(h, layer.alpha); break;
      case 'flatten': h = tf.reshape(h, [n, -1]); break;
      case 'reshape': h = tf.reshape(h, [n, ...layer.shape]); break;
    }
  }
  return h;
}
