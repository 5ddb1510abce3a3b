/**
 * Loads a folder of PNG/JPEG/WebP images (recursively) into a shared-memory
 * ImageSet: centre-cropped to a square, resized, decoded in parallel by sharp,
 * and cached beside the images so a second load of an unchanged folder is a
 * single file read. When every image lies in a subfolder and there are two or
 * more of them, the immediate subfolders are the classes: class k is the k-th
 * subfolder name in sorted order, and each image is labelled with its own.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { lstat, open, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import sharp from 'sharp';
import { folderMissingError, folderNoImagesError } from '../errors.js';
import { sharedBytes, type FolderImageSize, type ImageSet } from './image-set.js';

/** Options for loadImageFolder. */
export interface ImageFolderOptions {
  /** Output side length in pixels. */
  size: FolderImageSize;
  /** 1 = greyscale, 3 = RGB. */
  channels: 1 | 3;
  /** Called after each image is decoded (not called on a cache hit). */
  onProgress?: (done: number, total: number) => void;
  /** How many sharp decodes run at once; default availableParallelism() × 2. */
  concurrency?: number;
  /** Bytes of decoded pixels in flight at once, estimated from each image's header; default {@link DECODE_BUDGET_BYTES}. */
  decodeBudget?: number;
}

/** A loaded folder: the images plus what was skipped and whether the cache served them. */
export interface ImageFolderSet extends ImageSet {
  /** Image files that could not be decoded. */
  skipped: number;
  /** The first few skipped files (relative paths), for the warning line. */
  skippedNames: string[];
  /** Files without an image extension, ignored. */
  nonImages: number;
  /** True when the pixels came from the cache file. */
  fromCache: boolean;
  /** The classes' subfolder names (class k = classNames[k]); empty when the folder is unlabelled. */
  classNames: string[];
}

/** An image file found in the folder. */
interface ImageEntry {
  rel: string;
  size: number;
  mtimeMs: number;
}

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.webp']);
const CACHE_PREFIX = '.ganpool-cache-';
const CACHE_MAGIC = 'GANPOOLC';
const CACHE_VERSION = 2;
const HEADER_BYTES = 72;
const MAX_SKIPPED_NAMES = 5;
/** Labels are stored one byte each, so a folder labels at most this many classes. */
const MAX_CLASSES = 256;
/** The most pixels (width × height) an image may declare; a larger one is skipped unread (sharp's limitInputPixels). */
export const MAX_INPUT_PIXELS = 50_000_000;
/** Default bytes of decoded pixels in flight across concurrent decodes (one image larger than this decodes alone). */
export const DECODE_BUDGET_BYTES = 256 * 1024 * 1024;
/** Bytes per sample of each sharp depth. */
const DEPTH_BYTES: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };

/** The cache file for one (size, channels) decoding of `dir`. */
export function cachePath(dir: string, size: number, channels: number): string {
  return join(dir, `${CACHE_PREFIX}${size}-${channels}.bin`);
}

/** Recursively lists the folder: image files (sorted by relative path) and a count of other files. */
async function listFolder(dir: string): Promise<{ images: ImageEntry[]; nonImages: number }> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const images: ImageEntry[] = [];
  let nonImages = 0;
  for (const e of entries) {
    if (!e.isFile() || e.name.startsWith(CACHE_PREFIX)) continue;
    if (!IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) {
      nonImages++;
      continue;
    }
    const full = join(e.parentPath, e.name);
    const s = statSync(full); // much faster than 10,000 awaited fs.promises.stat calls
    images.push({ rel: relative(dir, full).split(sep).join('/'), size: s.size, mtimeMs: s.mtimeMs });
  }
  images.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return { images, nonImages };
}

/**
 * The folder's classes and each image's class: its immediate subfolder, when
 * every image lies in one and there are 2 to 256 of them; otherwise none.
 */
export function folderClasses(rels: readonly string[]): { names: string[]; labels: Uint8Array } | null {
  const tops = rels.map((rel) => (rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : null));
  if (tops.some((t) => t === null)) return null;
  const names = [...new Set(tops as string[])].sort();
  if (names.length < 2 || names.length > MAX_CLASSES) return null;
  const index = new Map(names.map((n, k) => [n, k]));
  return { names, labels: Uint8Array.from(tops as string[], (t) => index.get(t)!) };
}

