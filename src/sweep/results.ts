/**
 * A sweep's results, read from its run folders: one row per run (its
 * settings, final FCD, classifier score, classes covered, samples/s and wall
 * time), DIR/results.csv, the terminal table and, per configuration, the
 * mean ± sd over its seeds.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { METRICS_FILE, SUMMARY_FILE } from '../run/layout.js';
import type { TrainSummary } from '../training/trainer.js';
import { RESULTS_FILE, runDir, runState, type SweepFile, type SweepRun } from './plan.js';

/** One run's row. Numbers are null where the run has none (not finished, or not evaluated). */
export interface SweepRow {
  run: SweepRun;
  status: 'finished' | 'unfinished' | 'not started';
  steps: number | null;
  fcd: number | null;
  classifierScore: number | null;
  classesCovered: number | null;
  classes: number | null;
  samplesPerSec: number | null;
  wallSeconds: number | null;
}

/** The numeric columns, their CSV names and how the table prints them. */
const METRICS: { key: keyof SweepRow; csv: string; title: string; digits: number }[] = [
  { key: 'fcd', csv: 'fcd', title: 'FCD', digits: 2 },
  { key: 'classifierScore', csv: 'classifier_score', title: 'cls score', digits: 2 },
  { key: 'classesCovered', csv: 'classes_covered', title: 'classes', digits: 1 },
  { key: 'samplesPerSec', csv: 'samples_per_s', title: 'samples/s', digits: 0 },
  { key: 'wallSeconds', csv: 'wall_s', title: 'wall s', digits: 1 },
];

/** The rows of every run of the sweep, in sweep order. */
export function sweepRows(dir: string, sweep: SweepFile): SweepRow[] {
  return sweep.runs.map((run) => {
    const state = runState(dir, run);
    let s: TrainSummary | null = null;
    try {
      s = JSON.parse(readFileSync(join(runDir(dir, run), SUMMARY_FILE), 'utf8')) as TrainSummary;
    } catch {
      // no summary
    }
    const finished = state === 'finished' && s !== null;
    const e = finished ? s?.eval ?? null : null;
    return {
      run,
      status: finished ? 'finished' : state === 'new' ? 'not started' : 'unfinished',
      steps: finished ? s!.steps : state === 'new' ? null : stepsOnDisk(dir, run),
      fcd: e?.fcd ?? null,
      classifierScore: e?.classifierScore ?? null,
      classesCovered: e?.classesCovered ?? null,
      classes: e ? e.histogram.length : null,
      samplesPerSec: finished ? s!.samplesPerSec : null,
      wallSeconds: finished ? s!.wallSeconds : null,
    };
  });
}

/** The last step a run logged (the last line of its metrics.jsonl), 0 when none. */
export function stepsOnDisk(dir: string, run: SweepRun): number {
  const file = join(runDir(dir, run), METRICS_FILE);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return 0;
  }
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 8192);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        const step = (JSON.parse(lines[i]) as { step?: unknown }).step;
        if (typeof step === 'number') return step;
      } catch {
        // a torn or partial line
      }
    }
    return 0;
  } finally {
    closeSync(fd);
  }
}

/** The setting columns: every key that tells runs apart, in SPEC order, seed last. */
function settingKeys(sweep: SweepFile): string[] {
  const keys: string[] = [];
  for (const run of sweep.runs) for (const k of Object.keys(run.settings)) if (k !== 'seed' && !keys.includes(k)) keys.push(k);
  return [...keys, 'seed'];
}

function csvCell(v: string | number | boolean | null | undefined): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** DIR/results.csv's text: one row per run. */
export function resultsCsv(sweep: SweepFile, rows: SweepRow[]): string {
  const keys = settingKeys(sweep);
  const header = ['name', 'configuration', ...keys, 'status', 'steps', ...METRICS.map((m) => m.csv)];
  const lines = rows.map((r) => [r.run.name, r.run.group, ...keys.map((k) => r.run.settings[k]), r.status, r.steps, ...METRICS.map((m) => r[m.key] as number | null)].map(csvCell).join(','));
  return [header.join(','), ...lines].join('\n') + '\n';
}

/** Writes DIR/results.csv (atomically); resolves to its path. */
export async function writeResults(dir: string, sweep: SweepFile, rows: SweepRow[]): Promise<string> {
  const file = join(dir, RESULTS_FILE);
  await writeFileAtomic(file, resultsCsv(sweep, rows));
  return file;
}

function fmt(v: number | null, digits: number): string {
  return v === null ? '—' : v.toFixed(digits);
}

function table(header: string[], body: string[][], numericFrom: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= numericFrom ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

/** The terminal table: one row per run, in sweep order. */
export function runsTable(sweep: SweepFile, rows: SweepRow[]): string {
  const keys = settingKeys(sweep);
  const header = [...keys, 'status', 'steps', ...METRICS.map((m) => m.title)];
  const body = rows.map((r) => [
    ...keys.map((k) => String(r.run.settings[k] ?? '')), r.status, r.steps === null ? '—' : String(r.steps),
    ...METRICS.map((m) => (m.key === 'classesCovered' && r.classesCovered !== null ? `${r.classesCovered}/${r.classes}` : fmt(r[m.key] as number | null, m.digits))),
  ]);
  return table(header, body, keys.length + 1);
}

/** Mean and sample standard deviation (null sd for one value); null when there are none. */
export function meanSd(values: number[]): { mean: number; sd: number | null } | null {
  if (values.length === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  if (values.length === 1) return { mean, sd: null };
  const v = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1);
  return { mean, sd: Math.sqrt(v) };
}

/** Per configuration: the mean ± sd over its seeds' finished runs, best FCD first. */
export function summaryTable(sweep: SweepFile, rows: SweepRow[]): string {
  const keys = settingKeys(sweep).filter((k) => k !== 'seed');
  const groups = new Map<string, SweepRow[]>();
  for (const r of rows) groups.set(r.run.group, [...(groups.get(r.run.group) ?? []), r]);
  const stats = [...groups.values()].map((g) => {
    const done = g.filter((r) => r.status === 'finished');
    return { first: g[0], seeds: `${done.length}/${g.length}`, m: METRICS.map((m) => meanSd(done.flatMap((r) => (r[m.key] === null ? [] : [r[m.key] as number])))) };
  });
  const fcdOf = (s: (typeof stats)[number]): number => s.m[0]?.mean ?? Infinity;
  stats.sort((a, b) => fcdOf(a) - fcdOf(b));
  const header = [...keys, 'seeds', ...METRICS.map((m) => m.title)];
  const body = stats.map((s) => [
    ...keys.map((k) => String(s.first.run.settings[k] ?? '')), s.seeds,
    ...s.m.map((ms, i) => (ms === null ? '—' : ms.sd === null ? fmt(ms.mean, METRICS[i].digits) : `${fmt(ms.mean, METRICS[i].digits)} ± ${fmt(ms.sd, METRICS[i].digits)}`)),
  ]);
  return table(header, body, keys.length);
}
