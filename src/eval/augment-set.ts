/**
 * Loads the labelled generated images that `ganpool classifier train
 * --augment SPEC` mixes into the classifier's training rows, and checks them
 * against the real data set: the same image shape, and labels that are
 * classes of the real set. SPEC is `idx:PATH` (an images-idx3 file with its
 * labels-idx1 file beside it), `folder:DIR` (one subfolder per class number,
 * `DIR/<class>/<i>.png`, zero-padded or not), or a bare DIR written by `ganpool sample
 * --per-class N --out DIR`, whose manifest.json says which of the two it holds
 * (`"format": "idx"` or `"png"`).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import { classCount, type FolderImageSize, type ImageSet } from '../data/image-set.js';
import { augmentError, augmentLabelError, augmentShapeError } from '../errors.js';

/** The manifest file of a `ganpool sample --per-class N --out DIR` export. */
export const SAMPLE_MANIFEST = 'manifest.json';
/** The images file of an IDX export when the manifest does not name one. */
export const EXPORT_IDX_IMAGES = 'images-idx3-ubyte';

/** A parsed --augment value. */
export type AugmentSpec =
  | { kind: 'idx'; path: string }
  | { kind: 'folder'; dir: string }
  | { kind: 'export'; dir: string };

/** Parses an --augment value without touching the disk: `idx:PATH`, `folder:DIR`, or a bare DIR (a sample export). */
export function parseAugmentSpec(spec: string): AugmentSpec {
  if (typeof spec !== 'string' || spec === '' || spec === 'idx:' || spec === 'folder:') throw augmentError(String(spec), 'names no file or folder');
  if (spec.startsWith('idx:')) return { kind: 'idx', path: spec.slice(4) };
  if (spec.startsWith('folder:')) return { kind: 'folder', dir: spec.slice(7) };
  return { kind: 'export', dir: spec };
}

/** What the generated images must match: the real set's image shape and class count. */
export interface AugmentTarget {
  imageShape: readonly [number, number, number];
  classes: number;
}

/** The real set's {@link AugmentTarget}. */
export function augmentTarget(real: ImageSet & { labels: Uint8Array }): AugmentTarget {
  return { imageShape: [real.height, real.width, real.channels], classes: classCount(real) };
}

/** Throws a usage error naming --augment unless `path` exists (as a folder when `folder`). */
function assertPath(spec: string, path: string, folder: boolean): void {
  if (!existsSync(path)) throw augmentError(spec, `does not exist (no file or folder ${JSON.stringify(path)})`);
  if (folder && !statSync(path).isDirectory()) throw augmentError(spec, 'is a file, not a folder');
}

/** Reads a sample export's manifest.json and turns the folder into the `idx` or `folder` spec it holds. */
export function resolveSampleExport(spec: string, dir: string): Exclude<AugmentSpec, { kind: 'export' }> {
  assertPath(spec, dir, true);
  const file = join(dir, SAMPLE_MANIFEST);
  if (!existsSync(file)) {
    throw augmentError(spec, `has no ${SAMPLE_MANIFEST}, so it is not a finished 'ganpool sample --per-class N --out DIR' export (the manifest is written last); name its layout with idx:PATH or folder:DIR`);
  }
  let manifest: { format?: unknown; images?: unknown };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as typeof manifest;
  } catch (e) {
    throw augmentError(spec, `has an unreadable ${SAMPLE_MANIFEST} (${(e as Error).message})`);
  }
  if (manifest?.format === 'png') return { kind: 'folder', dir };
  if (manifest?.format === 'idx') {
    if (typeof manifest.images === 'string') return { kind: 'idx', path: join(dir, manifest.images) };
    const path = [EXPORT_IDX_IMAGES, `${EXPORT_IDX_IMAGES}.gz`].map((f) => join(dir, f)).find((p) => existsSync(p));
    if (!path) throw augmentError(spec, `has a ${SAMPLE_MANIFEST} of format "idx" but no ${EXPORT_IDX_IMAGES} file`);
    return { kind: 'idx', path };
  }
  throw augmentError(spec, `has a ${SAMPLE_MANIFEST} whose format is ${JSON.stringify(manifest?.format)}; expected "idx" or "png"`);
}

/** Loads an IDX images file and the labels file beside it. */
async function loadIdx(spec: string, path: string): Promise<ImageSet> {
  assertPath(spec, path, false);
  const { loadIdxImages, resolveIdxDataset } = await import('../data/idx.js');
  const files = resolveIdxDataset(`idx:${path}`);
  if (files.labels === undefined) throw augmentError(spec, 'has no labels-idx1 file beside its images file (generated images need their classes)');
  return loadIdxImages(files.images, files.labels);
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);

