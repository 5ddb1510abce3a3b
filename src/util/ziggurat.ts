/**
 * Standard normal numbers by Marsaglia and Tsang's ziggurat (2000), 128
 * layers: most draws cost one 32-bit integer, a table look-up and a multiply,
 * without the logarithm and trigonometry of Box–Muller. The caller supplies
 * the 32-bit integers (a keyed sfc32 stream), so a draw stays a pure function
 * of its key. Used for the semi-supervised D's Gaussian noise, millions of
 * values per step (src/data/label-split.ts).
 */

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
  let hz = src.int32() | 0;
  let iz = hz & (LAYERS - 1);
  if (Math.abs(hz) < kn[iz]) return hz * wn[iz];
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
