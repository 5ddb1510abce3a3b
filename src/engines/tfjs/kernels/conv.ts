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
import { call, f32Offset, free, reshape, transpose, type WasmBackend } from './wasm.js';

/**
 * Below this many input channels the conv formulations degenerate (a GEMM
 * with 1-2 columns, or a huge filter with 16 output pixels), so an explicit
 * im2col/col2im around one wide non-transposed matmul is used instead.
 */
const SMALL_CI = 8;

/** Geometry shared by the im2col helpers (NHWC, dilation 1). */
interface Geo { B: number; H: number; W: number; Ci: number; OH: number; OW: number; KH: number; KW: number; sh: number; sw: number; pt: number; pl: number }

/** patchesᵀ[(kh,kw,ci), (b,oh,ow)] of x (zeros outside), a [KH*KW*Ci, B*OH*OW] tensor. */
function im2colT(be: WasmBackend, x: TensorInfo, g: Geo): TensorInfo {
  const P = g.B * g.OH * g.OW;
  const out = be.makeOutput([g.KH * g.KW * g.Ci, P], 'float32');
  const heap = be.wasm.HEAPF32;
  const xo = f32Offset(be, x);
  const oo = f32Offset(be, out);
  for (let kh = 0; kh < g.KH; kh++) {
    for (let kw = 0; kw < g.KW; kw++) {
      for (let c = 0; c < g.Ci; c++) {
        let o = oo + ((kh * g.KW + kw) * g.Ci + c) * P;
        for (let b = 0; b < g.B; b++) {
          for (let oh = 0; oh < g.OH; oh++) {
            const ih = oh * g.sh + kh - g.pt;
            if (ih < 0 || ih >= g.H) { heap.fill(0, o, o + g.OW); o += g.OW; continue; }
            const rowBase = xo + ((b * g.H + ih) * g.W) * g.Ci + c;
            for (let ow = 0; ow < g.OW; ow++) {
              const iw = ow * g.sw + kw - g.pl;
              heap[o++] = iw < 0 || iw >= g.W ? 0 : heap[rowBase + iw * g.Ci];
            }
          }
        }
      }
    }
  }
  return out;
}

/** dx = col2im(cols): scatter-adds [B*OH*OW, KH*KW*Ci] columns into a zeroed [B,H,W,Ci]. */
function col2im(be: WasmBackend, cols: TensorInfo, g: Geo): TensorInfo {
  const out = be.makeOutput([g.B, g.H, g.W, g.Ci], 'float32');
  const heap = be.wasm.HEAPF32;
  const oo = f32Offset(be, out);
  heap.fill(0, oo, oo + g.B * g.H * g.W * g.Ci);
  let c0 = f32Offset(be, cols);
  for (let b = 0; b < g.B; b++) {
    for (let oh = 0; oh < g.OH; oh++) {
      for (let ow = 0; ow < g.OW; ow++) {
        for (let kh = 0; kh < g.KH; kh++) {
          const ih = oh * g.sh + kh - g.pt;
          if (ih < 0 || ih >= g.H) { c0 += g.KW * g.Ci; continue; }
          const rowBase = oo + ((b * g.H + ih) * g.W) * g.Ci;
          for (let kw = 0; kw < g.KW; kw++) {
            const iw = ow * g.sw + kw - g.pl;
            if (iw >= 0 && iw < g.W) {
              const dst = rowBase + iw * g.Ci;
              for (let c = 0; c < g.Ci; c++) heap[dst + c] += heap[c0 + c];
            }
            c0 += g.Ci;
          }
        }
      }
    }
  }
  return out;
}

/** Plain non-transposed 2-D matmul through the stock fast path. */
function mm(be: WasmBackend, a: TensorInfo, b: TensorInfo): TensorInfo {
  return call(be, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

/** Geo of a conv info. */
function geoOf(info: backend_util.Conv2DInfo): Geo {
  return {
    B: info.batchSize, H: info.inHeight, W: info.inWidth, Ci: info.inChannels, OH: info.outHeight, OW: info.outWidth,
    KH: info.filterHeight, KW: info.filterWidth, sh: info.strideHeight, sw: info.strideWidth,
    pt: info.padInfo.top, pl: info.padInfo.left,
  };
}

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
    xShape, filterShape, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode, false, 'channelsLast');
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
  if (Ci < SMALL_CI) {
    // dW [KH*KW*Ci, Co] = patchesᵀ [KH*KW*Ci, P] · dy [P, Co]; patchesᵀ is built directly.
    const g = geoOf(info);
    const P = g.B * OH * OW;
    const dy2 = reshape(be, dy, [P, Co]);
    const patchesT = im2colT(be, x, g);
    if (nchw) free(be, x);
    const dw = mm(be, patchesT, dy2);
    free(be, patchesT, dy2);
    if (nchw) free(be, dy);
    const r = reshape(be, dw, [KH, KW, Ci, Co]);
    free(be, dw);
    return r;
  }
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
    const q0 = qs[0];
    const q1 = qs[qs.length - 1];
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
  if (Ci < SMALL_CI) {
    // cols [P, KH*KW*Ci] = dy [P, Co] · Wᵀ [Co, KH*KW*Ci], then col2im.
    const g = geoOf(info);
    const P = B * OH * OW;
    const f2 = reshape(be, filter, [KH * KW * Ci, Co]);
    const fT = transpose(be, f2, [1, 0]);
    const dy2 = reshape(be, dy, [P, Co]);
    const cols = mm(be, dy2, fT);
    free(be, f2, fT, dy2);
    const dx = col2im(be, cols, g);
    free(be, cols);
    if (nchw) { const t = transpose(be, dx, toNCHW); free(be, dx, dy); return t; }
    return dx;
  }
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
      const PH = ph[rh];
      const PW = pw[rw];
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
          const oRow = oo + ((b * H + PH.dst[ii]) * W) * Ci;
          const zRow = zo + ((b * ZH + PH.src[ii]) * ZW) * Ci;
          for (let jj = 0; jj < PW.dst.length; jj++) {
            const from = zRow + PW.src[jj] * Ci;
            if (Ci === 1) heap[oRow + PW.dst[jj]] = heap[from]!;
            else heap.copyWithin(oRow + PW.dst[jj] * Ci, from, from + Ci);
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