/** The folder's image files (relative, `/`-separated) and their own sizes as [height, width, channels] (alpha not counted). */
async function folderImageShapes(dir: string): Promise<{ rel: string; shape: [number, number, number] }[]> {
  const { default: sharp } = await import('sharp');
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/')).sort();
  return Promise.all(files.map(async (rel) => {
    const m = await sharp(join(dir, rel)).metadata().catch(() => null);
    const channels = m?.channels === undefined ? 0 : m.channels - (m.hasAlpha ? 1 : 0);
    return { rel, shape: [m?.height ?? 0, m?.width ?? 0, channels] as [number, number, number] };
  }));
}

/**
 * Loads a class-per-subfolder image folder at its own size (after checking
 * every image has the target height and width; grey or RGB files are read as
 * the target's channels): a subfolder's name is its images' class.
 */
async function loadFolder(spec: string, dir: string, target: AugmentTarget): Promise<ImageSet> {
  assertPath(spec, dir, true);
  const [h, w, c] = target.imageShape;
  if (h !== w) throw augmentError(spec, `is an image folder, and ganpool reads those as square images, but the data set's are ${h}×${w}; give idx:PATH instead`);
  const files = await folderImageShapes(dir);
  if (files.length === 0) throw augmentError(spec, 'holds no .png, .jpg, .jpeg or .webp files');
  const unreadable = files.find((f) => f.shape[2] === 0);
  if (unreadable) throw augmentError(spec, `has an unreadable image file ${unreadable.rel}`);
  // Height and width must match; grey and RGB files both load as the data set's channels (sharp writes grey images as RGB PNGs).
  const odd = files.find((f) => f.shape[0] !== h || f.shape[1] !== w);
  if (odd) throw augmentShapeError(`${spec}: ${odd.rel}`, odd.shape, target.imageShape);
  const tops = new Set(files.map((f) => (f.rel.includes('/') ? f.rel.slice(0, f.rel.indexOf('/')) : '')));
  if (tops.has('')) throw augmentError(spec, 'has images outside class subfolders (expected DIR/<class>/<i>.png)');
  const bad = [...tops].find((name) => !/^\d+$/.test(name));
  if (bad !== undefined) throw augmentError(spec, `has a subfolder ${JSON.stringify(bad)} that is not a class number (expected DIR/<class>/<i>.png)`);
  const big = [...tops].find((name) => Number(name) >= target.classes);
  if (big !== undefined) throw augmentLabelError(spec, Number(big), target.classes);
  const { loadImageFolder } = await import('../data/image-folder.js');
  const set = await loadImageFolder(dir, { size: h as FolderImageSize, channels: c as 1 | 3 });
  if (set.skipped > 0) throw augmentError(spec, `has ${set.skipped} unreadable image file(s): ${set.skippedNames.join(', ')}`);
  // One subfolder: the loader sees no classes (it needs two), but the folder's name is the class of every image.
  const labels = set.labels ? Uint8Array.from(set.labels, (k) => Number(set.classNames[k])) : new Uint8Array(set.count).fill(Number([...tops][0]));
  const { images, count, height, width, channels } = set;
  return { images, count, height, width, channels, labels, name: spec };
}

/**
 * Loads the --augment images `spec` and checks them against `target` (the
 * real set): usage errors naming --augment for a missing path, a folder
 * without manifest.json, missing labels, another image shape or a label
 * outside the real classes.
 */
export async function loadAugmentSet(spec: string, target: AugmentTarget): Promise<ImageSet & { labels: Uint8Array }> {
  let parsed = parseAugmentSpec(spec);
  if (parsed.kind === 'export') parsed = resolveSampleExport(spec, parsed.dir);
  const set = parsed.kind === 'idx' ? await loadIdx(spec, parsed.path) : await loadFolder(spec, parsed.dir, target);
  const shape = [set.height, set.width, set.channels];
  if (shape.some((d, i) => d !== target.imageShape[i])) throw augmentShapeError(spec, shape, target.imageShape);
  const labels = set.labels!;
  const outside = labels.findIndex((y) => y >= target.classes);
  if (outside >= 0) throw augmentLabelError(spec, labels[outside], target.classes);
  return { ...set, labels, name: spec };
}
