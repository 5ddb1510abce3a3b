/**
 * The results of `ganpool bench` as a report: an aligned markdown table for
 * the terminal, and the files DIR/bench.json, DIR/bench.md and
 * DIR/scaling.png (speedup vs workers with the ideal line).
 */
import type { BackendName } from '../engines/backend.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { describeMachine, type MachineFacts } from '../run/machine.js';
import { speedupPlotSvg, writePlotPng } from './plot.js';
import type { PoolLifetime, ScalingRow } from './bench.js';

/** The options a sweep ran with, as recorded in bench.json. */
export interface BenchSettings {
  models: string[];
  workers: number[];
  batchSizes: number[];
  steps: number;
  rounds: number;
  warmup: number;
  backend: BackendName;
  /** Which pools were alive at once (see PoolLifetime in bench.ts). */
  pools: PoolLifetime;
  out: string;
}

/** Everything bench.json holds. */
export interface BenchReport {
  /** ISO date and time the sweep finished. */
  date: string;
  /** The command line that reproduces the sweep. */
  command: string;
  options: BenchSettings;
  machine: MachineFacts;
  /** Remarks about how to read the rows (oversubscription, reference rows). */
  notes: string[];
  rows: ScalingRow[];
}

/** scaling.png is rendered at this multiple of the plot's 800×500 SVG size. */
export const SCALING_PLOT_SCALE = 1.5;
/** Pixel size of scaling.png. */
export const SCALING_PLOT_SIZE = { width: 800 * SCALING_PLOT_SCALE, height: 500 * SCALING_PLOT_SCALE };

/** The `ganpool bench …` command line for these settings. */
export function benchCommandLine(s: BenchSettings): string {
  return `ganpool bench --model ${s.models.join(',')} --workers ${s.workers.join(',')} --batch-size ${s.batchSizes.join(',')} ` +
    `--steps ${s.steps} --rounds ${s.rounds} --warmup ${s.warmup} --backend ${s.backend}` +
    ` --pools ${s.pools} --out ${s.out}`;
}

/** The notes printed under the table and stored in bench.json. */
export function benchNotes(rows: ScalingRow[], settings: BenchSettings, cores: number): string[] {
  const notes = [
    'speedup and efficiency are against 1 worker of the same model and batch size; "vs main" is against the main thread with no pool.',
    `medians over ${settings.rounds} round(s) of ${settings.steps} step(s) after ${settings.warmup} warm-up step(s); ` +
      '"noise" is half the spread of the per-round medians, relative to the median.',
  ];
  if (settings.pools === 'group') {
    notes.push('configurations took turns within each (model, batch) group; the groups ran one after another, so compare samples/s across groups with care.');
  }
  if (settings.pools === 'round') notes.push('every round opened a fresh pool per configuration and warmed it up again.');
  if (!settings.workers.includes(1)) notes.push('1 worker was measured as well, as the reference for speedup.');
  const over = [...new Set(rows.filter((r) => r.oversubscribed).map((r) => r.workers))];
  if (over.length > 0) {
    notes.push(`oversubscribed: ${over.join(', ')} worker(s) on ${cores} core(s); those workers share cores, ` +
      'so their speedup cannot follow the ideal line.');
  }
  return notes;
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** Half the spread of the per-round medians over the overall median, e.g. `±2.1%`. */
function noise(r: ScalingRow): string {
  if (r.roundMsPerStep.length < 2) return '-';
  return `±${pct((Math.max(...r.roundMsPerStep) - Math.min(...r.roundMsPerStep)) / (2 * r.msPerStep))}`;
}

/** Column titles, right-aligned flags and cell text of the table. */
const COLUMNS: [title: string, right: boolean, cell: (r: ScalingRow) => string][] = [
  ['model', false, (r) => r.model],
  ['batch', true, (r) => String(r.batchSize)],
  ['workers', true, (r) => (r.workers === 0 ? 'main' : String(r.workers))],
  ['ms/step', true, (r) => r.msPerStep.toFixed(1)],
  ['samples/s', true, (r) => r.samplesPerSec.toFixed(0)],
  ['speedup', true, (r) => `${r.speedup.toFixed(2)}×`],
  ['efficiency', true, (r) => pct(r.efficiency)],
  ['vs main', true, (r) => `${r.vsMainThread.toFixed(2)}×`],
  ['outside', true, (r) => pct(r.outsideShare)],
  ['Adam ms', true, (r) => r.adamMs.toFixed(2)],
  ['reload ms', true, (r) => r.reloadMs.toFixed(2)],
  ['overhead ms', true, (r) => r.overheadMs.toFixed(2)],
  ['noise', true, noise],
  ['note', false, (r) => (r.workers === 0 ? 'main thread, no pool' : r.oversubscribed ? 'oversubscribed' : '')],
];

/** The rows as a markdown table with padded, aligned columns (readable as plain text too). */
export function benchTable(rows: ScalingRow[]): string {
  const cells = rows.map((r) => COLUMNS.map(([, , cell]) => cell(r)));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, 3, ...cells.map((c) => c[i].length)));
  const pad = (text: string, i: number): string => (COLUMNS[i][1] ? text.padStart(widths[i]) : text.padEnd(widths[i]));
  const line = (texts: string[]): string => `| ${texts.map(pad).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (COLUMNS[i][1] ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`;
  return [line(COLUMNS.map(([title]) => title)), rule, ...cells.map(line)].join('\n');
}

/** bench.md: what ran where, the table, the notes and the plot. */
export function benchMarkdown(report: BenchReport): string {
  return [
    '# ganpool bench', '',
    `${report.date} · ${describeMachine(report.machine)} · ganpool ${report.machine.versions.ganpool}, ` +
      `tfjs-core ${report.machine.versions.tfjsCore}, tfjs-backend-wasm ${report.machine.versions.tfjsBackendWasm}, ` +
      `piscina ${report.machine.versions.piscina}, onnxruntime-node ${report.machine.versions.onnxruntimeNode ?? 'unknown'}, backend ${report.options.backend}`, '',
    '```sh', report.command, '```', '',
    benchTable(report.rows), '',
    ...report.notes.map((n) => `- ${n}`), '',
    '![speedup vs workers](scaling.png)', '',
  ].join('\n');
}

/** Writes DIR/bench.json, DIR/bench.md and DIR/scaling.png (each atomically); returns their paths. */
export async function writeBenchReport(report: BenchReport, dir: string): Promise<{ json: string; markdown: string; plot: string }> {
  await mkdir(dir, { recursive: true });
  const paths = { json: join(dir, 'bench.json'), markdown: join(dir, 'bench.md'), plot: join(dir, 'scaling.png') };
  await writeFileAtomic(paths.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFileAtomic(paths.markdown, benchMarkdown(report));
  await writePlotPng(speedupPlotSvg(report.rows.filter((r) => r.workers > 0)), paths.plot, SCALING_PLOT_SCALE);
  return paths;
}