/** A SHA-256 over the sorted (relative path, size, mtime) list: changes whenever an image is added, removed or touched. */
function fingerprint(images: ImageEntry[]): Buffer {
  const h = createHash('sha256');
  for (const e of images) h.update(`${e.rel}\0${e.size}\0${e.mtimeMs}\n`);
  return h.digest();
}

/** The bytes one image decodes to at full size, from its header; throws when it declares more than {@link MAX_INPUT_PIXELS}. */
async function decodedBytes(path: string): Promise<number> {
  const m = await sharp(path, { limitInputPixels: MAX_INPUT_PIXELS }).metadata();
  const pixels = (m.width ?? 0) * (m.height ?? 0);
  if (!(pixels > 0) || pixels > MAX_INPUT_PIXELS) throw new Error(`declares ${m.width}×${m.height} pixels`);
  return pixels * Math.max(m.channels ?? 4, 3) * (DEPTH_BYTES[m.depth ?? 'uchar'] ?? 1);
}

/** Decodes one file to size×size×channels raw bytes, centre-cropped. */
async function decodeImage(path: string, size: number, channels: 1 | 3): Promise<Buffer> {
  let img = sharp(path, { limitInputPixels: MAX_INPUT_PIXELS }).rotate().resize(size, size, { fit: 'cover', position: 'centre' }).removeAlpha();
  img = channels === 1 ? img.greyscale().toColourspace('b-w') : img.toColourspace('srgb');
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || data.length !== size * size * channels) {
    throw new Error(`decoded to ${info.width}×${info.height}×${info.channels}`);
  }
  return data;
}

/**
 * A budget of bytes shared by concurrent jobs: {@link take} waits (first come, first served) until
 * `bytes` fit beside those in flight; a job larger than the whole budget runs alone.
 */
export class ByteBudget {
  private inFlight = 0;
  private readonly waiting: { bytes: number; go: () => void }[] = [];
  /** The most bytes ever in flight at once. */
  peak = 0;
  constructor(readonly budget: number) {}

  /** Resolves once `bytes` may be used; pair with {@link give}. */
  async take(bytes: number): Promise<void> {
    if (this.waiting.length === 0 && this.fits(bytes)) return this.use(bytes);
    await new Promise<void>((go) => this.waiting.push({ bytes, go }));
  }

  /** Returns `bytes` taken before, letting waiting jobs start. */
  give(bytes: number): void {
    this.inFlight -= bytes;
    while (this.waiting.length > 0 && this.fits(this.waiting[0].bytes)) {
      const next = this.waiting.shift()!;
      this.use(next.bytes);
      next.go();
    }
  }

  private fits(bytes: number): boolean {
    return this.inFlight === 0 || this.inFlight + bytes <= this.budget;
  }

  private use(bytes: number): void {
    this.inFlight += bytes;
    this.peak = Math.max(this.peak, this.inFlight);
  }
}

/** Runs `job(i)` for i in [0, n) with at most `limit` in flight. */
async function forEachBounded(n: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < n) await job(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, n)) }, runner));
}

/** Decodes every image into its slot of a shared buffer; returns the buffer and which slots succeeded. */
async function decodeAll(dir: string, images: ImageEntry[], opts: ImageFolderOptions): Promise<{ pixels: Uint8Array; ok: boolean[] }> {
  const per = opts.size * opts.size * opts.channels;
  const pixels = sharedBytes(per * images.length);
  const ok = new Array<boolean>(images.length).fill(false);
  const budget = new ByteBudget(opts.decodeBudget ?? DECODE_BUDGET_BYTES);
  let done = 0;
  await forEachBounded(images.length, opts.concurrency ?? availableParallelism() * 2, async (i) => {
    const path = join(dir, images[i].rel);
    try {
      const bytes = await decodedBytes(path);
      await budget.take(bytes);
      try {
        pixels.set(await decodeImage(path, opts.size, opts.channels), i * per);
      } finally {
        budget.give(bytes);
      }
      ok[i] = true;
    } catch {
      // counted as skipped below
    }
    opts.onProgress?.(++done, images.length);
  });
  return { pixels, ok };
}

