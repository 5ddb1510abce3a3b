/**
 * The GAN losses (src/losses.ts) as TensorFlow.js ops on D's logits [N,1];
 * tf.variableGrads differentiates them (relu'(0) = 0 at a hinge's kink).
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import type { GanLoss } from '../../models/losses.js';
import type { Tf } from './tf-backend.js';

/** One term of a GAN loss: a scalar, the mean over the logits' rows. */
export type TfLossTerm = (tf: Tf, logits: Tensor) => Tensor;

/** A GAN loss's three terms: D's loss is dReal(D(real)) + dFake(D(fake)); G's loss is g(D(G(z))). */
export interface TfGanLoss {
  dReal: TfLossTerm;
  dFake: TfLossTerm;
  g: TfLossTerm;
}

/** mean softplus(−logit) for label 1, mean softplus(logit) for label 0, in the stable form relu(s) + log1p(exp(−|s|)). */
const bce = (label: 0 | 1): TfLossTerm => (tf, logits) => {
  const signed = label === 1 ? tf.neg(logits) : logits;
  return tf.mean(tf.add(tf.relu(signed), tf.log1p(tf.exp(tf.neg(tf.abs(signed))))));
};

/** Every GAN loss as tf ops. */
export const TF_GAN_LOSSES: Readonly<Record<GanLoss, TfGanLoss>> = {
  ns: { dReal: bce(1), dFake: bce(0), g: bce(1) },
  hinge: {
    dReal: (tf, r) => tf.mean(tf.relu(tf.sub(1, r))),
    dFake: (tf, f) => tf.mean(tf.relu(tf.add(1, f))),
    g: (tf, f) => tf.neg(tf.mean(f)),
  },
  lsgan: {
    dReal: (tf, r) => tf.mul(0.5, tf.mean(tf.square(tf.sub(r, 1)))),
    dFake: (tf, f) => tf.mul(0.5, tf.mean(tf.square(f))),
    g: (tf, f) => tf.mul(0.5, tf.mean(tf.square(tf.sub(f, 1)))),
  },
};
