/**
 * Checkpoints: OUT/checkpoint/ holds everything a run needs to continue
 * bit-exactly — both networks' parameters, Adam states and batch-norm
 * moving statistics, and the EMA of G's parameters (g-ema.f32, empty when
 * `ema` is off), as raw little-endian float32 files, plus manifest.json (format version, step,
 * epoch and position in the shuffled order, the resolved config, and each
 * file's size and SHA-256).
 *
 * Writing never leaves a checkpoint unloadable: the new one is written and
 * fsynced in a temp folder beside it, the old one is renamed aside
 * (checkpoint.old), the new one renamed in, the old one deleted. A crash at
 * any moment leaves either checkpoint/ (old or new) or, between the two
 * renames, only checkpoint.old — which {@link loadCheckpoint} then uses.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config.js';
import type { NetSnapshot, TrainingState } from '../training/coordinator.js';
import { checkpointDamagedError, checkpointMissingError, checkpointModelMismatchError, notOwnedByGanpool, writeFailed } from '../errors.js';
import { bnStatsSize, MODEL_NAMES, type ModelName, modelPreset, type ModelPreset, paramCount } from '../models/presets.js';
import { fsyncDir, fsyncFile } from '../util/atomic.js';
import { lstatOrNull, ownedFolderFiles, removeOwnedFolder } from '../util/owned.js';

/** The checkpoint folder's name inside a run directory. */
export const CHECKPOINT_DIR = 'checkpoint';
/** The previous checkpoint while a new one is being swapped in. */
export const CHECKPOINT_ASIDE = 'checkpoint.old';
/** The manifest file inside a checkpoint folder. */
export const MANIFEST = 'manifest.json';
/**
 * The checkpoint format this version writes. 2 added batch-norm moving statistics, 3 the EMA of G
 * (g-ema.f32). Versions 1 and 2 are still read: their statistics restart (1), and a run with `ema`
 * on starts its EMA at the checkpoint's parameters (1, 2).
 */
export const CHECKPOINT_FORMAT_VERSION = 3;
const READABLE_VERSIONS = [1, 2, 3];
const TMP_PREFIX = '.checkpoint.tmp-';
/** The largest manifest.json read (a real one is a few kilobytes). */
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** The largest image side a checkpoint's config may record: the largest a preset is built for. */
const MAX_IMAGE_SIDE = 64;
/** A staging folder's full name: the prefix, the writer's pid and a time stamp. */
const TMP_NAME = /^\.checkpoint\.tmp-\d+-\d+$/;
const VECTORS = ['params', 'm', 'v', 'bn'] as const;
const NETS = ['g', 'd'] as const;
/** G's EMA file (format 3). */
const G_EMA = 'g-ema.f32';

/** One binary file's entry in the manifest. */
interface FileEntry {
  /** float32 values in the file. */
  length: number;
  bytes: number;
  sha256: string;
}

/** manifest.json. */
interface Manifest {
  format: 'ganpool-checkpoint';
  version: number;
  step: number;
  /** The epoch the next step's batch comes from, and the position of its first image in that epoch's shuffled order. */
  epoch: number;
  position: number;
  rng: { seed: number; note: string };
  adam: { g: { t: number }; d: { t: number } };
  config: ResolvedConfig;
  files: Record<string, FileEntry>;
  writtenAt: string;
}

/** A loaded checkpoint: the resolved config it was trained with and the state to import. */
export interface Checkpoint {
  config: ResolvedConfig;
  state: TrainingState;
  /** The folder it was read from (checkpoint/ or, after an interrupted swap, checkpoint.old/). */
  dir: string;
}

const RNG_NOTE = 'ganpool draws latent noise and epoch shuffles as pure functions of (seed, step) and (seed, epoch), so the seed is the whole RNG state';

function fileName(net: string, vector: string): string {
  return `${net}-${vector}.f32`;
}

/** The bytes of `values` as little-endian float32 (a copy, byte-swapped on big-endian hosts). */
function leBytes(values: Float32Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  if (endianness() === 'BE') for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse();
  return bytes;
}

