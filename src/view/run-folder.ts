/**
 * What `ganpool view` reads from a run folder, read-only: which folders are
 * runs, each run's facts (config, summary, checkpoint manifest, generator
 * metadata), its sample grids, and the complete lines of its metrics log
 * from a byte offset on (a run still writing may leave a torn last line,
 * which is left for the next read).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { CHECKPOINT_DIR, MANIFEST } from '../run/checkpoint.js';
import { GENERATOR_DIR, GENERATOR_ONNX } from '../generator/export.js';
import { LOCK_FILE } from '../run/lock.js';
import { viewFolderMissing } from '../errors.js';
import { CONFIG_FILE, LATEST_GRID, METRICS_FILE, SAMPLES_DIR, SUMMARY_FILE } from '../run/layout.js';


/** One run found under the viewed folder. */
export interface RunEntry {
  /** '' for the viewed folder itself, else its subfolder's name. */
  id: string;
  /** A display name: the folder's base name. */
  name: string;
  /** The run's folder on disk. */
  dir: string;
}

/** Where a run stands, from the files it left. */
export type RunStatus = 'finished' | 'training' | 'incomplete';

/** What the page shows about a run besides its metrics and grids. */
export interface RunFacts {
  id: string;
  name: string;
  status: RunStatus;
  /** OUT/config.json (the resolved config), or null while missing or unreadable. */
  config: unknown;
  /** OUT/summary.json, written at the end of a run (with the machine it ran on), or null. */
  summary: unknown;
  /** OUT/checkpoint/manifest.json without its copy of the config, or null. */
  checkpoint: unknown;
  /** The exported generator's ganpool metadata (model.json's userDefinedMetadata.ganpool), or null. */
  generator: unknown;
  /** Whether OUT/generator/model.json exists (the page can run it). */
  hasGenerator: boolean;
  /** Whether OUT/generator.onnx exists. */
  hasOnnx: boolean;
}

/** A saved sample grid. */
export interface SampleGrid {
  /** Steps done when it was drawn. */
  step: number;
  /** Its path inside the run folder (forward slashes). */
  file: string;
}

/** The sample grids of a run, and its newest grid. */
export interface RunSamples {
  grids: SampleGrid[];
  /** samples/latest.png and its modification time (the page reloads it when that changes), or null. */
  latest: { file: string; mtimeMs: number } | null;
}

/** Complete metrics lines read from a byte offset. */
export interface MetricsChunk {
  /** Byte offset just past the last complete line read: the next read starts there. */
  offset: number;
  /** The parsed lines (objects), in file order. */
  lines: unknown[];
  /** Complete lines that did not parse as a JSON object (skipped). */
  bad: number;
  /** True when the log got shorter than the offset asked for (a resumed run rewrote it): this chunk reads from 0. */
  reset: boolean;
  /** True when more complete lines follow than one chunk holds. */
  more: boolean;
}

/** The most bytes of metrics one read returns. */
export const METRICS_CHUNK_BYTES = 8 * 2 ** 20;

/** The absolute path of the folder `ganpool view` was given; a usage error naming it when it is not a folder. */
export function viewedFolder(dir: string): string {
  const root = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) throw viewFolderMissing(dir);
  return root;
}

/** Whether `dir` holds a run (its config or metrics log). */
export function isRunDir(dir: string): boolean {
  return existsSync(join(dir, CONFIG_FILE)) || existsSync(join(dir, METRICS_FILE));
}

/**
 * The runs under `root`: `root` itself when it is a run, else each
 * subfolder that is one, by name. Empty when there are none.
 */
export function findRuns(root: string): RunEntry[] {
  if (isRunDir(root)) return [{ id: '', name: basename(root) || root, dir: root }];
  let names: string[];
  try {
    names = readdirSync(root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  } catch {
    return [];
  }
  return names.filter((n) => isRunDir(join(root, n))).map((n) => ({ id: n, name: n, dir: join(root, n) }));
}

/** A JSON file's contents, or null when missing or unreadable (a run may be writing it). */
function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as unknown;
  } catch {
    return null;
  }
}

/** The facts of one run. */
export function runFacts(run: RunEntry): RunFacts {
  const summary = readJson(join(run.dir, SUMMARY_FILE));
  const manifest = readJson(join(run.dir, CHECKPOINT_DIR, MANIFEST)) as Record<string, unknown> | null;
  const checkpoint = manifest && typeof manifest === 'object' ? Object.fromEntries(Object.entries(manifest).filter(([k]) => k !== 'config' && k !== 'files')) : null;
  const model = readJson(join(run.dir, GENERATOR_DIR, 'model.json')) as { userDefinedMetadata?: { ganpool?: unknown } } | null;
  const status: RunStatus = summary !== null ? 'finished' : existsSync(join(run.dir, LOCK_FILE)) ? 'training' : 'incomplete';
  return {
    id: run.id, name: run.name, status,
    config: readJson(join(run.dir, CONFIG_FILE)),
    summary, checkpoint,
    generator: model?.userDefinedMetadata?.ganpool ?? null,
    hasGenerator: model !== null,
    hasOnnx: existsSync(join(run.dir, GENERATOR_ONNX)),
  };
}

/** The sample grids of a run (samples/step-NNNNNN.png by step) and samples/latest.png. */
export function runSamples(run: RunEntry): RunSamples {
  const dir = join(run.dir, SAMPLES_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    // no grid yet
  }
  const grids = names.flatMap((name) => {
    const m = /^step-(\d+)\.png$/.exec(name);
    return m ? [{ step: Number(m[1]), file: `${SAMPLES_DIR}/${name}` }] : [];
  }).sort((a, b) => a.step - b.step);
  let latest: RunSamples['latest'] = null;
  try {
    latest = { file: `${SAMPLES_DIR}/${LATEST_GRID}`, mtimeMs: statSync(join(dir, LATEST_GRID)).mtimeMs };
  } catch {
    // no grid yet
  }
  return { grids, latest };
}

/**
 * The complete lines of the run's metrics.jsonl from byte `offset` on (at
 * most {@link METRICS_CHUNK_BYTES}). A torn last line (the run is writing
 * it) is not returned; the next read from the returned offset gets it once
 * complete. A missing log reads as empty.
 */
export function readMetrics(run: RunEntry, offset: number): MetricsChunk {
  const file = join(run.dir, METRICS_FILE);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return { offset: 0, lines: [], bad: 0, reset: offset > 0, more: false };
  }
  try {
    const size = statSync(file).size;
    const reset = offset > size;
    const from = reset ? 0 : offset;
    const length = Math.min(size - from, METRICS_CHUNK_BYTES);
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const n = readSync(fd, buf, got, length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    const end = got > 0 ? buf.lastIndexOf(0x0a, got - 1) : -1;
    if (end < 0) return { offset: from, lines: [], bad: 0, reset, more: false };
    const lines: unknown[] = [];
    let bad = 0;
    for (const text of buf.subarray(0, end).toString('utf8').split('\n')) {
      if (text.trim() === '') continue;
      try {
        const value = JSON.parse(text) as unknown;
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) lines.push(value);
        else bad++;
      } catch {
        bad++;
      }
    }
    const next = from + end + 1;
    return { offset: next, lines, bad, reset, more: next < size && length === METRICS_CHUNK_BYTES };
  } finally {
    closeSync(fd);
  }
}