/** Copies the successfully decoded slots into an exactly-sized shared buffer (no copy when nothing was skipped). */
function compact(pixels: Uint8Array, ok: boolean[], per: number): Uint8Array {
  const count = ok.filter(Boolean).length;
  if (count === ok.length) return pixels;
  const out = sharedBytes(count * per);
  let j = 0;
  ok.forEach((good, i) => {
    if (good) out.set(pixels.subarray(i * per, (i + 1) * per), j++ * per);
  });
  return out;
}

/** What the cache header records besides the pixels. */
interface CacheMeta {
  count: number;
  size: number;
  channels: number;
  fp: Buffer;
  skipped: number;
  skippedNames: string[];
  /** Classes of a labelled folder (0: unlabelled); the file then ends with one label byte per image. */
  classes: number;
}

/** Serialises the cache header: magic, version, count, size, channels, skipped, names length, fingerprint, classes. */
function encodeHeader(m: CacheMeta): { header: Buffer; names: Buffer } {
  const names = Buffer.from(JSON.stringify(m.skippedNames));
  const header = Buffer.alloc(HEADER_BYTES);
  header.write(CACHE_MAGIC, 0, 'latin1');
  [CACHE_VERSION, m.count, m.size, m.channels, m.skipped, names.length].forEach((v, i) => header.writeUInt32LE(v, 8 + 4 * i));
  m.fp.copy(header, 32);
  header.writeUInt32LE(m.classes, 64);
  return { header, names };
}

/** Parses a cache header; undefined when it is not a current-version ganpool cache. */
function decodeHeader(h: Buffer): (CacheMeta & { namesLength: number }) | undefined {
  if (h.length < HEADER_BYTES || h.toString('latin1', 0, 8) !== CACHE_MAGIC) return undefined;
  const [version, count, size, channels, skipped, namesLength] = [0, 1, 2, 3, 4, 5].map((i) => h.readUInt32LE(8 + 4 * i));
  if (version !== CACHE_VERSION) return undefined;
  return {
    count: count, size: size, channels: channels, skipped: skipped, namesLength: namesLength, fp: h.subarray(32, 64), skippedNames: [],
    classes: h.readUInt32LE(64),
  };
}

/** The most bytes of skipped-file names a cache header may declare (it records at most {@link MAX_SKIPPED_NAMES}). */
const MAX_NAMES_BYTES = 64 * 1024;

/**
 * The byte lengths of a cache's sections (names, pixels, labels) when its header agrees exactly with
 * a file of `fileSize` bytes; undefined otherwise. Checked before anything is allocated, so a header
 * declaring a huge count allocates nothing.
 */
export function cacheLayout(
  meta: Pick<CacheMeta, 'count' | 'size' | 'channels' | 'classes'> & { namesLength: number }, fileSize: number,
): { names: number; pixels: number; labels: number } | undefined {
  if (meta.namesLength > MAX_NAMES_BYTES) return undefined;
  const pixels = meta.count * meta.size * meta.size * meta.channels;
  const labels = meta.classes > 0 ? meta.count : 0;
  if (HEADER_BYTES + meta.namesLength + pixels + labels !== fileSize) return undefined;
  return { names: meta.namesLength, pixels, labels };
}

/** Reads exactly `into.length` bytes at `position`; false if the file is shorter. */
async function readExactly(fh: import('node:fs/promises').FileHandle, into: Uint8Array, position: number): Promise<boolean> {
  let off = 0;
  while (off < into.length) {
    const { bytesRead } = await fh.read(into, off, into.length - off, position + off);
    if (bytesRead === 0) return false;
    off += bytesRead;
  }
  return true;
}

