/**
 * What `ganpool view` reads from a run folder, read-only: which folders are
 * runs, each run's facts (config, summary, checkpoint manifest, generator
 * metadata), its sample grids, and the complete lines of its metrics log
 * from a byte offset on (a run still writing may leave a torn last line,
 * which is left for the next read). Every file is read through the
 * containment check of safe-path.ts, with a size cap for its kind.
 */
import { closeSync, existsSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { openInside, readAt, readInside, VIEW_READ_LIMITS, type ContainedData } from './safe-path.js';
import { CHECKPOINT_DIR, MANIFEST } from '../run/checkpoint.js';
import { GENERATOR_DIR, GENERATOR_ONNX } from '../generator/export.js';
import { LOCK_FILE, processAlive } from '../run/lock.js';
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

/**
 * Where a run stands, from the files it left: `training` while a live run
 * holds OUT/.lock and OUT/summary.json is missing or older than this
 * attempt (a resumed run keeps the summary of its earlier end until it ends
 * again); `finished` once the summary is newer than the config and the lock
 * of the attempt that wrote it; else `incomplete` (stopped without a summary).
 */
export type RunStatus = 'finished' | 'training' | 'incomplete';

/** What the page shows about a run besides its metrics and grids. */
export interface RunFacts {
  id: string;
  name: string;
  status: RunStatus;
  /** OUT/config.json (the resolved config), or null while missing or unreadable. */
  config: unknown;
  /** OUT/summary.json, written at the end of a run (with the machine it ran on), or null (also while a resumed run has not ended again). */
  summary: unknown;
  /** OUT/checkpoint/manifest.json without its copy of the config, or null. */
  checkpoint: unknown;
  /** The exported generator's ganpool metadata (model.json's userDefinedMetadata.ganpool), or null. */
  generator: unknown;
  /** Whether OUT/generator/model.json exists (the page can run it). */
  hasGenerator: boolean;
  /** Whether OUT/generator.onnx exists. */
  hasOnnx: boolean;
  /** Files of the run that were not read, each with why (outside the folder, not a regular file, too large). */
  skipped: string[];
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
  /** Lines longer than {@link METRICS_LINE_BYTES}, skipped unread. */
  long: number;
  /** True when the log got shorter than the offset asked for (a resumed run rewrote it): this chunk reads from 0. */
  reset: boolean;
  /** True when more complete lines follow than one chunk holds. */
  more: boolean;
}

/** The most bytes of metrics one read returns (and the most it scans through one long line). */
export const METRICS_CHUNK_BYTES = 8 * 2 ** 20;
/** The longest metrics line read; a longer one (a run writes a few hundred bytes) is skipped and counted in {@link MetricsChunk.long}. */
export const METRICS_LINE_BYTES = VIEW_READ_LIMITS.metricsLine;

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


/** How long {@link RunListing} reuses a scan of the viewed folder. */
export const RUN_LISTING_TTL_MS = 2000;

/**
 * The runs under a folder, rescanned at most once per {@link RUN_LISTING_TTL_MS}
 * (the page polls several times a second; a new run shows within the TTL).
 */
export class RunListing {
  private runs: RunEntry[] = [];
  private at = -Infinity;
  /** How many times the folder was scanned (for tests). */
  scans = 0;

  constructor(readonly root: string, private readonly ttlMs = RUN_LISTING_TTL_MS) {}

  /** The runs, from a scan no older than the TTL at time `now` (ms). */
  get(now = Date.now()): RunEntry[] {
    if (!(now - this.at < this.ttlMs && now >= this.at)) {
      this.runs = findRuns(this.root);
      this.at = now;
      this.scans++;
    }
    return this.runs;
  }
}

/** A JSON file of the run read through the containment check: its value, or null (missing, unreadable, refused: a refusal is noted in `skipped`). */
function readJson(run: RunEntry, segments: string[], skipped: string[], maxBytes: number = VIEW_READ_LIMITS.json): { value: unknown; mtimeMs: number } | null {
  const read = readInside(run.dir, segments, maxBytes);
  if ('refused' in read) {
    if (read.refused !== 'missing') skipped.push(`${segments.join('/')}: ${read.refused}${read.refused === 'too large' ? ` (over ${maxBytes} bytes)` : ''}`);
    return null;
  }
  return { value: parseJson(read), mtimeMs: read.mtimeMs };
}

function parseJson(read: ContainedData): unknown {
  try {
    return JSON.parse(read.data.toString('utf8')) as unknown;
  } catch {
    return null; // a run may be writing it
  }
}

/**
 * The run's lock: null when there is none or its process is gone (on this
 * host); else its modification time. A lock not yet readable (being written),
 * or another host's, counts as live.
 */
function liveLock(run: RunEntry, skipped: string[]): { mtimeMs: number } | null {
  const read = readJson(run, [LOCK_FILE], skipped, VIEW_READ_LIMITS.lock);
  if (read === null) return null;
  const info = read.value as { pid?: unknown; host?: unknown } | null;
  if (info && typeof info === 'object' && Number.isSafeInteger(info.pid) && (info.pid as number) > 0 && info.host === hostname() && !processAlive(info.pid as number)) return null;
  return { mtimeMs: read.mtimeMs };
}

/** The facts of one run. */
export function runFacts(run: RunEntry): RunFacts {
  const skipped: string[] = [];
  const config = readJson(run, [CONFIG_FILE], skipped);
  const summary = readJson(run, [SUMMARY_FILE], skipped);
  const manifest = readJson(run, [CHECKPOINT_DIR, MANIFEST], skipped)?.value as Record<string, unknown> | null | undefined;
  const checkpoint = manifest && typeof manifest === 'object' && !Array.isArray(manifest)
    ? Object.fromEntries(Object.entries(manifest).filter(([k]) => k !== 'config' && k !== 'files')) : null;
  const model = readJson(run, [GENERATOR_DIR, 'model.json'], skipped)?.value as { userDefinedMetadata?: { ganpool?: unknown } } | null | undefined;
  const lock = liveLock(run, skipped);
  // A summary counts once it is newer than this attempt's start: the config (rewritten by every start, a resume too) and a live lock.
  const current = summary !== null && summary.mtimeMs >= Math.max(config?.mtimeMs ?? -Infinity, lock?.mtimeMs ?? -Infinity);
  const status: RunStatus = current ? 'finished' : lock !== null ? 'training' : 'incomplete';
  const meta = model && typeof model === 'object' ? model.userDefinedMetadata : undefined;
  return {
    id: run.id, name: run.name, status,
    config: config?.value ?? null,
    summary: current ? summary.value : null,
    checkpoint,
    generator: (meta && typeof meta === 'object' ? meta.ganpool : null) ?? null,
    hasGenerator: model !== null && model !== undefined,
    hasOnnx: existsSync(join(run.dir, GENERATOR_ONNX)),
    skipped,
  };
}

/** Whether `segments` under the run folder is a regular file inside it; its modification time, or null. */
function regularFile(run: RunEntry, segments: string[]): number | null {
  const file = openInside(run.dir, segments, VIEW_READ_LIMITS.png);
  if ('refused' in file) return null;
  closeSync(file.fd);
  return file.mtimeMs;
}

/** The sample grids of a run (samples/step-NNNNNN.png by step) and samples/latest.png; only regular files. */
export function runSamples(run: RunEntry): RunSamples {
  const dir = join(run.dir, SAMPLES_DIR);
  let names: string[] = [];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    // no grid yet
  }
  const grids = names.flatMap((name) => {
    const m = /^step-(\d+)\.png$/.exec(name);
    return m ? [{ step: Number(m[1]), file: `${SAMPLES_DIR}/${name}` }] : [];
  }).sort((a, b) => a.step - b.step);
  const mtimeMs = names.includes(LATEST_GRID) ? regularFile(run, [SAMPLES_DIR, LATEST_GRID]) : null;
  return { grids, latest: mtimeMs === null ? null : { file: `${SAMPLES_DIR}/${LATEST_GRID}`, mtimeMs } };
}

