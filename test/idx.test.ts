import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadIdxImages, readIdx, resolveIdxDataset, SYSTEM_FASHION_MNIST_DIR, writeIdxRows } from '../src/data/idx.js';
import { loadDataset } from '../src/data/dataset.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';
import { requireOrSkip } from './helpers.js';

const dataTest = requireOrSkip(existsSync(SYSTEM_FASHION_MNIST_DIR), `${SYSTEM_FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist): the Fashion-MNIST tests of idx`);

/** Builds an IDX ubyte file from dims and data. */
function idxBytes(dims: number[], data: Uint8Array, typeCode = 0x08): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-idx-'));
function write(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const l of labels) counts[l]++;
  return counts;
}

dataTest('reads the Fashion-MNIST training set', (t) => {
  const paths = resolveIdxDataset('fashion-mnist');
  t.truthy(paths.labels);
  const set = loadIdxImages(paths.images, paths.labels);
  t.is(set.count, 60000);
  t.deepEqual([set.height, set.width, set.channels], [28, 28, 1]);
  t.is(set.images.length, 60000 * 28 * 28);
  t.true(set.images.buffer instanceof SharedArrayBuffer);
  t.deepEqual(classCounts(set.labels!), new Array(10).fill(6000));
  t.true(set.images.some((v) => v === 255));
});

dataTest('reads the Fashion-MNIST t10k set', (t) => {
  const images = join(SYSTEM_FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz');
  const paths = resolveIdxDataset(`idx:${images}`);
  t.is(paths.labels, join(SYSTEM_FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
  const set = loadIdxImages(paths.images, paths.labels);
  t.is(set.count, 10000);
  t.deepEqual(classCounts(set.labels!), new Array(10).fill(1000));
});

test('gzip round trip of a tiny IDX file', (t) => {
  const data = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => i * 10);
  const raw = write('tiny-images-idx3-ubyte', idxBytes([3, 2, 4], data));
  const gz = write('tiny2-images-idx3-ubyte.gz', gzipSync(readFileSync(raw)));
  write('tiny2-labels-idx1-ubyte.gz', gzipSync(idxBytes([3], Uint8Array.of(1, 2, 3))));
  t.deepEqual(readIdx(gz).dims, [3, 2, 4]);
  t.deepEqual(readIdx(raw).data, readIdx(gz).data);
  const paths = resolveIdxDataset(`idx:${gz}`);
  const set = loadIdxImages(paths.images, paths.labels);
  t.deepEqual([set.count, set.height, set.width, set.channels], [3, 2, 4, 1]);
  t.deepEqual(Array.from(set.images), Array.from(data));
  t.deepEqual(Array.from(set.labels!), [1, 2, 3]);
});

test('corrupt magic names the file', (t) => {
  const p = write('bad-magic', Buffer.from([0x50, 0x4b, 0x08, 0x01, 0, 0, 0, 1, 7]));
  const e = t.throws(() => readIdx(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /bad-magic: not an IDX file: expected the magic number to start with 00 00, found 50 4b 08 01/);
});

test('wrong type code is rejected', (t) => {
  const p = write('float-idx', idxBytes([1], new Uint8Array(4), 0x0d));
  const e = t.throws(() => readIdx(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /float-idx: unsupported IDX data type code 0x0d; only 0x08 \(unsigned byte\)/);
});

test('truncated and over-long data are rejected', (t) => {
  const full = idxBytes([10, 28, 28], new Uint8Array(7840));
  const short = write('short-idx', full.subarray(0, 1234 + 16));
  const e = t.throws(() => readIdx(short), { instanceOf: GanpoolDataError });
  t.regex(e.message, /short-idx: expected 7840 bytes of data after the header, found 1234 \(file truncated\?\)/);
  const long = write('long-idx', Buffer.concat([full, Buffer.alloc(5)]));
  t.throws(() => readIdx(long), { message: /long-idx: expected 7840 bytes .* found 7845 \(trailing data/ });
  const header = write('cut-header', full.subarray(0, 9));
  t.throws(() => readIdx(header), { message: /cut-header: bad IDX header: 3 dimensions declared but the file ends after 9 bytes/ });
});

test('labels/images count mismatch is rejected', (t) => {
  const images = write('m-images-idx3-ubyte', idxBytes([3, 2, 2], new Uint8Array(12)));
  const labels = write('m-labels-idx1-ubyte', idxBytes([2], Uint8Array.of(0, 1)));
  const e = t.throws(() => loadIdxImages(images, labels), { instanceOf: GanpoolDataError });
  t.regex(e.message, /m-labels-idx1-ubyte: has 2 labels but .*m-images-idx3-ubyte has 3 images/);
});

test('a missing data set says where it looked and how to get it', (t) => {
  const e = t.throws(() => resolveIdxDataset(`idx:${join(tmp, 'nope-images-idx3-ubyte')}`), { instanceOf: GanpoolUsageError });
  t.regex(e.message, /nope-images-idx3-ubyte/);
  t.regex(e.message, /apt-get install dataset-fashion-mnist/);
  t.regex(e.message, /--data-dir/);
  t.throws(() => resolveIdxDataset('mnist-ish'), { message: /unknown IDX dataset 'mnist-ish'/ });
});

test('fashion-mnist prefers --data-dir', (t) => {
  const dir = mkdtempSync(join(tmp, 'dd-'));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), idxBytes([1, 1, 1], Uint8Array.of(9)));
  t.is(resolveIdxDataset('fashion-mnist', dir).images, join(dir, 'train-images-idx3-ubyte'));
});

test('writeIdxRows writes the chosen rows of a labelled set as an IDX pair that idx: reads back, in the order given', async (t) => {
  const set = await loadDataset('mnist');
  const rows = [9999, 3, 3, 500];
  const dir = join(mkdtempSync(join(tmpdir(), 'ganpool-idx-rows-')), 'part');
  const path = writeIdxRows(set, rows, dir);
  const back = await loadDataset(`idx:${path}`);
  t.is(back.count, rows.length);
  t.deepEqual([back.height, back.width, back.channels], [28, 28, 1]);
  const px = 28 * 28;
  rows.forEach((row, i) => {
    t.deepEqual(back.images.subarray(i * px, (i + 1) * px), set.images.subarray(row * px, (row + 1) * px), `image ${i}`);
    t.is(back.labels![i], set.labels![row], `label ${i}`);
  });
});