/** Reads the cache when it exists and matches; otherwise undefined (a stale or damaged cache is just rebuilt). */
async function readCache(
  path: string, want: Omit<CacheMeta, 'skipped' | 'skippedNames' | 'count'> & { total: number },
): Promise<{ meta: CacheMeta; pixels: Uint8Array; labels: Uint8Array | null } | undefined> {
  if (!(await lstat(path).catch(() => undefined))?.isFile()) return undefined; // no cache, or a FIFO/link that must not be opened
  const fh = await open(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    const meta = (await readExactly(fh, header, 0)) ? decodeHeader(header) : undefined;
    if (!meta || meta.size !== want.size || meta.channels !== want.channels || !meta.fp.equals(want.fp) || meta.classes !== want.classes) return undefined;
    if (meta.count + meta.skipped !== want.total || meta.count === 0) return undefined;
    const layout = cacheLayout(meta, (await fh.stat()).size);
    if (!layout) return undefined;
    const names = Buffer.alloc(layout.names);
    const pixels = sharedBytes(layout.pixels);
    const labels = meta.classes > 0 ? new Uint8Array(layout.labels) : null;
    if (!(await readExactly(fh, names, HEADER_BYTES))) return undefined;
    if (!(await readExactly(fh, pixels, HEADER_BYTES + names.length))) return undefined;
    if (labels && !(await readExactly(fh, labels, HEADER_BYTES + names.length + pixels.length))) return undefined;
    if (labels?.some((y) => y >= meta.classes)) return undefined;
    const skippedNames: unknown = JSON.parse(names.toString('utf8'));
    if (!Array.isArray(skippedNames) || !skippedNames.every((n) => typeof n === 'string')) return undefined;
    meta.skippedNames = skippedNames;
    return { meta, pixels, labels };
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/** Writes the cache atomically (temp file in the same folder, then rename); a read-only folder just goes uncached. */
async function writeCache(path: string, meta: CacheMeta, pixels: Uint8Array, labels: Uint8Array | null): Promise<void> {
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  const { header, names } = encodeHeader(meta);
  try {
    await writeFile(tmp, labels ? [header, names, pixels, labels] : [header, names, pixels]);
    await rename(tmp, path);
  } catch {
    await rm(tmp, { force: true });
  }
}

/** Checks that `dir` is an existing folder. */
async function assertFolder(dir: string): Promise<void> {
  const s = await stat(dir).catch(() => undefined);
  if (!s?.isDirectory()) throw folderMissingError(dir, s !== undefined);
}

/** The labels of the decoded images (`ok`), in order; null for an unlabelled folder. */
function keptLabels(classes: { labels: Uint8Array } | null, ok: boolean[]): Uint8Array | null {
  return classes ? classes.labels.filter((_, i) => ok[i]) : null;
}

/** The ImageSet label fields: the labels, the class count and names (none for an unlabelled folder). */
function labelFields(classes: { names: string[] } | null, labels: Uint8Array | null): Pick<ImageFolderSet, 'labels' | 'classes' | 'classNames'> {
  return classes && labels ? { labels, classes: classes.names.length, classNames: classes.names } : { classNames: [] };
}

/**
 * Loads every PNG/JPEG/WebP under `dir` as size×size×channels, from the cache when the folder is
 * unchanged; labelled by subfolder when the subfolders are classes (see {@link folderClasses}).
 */
export async function loadImageFolder(dir: string, opts: ImageFolderOptions): Promise<ImageFolderSet> {
  await assertFolder(dir);
  const { images, nonImages } = await listFolder(dir);
  if (images.length === 0) throw folderNoImagesError(dir, 0, nonImages);
  const { size, channels } = opts;
  const fp = fingerprint(images);
  const classes = folderClasses(images.map((e) => e.rel));
  const base = { height: size, width: size, channels, name: dir, nonImages };
  const cpath = cachePath(dir, size, channels);
  const cached = await readCache(cpath, { size, channels, fp, classes: classes?.names.length ?? 0, total: images.length });
  if (cached) {
    const { count, skipped, skippedNames } = cached.meta;
    return { ...base, images: cached.pixels, count, skipped, skippedNames, fromCache: true, ...labelFields(classes, cached.labels) };
  }
  const { pixels, ok } = await decodeAll(dir, images, opts);
  const skippedList = images.filter((_, i) => !ok[i]).map((e) => e.rel);
  if (skippedList.length === images.length) throw folderNoImagesError(dir, images.length, nonImages);
  const meta: CacheMeta = {
    count: images.length - skippedList.length, size, channels, fp, skipped: skippedList.length,
    skippedNames: skippedList.slice(0, MAX_SKIPPED_NAMES), classes: classes?.names.length ?? 0,
  };
  const out = compact(pixels, ok, size * size * channels);
  const labels = keptLabels(classes, ok);
  await writeCache(cpath, meta, out, labels);
  return {
    ...base, images: out, count: meta.count, skipped: meta.skipped, skippedNames: meta.skippedNames, fromCache: false,
    ...labelFields(classes, labels),
  };
}
