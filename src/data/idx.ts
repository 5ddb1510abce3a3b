/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed),
 * the header of the unsigned-byte IDX files ganpool writes, and the resolution
 * of data set names to IDX files on disk.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  datasetNotFoundError,
  idxBadHeaderError,
  idxBadMagicError,
  idxBadTypeError,
  idxDimsError,
  idxGunzipError,
  idxLabelCountError,
  idxLengthError,
  idxSpecError,
} from '../errors.js';
import { sharedBytes, type ImageSet } from './image-set.js';

/** Where the Debian package `dataset-fashion-mnist` installs the data set. */
export const SYSTEM_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

const UBYTE = 0x08;

/** A parsed IDX file: its dimensions and its raw unsigned-byte data. */
export interface IdxFile {
  dims: number[];
  data: Uint8Array;
}

/**
 * The header of an unsigned-byte IDX file of dimensions `dims` (big-endian,
 * as MNIST's): 00 00 08 ndims, then each dimension as a uint32. The data,
 * the product of `dims` bytes in row-major order, follow it.
 */
export function idxHeader(dims: readonly number[]): Uint8Array {
  if (dims.length === 0 || dims.length > 255 || dims.some((d) => !Number.isInteger(d) || d < 1 || d > 0xffff_ffff)) {
    throw new RangeError(`idxHeader: dimensions [${dims.join(', ')}] are not 1 to 255 whole numbers from 1 to 2^32 - 1`);
  }
  const header = new Uint8Array(4 + 4 * dims.length);
  header.set([0, 0, UBYTE, dims.length]);
  const view = new DataView(header.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  return header;
}

/**
 * Writes rows `rows` of a labelled set as an IDX pair under `dir` (created):
 * `images-idx3-ubyte` (N×H×W, or N×H×W×C for colour) and the labels file
 * {@link resolveIdxDataset} finds beside it. Returns the images file's path
 * (`idx:` + it is a data set spec). For scripts that cut a data set into parts.
 */
export function writeIdxRows(set: ImageSet, rows: ArrayLike<number>, dir: string): string {
  if (!set.labels) throw new Error('internal: writeIdxRows needs a labelled set');
  const px = set.height * set.width * set.channels;
  const n = rows.length;
  const images = new Uint8Array(n * px);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const row = rows[i];
    images.set(set.images.subarray(row * px, (row + 1) * px), i * px);
    labels[i] = set.labels[row]!;
  }
  mkdirSync(dir, { recursive: true });
  const dims = set.channels === 1 ? [n, set.height, set.width] : [n, set.height, set.width, set.channels];
  const name = 'images-idx3-ubyte';
  writeFileSync(join(dir, name), Buffer.concat([idxHeader(dims), images]));
  writeFileSync(join(dir, labelsNameFor(name)), Buffer.concat([idxHeader([n]), labels]));
  return join(dir, name);
}

/** The labels file name that {@link resolveIdxDataset} finds beside an images file named `imagesName` (`images-idx3` → `labels-idx1`). */
export function labelsNameFor(imagesName: string): string {
  return imagesName.replace('images-idx3', 'labels-idx1');
}

/** Reads a file, gunzipping it when it starts with the gzip magic bytes 1f 8b. */
function readMaybeGzip(path: string): Uint8Array {
  const raw = readFileSync(path);
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    throw idxGunzipError(path, (e as Error).message);
  }
}

/** Parses the IDX header and returns the dimensions and the offset of the data. */
function parseHeader(path: string, buf: Uint8Array): { dims: number[]; offset: number } {
  if (buf.length < 4 || buf[0] !== 0 || buf[1] !== 0) throw idxBadMagicError(path, buf);
  if (buf[2] !== UBYTE) throw idxBadTypeError(path, buf[2]);
  const ndims = buf[3];
  if (ndims === 0) throw idxBadHeaderError(path, 'zero dimensions');
  const offset = 4 + 4 * ndims;
  if (buf.length < offset) throw idxBadHeaderError(path, `${ndims} dimensions declared but the file ends after ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    if (d === 0) throw idxBadHeaderError(path, `dimension ${i} is 0`);
    dims.push(d);
  }
  return { dims, offset };
}

/** Reads an IDX file (raw or .gz) of unsigned bytes; throws GanpoolDataError naming the file on any defect. */
export function readIdx(path: string): IdxFile {
  const buf = readMaybeGzip(path);
  const { dims, offset } = parseHeader(path, buf);
  const expected = dims.reduce((a, b) => a * b, 1);
  const found = buf.length - offset;
  if (found !== expected) throw idxLengthError(path, expected, found);
  return { dims, data: buf.subarray(offset) };
}

/** Reads an IDX labels file and checks that it holds one label per image. */
function readLabels(labelsPath: string, imagesPath: string, count: number): Uint8Array {
  const { dims, data } = readIdx(labelsPath);
  if (dims.length !== 1) throw idxDimsError(labelsPath, 'a 1-D labels file', dims);
  if (dims[0] !== count) throw idxLabelCountError(labelsPath, dims[0], imagesPath, count);
  return new Uint8Array(data);
}

/** Loads an IDX images file (N×H×W, or N×H×W×C) and optional labels into a shared-memory ImageSet. */
export function loadIdxImages(imagesPath: string, labelsPath?: string): ImageSet {
  const { dims, data } = readIdx(imagesPath);
  if (dims.length !== 3 && dims.length !== 4) throw idxDimsError(imagesPath, 'N×H×W or N×H×W×C image dimensions', dims);
  const [count, height, width, channels = 1] = dims as [number, number, number, number?];
  const images = sharedBytes(data.length);
  images.set(data);
  const set: ImageSet = { images, count, height, width, channels, name: basename(imagesPath) };
  if (labelsPath !== undefined) set.labels = readLabels(labelsPath, imagesPath, count);
  return set;
}

/** Returns the first existing path among `name.gz` and `name` in `dir`, or undefined. */
function findIdx(dir: string, name: string, looked: string[]): string | undefined {
  for (const p of [join(dir, `${name}.gz`), join(dir, name)]) {
    looked.push(p);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The labels file that goes with an images file (`images-idx3` → `labels-idx1`, with or without .gz), when it exists. */
function labelsBeside(imagesPath: string): string | undefined {
  const name = basename(imagesPath);
  if (!name.includes('images-idx3')) return undefined;
  const stem = labelsNameFor(name).replace(/\.gz$/, '');
  return findIdx(dirname(imagesPath), stem, []);
}

/** Resolves `fashion-mnist` (under dataDir, else the system directory) or `idx:PATH` to an images file and its labels file. */
export function resolveIdxDataset(spec: string, dataDir?: string): { images: string; labels?: string } {
  const looked: string[] = [];
  let images: string | undefined;
  if (spec === 'fashion-mnist') {
    const dirs = dataDir !== undefined ? [dataDir, SYSTEM_FASHION_MNIST_DIR] : [SYSTEM_FASHION_MNIST_DIR];
    for (const d of dirs) images ??= findIdx(d, 'train-images-idx3-ubyte', looked);
  } else if (spec.startsWith('idx:')) {
    const p = spec.slice(4);
    looked.push(p);
    if (existsSync(p)) images = p;
  } else {
    throw idxSpecError(spec);
  }
  if (images === undefined) throw datasetNotFoundError(spec, looked);
  const labels = labelsBeside(images);
  return labels !== undefined ? { images, labels } : { images };
}
