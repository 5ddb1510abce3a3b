/**
 * The static report: the page of `ganpool view` with a run's (or a folder
 * of runs') data embedded, grids inlined as data: URLs and the chart code
 * inline, so the one HTML file opens anywhere without a server or a network.
 * `ganpool view OUT --export FILE` writes it; a run writes OUT/report.html
 * at its end.
 */
import { basename } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { viewNoRuns } from '../errors.js';
import { findRuns, readMetrics, runFacts, runSamples, viewedFolder, type RunEntry, type RunFacts, type SampleGrid } from './run-folder.js';
import { pageHtml } from './page.js';
import { readInside, VIEW_READ_LIMITS } from './safe-path.js';

/** Limits that keep a report small for long runs. */
export interface ReportLimits {
  /** Most sample grids per run (spread evenly, the first and the last always in). Default 24. */
  maxGrids?: number;
  /** Most step lines per run; above it every k-th step is kept (and the last). Evaluation lines are all kept. Default 5000. */
  maxSteps?: number;
}

/** A run as a report embeds it. */
export interface ReportRun {
  id: string;
  name: string;
  facts: RunFacts;
  /** Metrics lines, reduced to the fields the page draws. */
  lines: unknown[];
  /** The grids kept, each with its PNG as a data: URL. */
  grids: (SampleGrid & { src: string })[];
  /** What was left out to keep the report small, if anything. */
  note: string;
}

/** The data a report embeds (`window.GANPOOL_REPORT`). */
export interface ReportData {
  root: string;
  /** When it was written (ISO 8601). */
  writtenAt: string;
  runs: ReportRun[];
}

/** The fields of a step line the page uses. */
const STEP_FIELDS = ['step', 'dLoss', 'gLoss', 'ms', 'samplesPerSec', 'outsideMs', 'adamMs', 'reloadMs', 'skipped'] as const;

/** A metrics line with only what the page draws. */
function slim(line: Record<string, unknown>): Record<string, unknown> {
  const ev = line.eval as Record<string, unknown> | undefined;
  if (ev && typeof ev === 'object') {
    const agreement = ev.classAgreement as { mean?: unknown } | undefined;
    return {
      step: line.step,
      eval: { fcd: ev.fcd, classifierScore: ev.classifierScore, classesCovered: ev.classesCovered, ...(agreement ? { classAgreement: { mean: agreement.mean } } : {}) },
    };
  }
  return Object.fromEntries(STEP_FIELDS.filter((k) => line[k] !== undefined).map((k) => [k, line[k]]));
}

/** Every complete metrics line of a run, slimmed as it is read, and how many lines were skipped as too long. */
function allMetrics(run: RunEntry): { lines: Record<string, unknown>[]; long: number } {
  const lines: Record<string, unknown>[] = [];
  let long = 0;
  for (let offset = 0; ;) {
    const chunk = readMetrics(run, offset);
    for (const line of chunk.lines) lines.push(slim(line as Record<string, unknown>));
    long += chunk.long;
    if (!chunk.more) return { lines, long };
    offset = chunk.offset;
  }
}

/** Indices of `keep` items spread evenly over `n`, the first and the last included. */
function spread(n: number, keep: number): number[] {
  if (n <= keep) return Array.from({ length: n }, (_, i) => i);
  if (keep <= 1) return [n - 1];
  return [...new Set(Array.from({ length: keep }, (_, i) => Math.round((i * (n - 1)) / (keep - 1))))];
}

/** One run's report data. */
function reportRun(run: RunEntry, limits: Required<ReportLimits>): ReportRun {
  const { lines, long } = allMetrics(run);
  const samples = runSamples(run);
  const picked = spread(samples.grids.length, limits.maxGrids).map((i) => samples.grids[i]);
  const stepLines = lines.filter((l) => l.eval === undefined);
  const stride = Math.ceil(stepLines.length / limits.maxSteps);
  const kept = stride <= 1 ? lines : lines.filter((l) => l.eval !== undefined || (l.step as number) % stride === 0 || l === stepLines[stepLines.length - 1]);
  const grids = picked.flatMap((g) => {
    const png = readInside(run.dir, g.file.split('/'), VIEW_READ_LIMITS.png);
    return 'refused' in png ? [] : [{ ...g, src: `data:image/png;base64,${png.data.toString('base64')}` }];
  });
  const notes: string[] = [];
  if (stride > 1) notes.push(`every ${stride}th of ${stepLines.length} steps drawn`);
  if (picked.length < samples.grids.length) notes.push(`${picked.length} of ${samples.grids.length} sample grids kept`);
  if (grids.length < picked.length) notes.push(`${picked.length - grids.length} sample grids not read (not a regular file inside the run, or over ${VIEW_READ_LIMITS.png} bytes)`);
  if (long > 0) notes.push(`${long} metrics lines over ${VIEW_READ_LIMITS.metricsLine} bytes skipped`);
  return {
    id: run.id, name: run.name, facts: runFacts(run),
    lines: kept,
    grids,
    note: notes.join('; '),
  };
}

/**
 * The report of the run in `dir` (or of the runs in its subfolders) as one
 * self-contained HTML document. A missing folder, or one without runs, is a usage error.
 */
export function buildReport(dir: string, limits: ReportLimits = {}): string {
  const root = viewedFolder(dir);
  const runs = findRuns(root);
  if (runs.length === 0) throw viewNoRuns(dir);
  const all = { maxGrids: limits.maxGrids ?? 24, maxSteps: limits.maxSteps ?? 5000 };
  const data: ReportData = { root: basename(root) || root, writtenAt: new Date().toISOString(), runs: runs.map((r) => reportRun(r, all)) };
  return pageHtml(data.root, data);
}

/** Writes {@link buildReport}'s document to `file`, atomically. */
export async function writeReport(dir: string, file: string, limits?: ReportLimits): Promise<void> {
  await writeFileAtomic(file, buildReport(dir, limits));
}
