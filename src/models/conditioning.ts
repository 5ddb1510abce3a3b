/**
 * A conditional generator's input rows: each row's latent vector followed by
 * the one-hot code of its class, [z, one-hot(y)] (see ModelPreset.classes).
 *
 * This module imports nothing and uses nothing of Node: the page of `ganpool
 * view` loads it in the browser (src/view/browser-modules.ts). Keep it that way.
 */

/**
 * Builds G's input, `labels.length` rows of `latentDim + classes` values,
 * from `z` (rows × latentDim) and one class per row. Throws a RangeError on a
 * class outside [0, classes) or mismatched lengths.
 */
export function conditionedInput(z: Float32Array, latentDim: number, labels: Int32Array, classes: number): Float32Array {
  const rows = labels.length, width = latentDim + classes;
  if (z.length !== rows * latentDim) throw new RangeError(`conditionedInput: ${z.length} latent values for ${rows} rows of ${latentDim}`);
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const y = labels[r];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new RangeError(`conditionedInput: class ${y} of row ${r} is outside [0, ${classes})`);
    out.set(z.subarray(r * latentDim, (r + 1) * latentDim), r * width);
    out[r * width + latentDim + y] = 1;
  }
  return out;
}

/** Columns of a sample grid (gridPng's default): a conditional run's grid has one row of this many images per class. */
export const GRID_COLUMNS = 8;

/** The grid layout of a conditional sample: `perClass` images of each of `classes` classes, class k filling row k. */
export function perClassLabels(classes: number, perClass: number): Int32Array {
  const labels = new Int32Array(classes * perClass);
  for (let k = 0; k < classes; k++) labels.fill(k, k * perClass, (k + 1) * perClass);
  return labels;
}
