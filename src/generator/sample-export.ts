/**
 * A generated, labelled data set on disk (`ganpool sample --per-class N --out
 * DIR --format png|idx`): N images of every class of a conditional generator,
 * written in batches as PNG files in one folder per class or as an IDX
 * images + labels pair, then `DIR/manifest.json`, written last and
 * atomically, so a folder without it is an incomplete export. Both formats
 * read back through ganpool's own loaders (`folder:DIR`, `idx:DIR/…`) with
 * their classes.
 *
 * Image i of class k is image k·N + i of `ganpool sample --per-class N` (the
 * same latent noise of the seed, the same class), quantised to 8 bits as the
 * grid PNG is ({@link pixelByte}).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join, normalize, resolve } from 'node:path';
import sharp from 'sharp';
import { openFileAtomic, writeFileAtomic } from '../util/atomic.js';
import { removeOwnedEmptyFolder, removeOwnedFile } from '../util/owned.js';
import { perClassLabels } from '../models/conditioning.js';
import { idxHeader, labelsNameFor } from '../data/idx.js';
import { FOLDER_IMAGE_SIZES } from '../data/image-set.js';
import { badValue, exportFolderNotEmpty, exportManifestUnsafe, sampleNotConditional } from '../errors.js';
import { imageBatches, type LoadedGenerator } from './load.js';
import { pixelByte } from './grid.js';
import { packageVersion } from '../package-info.js';

/** The formats of an exported data set. */
export const EXPORT_FORMATS = ['png', 'idx'] as const;
/** `png`: DIR/<class>/<i>.png; `idx`: DIR/images-idx3-ubyte + DIR/labels-idx1-ubyte. */
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** The manifest's file name inside the export folder. */
export const MANIFEST_NAME = 'manifest.json';
/** The `kind` that marks a manifest as ganpool's (a folder holding one may be overwritten by the next export). */
export const MANIFEST_KIND = 'ganpool generated data set';
/** The IDX images file of an `idx` export (MNIST's naming, without the train-/t10k- prefix). */
export const IDX_IMAGES_NAME = 'images-idx3-ubyte';
/** The IDX labels file of an `idx` export: the name `idx:DIR/images-idx3-ubyte` finds its labels under. */
export const IDX_LABELS_NAME = labelsNameFor(IDX_IMAGES_NAME);
/** IDX labels and folder classes are one byte per image. */
const MAX_CLASSES = 256;
/** The most images one export writes (the manifest lists every file). */
export const MAX_EXPORT_IMAGES = 1_000_000;

/** What an export writes last, as `DIR/manifest.json`. */
export interface ExportManifest {
  /** Always {@link MANIFEST_KIND}. */
  kind: typeof MANIFEST_KIND;
  /** The ganpool version that wrote it. */
  ganpoolVersion: string;
  format: ExportFormat;
  /** The generator drawn from, and what its metadata records about the run that trained it. */
  generator: {
    /** Its path, absolute. */
    path: string;
    format: 'tfjs' | 'onnx';
    /** The training run's seed, step, model and data set (those its metadata records). */
    seed?: number;
    step?: number;
    model?: string;
    dataset?: string;
    latentDim: number;
  };
  /** The latent noise seed of the export. */
  seed: number;
  /** Images per class. */
  perClass: number;
  /** Classes, 0 to classes − 1. */
  classes: number;
  /** Images in all (classes × perClass). */
  count: number;
  /** Height, width, channels of every image. */
  imageShape: [number, number, number];
  /** `png`: class k's folder name (class k = classFolders[k], zero-padded numbers so they sort in class order). */
  classFolders?: string[];
  /** Every file written, relative to the folder, '/'-separated, in image order (png) or images then labels (idx); the manifest not included. */
  files: string[];
  /** How to read it back: the `--dataset` value, and for png the `--channels` / `--image-size` it needs. */
  readBack: { dataset: string; channels?: number; imageSize?: number; exact: boolean; note?: string };
}

/** What to export. */
export interface ExportOptions {
  /** The folder to write (created when missing; see {@link prepareExportFolder}). */
  dir: string;
  format: ExportFormat;
  perClass: number;
  /** Latent noise seed. */
  seed: number;
  /** The generator's path, for the manifest. */
  generatorPath: string;
  /** Called as images reach the disk (after each PNG file; after each batch of an IDX file): images written so far, and in all. */
  onProgress?: (done: number, total: number) => void;
}

/** Class k's folder name in a PNG export of `classes` classes: k zero-padded to the width of classes − 1, so names sort in class order. */
export function classFolderName(k: number, classes: number): string {
  return String(k).padStart(String(classes - 1).length, '0');
}

