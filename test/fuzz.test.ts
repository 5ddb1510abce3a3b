/**
 * Hostile files never crash or hang the loaders: seeded mutations (truncation, bit flips, huge
 * declared dimensions, wrong magic, byte runs) of IDX files, checkpoints (manifest and parameter
 * files) and image folders (images and the decode cache). Every case must end within a bounded
 * time in a valid load or a GanpoolDataError/GanpoolUsageError naming the file: never another
 * exception. GANPOOL_FUZZ_CASES sets the cases per format (default 500).
 */
import test from 'ava';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { readIdx, loadIdxImages } from '../src/data/idx.js';
import { loadImageFolder, cachePath } from '../src/data/image-folder.js';
import { loadCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { resolveConfig } from '../src/config.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';
import { sfc32 } from '../src/util/rng.js';

const CASES = Number(process.env.GANPOOL_FUZZ_CASES ?? 500);
const MAX_CASE_MS = 5000;
const root = mkdtempSync(join(tmpdir(), 'ganpool-fuzz-'));

/** One seeded mutation of `bytes`; `header` is the span the interesting fields live in. */
function mutate(bytes: Uint8Array, next: () => number, header: number): { data: Uint8Array; how: string } {
  const out = new Uint8Array(bytes);
  const at = (n: number): number => Math.floor(next() * n);
  switch (at(6)) {
    case 0: { const n = at(bytes.length); return { data: out.subarray(0, n), how: `truncate to ${n}` }; }
    case 1: { const flips = 1 + at(8); for (let k = 0; k < flips; k++) { const i = at(out.length); out[i] ^= 1 << at(8); } return { data: out, how: `${flips} bit flips` }; }
    case 2: { const i = at(Math.min(header, out.length)); out[i] ^= 1 << at(8); return { data: out, how: `header bit flip at ${i}` }; }
    case 3: { const i = 4 * at(Math.max(1, Math.floor(Math.min(header, out.length) / 4))); out.set([0xff, 0xff, 0xff, 0xf0].slice(0, out.length - i), i); return { data: out, how: `huge value at ${i}` }; }
    case 4: { out[0] = at(256); out[1] = at(256); return { data: out, how: 'wrong magic' }; }
    default: { const i = at(out.length), n = at(64); out.fill(at(256), i, i + n); return { data: out, how: `byte run at ${i}` }; }
  }
}

async function check(t: import('ava').ExecutionContext, what: string, fn: () => unknown): Promise<'loaded' | 'refused'> {
  const t0 = performance.now();
  try {
    await fn();
    return 'loaded';
  } catch (e) {
    if (!(e instanceof GanpoolDataError || e instanceof GanpoolUsageError)) t.fail(`${what}: ${(e as Error).stack ?? String(e)}`);
    return 'refused';
  } finally {
    const ms = performance.now() - t0;
    if (ms > MAX_CASE_MS) t.fail(`${what}: took ${ms.toFixed(0)} ms`);
  }
}

function idxBytes(dims: number[], fill: (i: number) => number): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(4 + 4 * dims.length + n);
  out.set([0, 0, 0x08, dims.length]);
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < n; i++) out[4 + 4 * dims.length + i] = fill(i);
  return out;
}

