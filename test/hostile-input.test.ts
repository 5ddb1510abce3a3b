/**
 * Parsers bound what they allocate: each hostile header is refused (or, for an image folder, the
 * file skipped or the cache rebuilt) from the header alone, before its data are read or inflated,
 * with a GanpoolDataError that names the file and the field.
 */
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadIdxImages, readIdx } from '../src/data/idx.js';
import { ByteBudget, cacheLayout, cachePath, loadImageFolder, MAX_INPUT_PIXELS } from '../src/data/image-folder.js';
import { GanpoolDataError } from '../src/errors.js';
import { greyPng, idxFile } from './hostile-input-helpers.js';

const root = mkdtempSync(join(tmpdir(), 'ganpool-hostile-'));
let serial = 0;
function file(name: string, bytes: Uint8Array): string {
  const dir = join(root, `f${serial++}`);
  mkdirSync(dir);
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

test('IDX gzip: a small .gz that inflates past its header\'s size is refused at that size, naming the file', (t) => {
  // Header: 10 images of 28×28 (7,840 bytes); the stream inflates to 32 MB.
  const bomb = gzipSync(idxFile([10, 28, 28], new Uint8Array(32 * 1024 * 1024)));
  t.true(bomb.length < 64 * 1024);
  const p = file('bomb-images-idx3-ubyte.gz', bomb);
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /bomb-images-idx3-ubyte\.gz: gzip data inflates to more than the 7856 bytes its IDX header declares/);
});

test('IDX gzip: a header declaring more than the data cap is refused before inflating', (t) => {
  const p = file('huge-images-idx3-ubyte.gz', gzipSync(idxFile([0xffffffff, 64, 64, 3], new Uint8Array(100))));
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /huge-images-idx3-ubyte\.gz: IDX header field dimensions \[4294967295, 64, 64, 3\] is \d+ bytes of data; expected at most 4000000000 bytes/);
});

test('IDX: channels other than 1 or 3 are refused naming the file and the field', (t) => {
  const p = file('c5-images-idx3-ubyte', idxFile([2, 4, 4, 5], new Uint8Array(2 * 4 * 4 * 5)));
  const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
  t.regex(e.message, /c5-images-idx3-ubyte: IDX header field dimension 3 \(channels\) is 5; expected 1 \(grey\) or 3 \(RGB\)/);
});

test('IDX: sides beyond the largest preset (64) are refused naming the field, raw and gzip', (t) => {
  const data = new Uint8Array(1 * 65 * 8);
  for (const [name, bytes] of [['tall', idxFile([1, 65, 8], data)], ['wide.gz', gzipSync(idxFile([1, 8, 65], data))]] as const) {
    const p = file(`${name}-images`, bytes);
    const e = t.throws(() => loadIdxImages(p), { instanceOf: GanpoolDataError });
    t.regex(e.message, name === 'tall' ? /IDX header field dimension 1 \(height\) is 65; expected at most 64/ : /dimension 2 \(width\) is 65/);
  }
});

test('IDX: a labels file whose count differs is refused from its header, before inflating', (t) => {
  const images = file('ok-images-idx3-ubyte', idxFile([3, 2, 2], new Uint8Array(12)));
  const labels = file('bad-labels.gz', gzipSync(idxFile([4], new Uint8Array(16 * 1024 * 1024))));
  const e = t.throws(() => loadIdxImages(images, labels), { instanceOf: GanpoolDataError });
  t.regex(e.message, /bad-labels\.gz: has 4 labels but .*ok-images-idx3-ubyte has 3 images/);
  // readIdx without expectations still reads any well-formed file.
  t.deepEqual(readIdx(images).dims, [3, 2, 2]);
});

test(`image folders: an image declaring more than MAX_INPUT_PIXELS (${MAX_INPUT_PIXELS}) is skipped unread`, async (t) => {
  const dir = join(root, 'big-png');
  mkdirSync(dir);
  writeFileSync(join(dir, 'huge.png'), greyPng(8000, 8000)); // 64 MP of zeros: 64 KB compressed
  writeFileSync(join(dir, 'ok.png'), greyPng(30, 30));
  const set = await loadImageFolder(dir, { size: 28, channels: 1 });
  t.is(set.count, 1);
  t.deepEqual(set.skippedNames, ['huge.png']);
});

test('image folders: decoding keeps the estimated bytes in flight within the budget', async (t) => {
  const budget = new ByteBudget(100);
  const jobs = [60, 30, 50, 20, 150, 10, 90].map(async (bytes, i) => {
    await budget.take(bytes);
    await new Promise((r) => setTimeout(r, 1 + (i % 3)));
    budget.give(bytes);
  });
  await Promise.all(jobs);
  t.is(budget.peak, 150); // only the job larger than the budget exceeds it, and it ran alone
  const b2 = new ByteBudget(100);
  await Promise.all([60, 30, 50, 20, 10, 90].map(async (bytes) => { await b2.take(bytes); await new Promise((r) => setTimeout(r, 2)); b2.give(bytes); }));
  t.true(b2.peak <= 100 && b2.peak >= 90, `peak ${b2.peak}`);
  // A whole folder decodes correctly under a budget smaller than one image.
  const dir = join(root, 'budget');
  mkdirSync(dir);
  for (let i = 0; i < 6; i++) {
    await sharp({ create: { width: 40, height: 40, channels: 3, background: { r: 40 * i, g: 10, b: 200 } } }).png().toFile(join(dir, `${i}.png`));
  }
  const tight = await loadImageFolder(dir, { size: 28, channels: 3, decodeBudget: 1 });
  const loose = await loadImageFolder(join(dir), { size: 32, channels: 3 });
  t.is(tight.count, 6);
  t.is(loose.count, 6);
  t.is(tight.images[0], 0);
  t.is(tight.images[5 * 28 * 28 * 3], 200);
});

test('image folders: a cache header is checked against the file size before anything is allocated', async (t) => {
  const meta = { count: 10, size: 28, channels: 1, classes: 0, namesLength: 2 };
  t.deepEqual(cacheLayout(meta, 72 + 2 + 10 * 784), { names: 2, pixels: 7840, labels: 0 });
  t.is(cacheLayout(meta, 72 + 2 + 10 * 784 - 1), undefined);
  t.is(cacheLayout({ ...meta, count: 0xffffffff }, 72 + 2 + 10 * 784), undefined);
  t.is(cacheLayout({ ...meta, namesLength: 0xffffffff }, 72 + 0xffffffff + 10 * 784), undefined);
  t.deepEqual(cacheLayout({ ...meta, classes: 3 }, 72 + 2 + 10 * 785), { names: 2, pixels: 7840, labels: 10 });
  // A cache whose header claims 2^32 - 1 images is rebuilt from the images.
  const dir = join(root, 'cache');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.png'), greyPng(28, 28));
  await loadImageFolder(dir, { size: 28, channels: 1 });
  const cache = readFileSync(cachePath(dir, 28, 1));
  cache.writeUInt32LE(0xffffffff, 12);
  writeFileSync(cachePath(dir, 28, 1), cache);
  const again = await loadImageFolder(dir, { size: 28, channels: 1 });
  t.false(again.fromCache);
  t.is(again.count, 1);
});
