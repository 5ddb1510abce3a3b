/**
 * Conv2D gradients for the wasm backend, expressed as forward Conv2D calls
 * (XNNPACK) so they run at convolution speed:
 *  - Conv2DBackpropFilter: the batch becomes the channel axis, the forward
 *    stride becomes a dilation.
 *  - Conv2DBackpropInput: sub-pixel (phase) decomposition: for stride s
 *    each of the s×s output phases is a stride-1 convolution of dy with a
 *    flipped, in/out-swapped sub-filter; phases are interleaved into dx. No
 *    multiply-by-inserted-zero is ever done.
 */
import { backend_util, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import { call, f32Offset, free, transpose, type WasmBackend } from './wasm.js';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;

interface ConvGradAttrs extends NamedAttrMap {
  strides: number | [number, number];
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode: 'floor' | 'round' | 'ceil';
}

/** Forward conv info for an NHWC input, as the stock gradient ops compute it. */
function convInfoOf(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  attrs: ConvGradAttrs,
): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape, filterShape, attrs.strides, 1, attrs.pad as never, attrs.dimRoundingMode, false, 'channelsLast');
}

const toNHWC = [0, 2, 3, 1];
const toNCHW = [0, 3, 1, 2];

/** Kernel function for wasm `Conv2DBackpropFilter` (absent from the stock backend). */
export const conv2DBackpropFilterKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackend;
  const a = attrs as ConvGradAttrs & { filterShape: [number, number, number, number] };
  let { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const nchw = a.dataFormat === 'NCHW';
  if (nchw) {
    x = transpose(be, x, toNHWC);
    dy = transpose(be, dy, toNHWC);
  }
  const [KH, KW, Ci, Co] = a.filterShape;
  const info = convInfoOf(x.shape as [number, number, number, number], a.filterShape, a);
  const { inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const pt = info.padInfo.top;
  const pl = info.padInfo.left;
  const pb = Math.max(0, (OH - 1) * sh + KH - H - pt);
  const pr = Math.max(0, (OW - 1) * sw + KW - W - pl);
  const xT = transpose(be, x, [3, 1, 2, 0]); // [Ci,H,W,B]
  const dyT = transpose(be, dy, [1, 2, 0, 3]); // [OH,OW,B,Co]
  if (nchw) free(be, x, dy);
  const r = call(be, 'Conv2D', { x: xT, filter: dyT }, {
    strides: [1, 1], pad: [[0, 0], [pt, pb], [pl, pr], [0, 0]], dataFormat: 'NHWC',
    dilations: [sh, sw], dimRoundingMode: 'floor',
  }); // [Ci, >=KH, >=KW, Co]
  free(be, xT, dyT);
  let s = r;
  if (r.shape[1] !== KH || r.shape[2] !== KW) {
    s = call(be, 'Slice', { x: r }, { begin: [0, 0, 0, 0], size: [Ci, KH, KW, Co] });
    free(be, r);
  }
  const out = transpose(be, s, [1, 2, 0, 3]);
  free(be, s);
  return out;
};

/** Per-axis geometry of one phase of the transposed convolution. */
interface Phase {
  /** Number of filter taps in this phase (ceil((K - r) / s)). */
  taps: number;
  /** Explicit conv padding before/after along this axis. */
  padBefore: number;
  padAfter: number;
  /** Output positions i of dx in this phase, and the conv output row feeding each. */
  dst: number[];
  src: number[];
}

/** Phase geometry along one axis: dx length L, dy length O, filter K, stride s, forward pad before p. */
function phases(L: number, O: number, K: number, s: number, p: number): Phase[] {
  const res: Phase[] = [];
  for (let r = 0; r < s; r++) {
    const taps = r < K ? Math.ceil((K - r) / s) : 0;
    const dst: number[] = [];
    const qs: number[] = [];
    for (let i = 0; i < L; i++) {
      const v = i + p;
      if (((v % s) + s) % s === r) { dst.push(i); qs.push(Math.floor(v / s)); }
    }
    if (taps === 0 || dst.length === 0) {
      res.push({ taps, padBefore: 0, padAfter: 0, dst, src: [] });
      continue;
    }
    const q0 = qs[0]!;
    const q1 = qs[qs.length - 1]!;
    const padBefore = Math.max(0, taps - 1 - q0);
    const padAfter = Math.max(0, q1 + 1 - O);
    // conv output t covers q = t + taps - 1 - padBefore
    const src = qs.map((q) => q - (taps - 1) + padBefore);
    res.push({ taps, padBefore, padAfter, dst, src });
  }
  return res;
}

/** Kernel function replacing wasm `Conv2DBackpropInput`. */
export const conv2DBackpropInputKernel: KernelFunc = ({ inputs, backend, attrs }) => {
  const be = backend as unknown as WasmBackend;
  const a = attrs as ConvGradAttrs & { inputShape: [number, number, number, number] };
  let { dy } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { filter } = inputs as { filter: TensorInfo };
  const nchw = a.dataFormat === 'NCHW';
  const inShape: [number, number, number, number] = nchw
    ? [a.inputShape[0], a.inputShape[2], a.inputShape[3], a.inputShape[1]]
    : a.inputShape;
  if (nchw) dy = transpose(be, dy, toNHWC);
  const [KH, KW, Ci, Co] = filter.shape as [number, number, number, number];
  const info = convInfoOf(inShape, [KH, KW, Ci, Co], a);
  const { batchSize: B, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, strideHeight: sh, strideWidth: sw } = info;
  const ph = phases(H, OH, KH, sh, info.padInfo.top);
  const pw = phases(W, OW, KW, sw, info.padInfo.left);
  // Filter with in/out channels swapped: [KH,KW,Co,Ci], so each tap is a contiguous Co*Ci block.
  const fSwap = transpose(be, filter, [0, 1, 3, 2]);
  const blk = Co * Ci;
  const out = be.makeOutput([B, H, W, Ci], 'float32');
  // A phase with no filter taps (K < stride) contributes zeros.
  const needZero = ph.some((p) => p.taps === 0 && p.dst.length > 0) || pw.some((p) => p.taps === 0 && p.dst.length > 0);
  if (needZero) be.wasm.HEAPF32.fill(0, f32Offset(be, out), f32Offset(be, out) + B * H * W * Ci);
  for (let rh = 0; rh < sh; rh++) {
    for (let rw = 0; rw < sw; rw++) {
      const PH = ph[rh]!;
      const PW = pw[rw]!;
      if (PH.dst.length === 0 || PW.dst.length === 0) continue;
      if (PH.taps === 0 || PW.taps === 0) continue;
      const Mh = PH.taps;
      const Mw = PW.taps;
      // Sub-filter [Mh,Mw,Co,Ci]: taps rh + (Mh-1-m)*sh, flipped.
      const sub = be.makeOutput([Mh, Mw, Co, Ci], 'float32');
      {
        const heap = be.wasm.HEAPF32;
        const fo = f32Offset(be, fSwap);
        const so = f32Offset(be, sub);
        for (let m = 0; m < Mh; m++) {
          const kh = rh + (Mh - 1 - m) * sh;
          for (let n = 0; n < Mw; n++) {
            const kw = rw + (Mw - 1 - n) * sw;
            const from = fo + (kh * KW + kw) * blk;
            heap.copyWithin(so + (m * Mw + n) * blk, from, from + blk);
          }
        }
      }
      const z = call(be, 'Conv2D', { x: dy, filter: sub }, {
        strides: [1, 1], pad: [[0, 0], [PH.padBefore, PH.padAfter], [PW.padBefore, PW.padAfter], [0, 0]],
        dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: 'floor',
      });
      free(be, sub);
      const [, ZH, ZW] = z.shape as [number, number, number, number];
      if (sh === 1 && sw === 1 && ZH === H && ZW === W && PH.src[0] === 0 && PW.src[0] === 0) {
        free(be, out, fSwap);
        if (nchw) { const t = transpose(be, z, toNCHW); free(be, z, dy); return t; }
        return z;
      }
      const heap = be.wasm.HEAPF32;
      const zo = f32Offset(be, z);
      const oo = f32Offset(be, out);
      for (let b = 0; b < B; b++) {
        for (let ii = 0; ii < PH.dst.length; ii++) {
          const oRow = oo + ((b * H + PH.dst[ii]!) * W) * Ci;
          const zRow = zo + ((b * ZH + PH.src[ii]!) * ZW) * Ci;
          for (let jj = 0; jj < PW.dst.length; jj++) {
            const from = zRow + PW.src[jj]! * Ci;
            if (Ci === 1) heap[oRow + PW.dst[jj]!] = heap[from]!;
            else heap.copyWithin(oRow + PW.dst[jj]! * Ci, from, from + Ci);
          }
        }
      }
      free(be, z);
    }
  }
  free(be, fSwap);
  if (nchw) {
    const t = transpose(be, out, toNCHW);
    free(be, out, dy);
    return t;
  }
  return out;
};
