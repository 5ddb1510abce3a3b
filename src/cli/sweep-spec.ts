/**
 * A sweep SPEC (JSON or YAML) → the runs of the sweep. Keys are `ganpool
 * train` flag names, so the values are checked exactly like the flags; any
 * problem is a usage error (exit 2) naming the key, e.g. `grid.lr`.
 *
 *   base:     { model: mlp, steps: 20 }          train flags shared by every run
 *   grid:     { lr: [1e-4, 2e-4], loss: [ns, hinge] }   the cross product of value lists
 *   variants: [ { name: wide, batch-size: 128 }, … ]    explicit configurations (× the grid)
 *   seeds:    2 | [1, 2]                          repeats each configuration
 *   sbatch:   [ --partition=cpu, --time=01:00:00 ]  extra #SBATCH lines (slurm executor)
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { resolveConfig, type TrainConfig } from '../config.js';
import { GanpoolUsageError, sweepSpecError, sweepSpecUnreadable } from '../errors.js';
import { TRAIN_FLAGS, flagFor, parseTrainArgs } from './args.js';
import type { SweepRun, SweepSetting } from '../sweep/plan.js';

/** What a SPEC says: its runs, in order, and its extra #SBATCH lines. */
export interface SweepSpec {
  runs: SweepRun[];
  sbatch: string[];
}

const TOP_KEYS = ['base', 'grid', 'variants', 'seeds', 'sbatch'];
/** Flags a SPEC may not set: the sweep sets them per run. */
const SET_BY_SWEEP: Record<string, string> = {
  out: 'the sweep puts each run in DIR/<name>/',
  resume: 'use ganpool sweep --resume',
  seed: 'use the top-level seeds (a count or a list)',
};

type Settings = Record<string, SweepSetting>;

function isRecord(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Checks one flag key and its value's type (not its range: resolveConfig does that). */
function checkSetting(key: string, flag: string, value: unknown): SweepSetting {
  if (Object.hasOwn(SET_BY_SWEEP, flag)) throw sweepSpecError(key, `cannot be set in a sweep: ${SET_BY_SWEEP[flag]}`);
  const spec = TRAIN_FLAGS[flag] as (typeof TRAIN_FLAGS)[string] | undefined;
  if (!spec) throw sweepSpecError(key, `unknown key; expected a 'ganpool train' flag name such as lr, loss, model, steps, batch-size (see ganpool train --help)`);
  if (spec.switch) {
    if (typeof value !== 'boolean') throw sweepSpecError(key, `expected true or false, got ${JSON.stringify(value)}`);
    return value;
  }
  if (spec.choices && typeof value === 'boolean') return value ? 'on' : 'off';
  if (spec.numeric) {
    if (typeof value !== 'number' || !Number.isFinite(value)) throw sweepSpecError(key, `expected a number, got ${JSON.stringify(value)}`);
    return value;
  }
  if (typeof value !== 'string' && typeof value !== 'number') throw sweepSpecError(key, `expected a string, got ${JSON.stringify(value)}`);
  return String(value);
}

function settingsOf(key: string, x: unknown): Settings {
  if (x === undefined || x === null) return {};
  if (!isRecord(x)) throw sweepSpecError(key, 'expected a mapping of train flags to values');
  return Object.fromEntries(Object.entries(x).map(([flag, v]) => [flag, checkSetting(`${key}.${flag}`, flag, v)]));
}

function seedsOf(x: unknown): number[] {
  if (x === undefined) return [1];
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 1 || x > 10_000) throw sweepSpecError('seeds', `expected a count from 1 to 10000 or a list of seeds, got ${JSON.stringify(x)}`);
    return Array.from({ length: x }, (_, i) => i + 1);
  }
  if (!Array.isArray(x) || x.length === 0) throw sweepSpecError('seeds', `expected a count or a non-empty list of seeds, got ${JSON.stringify(x)}`);
  x.forEach((s, i) => {
    if (typeof s !== 'number' || !Number.isInteger(s) || s < 0) throw sweepSpecError(`seeds[${i}]`, `expected a whole number ≥ 0, got ${JSON.stringify(s)}`);
  });
  const seeds = x as number[];
  if (new Set(seeds).size !== seeds.length) throw sweepSpecError('seeds', 'lists a seed twice');
  return seeds;
}

/** The folder-name form of a value: readable, and safe on every file system. */
function nameValue(v: SweepSetting): string {
  return String(v).replace(/[^A-Za-z0-9._+-]+/g, '-');
}