/** Image i's file name in a class folder of `perClass` images: i zero-padded to the width of perClass − 1, so names sort in image order. */
export function imageFileName(i: number, perClass: number): string {
  return `${String(i).padStart(String(perClass - 1).length, '0')}.png`;
}

/**
 * Throws a usage error unless the generator can export `perClass` images of
 * every class: it is conditional, with at most 256 classes, and the set holds
 * at most {@link MAX_EXPORT_IMAGES} images.
 */
export function checkExportable(gen: Pick<LoadedGenerator, 'classes'>, perClass: number): void {
  if (gen.classes === 0) throw sampleNotConditional('--per-class');
  if (gen.classes > MAX_CLASSES) {
    throw badValue('--format', `${gen.classes} classes`, `a generator of at most ${MAX_CLASSES} classes (IDX labels and folder classes are one byte)`);
  }
  if (gen.classes * perClass > MAX_EXPORT_IMAGES) {
    const most = Math.floor(MAX_EXPORT_IMAGES / gen.classes);
    throw badValue('--per-class', perClass, `at most ${most} (${gen.classes} classes, ${MAX_EXPORT_IMAGES} images in all)`);
  }
}

/** The manifest in `dir`, when it is a ganpool export manifest; null when absent; 'foreign' when something else. */
function readManifest(file: string): ExportManifest | null | 'foreign' {
  if (!existsSync(file)) return null;
  try {
    const m = JSON.parse(readFileSync(file, 'utf8')) as Partial<ExportManifest> | null;
    const ok = m?.kind === MANIFEST_KIND && Array.isArray(m.files) && m.files.every((f) => typeof f === 'string') &&
      (m.classFolders === undefined || (Array.isArray(m.classFolders) && m.classFolders.every((f) => typeof f === 'string')));
    return ok ? (m as ExportManifest) : 'foreign';
  } catch {
    return 'foreign';
  }
}

/** The names an export writes: a class folder (digits), a PNG in one (digits/digits.png), or the IDX pair. */
const CLASS_FOLDER = /^\d+$/;
const PNG_FILE = /^\d+\/\d+\.png$/;

/** `entry` (a manifest's '/'-separated name) when it is a name an export writes; throws otherwise (absolute, `..`, or any other name). */
function ownName(entry: string, pattern: RegExp | null, manifest: string): string {
  const ok = pattern ? pattern.test(entry) : PNG_FILE.test(entry) || entry === IDX_IMAGES_NAME || entry === IDX_LABELS_NAME;
  if (!ok) throw exportManifestUnsafe(manifest, entry);
  return normalize(entry);
}

/**
 * Makes `dir` ready for an export, or refuses (a usage error naming --out)
 * when it is a file or a non-empty folder without a ganpool manifest, so
 * user data is never overwritten. A ganpool export there is removed: its
 * manifest first (the folder is then marked incomplete), then the files and
 * class folders it lists. Only names an export writes are removed (a manifest
 * listing any other name is a GanpoolDataError, and nothing is removed), and
 * only regular files and empty folders reached through no link: a link in
 * the folder never lets a removal reach outside it. Anything else in the
 * folder is left alone. Writes nothing when it refuses; creates `dir` when missing.
 */
export async function prepareExportFolder(dir: string): Promise<void> {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw exportFolderNotEmpty(dir, 'is a file');
  if (!existsSync(dir) || readdirSync(dir).length === 0) {
    await mkdir(dir, { recursive: true });
    return;
  }
  const file = join(dir, MANIFEST_NAME);
  const old = readManifest(file);
  if (old === null) throw exportFolderNotEmpty(dir, `is not empty (${readdirSync(dir).length} entries) and holds no ${MANIFEST_NAME}`);
  if (old === 'foreign') throw exportFolderNotEmpty(dir, `holds a ${MANIFEST_NAME} that is not a ganpool export manifest`);
  const files = old.files.map((f) => ownName(f, null, file));
  const folders = (old.classFolders ?? []).map((f) => ownName(f, CLASS_FOLDER, file));
  removeOwnedFile(dir, MANIFEST_NAME);
  for (const f of files) removeOwnedFile(dir, f);
  for (const f of folders) removeOwnedEmptyFolder(dir, f);
}

/** Runs `job(i)` for i in [0, n) with at most `limit` in flight. */
async function forEachBounded(n: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, n)) }, runner));
}

/** Quantises `images` (values in [-1, 1]) to bytes, as written. */
function toBytes(images: Float32Array): Uint8Array {
  const out = new Uint8Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = pixelByte(images[i]);
  return out;
}

