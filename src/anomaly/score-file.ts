/**
 * What `ganpool score` writes: the scores as JSON lines (one per image, in
 * index order, the fields of ScoreRow) and the grid of the most anomalous
 * images beside their reconstructions.
 */
import { writeFileAtomic } from '../util/atomic.js';
import { gridPng } from '../generator/grid.js';
import type { ScoreReport, ScoreRow } from './score.js';

/** The fields of every line, in order. */
export const SCORE_FIELDS = ['index', 'label', 'dLogit', 'dScore', 'pixel', 'feature', 'recon', 'combined'] as const satisfies readonly (keyof ScoreRow)[];

/** The rows as JSON lines, the fields in {@link SCORE_FIELDS} order. */
export function scoreLines(rows: readonly ScoreRow[]): string {
  return rows.map((r) => JSON.stringify(Object.fromEntries(SCORE_FIELDS.map((f) => [f, r[f]]))) + '\n').join('');
}

/** Writes the rows to `path` atomically (temp file, then rename). */
export async function writeScores(path: string, rows: readonly ScoreRow[]): Promise<void> {
  await writeFileAtomic(path, scoreLines(rows));
}

/** Image/reconstruction pairs per grid row. */
export const TOP_PAIRS_PER_ROW = 4;

/** The indices (rows of `report.rows`) of the `k` highest combined scores, highest first (ties: lower index first). */
export function topRows(report: ScoreReport, k: number): number[] {
  return report.rows.map((_, i) => i).sort((a, b) => report.rows[b].combined - report.rows[a].combined || a - b).slice(0, k);
}

/**
 * A PNG of the `k` most anomalous images (highest `combined`), each followed by
 * its reconstruction G(z*): {@link TOP_PAIRS_PER_ROW} pairs per row, most
 * anomalous first, read left to right (columns alternate image, reconstruction).
 */
export async function topGrid(report: ScoreReport, k: number): Promise<Buffer> {
  const [h, w, c] = report.imageShape;
  const P = h * w * c;
  const picked = topRows(report, k);
  const cells = new Float32Array(picked.length * 2 * P);
  picked.forEach((i, j) => {
    cells.set(report.images.subarray(i * P, (i + 1) * P), 2 * j * P);
    cells.set(report.reconstructions.subarray(i * P, (i + 1) * P), (2 * j + 1) * P);
  });
  return gridPng(cells, report.imageShape, { cols: 2 * Math.min(TOP_PAIRS_PER_ROW, Math.max(picked.length, 1)), pad: 2 });
}
