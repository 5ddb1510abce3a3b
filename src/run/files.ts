/**
 * What a training run leaves on disk: OUT/config.json, OUT/metrics.jsonl,
 * OUT/samples/step-NNNNNN.png + latest.png, OUT/summary.json (with the
 * machine it ran on) and OUT/report.html (the static page of `ganpool view`).
 * Every file but the append-only metrics log is written atomically.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { gridPng } from '../generator/grid.js';
import { outDirInUse, writeFailed } from '../errors.js';
import { machineFacts } from './machine.js';
import { CONFIG_FILE, gridFileName, LATEST_GRID, METRICS_FILE, SAMPLES_DIR, SUMMARY_FILE } from './layout.js';
import type { ResolvedConfig } from '../config.js';
import type { SampleEvent, StepInfo, TrainSummary } from '../training/trainer.js';

/** Writes one run's files under its output directory. */
export class RunFiles {
  /** Path of the newest sample grid, once one is written. */
  latestGrid: string | null = null;

  private constructor(readonly dir: string) {}

  /** Refuses a directory that already holds a run (it would mix two runs' metrics). */
  static check(dir: string): void {
    if (existsSync(join(dir, METRICS_FILE))) throw outDirInUse(dir);
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
