/**
 * Runs ganpool's loaders on hostile files ("bombs"), each in a child process of its own, and prints
 * a table of what happened and the child's peak RSS (process.resourceUsage().maxRSS). The goal is
 * under 500 MB for every one; the script exits 1 when a bomb exceeds it or ends in anything but a
 * ganpool error or a skip.
 *
 *   npx tsx scripts/bombs.ts            # all bombs
 *   npx tsx scripts/bombs.ts --limit-mb 300
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { greyPng, idxFile } from '../test/hostile-input-helpers.js';

const SELF = fileURLToPath(import.meta.url);

interface Bomb {
  name: string;
  what: string;
  /** Writes the bomb under `dir` (in the parent). */
  make(dir: string): Promise<void>;
  /** Runs the loader on it (in the child); returns what it did. */
  run(dir: string): Promise<string>;
}

/** `n` gzip members of 1 MiB of zeros each (about 1 KB each compressed), after `first`: the stream inflates to n MiB more. */
function zerosGzip(first: Uint8Array, mib: number): Buffer {
  const member = gzipSync(new Uint8Array(1024 * 1024), { level: 9 });
  return Buffer.concat([gzipSync(first), ...Array.from({ length: mib }, () => member)]);
}

const BOMBS: Bomb[] = [
  {
    name: 'gzip bomb (IDX)', what: '1 MB .gz: header 10×28×28, inflates to 4 GiB',
    async make(dir) { writeFileSync(join(dir, 'images-idx3-ubyte.gz'), zerosGzip(idxFile([10, 28, 28], new Uint8Array(7840)), 4096)); },
    async run(dir) { const { loadIdxImages } = await import('../src/data/idx.js'); loadIdxImages(join(dir, 'images-idx3-ubyte.gz')); return 'loaded'; },
  },
  {
    name: 'gzip bomb, honest-looking header', what: '1 MB .gz: header 60000×28×28 (47 MB), inflates to 4 GiB',
    async make(dir) { writeFileSync(join(dir, 'images-idx3-ubyte.gz'), zerosGzip(idxFile([60000, 28, 28], new Uint8Array(0)), 4096)); },
    async run(dir) { const { loadIdxImages } = await import('../src/data/idx.js'); loadIdxImages(join(dir, 'images-idx3-ubyte.gz')); return 'loaded'; },
  },
  {
    name: 'huge IDX dimensions (raw)', what: 'header (2^32−1)×64×64×3, 100 bytes of data',
    async make(dir) { writeFileSync(join(dir, 'images-idx3-ubyte'), idxFile([0xffffffff, 64, 64, 3], new Uint8Array(100))); },
    async run(dir) { const { loadIdxImages } = await import('../src/data/idx.js'); loadIdxImages(join(dir, 'images-idx3-ubyte')); return 'loaded'; },
  },
  {
    name: 'huge IDX dimensions (gzip)', what: 'header 2^31×28×28 in a 1 MB .gz inflating to 1 GiB',
    async make(dir) { writeFileSync(join(dir, 'images-idx3-ubyte.gz'), zerosGzip(idxFile([2 ** 31, 28, 28], new Uint8Array(0)), 1024)); },
    async run(dir) { const { loadIdxImages } = await import('../src/data/idx.js'); loadIdxImages(join(dir, 'images-idx3-ubyte.gz')); return 'loaded'; },
  },
  {
    name: 'huge-pixel PNG header', what: 'PNG claiming 50000×50000 (2.5 GP), 10 rows of data',
    async make(dir) { mkdirSync(join(dir, 'f')); writeFileSync(join(dir, 'f', 'huge.png'), greyPng(50_000, 50_000, 10)); writeFileSync(join(dir, 'f', 'ok.png'), greyPng(28, 28)); },
    async run(dir) { return folder(join(dir, 'f')); },
  },
  {
    name: 'huge PNG, real data', what: 'PNG of 8000×8000 (64 MP) zeros, 64 KB compressed',
    async make(dir) { mkdirSync(join(dir, 'f')); writeFileSync(join(dir, 'f', 'big.png'), greyPng(8000, 8000)); writeFileSync(join(dir, 'f', 'ok.png'), greyPng(28, 28)); },
    async run(dir) { return folder(join(dir, 'f')); },
  },
  {
    name: 'huge decode-cache header', what: 'cache header claiming 2^32−1 images and 4 GB of names',
    async make(dir) {
      const f = join(dir, 'f');
      mkdirSync(f);
      writeFileSync(join(f, 'ok.png'), greyPng(28, 28));
      const { cachePath, loadImageFolder } = await import('../src/data/image-folder.js');
      await loadImageFolder(f, { size: 28, channels: 1 });
      const cache = readFileSync(cachePath(f, 28, 1));
      cache.writeUInt32LE(0xffffffff, 12);
      cache.writeUInt32LE(0xffffffff, 28);
      writeFileSync(cachePath(f, 28, 1), cache);
    },
    async run(dir) { return folder(join(dir, 'f'), 1); },
  },
  {
    name: 'model.json with a huge layer', what: 'a Dense layer of 200,000,000 units (3.2 GB of weights) over 48 bytes of weights',
    async make(dir) {
      await import('@tensorflow/tfjs-backend-cpu');
      const tfl = await import('@tensorflow/tfjs-layers');
      const { saveLayersModel } = await import('../src/engines/tfjs/model-io.js');
      const m = tfl.sequential();
      m.add(tfl.layers.dense({ inputShape: [4], units: 3 }));
      await saveLayersModel(m, join(dir, 'm'));
      const json = JSON.parse(readFileSync(join(dir, 'm', 'model.json'), 'utf8')) as { modelTopology: { config: { layers: { config: { units: number } }[] } } };
      json.modelTopology.config.layers[0].config.units = 200_000_000;
      writeFileSync(join(dir, 'm', 'model.json'), JSON.stringify(json));
    },
    async run(dir) {
      await import('@tensorflow/tfjs-backend-cpu');
      const tf = await import('@tensorflow/tfjs-core');
      await tf.setBackend('cpu');
      const { loadLayersModel } = await import('../src/engines/tfjs/model-io.js');
      await loadLayersModel(join(dir, 'm'));
      return 'loaded';
    },
  },
];