/** float32 values from little-endian bytes. */
function fromLe(bytes: Uint8Array): Float32Array {
  const copy = new Uint8Array(bytes);
  if (endianness() === 'BE') for (let i = 0; i < copy.length; i += 4) copy.subarray(i, i + 4).reverse();
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Writes and fsyncs a file (so a rename after it never exposes missing data). */
function writeDurable(path: string, data: Uint8Array | string): void {
  try {
    const fd = openSync(path, 'w');
    try {
      const buf = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncFile(fd, path);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw writeFailed(path, e);
  }
}

/** The manifest for `state` trained with `config`, without its file entries. */
function manifestFor(config: ResolvedConfig, state: TrainingState): Manifest {
  const stepsPerEpoch = Math.max(1, Math.floor(config.datasetSize / config.batchSize));
  return {
    format: 'ganpool-checkpoint',
    version: CHECKPOINT_FORMAT_VERSION,
    step: state.stepsDone,
    epoch: Math.floor(state.stepsDone / stepsPerEpoch),
    position: (state.stepsDone % stepsPerEpoch) * config.batchSize,
    rng: { seed: config.seed, note: RNG_NOTE },
    adam: { g: { t: state.g.t }, d: { t: state.d.t } },
    config,
    files: {},
    writtenAt: new Date().toISOString(),
  };
}

/** True for the names of the files a checkpoint folder holds (any format version). */
function isCheckpointFile(name: string): boolean {
  return name === MANIFEST || name === G_EMA || NETS.some((net) => VECTORS.some((vector) => name === fileName(net, vector)));
}

/** What a checkpoint folder is, for the messages that refuse to replace one that is not. */
const CHECKPOINT_CONTENT = `a folder of ${MANIFEST} and .f32 files`;

/**
 * True when `dir` is a checkpoint folder as ganpool writes it: a real folder
 * (not a link) holding only checkpoint file names, manifest.json among them,
 * with both parameter files or a manifest whose format is ganpool's.
 */
export function isOwnedCheckpointFolder(dir: string): boolean {
  const names = ownedFolderFiles(dir, isCheckpointFile);
  if (!names?.includes(MANIFEST)) return false;
  // Both parameter files, or a manifest that says it is ganpool's: a lone manifest.json of someone else's is not a marker.
  if (names.includes(fileName('g', 'params')) && names.includes(fileName('d', 'params'))) return true;
  try {
    const file = join(dir, MANIFEST);
    return lstatOrNull(file)!.size < 1 << 20 && (JSON.parse(readFileSync(file, 'utf8')) as { format?: unknown } | null)?.format === 'ganpool-checkpoint';
  } catch {
    return false;
  }
}

/**
 * Throws a GanpoolDataError unless each of checkpoint/ and checkpoint.old/ in
 * `out` is absent or a folder ganpool wrote (only checkpoint files, no link):
 * those are the two names a checkpoint write replaces and removes.
 */
export function assertCheckpointReplaceable(out: string): void {
  for (const name of [CHECKPOINT_DIR, CHECKPOINT_ASIDE]) {
    const dir = join(out, name);
    if (lstatOrNull(dir) !== null && ownedFolderFiles(dir, isCheckpointFile) === null) throw notOwnedByGanpool(dir, CHECKPOINT_CONTENT);
  }
}

/** Removes staging folders left by interrupted writes: only real folders with a staging name that hold only checkpoint files (a link or anything else stays). */
function removeStaleTemps(out: string): void {
  for (const name of readdirSync(out)) if (TMP_NAME.test(name)) removeOwnedFolder(join(out, name), isCheckpointFile);
}

/**
 * Step 1 of a checkpoint write: the complete new checkpoint in a temp folder
 * beside checkpoint/ (every file fsynced, manifest last). Returns its path.
 */
export async function stageCheckpoint(out: string, config: ResolvedConfig, state: TrainingState): Promise<string> {
  await mkdir(out, { recursive: true });
  assertCheckpointReplaceable(out);
  removeStaleTemps(out);
  const tmp = join(out, `${TMP_PREFIX}${process.pid}-${Date.now()}`);
  await mkdir(tmp).catch((e: unknown) => { throw writeFailed(tmp, e); });
  const manifest = manifestFor(config, state);
  for (const net of NETS) {
    for (const vector of VECTORS) {
      const bytes = leBytes(state[net][vector]);
      const name = fileName(net, vector);
      writeDurable(join(tmp, name), bytes);
      manifest.files[name] = { length: bytes.length / 4, bytes: bytes.length, sha256: sha256(bytes) };
    }
  }
  const ema = leBytes(state.g.ema ?? new Float32Array(0));
  writeDurable(join(tmp, G_EMA), ema);
  manifest.files[G_EMA] = { length: ema.length / 4, bytes: ema.length, sha256: sha256(ema) };
  writeDurable(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2) + '\n');
  fsyncDir(tmp);
  return tmp;
}

/**
 * Step 2: moves the current checkpoint aside (a stale aside copy is dropped
 * first; if there is no current one, the aside copy is kept as the loadable
 * one). Either folder holding anything but a checkpoint ganpool wrote (a
 * link, other files) is a GanpoolDataError, and nothing is moved or removed.
 */
export function moveCheckpointAside(out: string): void {
  const current = join(out, CHECKPOINT_DIR), aside = join(out, CHECKPOINT_ASIDE);
  assertCheckpointReplaceable(out);
  if (lstatOrNull(current) === null) return;
  removeOwnedFolder(aside, isCheckpointFile);
  renameSync(current, aside);
}

/** Step 3: renames the staged folder in as checkpoint/, and syncs OUT so both renames survive a power loss. */
export function moveCheckpointIn(out: string, staged: string): void {
  renameSync(staged, join(out, CHECKPOINT_DIR));
  fsyncDir(out);
}

/** Step 4: deletes the aside copy (only a checkpoint folder ganpool wrote; anything else there is a GanpoolDataError). */
export function dropCheckpointAside(out: string): void {
  const aside = join(out, CHECKPOINT_ASIDE);
  if (removeOwnedFolder(aside, isCheckpointFile) === 'foreign') throw notOwnedByGanpool(aside, CHECKPOINT_CONTENT);
}

/** Writes OUT/checkpoint/ for `state` (stage, move aside, move in, drop aside). */
export async function writeCheckpoint(out: string, config: ResolvedConfig, state: TrainingState): Promise<void> {
  const staged = await stageCheckpoint(out, config, state);
  moveCheckpointAside(out);
  moveCheckpointIn(out, staged);
  dropCheckpointAside(out);
}

/** True when `out` holds a checkpoint (or the aside copy of an interrupted swap). */
export function hasCheckpoint(out: string): boolean {
  return existsSync(join(out, CHECKPOINT_DIR)) || existsSync(join(out, CHECKPOINT_ASIDE));
}

/** Parses and checks manifest.json's fields. */
function readManifest(file: string): Manifest {
  if (!existsSync(file)) throw checkpointDamagedError(file, 'manifest.json is missing');
  if (!statSync(file).isFile() || statSync(file).size > MAX_MANIFEST_BYTES) throw checkpointDamagedError(file, `not a regular file of at most ${MAX_MANIFEST_BYTES} bytes`);
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch (e) {
    throw checkpointDamagedError(file, `not valid JSON (${(e as Error).message})`);
  }
  if (typeof m !== 'object' || m === null || m.format !== 'ganpool-checkpoint') throw checkpointDamagedError(file, 'not a ganpool checkpoint manifest (format field)');
  if (!READABLE_VERSIONS.includes(m.version)) {
    throw checkpointDamagedError(file, `unknown format version ${JSON.stringify(m.version)}; this ganpool reads versions ${READABLE_VERSIONS.join(', ')}`);
  }
  const okInt = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 0;
  if (!okInt(m.step) || !okInt(m.adam?.g?.t) || !okInt(m.adam?.d?.t)) throw checkpointDamagedError(file, 'step or Adam step counts missing or not whole numbers');
  if (typeof m.config !== 'object' || m.config === null || typeof m.config.model !== 'string') throw checkpointDamagedError(file, 'no config object');
  if (typeof m.files !== 'object' || m.files === null) throw checkpointDamagedError(file, 'no files table');
  return m;
}

/** Reads one vector file and checks its size and checksum against the manifest. */
function readVector(dir: string, name: string, entry: FileEntry | undefined, manifestFile: string): Float32Array {
  if (!entry || !Number.isInteger(entry.bytes) || entry.bytes !== entry.length * 4) throw checkpointDamagedError(manifestFile, `no valid entry for ${name}`);
  const file = join(dir, name);
  if (!existsSync(file)) throw checkpointDamagedError(file, 'file listed in manifest.json is missing');
  const s = statSync(file);
  if (!s.isFile()) throw checkpointDamagedError(file, 'not a regular file');
  if (s.size !== entry.bytes) throw checkpointDamagedError(file, `expected ${entry.bytes} bytes (from manifest.json), found ${s.size}`);
  const bytes = readFileSync(file);
  if (bytes.length !== entry.bytes) throw checkpointDamagedError(file, `expected ${entry.bytes} bytes (from manifest.json), found ${bytes.length}`);
  if (sha256(bytes) !== entry.sha256) throw checkpointDamagedError(file, 'SHA-256 checksum does not match manifest.json (file modified or corrupt)');
  return fromLe(bytes);
}

/** Reads one network's snapshot and checks that its three vectors agree in length. */
function readNet(dir: string, m: Manifest, net: 'g' | 'd', manifestFile: string): NetSnapshot {
  const read = (vec: string): Float32Array => readVector(dir, fileName(net, vec), m.files[fileName(net, vec)], manifestFile);
  const [params, mm, v] = [read('params'), read('m'), read('v')];
  if (mm.length !== params.length || v.length !== params.length) throw checkpointDamagedError(manifestFile, `${net} vectors differ in length`);
  // Version 1 recorded no moving statistics: an empty vector tells the trainer to keep fresh ones.
  const bn = m.version >= 2 ? read('bn') : new Float32Array(0);
  // Versions 1 and 2 recorded no EMA: an empty one starts it at the parameters when `ema` is on.
  const ema = net === 'g' && m.version >= 3 ? read('ema') : new Float32Array(0);
  if (ema.length !== 0 && ema.length !== params.length) throw checkpointDamagedError(manifestFile, `${net} EMA differs in length from its parameters`);
  return { params, m: mm, v, t: m.adam[net].t, bn, ema };
}

/**
 * Loads the checkpoint of run directory `out` (checkpoint/, or checkpoint.old/
 * when a swap was interrupted). A damaged checkpoint is a GanpoolDataError
 * naming the file; a missing one a GanpoolUsageError.
 */
export function loadCheckpoint(out: string): Checkpoint {
  const current = join(out, CHECKPOINT_DIR), aside = join(out, CHECKPOINT_ASIDE);
  const dir = existsSync(current) ? current : existsSync(aside) ? aside : null;
  if (dir === null) throw checkpointMissingError(out);
  const manifestFile = join(dir, MANIFEST);
  const m = readManifest(manifestFile);
  const state: TrainingState = { stepsDone: m.step, g: readNet(dir, m, 'g', manifestFile), d: readNet(dir, m, 'd', manifestFile) };
  return { config: m.config, state, dir };
}

/**
 * Checks a loaded checkpoint against the model preset its config names, before anything uses it:
 * the model is a preset, the image shape [height, width, 1 or 3] fits it, and every vector of both
 * networks has exactly the preset's length (batch-norm statistics and G's EMA may be empty, as older
 * formats write them). Returns the preset; throws a GanpoolDataError naming manifest.json otherwise,
 * so nothing is ever zero-padded or truncated.
 */
export function checkCheckpointModel(checkpoint: Checkpoint): ModelPreset {
  const file = join(checkpoint.dir, MANIFEST);
  const { config, state } = checkpoint;
  const model = config.model as unknown;
  if (typeof model !== 'string' || !(MODEL_NAMES as readonly string[]).includes(model)) {
    throw checkpointModelMismatchError(file, `config.model ${JSON.stringify(model)} is not one of ${MODEL_NAMES.join(', ')}`);
  }
  const shape = config.imageShape as unknown;
  const side = (x: unknown): boolean => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= MAX_IMAGE_SIDE;
  if (!Array.isArray(shape) || shape.length !== 3 || !side(shape[0]) || !side(shape[1]) || (shape[2] !== 1 && shape[2] !== 3)) {
    throw checkpointModelMismatchError(file, `config.imageShape ${JSON.stringify(shape)} is not [height, width, 1 or 3] with sides from 1 to ${MAX_IMAGE_SIDE}`);
  }
  const classes = config.conditional === true ? config.classes : 0;
  if (!Number.isInteger(classes) || classes < 0 || classes > 256 || (config.conditional === true && classes < 2)) {
    throw checkpointModelMismatchError(file, `config.classes ${JSON.stringify(classes)} is not a class count from 2 to 256`);
  }
  let preset: ModelPreset;
  try {
    preset = modelPreset(model as ModelName, shape as [number, number, number], classes);
  } catch (e) {
    throw checkpointModelMismatchError(file, (e as Error).message);
  }
  const what = `model '${model}' for ${(shape as number[]).join('×')} images`;
  for (const net of NETS) {
    const spec = net === 'g' ? preset.generator : preset.discriminator;
    const params = paramCount(spec), bn = bnStatsSize(spec), snap = state[net];
    for (const vector of ['params', 'm', 'v'] as const) {
      if (snap[vector].length !== params) {
        throw checkpointModelMismatchError(file, `${fileName(net, vector)} holds ${snap[vector].length} values but ${what} has ${params} ${net.toUpperCase()} parameters`);
      }
    }
    if (snap.bn.length !== 0 && snap.bn.length !== bn) {
      throw checkpointModelMismatchError(file, `${fileName(net, 'bn')} holds ${snap.bn.length} values but ${what} has ${bn} ${net.toUpperCase()} batch-norm statistics`);
    }
    const ema = snap.ema ?? new Float32Array(0);
    if (ema.length !== 0 && ema.length !== params) {
      throw checkpointModelMismatchError(file, `${G_EMA} holds ${ema.length} values but ${what} has ${params} G parameters`);
    }
  }
  return preset;
}
