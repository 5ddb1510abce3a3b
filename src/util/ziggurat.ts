/**
 * Standard normal numbers by Marsaglia and Tsang's ziggurat (2000), 128
 * layers: most draws cost one 32-bit integer, a table look-up and a multiply,
 * without the logarithm and trigonometry of Box–Muller. The caller supplies
 * the 32-bit integers (a keyed sfc32 stream), so a draw stays a pure function
 * of its key. Used for the semi-supervised D's Gaussian noise, millions of
 * values per step (src/data/label-split.ts).
 */
import { hashInts } from './noise.js';

const LAYERS = 128;
/** x of the base layer's right edge. */
const R = 3.442619855899;
/** The area of each layer. */
const V = 9.91256303526217e-3;
const M1 = 2147483648;


const kn = new Int32Array(LAYERS);
const wn = new Float64Array(LAYERS);
const fn = new Float64Array(LAYERS);
{
  let dn = R, tn = dn;
  const q = V / Math.exp(-0.5 * dn * dn);
  kn[0] = Math.floor((dn / q) * M1);
  kn[1] = 0;
  wn[0] = q / M1;
  wn[LAYERS - 1] = dn / M1;
  fn[0] = 1;
  fn[LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(V / dn + Math.exp(-0.5 * dn * dn)));
    kn[i + 1] = Math.floor((dn / tn) * M1);
    tn = dn;
    fn[i] = Math.exp(-0.5 * dn * dn);
    wn[i] = dn / M1;
  }
}

/** A source of 32-bit integers (any sign) and of uniforms in (0, 1]. */
export interface IntSource {
  int32(): number;
  uniform(): number;
}

/** One standard normal from `src`. */
export function zigguratNormal(src: IntSource): number {
  const hz = src.int32() | 0;
  const iz = hz & (LAYERS - 1);
  if (Math.abs(hz) < kn[iz]) return hz * wn[iz];
  return zigguratSlow(hz, src);
}

/** The rest of a draw whose first integer `hz` missed the fast path (the wedges and the tail). */
function zigguratSlow(first: number, src: IntSource): number {
  let hz = first;
  let iz = hz & (LAYERS - 1);
  for (;;) {
    const x = hz * wn[iz];
    if (iz === 0) {
      // The tail beyond R: Marsaglia's exponential rejection.
      let t: number, y: number;
      do {
        t = -Math.log(src.uniform()) / R;
        y = -Math.log(src.uniform());
      } while (y + y < t * t);
      return hz > 0 ? R + t : -R - t;
    }
    if (fn[iz] + src.uniform() * (fn[iz - 1] - fn[iz]) < Math.exp(-0.5 * x * x)) return x;
    hz = src.int32() | 0;
    iz = hz & (LAYERS - 1);
    if (Math.abs(hz) < kn[iz]) return hz * wn[iz];
  }
}

/**
 * Fills `out[offset .. offset+count)` with {@link zigguratNormal} draws from
 * the sfc32 stream of `key` (sfc32(key) of src/util/noise.ts: int32 = its
 * next 32-bit output, uniform = 1 − its next uniform). The same numbers as
 * that closure-based path, bit for bit, with the generator's state in local
 * variables: the semi-supervised D draws about two million per step.
 */
export function fillZigguratNormals(out: Float32Array, offset: number, count: number, key: number): void {
  let a = hashInts(key, 1), b = hashInts(key, 2), c = hashInts(key, 3), d = 1;
  let t = 0;
  for (let i = 0; i < 12; i++) {
    t = (((a + b) | 0) + d) | 0; d = (d + 1) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11); c = (c + t) | 0;
  }
  const src: IntSource = {
    int32(): number {
      t = (((a + b) | 0) + d) | 0; d = (d + 1) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11); c = (c + t) | 0;
      return t;
    },
    uniform(): number {
      t = (((a + b) | 0) + d) | 0; d = (d + 1) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11); c = (c + t) | 0;
      return 1 - (t >>> 0) / 4294967296;
    },
  };
  const end = offset + count;
  for (let j = offset; j < end; j++) {
    // The fast path of zigguratNormal inline; the rare rest goes through it.
    t = (((a + b) | 0) + d) | 0; d = (d + 1) | 0; a = b ^ (b >>> 9); b = (c + (c << 3)) | 0; c = (c << 21) | (c >>> 11); c = (c + t) | 0;
    const iz = t & (LAYERS - 1);
    if (Math.abs(t) < kn[iz]) { out[j] = t * wn[iz]; continue; }
    out[j] = zigguratSlow(t, src);
  }
}
