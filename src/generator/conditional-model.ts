/**
 * A conditional generator as a TensorFlow.js functional LayersModel with two
 * inputs, `z` [latent] and `label` [1] (a class index): Dense(z) (the first
 * dense kernel's z rows and its bias) plus Embedding(label) (the kernel's
 * one-hot rows: row k is what one-hot(k) contributes), then the first layer's
 * activation and the remaining layers. The same math as the training
 * network's [z, one-hot(label)] input; only the summation order differs.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { toLayer } from '../engines/tfjs/build-model.js';
import { paramShapes, sizeOf, type ModelPreset } from '../models/presets.js';

/** The exported conditional generator's inputs, as named in model.json (and in the ONNX file). */
export const CONDITIONAL_INPUTS = { z: 'z', label: 'label' } as const;

/** A built conditional generator and how to load the trainer's flat parameters into it. */
export interface ConditionalGenerator {
  model: tfl.LayersModel;
  /** Writes G's parameters (flat, paramShapes order of the training network) into the model's variables. */
  writeParams(params: Float32Array): void;
}

/** Builds the functional model for a conditional preset (its generator must start with a dense layer). */
export function buildConditionalGenerator(preset: ModelPreset): ConditionalGenerator {
  const G = preset.generator, { latentDim, classes } = preset;
  const [first, ...rest] = G.layers;
  if (first?.kind !== 'dense' || classes <= 0) throw new Error(`internal: ${preset.name} is not a conditional generator starting with a dense layer`);
  const z = tfl.input({ shape: [latentDim], name: CONDITIONAL_INPUTS.z });
  const label = tfl.input({ shape: [1], dtype: 'int32', name: CONDITIONAL_INPUTS.label });
  const dense = tfl.layers.dense({ units: first.units, useBias: first.useBias, name: 'z_dense' });
  const embedding = tfl.layers.embedding({ inputDim: classes, outputDim: first.units, name: 'label_embedding' });
  const byClass = tfl.layers.flatten().apply(embedding.apply(label)) as tfl.SymbolicTensor;
  let x = tfl.layers.add().apply([dense.apply(z) as tfl.SymbolicTensor, byClass]) as tfl.SymbolicTensor;
  if (first.activation !== 'linear') x = tfl.layers.activation({ activation: first.activation }).apply(x) as tfl.SymbolicTensor;
  const layers = rest.map((spec) => toLayer(spec, undefined));
  for (const layer of layers) x = layer.apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: [z, label], outputs: x, name: 'generator' });
  const shapes = paramShapes(G);
  return {
    model,
    writeParams(params: Float32Array): void {
      tf.tidy(() => {
        let offset = 0, index = 0;
        const next = (): tf.Tensor => {
          const shape = shapes[index++].shape, n = sizeOf(shape);
          const t = tf.tensor(params.subarray(offset, offset + n), shape);
          offset += n;
          return t;
        };
        const [zRows, classRows] = tf.split(next(), [latentDim, classes], 0) as [tf.Tensor, tf.Tensor];
        dense.trainableWeights[0].write(zRows);
        if (first.useBias) dense.trainableWeights[1].write(next());
        embedding.trainableWeights[0].write(classRows);
        for (const layer of layers) for (const w of layer.trainableWeights) w.write(next());
        if (index !== shapes.length || offset !== params.length) throw new Error('internal: the conditional generator took other weights than its spec');
      });
    },
  };
}
