/**
 * A network's training forward pass written as plain tf ops on its variables.
 *
 * tf.layers' fused Dense/Conv layers compute every gradient of a fused op
 * eagerly (for example the first discriminator layer's input gradient on real
 * images, and D's weight gradients in the G phase), so `tf.variableGrads`
 * through `model.apply` does 10–24% more work than the step needs. The same
 * math as plain ops lets tfjs skip what nobody asked for: the loss is the
 * same bit for bit and a step is 8–21% faster (scripts/bench-models.ts
 * --compare-forward). Batch norm keeps tf.layers (its moving statistics).
 */
import type { Tensor, Tensor2D, Tensor4D, Variable } from '@tensorflow/tfjs-core';
import type { Tf } from '../src/tf-backend.js';
import type { Activation, NetSpec } from '../src/models.js';

/** True when {@link opsForward} covers every layer of `net` (no batch norm). */
export function opsForwardSupports(net: NetSpec): boolean {
  return net.layers.every((l) => l.kind !== 'batchNorm');
}

function activate(tf: Tf, x: Tensor, a: Activation): Tensor {
  return a === 'relu' ? tf.relu(x) : a === 'tanh' ? tf.tanh(x) : a === 'sigmoid' ? tf.sigmoid(x) : x;
}

/** `net`'s forward pass on `x` with its variables in paramShapes order (the order of `vars`). */
export function opsForward(tf: Tf, net: NetSpec, vars: readonly Variable[], x: Tensor): Tensor {
  let k = 0;
  const next = (): Tensor => vars[k++]!;
  let h = x;
  for (const layer of net.layers) {
    const n = h.shape[0]!;
    switch (layer.kind) {
      case 'dense': {
        const y = tf.matMul(h as Tensor2D, next() as Tensor2D);
        h = activate(tf, layer.useBias ? tf.add(y, next()) : y, layer.activation);
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
      case 'activation': h = activate(tf, h, layer.activation); break;
      case 'leakyRelu': h = tf.leakyRelu(h, layer.alpha); break;
      case 'flatten': h = tf.reshape(h, [n, -1]); break;
      case 'reshape': h = tf.reshape(h, [n, ...layer.shape]); break;
      case 'batchNorm': throw new Error('internal: opsForward does not cover batch norm (check opsForwardSupports)');
    }
  }
  return h;
}
