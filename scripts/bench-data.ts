/**
 * Data-loading benchmark: load time and peak RSS for Fashion-MNIST (60,000 IDX
 * images) and for a 10,000-image folder at 64×64×3 (first run, then cached).
 * Each measurement runs in its own child process so peak RSS is its own.
 *
 *   npx tsx scripts/bench-data.ts [--images 10000]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { cachePath, loadImageFolder } from '../src/data/image-folder.js';
import { loadIdxImages, resolveIdxDataset } from '../src/data/idx.js';

/** One measurement as a child reports it. */
interface Sample {
  label: string;
  count: number;
  ms: number;
  peakRssMb: number;
  baseRssMb: number;
}

const MB = 1024 * 1024;

/** Runs one load in this process and prints a Sample as JSON. */
async function measure(kind: string, folder: string): Promise<void> {
  const baseRssMb = process.memoryUsage().rss / MB;
  const t0 = performance.now();
  let count: number;
  let label = kind;
  if (kind === 'fashion-mnist') {
    const p = resolveIdxDataset('fashion-mnist');
    count = loadIdxImages(p.images, p.labels).count;
  } else {
    const set = await loadImageFolder(folder, { size: 64, channels: 3 });
    count = set.count;
    label = `folder 64×64×3 (${set.fromCache ? 'cached' : 'first run'})`;
  }
  const ms = performance.now() - t0;
  const sample: Sample = { label, count, ms, peakRssMb: (process.resourceUsage().maxRSS * 1024) / MB, baseRssMb };
  console.log(JSON.stringify(sample));
}

/** Writes `n` images of varied size, aspect and format into `dir`, unless a completed one is there. */
async function ensureFolder(dir: string, n: number): Promise<void> {
  const done = join(dir, '.complete');
  if (existsSync(done)) return;
  rmSync(dir, { recursive: true, force: true });
  const formats = ['jpeg', 'png', 'webp'] as const;
  for (let start = 0; start < n; start += 64) {
    const jobs = [];
    for (let i = start; i < Math.min(n, start + 64); i++) {
      const sub = join(dir, `d${Math.floor(i / 1000)}`);
      mkdirSync(sub, { recursive: true });
      const fmt = formats[i % 3];
      const img = sharp({ create: { width: 80 + (i % 7) * 20, height: 80 + (i % 5) * 24, channels: 3, background: { r: i % 256, g: (i * 7) % 256, b: (i * 13) % 256 }, noise: { type: 'gaussian', mean: 128, sigma: 30 } } });
      jobs.push(img.toFormat(fmt).toFile(join(sub, `img${String(i).padStart(5, '0')}.${fmt}`)));
    }
    await Promise.all(jobs);
  }
  writeFileSync(done, '');
}

/** Runs one measurement in a fresh child process. */
function child(kind: string, folder: string): Sample {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', kind, folder], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Sample;
}

/** Generates the folder if needed, runs the three measurements and prints a table. */
async function main(): Promise<void> {
  const n = Number(process.argv[process.argv.indexOf('--images') + 1]) || 10000;
  const folder = join(tmpdir(), `ganpool-bench-folder-${n}`);
  const g0 = performance.now();
  await ensureFolder(folder, n);
  console.log(`folder: ${folder} (ready in ${((performance.now() - g0) / 1000).toFixed(1)} s)`);
  rmSync(cachePath(folder, 64, 3), { force: true });
  const rows = [child('fashion-mnist', folder), child('folder', folder), child('folder', folder)];
  console.log('| data set | images | load time | peak RSS | RSS before load |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.label} | ${r.count} | ${(r.ms / 1000).toFixed(2)} s | ${r.peakRssMb.toFixed(0)} MB | ${r.baseRssMb.toFixed(0)} MB |`);
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await measure(process.argv[childAt + 1], process.argv[childAt + 2]);
else await main();