/** Parses the SPEC text (JSON is YAML); `file` names it in errors. */
export function parseSweepSpec(text: string, file: string): SweepSpec {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw sweepSpecUnreadable(file, (e as Error).message.split('\n')[0]);
  }
  if (!isRecord(doc)) throw sweepSpecUnreadable(file, 'expected a mapping with base, grid, variants, seeds');
  for (const k of Object.keys(doc)) {
    if (!TOP_KEYS.includes(k)) throw sweepSpecError(k, `unknown key; expected ${TOP_KEYS.join(', ')}`);
  }
  const base = settingsOf('base', doc.base);

  // The grid: each key a non-empty list of values.
  const gridAxes: [string, SweepSetting[]][] = [];
  if (doc.grid !== undefined) {
    if (!isRecord(doc.grid)) throw sweepSpecError('grid', 'expected a mapping of train flags to lists of values');
    if (Object.keys(doc.grid).length === 0) throw sweepSpecError('grid', 'is empty; give at least one flag with a list of values, or leave grid out');
    for (const [flag, values] of Object.entries(doc.grid)) {
      const key = `grid.${flag}`;
      const list = Array.isArray(values) ? values as unknown[] : [values];
      if (list.length === 0) throw sweepSpecError(key, 'is an empty list; give at least one value');
      const checked = list.map((v, i) => checkSetting(Array.isArray(values) ? `${key}[${i}]` : key, flag, v));
      if (new Set(checked.map(String)).size !== checked.length) throw sweepSpecError(key, 'lists a value twice');
      gridAxes.push([flag, checked]);
    }
  }

  // The variants: each a mapping, with an optional name.
  let variants: { name: string | null; settings: Settings }[] = [{ name: null, settings: {} }];
  if (doc.variants !== undefined) {
    if (!Array.isArray(doc.variants) || doc.variants.length === 0) throw sweepSpecError('variants', 'expected a non-empty list of mappings of train flags');
    variants = (doc.variants as unknown[]).map((v, i) => {
      const key = `variants[${i}]`;
      if (!isRecord(v)) throw sweepSpecError(key, 'expected a mapping of train flags to values');
      const { name, ...rest } = v;
      if (name !== undefined && (typeof name !== 'string' || !/^[A-Za-z0-9._+-]+$/.test(name))) {
        throw sweepSpecError(`${key}.name`, `expected a folder-safe name (letters, digits, . _ + -), got ${JSON.stringify(name)}`);
      }
      const settings = settingsOf(key, rest);
      for (const [flag] of gridAxes) if (Object.hasOwn(settings, flag)) throw sweepSpecError(`${key}.${flag}`, 'is also a grid key; set it in one place');
      return { name: name ?? null, settings };
    });
  }
  const seeds = seedsOf(doc.seeds);

  let sbatch: string[] = [];
  if (doc.sbatch !== undefined) {
    if (!Array.isArray(doc.sbatch) || doc.sbatch.some((l) => typeof l !== 'string')) throw sweepSpecError('sbatch', 'expected a list of sbatch options such as --partition=cpu');
    sbatch = doc.sbatch as string[];
  }

  // The flags that tell runs apart, in SPEC order: they name the run folders.
  const varying: string[] = gridAxes.map(([flag]) => flag);
  for (const v of variants) for (const flag of Object.keys(v.settings)) if (!varying.includes(flag)) varying.push(flag);

  let points: Settings[] = [{}];
  for (const [flag, values] of gridAxes) points = points.flatMap((p) => values.map((v) => ({ ...p, [flag]: v })));

  const runs: SweepRun[] = [];
  const where = new Map<string, string>();
  for (const variant of variants) {
    for (const point of points) {
      const settings: Settings = { ...base, ...variant.settings, ...point };
      const parts = [
        ...(variant.name ? [variant.name] : []),
        ...varying.filter((f) => Object.hasOwn(variant.name ? point : { ...variant.settings, ...point }, f))
          .map((f) => `${f}=${nameValue(settings[f])}`),
      ];
      const group = parts.join('_') || 'base';
      const config = checkedConfig(settings, { base, variant: variant.settings, variantIndex: variants.indexOf(variant) });
      for (const seed of seeds) {
        const name = `${group}_seed=${seed}`;
        if (where.has(name)) throw sweepSpecError('variants', `two configurations get the run folder name '${name}'; give the variants distinct names (name: …)`);
        where.set(name, name);
        const shown: Record<string, SweepSetting> = {};
        for (const f of varying) if (Object.hasOwn(settings, f)) shown[f] = settings[f];
        shown.seed = seed;
        runs.push({ index: runs.length, name, group, settings: shown, config: { ...config, seed } });
      }
    }
  }
  return { runs, sbatch };
}

/** Reads and parses the SPEC file. */
export function readSweepSpec(file: string): SweepSpec {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw sweepSpecUnreadable(file, (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message);
  }
  return parseSweepSpec(text, file);
}

/**
 * One configuration's flags → its TrainConfig, checked like `ganpool train`'s
 * flags and then resolved (without the data); an error names the SPEC key that set the field.
 */
function checkedConfig(settings: Settings, from: { base: Settings; variant: Settings; variantIndex: number }): TrainConfig {
  const argv = Object.entries(settings).flatMap(([flag, v]) => (v === true ? [`--${flag}`] : v === false ? [] : [`--${flag}=${String(v)}`]));
  const keyOf = (field: string | undefined): string => {
    const flag = field === undefined ? '' : flagFor(field).replace(/^--/, '');
    if (Object.hasOwn(from.variant, flag)) return `variants[${from.variantIndex}].${flag}`;
    if (Object.hasOwn(from.base, flag)) return `base.${flag}`;
    return `grid.${flag || '?'}`;
  };
  try {
    const { config } = parseTrainArgs(argv);
    resolveConfig(config);
    return config;
  } catch (e) {
    if (!(e instanceof GanpoolUsageError)) throw e;
    const key = keyOf(e.field);
    throw sweepSpecError(key, e.message.replace(/^invalid [^:]+: /, ''));
  }
}
