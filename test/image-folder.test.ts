import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { cachePath, loadImageFolder } from '../src/data/image-folder.js';
import { GanpoolDataError } from '../src/errors.js';

type Rgb = { r: number; g: number; b: number };

/** A solid-colour image of the given size. */
function solid(width: number, height: number, c: Rgb): sharp.Sharp {
  return sharp({ create: { width, height, channels: 3, background: c } });
}

/** Builds the mixed test folder: 5 decodable images, 1 corrupt .png, 1 .txt. */
async function buildFolder(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ganpool-folder-'));
  mkdirSync(join(dir, 'sub'));
  await solid(50, 50, { r: 255, g: 0, b: 0 }).png().toFile(join(dir, 'a-red.png'));
  await solid(120, 40, { r: 0, g: 0, b: 255 }).jpeg({ quality: 95 }).toFile(join(dir, 'b-wide.JPG'));
  await solid(30, 90, { r: 0, g: 255, b: 0 }).webp({ lossless: true }).toFile(join(dir, 'c-tall.webp'));
  await solid(64, 64, { r: 10, g: 20, b: 30 }).jpeg().toFile(join(dir, 'sub', 'd.jpeg'));
  await sharp({ create: { width: 33, height: 17, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0.5 } } })
    .png()
    .toFile(join(dir, 'sub', 'e-alpha.png'));
  writeFileSync(join(dir, 'sub', 'broken.png'), Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 7919) % 256)));
  writeFileSync(join(dir, 'notes.txt'), 'not an image');
  return dir;
}

test('loads a mixed folder at 32×32×3 and caches it', async (t) => {
  const dir = await buildFolder();
  const progress: number[] = [];
  const set = await loadImageFolder(dir, { size: 32, channels: 3, onProgress: (d) => progress.push(d), concurrency: 3 });
  t.is(set.count, 5);
  t.is(set.skipped, 1);
  t.deepEqual(set.skippedNames, ['sub/broken.png']);
  t.is(set.nonImages, 1);
  t.false(set.fromCache);
  t.deepEqual([set.height, set.width, set.channels], [32, 32, 3]);
  t.is(set.images.length, 5 * 32 * 32 * 3);
  t.true(set.images.buffer instanceof SharedArrayBuffer);
  t.is(progress.length, 6);
  // sorted order: a-red.png, b-wide.JPG, c-tall.webp, sub/d.jpeg, sub/e-alpha.png
  t.deepEqual(Array.from(set.images.subarray(0, 3)), [255, 0, 0]);
  const blue = Array.from(set.images.subarray(32 * 32 * 3 + 600, 32 * 32 * 3 + 603));
  t.true(blue[0] < 10 && blue[1] < 10 && blue[2] > 245, `blue pixel ${blue.join()}`);
  t.deepEqual(Array.from(set.images.subarray(2 * 32 * 32 * 3, 2 * 32 * 32 * 3 + 3)), [0, 255, 0]);

  t.true(existsSync(cachePath(dir, 32, 3)));
  const again = await loadImageFolder(dir, { size: 32, channels: 3 });
  t.true(again.fromCache);
  t.is(again.count, 5);
  t.is(again.skipped, 1);
  t.deepEqual(again.skippedNames, ['sub/broken.png']);
  t.true(again.images.buffer instanceof SharedArrayBuffer);
  t.true(Buffer.from(again.images).equals(Buffer.from(set.images)));
});

test('loads greyscale at 1 channel', async (t) => {
  const dir = await buildFolder();
  const set = await loadImageFolder(dir, { size: 32, channels: 1 });
  t.is(set.count, 5);
  t.is(set.channels, 1);
  t.is(set.images.length, 5 * 32 * 32);
  const red = set.images[0];
  t.true(red > 40 && red < 140, `grey of red = ${red}`);
  t.is(set.images[2 * 32 * 32] > set.images[0], true);
  t.true(existsSync(cachePath(dir, 32, 1)));
  t.true((await loadImageFolder(dir, { size: 32, channels: 1 })).fromCache);
});

test('touching or adding a file invalidates the cache', async (t) => {
  const dir = await buildFolder();
  await loadImageFolder(dir, { size: 32, channels: 3 });
  t.true((await loadImageFolder(dir, { size: 32, channels: 3 })).fromCache);
  const later = new Date(Date.now() + 5000);
  utimesSync(join(dir, 'a-red.png'), later, later);
  t.false((await loadImageFolder(dir, { size: 32, channels: 3 })).fromCache);
  t.true((await loadImageFolder(dir, { size: 32, channels: 3 })).fromCache);
  await solid(10, 10, { r: 0, g: 0, b: 0 }).png().toFile(join(dir, 'sub', 'f-new.png'));
  const grown = await loadImageFolder(dir, { size: 32, channels: 3 });
  t.false(grown.fromCache);
  t.is(grown.count, 6);
  writeFileSync(join(dir, 'more-notes.md'), 'non-images do not matter');
  t.true((await loadImageFolder(dir, { size: 32, channels: 3 })).fromCache);
});

test('a damaged cache is rebuilt, not trusted', async (t) => {
  const dir = await buildFolder();
  const first = await loadImageFolder(dir, { size: 32, channels: 3 });
  const cache = cachePath(dir, 32, 3);
  const { readFileSync } = await import('node:fs');
  writeFileSync(cache, readFileSync(cache).subarray(0, 1000));
  const second = await loadImageFolder(dir, { size: 32, channels: 3 });
  t.false(second.fromCache);
  t.true(Buffer.from(second.images).equals(Buffer.from(first.images)));
});

test('an empty folder, a folder of junk and a missing folder fail clearly', async (t) => {
  const empty = mkdtempSync(join(tmpdir(), 'ganpool-empty-'));
  writeFileSync(join(empty, 'readme.txt'), 'x');
  const e1 = await t.throwsAsync(loadImageFolder(empty, { size: 32, channels: 3 }), { instanceOf: GanpoolDataError });
  t.regex(e1.message, /no usable images: found no \.png, \.jpg, \.jpeg or \.webp files \(searched recursively; 1 other files ignored\)/);
  t.true(e1.message.startsWith(empty));

  writeFileSync(join(empty, 'bad.jpg'), 'not a jpeg');
  const e2 = await t.throwsAsync(loadImageFolder(empty, { size: 32, channels: 3 }), { instanceOf: GanpoolDataError });
  t.regex(e2.message, /all 1 image files failed to decode/);

  const missing = join(empty, 'nope');
  const e3 = await t.throwsAsync(loadImageFolder(missing, { size: 64, channels: 3 }), { instanceOf: GanpoolDataError });
  t.regex(e3.message, /nope: no such folder/);
});