/**
 * The complete lines of the run's metrics.jsonl from byte `offset` on (at
 * most {@link METRICS_CHUNK_BYTES}). A torn last line (the run is writing
 * it) is not returned; the next read from the returned offset gets it once
 * complete. A line longer than {@link METRICS_LINE_BYTES} is skipped and
 * counted in `long`: the returned offset may then point inside it, and a
 * read from an offset inside a line first skips to that line's end. Each
 * read does bounded work and allocates at most one chunk. A missing log (or
 * one that is not a regular file inside the run) reads as empty.
 */
export function readMetrics(run: RunEntry, offset: number): MetricsChunk {
  const file = openInside(run.dir, [METRICS_FILE], Number.MAX_SAFE_INTEGER);
  if ('refused' in file) return { offset: 0, lines: [], bad: 0, long: 0, reset: offset > 0, more: false };
  try {
    const { fd, size } = file;
    const reset = offset > size;
    let pos = reset ? 0 : offset;
    let budget = METRICS_CHUNK_BYTES;
    // Inside a line (the rest of one skipped as too long): skip to its end.
    if (pos > 0 && readAt(fd, pos - 1, 1)[0] !== 0x0a) {
      while (pos < size && budget > 0) {
        const block = readAt(fd, pos, Math.min(64 * 1024, size - pos, budget));
        if (block.length === 0) break;
        const nl = block.indexOf(0x0a);
        if (nl >= 0) { pos += nl + 1; budget -= nl + 1; break; }
        pos += block.length;
        budget -= block.length;
      }
      if (pos === size || budget <= 0 || readAt(fd, pos - 1, 1)[0] !== 0x0a) {
        return { offset: pos, lines: [], bad: 0, long: 0, reset, more: pos < size };
      }
    }
    const buf = readAt(fd, pos, Math.min(size - pos, budget));
    const lines: unknown[] = [];
    let bad = 0, long = 0, start = 0;
    for (let nl = buf.indexOf(0x0a); nl >= 0; start = nl + 1, nl = buf.indexOf(0x0a, start)) {
      if (nl - start > METRICS_LINE_BYTES) { long++; continue; }
      const text = buf.toString('utf8', start, nl);
      if (text.trim() === '') continue;
      try {
        const value = JSON.parse(text) as unknown;
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) lines.push(value);
        else bad++;
      } catch {
        bad++;
      }
    }
    let next = pos + start;
    // The unfinished line at the end is already too long: skip what was read of it (the next read skips the rest).
    if (buf.length - start > METRICS_LINE_BYTES) { long++; next = pos + buf.length; }
    return { offset: next, lines, bad, long, reset, more: next < size && buf.length === budget };
  } finally {
    closeSync(file.fd);
  }
}
