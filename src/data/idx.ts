/**
 * Reader for the IDX format of MNIST and Fashion-MNIST (raw or gzip-compressed),
 * the header of the unsigned-byte IDX files ganpool writes, and the resolution
 * of data set names to IDX files on disk.
 */
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import {
  datasetNotFoundError,
  idxBadHeaderError,
  idxBadMagicError,
  idxBadTypeError,
  idxDimsError,
  idxFieldError,
  idxGunzipError,
  idxGunzipNoHeaderError,
  idxGunzipTooLargeError,
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

/** The most data bytes (the product of the dimensions) an IDX file may declare: 4 GB. */
export const MAX_IDX_DATA_BYTES = 4_000_000_000;
/** The largest image side an IDX images file may declare: 64, the largest size a preset is built for. */
export const MAX_IDX_SIDE = 64;
/** An IDX header is at most 4 + 4 × 255 bytes. */
const MAX_HEADER_BYTES = 4 + 4 * 255;
/** Compressed prefixes tried, in turn, to find the IDX header of a gzip file (each inflates to at most ~1,032× its size). */
const GZIP_HEADER_PREFIXES = [1024, 65_536];

/** What the caller expects of an IDX file, checked on its header before the data is read or inflated. */
type IdxExpect =
  | { kind: 'any' }
  | { kind: 'images' }
  | { kind: 'labels'; count: number; imagesPath: string };

/** Inflates just enough of a gzip stream to hold the IDX header (a compressed prefix, so the output stays small). */
function gunzipHead(path: string, raw: Uint8Array): Uint8Array {
  for (const n of GZIP_HEADER_PREFIXES) {
    let head: Uint8Array;
    try {
      head = gunzipSync(raw.subarray(0, n), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 1100 * n + MAX_HEADER_BYTES });
    } catch (e) {
      throw idxGunzipError(path, (e as Error).message);
    }
    if (head.length >= 4 && head.length >= 4 + 4 * (head[3] ?? 0)) return head;
    if (n >= raw.length) return head; // the whole file: the header check names what is missing
  }
  throw idxGunzipNoHeaderError(path, GZIP_HEADER_PREFIXES[GZIP_HEADER_PREFIXES.length - 1]);
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

/** Checks the header's dimensions against what the caller expects and the size cap; returns the data's byte count. */
function checkDims(path: string, dims: number[], expect: IdxExpect): number {
  if (expect.kind === 'images') {
    if (dims.length !== 3 && dims.length !== 4) throw idxDimsError(path, 'N×H×W or N×H×W×C image dimensions', dims);
    const names = ['height', 'width'] as const;
    names.forEach((name, i) => {
      if (dims[i + 1] > MAX_IDX_SIDE) throw idxFieldError(path, `dimension ${i + 1} (${name})`, dims[i + 1], `at most ${MAX_IDX_SIDE} pixels, the largest side a model preset is built for`);
    });
    if (dims.length === 4 && dims[3] !== 1 && dims[3] !== 3) throw idxFieldError(path, 'dimension 3 (channels)', dims[3], '1 (grey) or 3 (RGB)');
  } else if (expect.kind === 'labels') {
    if (dims.length !== 1) throw idxDimsError(path, 'a 1-D labels file', dims);
    if (dims[0] !== expect.count) throw idxLabelCountError(path, dims[0], expect.imagesPath, expect.count);
  }
  const bytes = dims.reduce((a, b) => a * b, 1);
  if (bytes > MAX_IDX_DATA_BYTES) {
    throw idxFieldError(path, `dimensions [${dims.join(', ')}]`, `${bytes} bytes of data`, `at most ${MAX_IDX_DATA_BYTES} bytes`);
  }
  return bytes;
}

/** Reads the first bytes of a file (up to `n`). */
function readPrefix(fd: number, n: number): Buffer {
  const buf = Buffer.allocUnsafe(n);
  let got = 0;
  while (got < n) {
    const r = readSync(fd, buf, got, n - got, got);
    if (r === 0) break;
    got += r;
  }
  return buf.subarray(0, got);
}

/**
 * Reads an IDX file (raw or .gz) of unsigned bytes; throws GanpoolDataError naming the file on any
 * defect. The header is checked before the data is read: the dimensions against `expect` and
 * {@link MAX_IDX_DATA_BYTES}, a raw file's size against them, and a gzip file is inflated with an
 * output cap of exactly what its header declares.
 */
export function readIdx(path: string, expect: IdxExpect = { kind: 'any' }): IdxFile {
  const fd = openSync(path, 'r');
  let raw: Uint8Array;
  try {
    const size = fstatSync(fd).size;
    const prefix = readPrefix(fd, Math.min(size, MAX_HEADER_BYTES));
    if (prefix.length < 2 || prefix[0] !== 0x1f || prefix[1] !== 0x8b) {
      const { dims, offset } = parseHeader(path, prefix);
      const expected = checkDims(path, dims, expect);
      if (size - offset !== expected) throw idxLengthError(path, expected, size - offset);
      return { dims, data: readPrefix(fd, size).subarray(offset) };
    }
    raw = readPrefix(fd, size);
  } finally {
    closeSync(fd);
  }
  const { dims, offset } = parseHeader(path, gunzipHead(path, raw));
  const expected = checkDims(path, dims, expect);
  let buf: Uint8Array;
  try {
    buf = gunzipSync(raw, { maxOutputLength: offset + expected });
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw idxGunzipTooLargeError(path, offset + expected);
    throw idxGunzipError(path, (e as Error).message);
  }
  if (buf.length - offset !== expected) throw idxLengthError(path, expected, buf.length - offset);
  return { dims, data: buf.subarray(offset) };
}

/** Reads an IDX labels file and checks that it holds one label per image. */
function readLabels(labelsPath: string, imagesPath: string, count: number): Uint8Array {
  const { data } = readIdx(labelsPath, { kind: 'labels', count, imagesPath });
  return new Uint8Array(data);
}

/** Loads an IDX images file (N×H×W, or N×H×W×C) and optional labels into a shared-memory ImageSet. */
export function loadIdxImages(imagesPath: string, labelsPath?: string): ImageSet {
  const { dims, data } = readIdx(imagesPath, { kind: 'images' });
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
