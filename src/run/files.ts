/**
 * What a training run leaves on disk: OUT/config.json, OUT/metrics.jsonl,
 * OUT/samples/step-NNNNNN.png + latest.png, OUT/summary.json (with the
 * machine it ran on) and OUT/report.html (the static page of `ganpool view`).
 * Every file but the append-only metrics log is written atomically.
 */
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { gridPng } from '../generator/grid.js';
import { notOwnedByGanpool, outDirHoldsRun, outDirInUse, outDirNotFolder, outDirNotRun, resumeNotRun, writeFailed } from '../errors.js';
import { lstatOrNull, ownedFolderFiles, removeOwnedFile, removeOwnedFolder } from '../util/owned.js';
import { assertCheckpointReplaceable, CHECKPOINT_ASIDE, CHECKPOINT_DIR, isOwnedCheckpointFolder } from './checkpoint.js';
import { LOCK_PREFIX } from './lock.js';
import { GENERATOR_DIR, GENERATOR_ONNX } from '../generator/export.js';
import { MODEL_JSON, WEIGHTS_BIN } from '../engines/tfjs/model-io.js';
import { machineFacts } from './machine.js';
import { CONFIG_FILE, gridFileName, LATEST_GRID, METRICS_FILE, REPORT_FILE, SAMPLES_DIR, SUMMARY_FILE } from './layout.js';
import type { ResolvedConfig } from '../config.js';
import type { SampleEvent, StepInfo, TrainSummary } from '../training/trainer.js';

/** True when `config.json` in `dir` is a regular file holding a config as ganpool writes it (the fields of a resolved config). */
function hasRunConfig(dir: string): boolean {
  const file = join(dir, CONFIG_FILE);
  const st = lstatOrNull(file);
  if (!st?.isFile() || st.size > 1 << 20) return false;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<keyof ResolvedConfig, unknown>> | null;
    return typeof c === 'object' && c !== null && typeof c.model === 'string' && typeof c.dataset === 'string' &&
      Number.isInteger(c.batchSize) && typeof c.seed === 'number' && typeof c.lrG === 'number' && typeof c.out === 'string';
  } catch {
    return false;
  }
}

/**
 * True when `dir` holds a ganpool run: its markers are a config.json as
 * ganpool writes it, or a checkpoint folder (checkpoint/ or checkpoint.old/)
 * as ganpool writes it (a real folder of manifest.json and .f32 files only).
 */
export function isGanpoolRun(dir: string): boolean {
  return hasRunConfig(dir) || isOwnedCheckpointFolder(join(dir, CHECKPOINT_DIR)) || isOwnedCheckpointFolder(join(dir, CHECKPOINT_ASIDE));
}

/** Writes one run's files under its output directory. */
export class RunFiles {
  /** Path of the newest sample grid, once one is written. */
  latestGrid: string | null = null;

  private constructor(readonly dir: string) {}

  /**
   * Refuses, before anything is written, an output folder a fresh run may not
   * use: a file; a non-empty folder that is not a ganpool run (see
   * {@link isGanpoolRun}; nothing in it is touched); a run that has trained
   * (metrics, a checkpoint, a generator or a summary: it would mix two runs).
   * A new or empty folder (the lock's own files aside) passes, and so does a
   * run that stopped before its first step (config.json and samples/ only).
   */
  static check(dir: string): void {
    const st = lstatOrNull(dir);
    if (st === null) return;
    if (!statSync(dir).isDirectory()) throw outDirNotFolder(dir);
    const entries = readdirSync(dir).filter((name) => !name.startsWith(LOCK_PREFIX));
    if (entries.length === 0) return;
    if (existsSync(join(dir, METRICS_FILE))) throw outDirInUse(dir);
    if (!isGanpoolRun(dir)) throw outDirNotRun(dir, entries.length);
    for (const name of [CHECKPOINT_DIR, CHECKPOINT_ASIDE, GENERATOR_DIR, GENERATOR_ONNX, SUMMARY_FILE]) {
      if (lstatOrNull(join(dir, name)) !== null) throw outDirHoldsRun(dir, name);
    }
  }

