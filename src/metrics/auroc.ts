/**
 * Area under the ROC curve of a score that should be higher for positives:
 * the probability that a random positive outscores a random negative, ties
 * counting one half (the Mann–Whitney U statistic over n₊·n₋).
 */

/** AUROC of `scores` for the rows where `positive` is true; NaN when either class is empty. */
export function auroc(scores: ArrayLike<number>, positive: ArrayLike<boolean>): number {
  const n = scores.length;
  if (positive.length !== n) throw new Error(`auroc: ${n} scores but ${positive.length} labels`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let pos = 0, rankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1; // ranks are 1-based; a tie shares the mean of its ranks
    for (let k = i; k <= j; k++) if (positive[order[k]]) { pos++; rankSum += midRank; }
    i = j + 1;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}
