import test from 'ava';
import { auroc } from '../src/metrics/auroc.js';

/** The definition itself: the share of (positive, negative) pairs the positive wins, ties ½. */
function pairwise(scores: number[], positive: boolean[]): number {
  let wins = 0, pairs = 0;
  scores.forEach((s, i) => {
    if (!positive[i]) return;
    scores.forEach((t, j) => { if (!positive[j]) { pairs++; wins += s > t ? 1 : s === t ? 0.5 : 0; } });
  });
  return wins / pairs;
}

test('auroc: perfect, reversed and all-tied rankings give 1, 0 and ½', (t) => {
  const labels = [false, false, true, true];
  t.is(auroc([0.1, 0.2, 0.3, 0.4], labels), 1);
  t.is(auroc([0.4, 0.3, 0.2, 0.1], labels), 0);
  t.is(auroc([5, 5, 5, 5], labels), 0.5);
});

test('auroc equals the pairwise definition on random scores with many ties', (t) => {
  let s = 12345;
  const rnd = (): number => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31; };
  for (let trial = 0; trial < 20; trial++) {
    const n = 30 + trial * 7;
    const scores = Array.from({ length: n }, () => Math.round(rnd() * 10) / 10); // ~11 distinct values: ties everywhere
    const positive = Array.from({ length: n }, (_, i) => i % 3 === 0 || rnd() < 0.2);
    t.true(Math.abs(auroc(scores, positive) - pairwise(scores, positive)) < 1e-12);
  }
});

test('auroc is NaN when a class is missing and refuses mismatched lengths', (t) => {
  t.true(Number.isNaN(auroc([1, 2], [true, true])));
  t.throws(() => auroc([1, 2, 3], [true, false]), { message: /3 scores but 2 labels/ });
});