test(`IDX: ${CASES} mutated image/label files (raw and gzip) load or are refused naming the file`, async (t) => {
  const dir = join(root, 'idx');
  mkdirSync(dir);
  const images = idxBytes([20, 28, 28], (i) => (i * 7) % 256), labels = idxBytes([20], (i) => i % 10);
  const next = sfc32(101);
  const counts = { loaded: 0, refused: 0 };
  for (let c = 0; c < CASES; c++) {
    const which = next() < 0.75 ? 'images' : 'labels';
    const { data, how } = mutate(which === 'images' ? images : labels, next, 24);
    const gz = next() < 0.25;
    const imgPath = join(dir, `c${c}-images-idx3-ubyte${gz && which === 'images' ? '.gz' : ''}`);
    const labPath = join(dir, `c${c}-labels-idx1-ubyte`);
    writeFileSync(imgPath, which === 'images' ? (gz ? gzipSync(data) : data) : images);
    writeFileSync(labPath, which === 'labels' ? data : labels);
    counts[await check(t, `idx case ${c} (${which}, ${how}${gz ? ', gzip' : ''})`, () => {
      const set = loadIdxImages(imgPath, labPath);
      if (set.images.length !== set.count * set.height * set.width * set.channels) throw new Error('inconsistent set');
    })]++;
    if (next() < 0.1) await check(t, `idx case ${c} readIdx`, () => readIdx(imgPath));
    rmSync(imgPath); rmSync(labPath);
  }
  t.log(`IDX: ${counts.loaded} loaded, ${counts.refused} refused`);
  t.true(counts.refused > CASES / 2);
});

test(`checkpoints: ${CASES} mutated manifests and parameter files load or are refused naming the file`, async (t) => {
  const good = join(root, 'ck-good');
  const vec = (k: number): Float32Array => Float32Array.from({ length: 12 }, (_, i) => k + i / 8);
  const config = resolveConfig({ model: 'seed', out: good }, 10_000, [28, 28, 1]);
  await writeCheckpoint(good, config, { stepsDone: 3, g: { params: vec(1), m: vec(2), v: vec(3), t: 3, bn: vec(4) }, d: { params: vec(5), m: vec(6), v: vec(7), t: 3, bn: vec(8) } });
  const files = readdirSync(join(good, 'checkpoint'));
  const next = sfc32(202);
  const counts = { loaded: 0, refused: 0 };
  for (let c = 0; c < CASES; c++) {
    const dir = join(root, `ck-${c}`);
    mkdirSync(join(dir, 'checkpoint'), { recursive: true });
    for (const f of files) copyFileSync(join(good, 'checkpoint', f), join(dir, 'checkpoint', f));
    const victim = next() < 0.5 ? 'manifest.json' : files[Math.floor(next() * files.length)];
    const { data, how } = mutate(readFileSync(join(good, 'checkpoint', victim)), next, 400);
    writeFileSync(join(dir, 'checkpoint', victim), data);
    counts[await check(t, `checkpoint case ${c} (${victim}: ${how})`, () => loadCheckpoint(dir))]++;
    rmSync(dir, { recursive: true });
  }
  t.log(`checkpoints: ${counts.loaded} loaded, ${counts.refused} refused`);
  t.true(counts.refused > CASES / 2);
});

test(`image folders: ${CASES} folders of mutated images and decode caches load or are refused naming the folder`, async (t) => {
  const png = new Uint8Array(await sharp({ create: { width: 24, height: 20, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toBuffer());
  const jpg = new Uint8Array(await sharp({ create: { width: 30, height: 30, channels: 3, background: { r: 10, g: 140, b: 30 } } }).jpeg().toBuffer());
  const next = sfc32(303);
  const counts = { loaded: 0, refused: 0 };
  for (let c = 0; c < CASES; c++) {
    const dir = join(root, `f-${c}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.png'), mutate(png, next, 64).data);
    writeFileSync(join(dir, 'b.jpg'), next() < 0.5 ? jpg : mutate(jpg, next, 64).data);
    if (next() < 0.3) {
      // A valid load first, then a mutated decode cache for the second load.
      await check(t, `folder case ${c} first load`, () => loadImageFolder(dir, { size: 32, channels: 3 }));
      const cache = cachePath(dir, 32, 3);
      try {
        writeFileSync(cache, mutate(readFileSync(cache), next, 256).data);
      } catch { /* no cache: every image was refused */ }
    }
    counts[await check(t, `folder case ${c}`, () => loadImageFolder(dir, { size: 32, channels: 3 }))]++;
    rmSync(dir, { recursive: true });
  }
  t.log(`image folders: ${counts.loaded} loaded, ${counts.refused} refused`);
  t.true(counts.loaded > 0 && counts.refused > 0);
});