async function folder(dir: string, channels: 1 | 3 = 1): Promise<string> {
  const { loadImageFolder } = await import('../src/data/image-folder.js');
  const set = await loadImageFolder(dir, { size: 28, channels });
  return `loaded ${set.count} image(s)${set.skipped ? `, skipped ${set.skippedNames.join(', ')}` : ''}${set.fromCache ? ' from the cache' : ', cache rebuilt'}`;
}

async function child(name: string, dir: string): Promise<void> {
  const bomb = BOMBS.find((b) => b.name === name)!;
  let outcome: string;
  try {
    outcome = await bomb.run(dir);
  } catch (e) {
    const { GanpoolDataError, GanpoolUsageError } = await import('../src/errors.js');
    const ours = e instanceof GanpoolDataError || e instanceof GanpoolUsageError;
    outcome = `${ours ? 'refused' : 'CRASHED'}: ${(e as Error).constructor.name}: ${(e as Error).message.replace(dir, '…').slice(0, 160)}`;
  }
  process.stdout.write(JSON.stringify({ outcome, maxRssMb: process.resourceUsage().maxRSS / 1024 }) + '\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') return child(args[1], args[2]);
  const limitAt = args.indexOf('--limit-mb');
  const limitMb = limitAt >= 0 ? Number(args[limitAt + 1]) : 500;
  const root = mkdtempSync(join(tmpdir(), 'ganpool-bombs-'));
  const rows: string[] = ['| bomb | what | outcome | peak RSS |', '|---|---|---|---:|'];
  let bad = 0;
  try {
    const baseline = spawnSync(process.execPath, ['--import', 'tsx', '-e', 'await import("./src/data/idx.ts"); await import("./src/data/image-folder.ts"); console.log(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }))'], { encoding: 'utf8' });
    const base = (JSON.parse(baseline.stdout.trim().split('\n').pop() ?? '{}') as { maxRssMb?: number }).maxRssMb;
    for (const [i, bomb] of BOMBS.entries()) {
      const dir = join(root, String(i));
      mkdirSync(dir);
      await bomb.make(dir);
      const r = spawnSync(process.execPath, ['--import', 'tsx', SELF, '--child', bomb.name, dir], { encoding: 'utf8', timeout: 300_000, maxBuffer: 1 << 20 });
      const line = r.stdout.trim().split('\n').pop() ?? '';
      let outcome = `child exited ${r.status ?? r.signal}: ${r.stderr.trim().split('\n').pop() ?? ''}`, rss = NaN;
      try {
        const parsed = JSON.parse(line) as { outcome: string; maxRssMb: number };
        ({ outcome } = parsed);
        rss = parsed.maxRssMb;
      } catch { /* the child died: outcome says how */ }
      if (!(rss <= limitMb) || outcome.startsWith('CRASHED') || outcome.startsWith('child exited') || outcome === 'loaded') bad++;
      rows.push(`| ${bomb.name} | ${bomb.what} | ${outcome.replace(/\|/g, '\\|')} | ${rss.toFixed(0)} MB |`);
      rmSync(dir, { recursive: true, force: true });
    }
    console.log(rows.join('\n'));
    console.log(`\nbaseline (a child that only imports the loaders): ${base?.toFixed(0) ?? '?'} MB; goal: every bomb under ${limitMb} MB`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (bad > 0) {
    console.log(`${bad} bomb(s) over the goal or not refused`);
    process.exitCode = 1;
  }
}

await main();
