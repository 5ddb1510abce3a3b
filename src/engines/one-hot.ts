/**
 * One-hot label rows, the form both engines feed a projection layer's labels
 * in (a float [n, classes] matrix: Y·E picks each row's class embedding, and
 * its gradient Yᵀ·g is plain matrix algebra on every backend).
 */

/**
 * `labels` as a row-major [labels.length, classes] one-hot matrix. Throws an
 * internal error on a label outside [0, classes) (data labels are checked
 * where they are read; one out of range here is a ganpool bug).
 */
export function oneHotRows(labels: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i];
    if (!(y >= 0 && y < classes)) throw new Error(`internal: label ${y} of row ${i} is outside [0, ${classes})`);
    out[i * classes + y] = 1;
  }
  return out;
}

/**
 * A phase's labels for `count` rows of a preset with `classes` classes: null
 * for an unconditional preset; else the labels, which must be there with one
 * per row (an internal error otherwise).
 */
export function phaseLabels(labels: Int32Array | null, count: number, classes: number, what: string): Int32Array | null {
  if (classes === 0) return null;
  if (!labels || labels.length !== count) {
    throw new Error(`internal: a conditional preset's ${what} needs ${count} labels, got ${labels ? labels.length : 'none'}`);
  }
  return labels;
}