  /**
   * Refuses a `--resume` folder that is not a ganpool run (a usage error), or
   * one whose checkpoint/, generator/ or generator.onnx (which the resumed run
   * replaces) is not what ganpool wrote there: a link, or other files (a GanpoolDataError).
   * A missing folder passes: loading its checkpoint names what is missing.
   */
  static checkResumable(dir: string): void {
    if (!existsSync(dir)) return;
    if (!isGanpoolRun(dir)) throw resumeNotRun(dir);
    assertCheckpointReplaceable(dir);
    const generator = join(dir, GENERATOR_DIR);
    if (lstatOrNull(generator) !== null && ownedFolderFiles(generator, (n) => n === MODEL_JSON || n === WEIGHTS_BIN) === null) {
      throw notOwnedByGanpool(generator, `a folder of ${MODEL_JSON} and ${WEIGHTS_BIN}`);
    }
    const onnx = join(dir, GENERATOR_ONNX), onnxStat = lstatOrNull(onnx);
    if (onnxStat !== null && !onnxStat.isFile()) throw notOwnedByGanpool(onnx, 'an ONNX file');
  }

  /**
   * Clears a ganpool run that stopped before its first checkpoint, so that it
   * can start again from step 0 (a sweep's restart): only the files a run
   * writes, through the ownership checks of util/owned.ts. A folder that is
   * not a ganpool run is refused (nothing touched); anything left that ganpool
   * did not write stays, and the fresh run's own check then names it.
   */
  static clearUnstarted(dir: string): void {
    if (lstatOrNull(dir) === null) return;
    if (!isGanpoolRun(dir)) throw outDirNotRun(dir, readdirSync(dir).length);
    for (const name of [METRICS_FILE, SUMMARY_FILE, REPORT_FILE, GENERATOR_ONNX]) removeOwnedFile(dir, name);
    removeOwnedFolder(join(dir, SAMPLES_DIR), (n) => n === LATEST_GRID || /^step-\d+\.png$/.test(n));
    removeOwnedFolder(join(dir, GENERATOR_DIR), (n) => n === MODEL_JSON || n === WEIGHTS_BIN);
  }

  /**
   * Creates the directory and writes the resolved config. With `resumeStep`
   * (a resumed run) the directory may hold a run: metrics.jsonl keeps only
   * the lines up to that step, so steps after the checkpoint are not logged twice.
   */
  static async open(config: ResolvedConfig, resumeStep?: number): Promise<RunFiles> {
    if (resumeStep === undefined) RunFiles.check(config.out);
    else await RunFiles.truncateMetrics(config.out, resumeStep);
    mkdirSync(join(config.out, SAMPLES_DIR), { recursive: true });
    const files = new RunFiles(config.out);
    await writeFileAtomic(join(config.out, CONFIG_FILE), JSON.stringify(config, null, 2) + '\n');
    return files;
  }

  /** Drops metrics lines with step > `step` (and any torn last line), atomically. */
  private static async truncateMetrics(dir: string, step: number): Promise<void> {
    const file = join(dir, METRICS_FILE);
    if (!existsSync(file)) return;
    const kept = readFileSync(file, 'utf8').split('\n').filter((line) => {
      try {
        return (JSON.parse(line) as { step?: unknown }).step as number <= step;
      } catch {
        return false;
      }
    });
    await writeFileAtomic(file, kept.map((l) => l + '\n').join(''));
  }

  /** Appends one step's metrics line (a refused step: `{"step", "skipped", "phase"}`). */
  step(info: StepInfo): void {
    const line = info.skipped ? { step: info.step, skipped: info.skipped.reason, phase: info.skipped.phase } : info;
    const file = join(this.dir, METRICS_FILE);
    try {
      appendFileSync(file, JSON.stringify(line) + '\n');
    } catch (e) {
      throw writeFailed(file, e);
    }
  }

  /** Writes a sample grid as step-NNNNNN.png and latest.png. */
  async sample(event: SampleEvent): Promise<string> {
    const png = await gridPng(event.images, event.shape);
    const path = join(this.dir, SAMPLES_DIR, gridFileName(event.step));
    await writeFileAtomic(path, png);
    await writeFileAtomic(join(this.dir, SAMPLES_DIR, LATEST_GRID), png);
    this.latestGrid = path;
    return path;
  }

  /** Writes the end-of-run summary, with the machine it ran on (`machine`: see machine.ts) for `ganpool view`. */
  async summary(summary: TrainSummary): Promise<void> {
    await writeFileAtomic(join(this.dir, SUMMARY_FILE), JSON.stringify({ ...summary, machine: machineFacts() }, null, 2) + '\n');
  }

}
