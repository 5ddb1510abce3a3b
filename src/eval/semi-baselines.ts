/**
 * Held-out accuracies of the real-only baseline measured by
 * `npx tsx scripts/augment-experiment.ts` (docs/experiments/augmentation.md):
 * the evaluation CNN trained on the same number of real labelled images,
 * mean ± sd over 3 seeds. A semi-supervised run prints its figure beside the
 * matching one, where there is one.
 */

/** One measured baseline, in percent. */
export interface MeasuredBaseline {
  mean: number;
  sd: number;
  /** Where it was measured. */
  source: string;
}

const SOURCE = 'docs/experiments/augmentation.md, real only';

const BASELINES: Record<string, MeasuredBaseline> = {
  'mnist:100': { mean: 86.1, sd: 3.2, source: SOURCE },
  'mnist:500': { mean: 94.5, sd: 0.1, source: SOURCE },
  'mnist:1000': { mean: 95.9, sd: 0.2, source: SOURCE },
  'fashion-mnist:1000': { mean: 80.9, sd: 0.6, source: SOURCE },
};

/** The measured real-only baseline for `labels` labelled images of `dataset`, or null. */
export function measuredBaseline(dataset: string, labels: number | 'all'): MeasuredBaseline | null {
  return BASELINES[`${dataset}:${labels}`] ?? null;
}
