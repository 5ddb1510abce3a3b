/**
 * Builds the evaluation classifier (src/eval/classifier-spec.ts) as a
 * tf.layers model, and splits a loaded classifier into a features + class
 * probabilities extractor.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { Tensor, Variable } from '@tensorflow/tfjs-core';
import { CLASSES, CONV_FILTERS, FEATURES_DIM, classifierParamShapes } from './classifier-spec.js';
import { classifierModelInvalid } from '../errors.js';

/**
 * The classifier as a Sequential model. With `logits` its last layer is
 * linear (training computes a log-softmax loss); otherwise softmax (the
 * saved model outputs class probabilities). Same weights either way.
 */
export function buildClassifier(imageShape: readonly [number, number, number], logits: boolean): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [...imageShape], filters: CONV_FILTERS[0], kernelSize: 3, strides: 2, activation: 'relu' }),
      tfl.layers.conv2d({ filters: CONV_FILTERS[1], kernelSize: 3, strides: 2, activation: 'relu' }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: FEATURES_DIM, activation: 'relu' }),
      tfl.layers.dense({ units: CLASSES, activation: logits ? 'linear' : 'softmax' }),
    ],
  });
  const expected = classifierParamShapes(imageShape);
  const weights = model.trainableWeights;
  const same = weights.length === expected.length && weights.every((w, i) => w.shape.join() === expected[i].shape.join());
  if (!same) throw new Error(`internal: classifier weights [${weights.map((w) => w.shape.join('x'))}] do not match its spec`);
  return model;
}

/** The trainable variables of a built classifier, in parameter-vector order. */
export function classifierVars(model: tfl.LayersModel): Variable[] {
  return model.trainableWeights.map((w) => w.read() as Variable);
}

/** A classifier that returns penultimate features and class probabilities in one pass. */
export interface FeatureExtractor {
  /** Image shape the classifier takes (height, width, channels). */
  imageShape: [number, number, number];
  /** Features (n × FEATURES_DIM) and probabilities (n × CLASSES) for a batch of images in [-1, 1]. */
  apply(x: Tensor): [Tensor, Tensor];
}

/** Wraps a loaded classifier so one forward pass yields both its penultimate layer and its output. */
export function featureExtractor(model: tfl.LayersModel, source: string): FeatureExtractor {
  const inShape = model.inputs[0]?.shape;
  const layers = model.layers;
  const penultimate = layers[layers.length - 2];
  if (!inShape || inShape.length !== 4 || !penultimate) throw classifierModelInvalid(source, 'expected an image classifier (NHWC input, ≥ 2 layers)');
  const outDim = model.outputs[0].shape[1];
  const featDim = (penultimate.output as tfl.SymbolicTensor).shape[1];
  if (outDim !== CLASSES || featDim !== FEATURES_DIM) {
    throw classifierModelInvalid(source, `expected ${FEATURES_DIM} features and ${CLASSES} classes, found ${featDim} and ${outDim}`);
  }
  const both = tfl.model({ inputs: model.inputs, outputs: [penultimate.output as tfl.SymbolicTensor, model.outputs[0]] });
  return {
    imageShape: inShape.slice(1) as [number, number, number],
    apply: (x) => both.predict(x) as [Tensor, Tensor],
  };
}