/** Writes the images as DIR/<class>/<i>.png, batch by batch; returns the files, in image order. */
async function writePngs(gen: LoadedGenerator, opts: ExportOptions, labels: Int32Array, report: (done: number) => void): Promise<string[]> {
  const [h, w, c] = gen.imageShape;
  const per = h * w * c, { dir, perClass } = opts;
  const names = Array.from({ length: labels.length }, (_, k) =>
    `${classFolderName(labels[k], gen.classes)}/${imageFileName(k % perClass, perClass)}`);
  for (let k = 0; k < gen.classes; k++) await mkdir(join(dir, classFolderName(k, gen.classes)), { recursive: true });
  let written = 0;
  for await (const { first, rows, images } of imageBatches(gen, labels.length, opts.seed, labels)) {
    const bytes = toBytes(images);
    await forEachBounded(rows, availableParallelism() * 2, async (r) => {
      const img = sharp(bytes.subarray(r * per, (r + 1) * per), { raw: { width: w, height: h, channels: c as 1 | 3 } });
      // sharp writes sRGB unless told otherwise: a grey image stays a 1-channel PNG.
      const png = await (c === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
      await writeFileAtomic(join(dir, names[first + r]), png);
      report(++written);
    });
  }
  return names;
}

/** Writes the images as one IDX images file (N×H×W, or N×H×W×C for colour) and the labels beside it; returns the two names. */
async function writeIdx(gen: LoadedGenerator, opts: ExportOptions, labels: Int32Array, report: (done: number) => void): Promise<string[]> {
  const [h, w, c] = gen.imageShape;
  const n = labels.length;
  const images = await openFileAtomic(join(opts.dir, IDX_IMAGES_NAME));
  try {
    await images.write(idxHeader(c === 1 ? [n, h, w] : [n, h, w, c]));
    for await (const batch of imageBatches(gen, n, opts.seed, labels)) {
      await images.write(toBytes(batch.images));
      report(batch.first + batch.rows);
    }
    await images.commit();
  } catch (e) {
    await images.abort();
    throw e;
  }
  const header = idxHeader([n]), bytes = new Uint8Array(header.length + n);
  bytes.set(header);
  bytes.set(labels, header.length);
  await writeFileAtomic(join(opts.dir, IDX_LABELS_NAME), bytes);
  return [IDX_IMAGES_NAME, IDX_LABELS_NAME];
}

/** How the export reads back through ganpool's loaders. */
function readBack(format: ExportFormat, dir: string, [h, w, c]: readonly number[]): ExportManifest['readBack'] {
  if (format === 'idx') return { dataset: `idx:${join(dir, IDX_IMAGES_NAME)}`, exact: true };
  // folder: decodes to FOLDER_IMAGE_SIZES only; a PNG export of another size reads back resized.
  const exact = h === w && (FOLDER_IMAGE_SIZES as readonly number[]).includes(h);
  return {
    dataset: `folder:${dir}`, channels: c, imageSize: exact ? h : 32, exact,
    ...(exact ? {} : { note: `folder: decodes to 28×28, 32×32 or 64×64 only, so these ${h}×${w} images read back resized; the idx format reads back exactly` }),
  };
}

/**
 * Draws `perClass` images of every class of the conditional generator `gen`
 * and writes them to `opts.dir` in `opts.format`, then the manifest (last,
 * atomically), which it returns. Checks first, writing nothing on a usage
 * error: the generator is conditional and the set not too large ({@link checkExportable}), and the
 * folder may be written ({@link prepareExportFolder}).
 */
export async function exportDataset(gen: LoadedGenerator, opts: ExportOptions): Promise<ExportManifest> {
  checkExportable(gen, opts.perClass);
  const dir = resolve(opts.dir);
  await prepareExportFolder(dir);
  const labels = perClassLabels(gen.classes, opts.perClass);
  const report = (done: number): void => opts.onProgress?.(done, labels.length);
  const o = { ...opts, dir };
  const files = opts.format === 'png' ? await writePngs(gen, o, labels, report) : await writeIdx(gen, o, labels, report);
  const manifest: ExportManifest = {
    kind: MANIFEST_KIND,
    ganpoolVersion: packageVersion(),
    format: opts.format,
    generator: { path: resolve(opts.generatorPath), format: gen.format, ...gen.provenance, latentDim: gen.latentDim },
    seed: opts.seed,
    perClass: opts.perClass,
    classes: gen.classes,
    count: labels.length,
    imageShape: [...gen.imageShape],
    ...(opts.format === 'png' ? { classFolders: Array.from({ length: gen.classes }, (_, k) => classFolderName(k, gen.classes)) } : {}),
    files,
    readBack: readBack(opts.format, dir, gen.imageShape),
  };
  await writeFileAtomic(join(dir, MANIFEST_NAME), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
