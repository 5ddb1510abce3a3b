/**
 * Turns a plain network spec (src/models.ts) into a tf.layers model, and
 * checks that its trainable weights line up with the spec's parameter shapes
 * (the order of the shared parameter vector).
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { Variable } from '@tensorflow/tfjs-core';
import { paramShapes, type LayerSpec, type NetSpec } from '../../models/presets.js';

/** One spec layer as a tf.layers layer (`inputShape` given for the first layer of a Sequential model). */
export function toLayer(spec: LayerSpec, inputShape: number[] | undefined): tfl.layers.Layer {
  const first = inputShape ? { inputShape } : {};
  switch (spec.kind) {
    case 'dense':
      return tfl.layers.dense({ ...first, units: spec.units, activation: spec.activation, useBias: spec.useBias });
    case 'conv2d':
    case 'conv2dTranspose': {
      const args = {
        ...first, filters: spec.filters, kernelSize: spec.kernelSize, strides: spec.strides,
        padding: 'same' as const, activation: spec.activation, useBias: spec.useBias,
      };
      return spec.kind === 'conv2d' ? tfl.layers.conv2d(args) : tfl.layers.conv2dTranspose(args);
    }
    case 'batchNorm':
      return tfl.layers.batchNormalization({ ...first, momentum: spec.momentum, epsilon: spec.epsilon });
    case 'activation':
      return tfl.layers.activation({ ...first, activation: spec.activation });
    case 'leakyRelu':
      return tfl.layers.leakyReLU({ ...first, alpha: spec.alpha });
    case 'flatten':
      return tfl.layers.flatten(first);
    case 'reshape':
      return tfl.layers.reshape({ ...first, targetShape: spec.shape });
    case 'projection':
      // Only generators are exported; a projection layer ends a conditional discriminator.
      throw new Error('internal: a projection layer has no tf.layers equivalent');
  }
}

/** A built network and its trainable variables in shared-vector order. */
export interface BuiltNet {
  model: tfl.Sequential;
  vars: Variable[];
}

/** Builds `net` as a tf.layers Sequential model named `name`. */
export function buildNet(net: NetSpec, name: string): BuiltNet {
  const model = tfl.sequential({ name });
  net.layers.forEach((layer, i) => model.add(toLayer(layer, i === 0 ? net.inputShape : undefined)));
  const expected = paramShapes(net);
  const weights = model.trainableWeights;
  const same = weights.length === expected.length &&
    weights.every((w, i) => w.shape.join() === expected[i].shape.join());
  if (!same) {
    throw new Error(`internal: ${name} weights [${weights.map((w) => w.shape.join('x'))}] do not match its spec`);
  }
  return { model, vars: weights.map((w) => w.read() as Variable) };
}
