/**
 * The trained pair a `ganpool score` reads from a run folder: the checkpoint's
 * D parameters, G's parameters (the EMA weights where the run keeps an EMA,
 * as its samples and exports use), both networks' batch-norm moving
 * statistics, and the preset and loss from the checkpoint's config.
 */
import { existsSync } from 'node:fs';
import { checkCheckpointModel, hasCheckpoint, loadCheckpoint } from '../run/checkpoint.js';
import { bnLayers, bnStatsSize, type ModelPreset, type NetSpec } from '../models/presets.js';
import { initMovingStats } from '../training/bn-stats.js';
import { DEFAULT_GAN_LOSS } from '../models/losses.js';
import { scoreConditionalRun, scoreRunMissing } from '../errors.js';
import type { ResolvedConfig } from '../config.js';

/** One network's weights to score with. */
export interface ScoringNet {
  params: Float32Array;
  /** Moving statistics (bnLayers layout; empty without batch norm). */
  bn: Float32Array;
}

/** A run's trained pair, ready to score with. */
export interface ScoringModel {
  config: ResolvedConfig;
  preset: ModelPreset;
  g: ScoringNet;
  d: ScoringNet;
  /** Which G weights: the EMA of its parameters (runs with `ema` on) or the raw parameters. */
  weights: 'ema' | 'raw';
  /** Training steps behind the checkpoint. */
  step: number;
}

/** The moving statistics to use: the checkpoint's, or fresh ones (means 0, variances 1) where a version-1 checkpoint recorded none. */
function movingStats(net: NetSpec, saved: Float32Array): Float32Array {
  if (saved.length === bnStatsSize(net)) return saved;
  const fresh = new Float32Array(bnStatsSize(net));
  initMovingStats(bnLayers(net), fresh);
  return fresh;
}

/**
 * Loads the trained pair of run folder `run` (finished or not: its latest
 * checkpoint). A folder without a checkpoint, and a conditional run, are
 * usage errors naming `--run`; a damaged checkpoint a GanpoolDataError naming the file.
 */
export function loadScoringModel(run: string): ScoringModel {
  if (!existsSync(run) || !hasCheckpoint(run)) throw scoreRunMissing(run);
  const checkpoint = loadCheckpoint(run);
  const { config, state } = checkpoint;
  if (config.conditional) throw scoreConditionalRun(run);
  const preset = checkCheckpointModel(checkpoint);
  const ema = state.g.ema ?? new Float32Array(0);
  const useEma = config.ema > 0 && ema.length === state.g.params.length;
  return {
    config: { ...config, loss: config.loss ?? DEFAULT_GAN_LOSS },
    preset,
    g: { params: useEma ? ema : state.g.params, bn: movingStats(preset.generator, state.g.bn) },
    d: { params: state.d.params, bn: movingStats(preset.discriminator, state.d.bn) },
    weights: useEma ? 'ema' : 'raw',
    step: state.stepsDone,
  };
}
