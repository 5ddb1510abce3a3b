/**
 * Shared by the onnx-* tests: a plain-tfjs reference forward pass (tf.layers
 * semantics on tf.variables in paramShapes order), the GAN loss, seeded
 * inputs and an ONNX Runtime session helper.
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers registers every op's gradient (tfjs-core alone registers none).
import '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import * as ort from 'onnxruntime-node';
import { paramShapes, sizeOf, type NetSpec } from '../src/models/presets.js';
import { opsForward, type BnMode } from '../src/engines/tfjs/ops-forward.js';
import { hashInts, sfc32 } from '../src/util/rng.js';

export { tf, ort };

export const SESSION_OPTIONS = {
  intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
} as const;

export async function session(model: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(model, SESSION_OPTIONS);
}

/** A float32 feed (copied into a plain buffer). */
export function feed(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(data), dims);
}

/** Seeded uniform values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const next = sfc32(hashInts(seed, 0x0e7e));
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
}

/** Seeded parameters of `net` at a Glorot-like scale (gammas near 1), flat in paramShapes order. */
export function seededParams(net: NetSpec, seed: number): Float32Array {
  const parts = paramShapes(net).map((p, i) => {
    const s = Math.sqrt(6 / (p.fanIn + p.fanOut));
    const v = uniform(sizeOf(p.shape), seed * 100 + i, -s, s);
    return p.role === 'gamma' ? v.map((a) => 1 + a) : v;
  });
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Seeded normal values (Box–Muller). */
export function normal(n: number, seed: number, std = 1): Float32Array {
  const next = sfc32(hashInts(seed, 0x7a11));
  return Float32Array.from({ length: n }, () => std * Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next()));
}

/** How the reference's batch norms run: batch statistics (pushed, kept, onto `stats`) or moving statistics. */
export type RefBn = BnMode;

/**
 * `net`'s forward pass on `x` as plain tf ops (tf.layers semantics), variables in paramShapes order:
 * the tfjs engine's own forward (what the `cpu` backend trains with), so the onnx graphs are checked
 * against exactly what `--backend cpu` computes.
 */
export function refForward(net: NetSpec, vars: readonly tf.Tensor[], x: tf.Tensor, bn?: RefBn): tf.Tensor {
  return opsForward(tf, net, vars, x, bn);
}

/** Mean binary cross-entropy with logits against a constant label. */
export function refBce(logits: tf.Tensor, label: 0 | 1): tf.Scalar {
  return tf.mean(tf.softplus(label === 1 ? tf.neg(logits) : logits));
}

/** Flat values of tensors, concatenated. */
export function flatValues(ts: readonly tf.Tensor[]): Float32Array {
  const parts = ts.map((t) => t.dataSync() as Float32Array);
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Flat values of ONNX Runtime outputs, concatenated. */
export function flatOutputs(out: ort.InferenceSession.OnnxValueMapType, names: readonly string[]): Float32Array {
  const parts = names.map((n) => {
    const v = out[n];
    if (!v) throw new Error(`no output ${n}`);
    return v.data as Float32Array;
  });
  const res = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { res.set(p, o); o += p.length; }
  return res;
}

/** A network's batch statistics from the reference's kept [mean, variance, mean, variance, …], in the bnLayers layout. */
export function refStats(stats: readonly tf.Tensor[]): Float32Array {
  return flatValues(stats);
}

/**
 * tfjs-backend-cpu's Conv2DBackpropFilter reads every value through
 * TensorBuffer.get and takes ~10 s per dcgan64 layer at batch 2. This is the
 * same sum (float64 accumulation, then float32) over plain typed arrays, as
 * a drop-in kernel for the cpu backend; onnx-compile checks it against the
 * original before using it. Channels-last only (all tf.layers convs here).
 */
export const fastConv2DBackpropFilter: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape, dataFormat } = attrs as unknown as {
    strides: [number, number] | number; pad: 'same' | 'valid' | number; dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number]; dataFormat: 'NHWC' | 'NCHW';
  };
  if (dataFormat === 'NCHW') throw new Error('fastConv2DBackpropFilter: NHWC only');
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
  const cpu = backend as unknown as { data: { get(id: object): { values: Float32Array } }; makeTensorInfo(s: number[], d: string, v: Float32Array): tf.TensorInfo };
  const xv = cpu.data.get(x.dataId).values, dyv = cpu.data.get(dy.dataId).values;
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: ci, outHeight: ho, outWidth: wo, outChannels: co,
    filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  const acc = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++) for (let yr = 0; yr < ho; yr++) for (let yc = 0; yc < wo; yc++) {
    const dyo = ((b * ho + yr) * wo + yc) * co;
    for (let r = 0; r < kh; r++) {
      const xr = yr * sh + r - top;
      if (xr < 0 || xr >= h) continue;
      for (let c = 0; c < kw; c++) {
        const xc = yc * sw + c - left;
        if (xc < 0 || xc >= w) continue;
        const xo = ((b * h + xr) * w + xc) * ci, wOff = (r * kw + c) * ci * co;
        for (let i = 0; i < ci; i++) {
          const a = xv[xo + i], o = wOff + i * co;
          if (a === 0) continue;
          for (let j = 0; j < co; j++) acc[o + j] += a * dyv[dyo + j];
        }
      }
    }
  }
  return cpu.makeTensorInfo(filterShape, 'float32', Float32Array.from(acc));
};

/** Swaps the cpu backend's Conv2DBackpropFilter for {@link fastConv2DBackpropFilter}; returns the original kernel function. */
export function useFastConv2DBackpropFilter(): tf.KernelFunc {
  const original = tf.getKernel('Conv2DBackpropFilter', 'cpu').kernelFunc;
  tf.unregisterKernel('Conv2DBackpropFilter', 'cpu');
  tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'cpu', kernelFunc: fastConv2DBackpropFilter });
  return original;
}
