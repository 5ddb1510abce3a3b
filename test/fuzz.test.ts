/**
 * Hostile files never crash, hang or flood the loaders: fast-check properties (seeded, shrinking)
 * over mutated IDX files (raw and gzip), image-folder decode caches, checkpoints (manifest and
 * vector files) and tfjs model folders (model.json and weights). Every case must end within
 * CASE_TIMEOUT_MS in a valid load or a GanpoolDataError/GanpoolUsageError, never another exception,
 * and the process's peak memory may grow by at most MAX_RSS_GROWTH_MB over a property.
 *
 * GANPOOL_FUZZ_CASES sets the cases per format (default 1,000) and GANPOOL_FUZZ_SEED the seed
 * (a failure prints the seed and the shrunk counterexample to replay); scripts/fuzz.ts runs more.
 */
import test, { type ExecutionContext } from 'ava';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import fc from 'fast-check';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { loadIdxImages } from '../src/data/idx.js';
import { cachePath, loadImageFolder } from '../src/data/image-folder.js';
import { loadLayersModel, saveLayersModel } from '../src/engines/tfjs/model-io.js';
import { checkCheckpointModel, loadCheckpoint, writeCheckpoint } from '../src/run/checkpoint.js';
import { resolveConfig } from '../src/config.js';
import { bnStatsSize, modelPreset, paramCount } from '../src/models/presets.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';
import { idxFile } from './hostile-input-helpers.js';

const CASES = Number(process.env.GANPOOL_FUZZ_CASES ?? 1000);
const SEED = Number(process.env.GANPOOL_FUZZ_SEED ?? 20_240_611);
const CASE_TIMEOUT_MS = 10_000;
const MAX_RSS_GROWTH_MB = 400;
const root = mkdtempSync(join(tmpdir(), 'ganpool-fuzz-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));

// ---- mutations: small, structured values that fast-check can shrink ----

/** Header values that sit on the checks' edges. */
const edgeU32 = fc.constantFrom(0, 1, 2, 3, 4, 5, 28, 63, 64, 65, 255, 256, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff);
const u32 = fc.oneof(edgeU32, fc.nat({ max: 0xffffffff }));

type Mutation =
  | { kind: 'truncate'; at: number }
  | { kind: 'flips'; bits: [number, number][] }
  | { kind: 'u32'; at: number; value: number }
  | { kind: 'fill'; at: number; n: number; byte: number }
  | { kind: 'append'; bytes: Uint8Array };

/** One mutation of a byte string; positions are taken modulo its length, `header` biases toward the first bytes. */
function mutation(header: number): fc.Arbitrary<Mutation> {
  const pos = fc.oneof(fc.nat({ max: header - 1 }), fc.nat());
  return fc.oneof(
    fc.record({ kind: fc.constant('truncate' as const), at: pos }),
    fc.record({ kind: fc.constant('flips' as const), bits: fc.array(fc.tuple(pos, fc.nat({ max: 7 })), { minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('u32' as const), at: fc.nat({ max: Math.max(0, header / 4 - 1) }), value: u32 }),
    fc.record({ kind: fc.constant('fill' as const), at: pos, n: fc.nat({ max: 64 }), byte: fc.nat({ max: 255 }) }),
    fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  );
}

function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  if (bytes.length === 0) return m.kind === 'append' ? m.bytes : bytes;
  const out = new Uint8Array(bytes);
  switch (m.kind) {
    case 'truncate': return out.subarray(0, m.at % bytes.length);
    case 'flips': for (const [at, bit] of m.bits) out[at % out.length] ^= 1 << bit; return out;
    case 'u32': {
      const at = (4 * m.at) % out.length;
      const be = [m.value >>> 24, (m.value >>> 16) & 0xff, (m.value >>> 8) & 0xff, m.value & 0xff];
      out.set(be.slice(0, out.length - at), at);
      return out;
    }
    case 'fill': { const at = m.at % out.length; out.fill(m.byte, at, at + m.n); return out; }
    case 'append': { const grown = new Uint8Array(out.length + m.bytes.length); grown.set(out); grown.set(m.bytes, out.length); return grown; }
  }
}

/** A JSON value to put in a field: anything JSON holds, plus values on the checks' edges. */
const jsonEdge = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('../weights.bin', '/etc/passwd', '..', '', 'constructor', '__proto__', -1, 0, 1.5, 2 ** 31, 2 ** 53, 1e308, null, [], {}),
  fc.array(u32, { maxLength: 5 }),
);

/** Every path (list of keys) into a JSON value, the root excluded. */
function jsonPaths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (Array.isArray(v)) v.forEach((x, i) => { out.push([...prefix, i]); jsonPaths(x, [...prefix, i], out); });
  else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) { out.push([...prefix, k]); jsonPaths(x, [...prefix, k], out); }
  return out;
}

/** A copy of `json` with the field at `paths[pick % paths.length]` set to `value` (deleted when `remove`). */
function editJson(json: unknown, pick: number, value: unknown, remove: boolean): unknown {
  const copy = JSON.parse(JSON.stringify(json)) as unknown;
  const paths = jsonPaths(copy);
  const path = paths[pick % paths.length];
  let parent = copy as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (remove && !Array.isArray(parent)) delete parent[last];
  else parent[last] = value;
  return copy;
}

/** A mutation of a JSON file: a field edited (structured) or its bytes mutated. */
function jsonMutation(): fc.Arbitrary<{ kind: 'field'; pick: number; value: unknown; remove: boolean } | { kind: 'bytes'; m: Mutation }> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), pick: fc.nat(), value: jsonEdge, remove: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), m: mutation(256) }) },
  );
}

function applyJsonMutation(text: string, m: ReturnType<typeof jsonMutation> extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
  if (m.kind === 'bytes') return applyMutation(Buffer.from(text), m.m);
  return Buffer.from(JSON.stringify(editJson(JSON.parse(text), m.pick, m.value, m.remove)));
}

// ---- the property runner ----

/** Runs `fn`: a load or a ganpool error naming `file` passes; anything else (or a hang) fails the property. */
async function loadsOrRefuses(fn: () => Promise<unknown>, file: string, counts: { loaded: number; refused: number }): Promise<void> {
  try {
    await fn();
    counts.loaded++;
  } catch (e) {
    if (!(e instanceof GanpoolDataError || e instanceof GanpoolUsageError)) throw e;
    if (e instanceof GanpoolDataError && !e.message.includes(file)) throw new Error(`the error does not name ${file}: ${e.message}`, { cause: e });
    counts.refused++;
  }
}

async function runProperty<T>(t: ExecutionContext, name: string, arb: fc.Arbitrary<T>, check: (value: T, counts: { loaded: number; refused: number }) => Promise<void>, runs = CASES): Promise<void> {
  const counts = { loaded: 0, refused: 0 };
  const rss0 = process.resourceUsage().maxRSS;
  await fc.assert(fc.asyncProperty(arb, async (v) => check(v, counts)), { seed: SEED, numRuns: runs, timeout: CASE_TIMEOUT_MS, endOnFailure: false });
  const grewMb = (process.resourceUsage().maxRSS - rss0) / 1024;
  t.log(`${name}: ${runs} cases (seed ${SEED}): ${counts.loaded} loaded, ${counts.refused} refused; peak RSS grew ${grewMb.toFixed(0)} MB`);
  t.true(grewMb <= MAX_RSS_GROWTH_MB, `peak RSS grew ${grewMb.toFixed(0)} MB`);
  t.true(counts.refused > 0);
}

let serial = 0;
function caseDir(): string {
  const dir = join(root, `c${serial++}`);
  mkdirSync(dir);
  return dir;
}

// ---- IDX ----

const idxBase = fc.record({
  n: fc.integer({ min: 1, max: 4 }), h: fc.integer({ min: 1, max: 6 }), w: fc.integer({ min: 1, max: 6 }),
  c: fc.constantFrom(0, 1, 3), seed: fc.nat({ max: 255 }),
});

test(`IDX: ${CASES} mutated image/label files, raw and gzip (mutated before or after compression), load or are refused naming the file`, async (t) => {
  const arb = fc.record({
    base: idxBase, target: fc.constantFrom('images', 'labels'), gzip: fc.constantFrom('none', 'before', 'after'), m: mutation(24),
  });
  await runProperty(t, 'IDX', arb, async ({ base, target, gzip, m }, counts) => {
    const dims = base.c === 0 ? [base.n, base.h, base.w] : [base.n, base.h, base.w, base.c];
    const px = dims.reduce((a, b) => a * b, 1);
    let images: Uint8Array = idxFile(dims, Uint8Array.from({ length: px }, (_, i) => (i * 31 + base.seed) & 0xff));
    let labels: Uint8Array = idxFile([base.n], Uint8Array.from({ length: base.n }, (_, i) => i % 10));
    const edit = (bytes: Uint8Array): Uint8Array => {
      if (gzip === 'none') return applyMutation(bytes, m);
      return gzip === 'before' ? gzipSync(applyMutation(bytes, m)) : applyMutation(gzipSync(bytes), m);
    };
    if (target === 'images') images = edit(images);
    else labels = edit(labels);
    const dir = caseDir();
    const imgPath = join(dir, `images-idx3-ubyte${gzip !== 'none' && target === 'images' ? '.gz' : ''}`);
    const labPath = join(dir, `labels-idx1-ubyte${gzip !== 'none' && target === 'labels' ? '.gz' : ''}`);
    writeFileSync(imgPath, images);
    writeFileSync(labPath, labels);
    await loadsOrRefuses(async () => {
      const set = loadIdxImages(imgPath, labPath);
      if (set.images.length !== set.count * set.height * set.width * set.channels) throw new Error('inconsistent set');
      if (![1, 3].includes(set.channels) || set.labels?.length !== set.count) throw new Error('inconsistent set');
    }, dir, counts);
    rmSync(dir, { recursive: true });
  });
});

// ---- image-folder cache ----

test(`image folders: ${CASES} mutated decode caches are used only when consistent, else rebuilt from the images`, async (t) => {
  const dir = join(root, 'folder');
  mkdirSync(join(dir, 'a'), { recursive: true });
  mkdirSync(join(dir, 'b'));
  await sharp({ create: { width: 12, height: 10, channels: 3, background: { r: 200, g: 40, b: 90 } } }).png().toFile(join(dir, 'a', '1.png'));
  await sharp({ create: { width: 9, height: 9, channels: 3, background: { r: 10, g: 140, b: 30 } } }).png().toFile(join(dir, 'b', '2.png'));
  writeFileSync(join(dir, 'b', '3.png'), 'not a png');
  const opts = { size: 28, channels: 3 } as const;
  const truth = await loadImageFolder(dir, opts);
  const cache = cachePath(dir, 28, 3);
  const good = readFileSync(cache);
  await runProperty(t, 'image-folder cache', mutation(96), async (m, counts) => {
    writeFileSync(cache, applyMutation(good, m));
    await loadsOrRefuses(async () => {
      const set = await loadImageFolder(dir, opts);
      if (set.count !== 2 || set.images.length !== 2 * 28 * 28 * 3 || set.labels?.length !== 2 || set.labels.some((y) => y > 1)) throw new Error('inconsistent set');
      if (!Array.isArray(set.skippedNames) || set.skipped !== 1) throw new Error('inconsistent skipped list');
      if (!set.fromCache) {
        counts.refused++; // the cache was refused and rebuilt
        if (!Buffer.from(set.images).equals(Buffer.from(truth.images))) throw new Error('a rebuilt set differs from the images');
      }
    }, dir, counts);
  });
});

// ---- checkpoints ----

test(`checkpoints: ${CASES} mutated manifests and vector files load and fit the preset, or are refused naming the file`, async (t) => {
  const good = join(root, 'ck-good');
  // The seed preset on 1×1×1 images: real lengths, small files.
  const config = resolveConfig({ model: 'seed', dataset: 'mnist', out: good, steps: 10 }, 100, [1, 1, 1]);
  const preset = modelPreset('seed', [1, 1, 1]);
  const net = (spec: typeof preset.generator, k: number, ema: boolean): import('../src/training/coordinator.js').NetSnapshot => {
    const n = paramCount(spec);
    const vec = (j: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(k + j + i));
    return { params: vec(0), m: vec(1), v: vec(2), t: 3, bn: new Float32Array(bnStatsSize(spec)), ...(ema ? { ema: vec(3) } : {}) };
  };
  await writeCheckpoint(good, config, { stepsDone: 3, g: net(preset.generator, 1, true), d: net(preset.discriminator, 2, false) });
  const files = readdirSync(join(good, 'checkpoint')).sort();
  const manifest = readFileSync(join(good, 'checkpoint', 'manifest.json'), 'utf8');
  const arb = fc.oneof(
    fc.record({ target: fc.constant('manifest.json'), m: jsonMutation() }),
    fc.record({ target: fc.constantFrom(...files.filter((f) => f !== 'manifest.json')), m: mutation(64) }),
  );
  await runProperty(t, 'checkpoints', arb, async ({ target, m }, counts) => {
    const dir = caseDir();
    mkdirSync(join(dir, 'checkpoint'));
    for (const f of files) if (f !== target) linkSync(join(good, 'checkpoint', f), join(dir, 'checkpoint', f));
    const bytes = target === 'manifest.json'
      ? applyJsonMutation(manifest, m as Parameters<typeof applyJsonMutation>[1])
      : applyMutation(readFileSync(join(good, 'checkpoint', target)), m as Mutation);
    writeFileSync(join(dir, 'checkpoint', target), bytes);
    await loadsOrRefuses(async () => checkCheckpointModel(loadCheckpoint(dir)), dir, counts);
    rmSync(dir, { recursive: true });
  });
});

// ---- tfjs model.json ----

test(`model.json: ${CASES} mutated tfjs model folders load or are refused naming the file`, async (t) => {
  await tf.setBackend('cpu');
  const good = join(root, 'model-good');
  const model = tfl.sequential();
  model.add(tfl.layers.dense({ inputShape: [4], units: 3, activation: 'relu' }));
  model.add(tfl.layers.dense({ units: 2 }));
  await saveLayersModel(model, good);
  model.dispose();
  writeFileSync(join(root, 'outside.bin'), readFileSync(join(good, 'weights.bin')));
  const json = readFileSync(join(good, 'model.json'), 'utf8');
  const arb = fc.oneof(
    { weight: 4, arbitrary: fc.record({ target: fc.constant('model.json'), m: jsonMutation() }) },
    { weight: 1, arbitrary: fc.record({ target: fc.constant('weights.bin'), m: mutation(64) }) },
  );
  await runProperty(t, 'model.json', arb, async ({ target, m }, counts) => {
    const dir = caseDir();
    if (target === 'model.json') {
      writeFileSync(join(dir, 'model.json'), applyJsonMutation(json, m));
      linkSync(join(good, 'weights.bin'), join(dir, 'weights.bin'));
    } else {
      writeFileSync(join(dir, 'model.json'), json);
      writeFileSync(join(dir, 'weights.bin'), applyMutation(readFileSync(join(good, 'weights.bin')), m));
    }
    await loadsOrRefuses(async () => (await loadLayersModel(dir)).dispose(), dir, counts);
    rmSync(dir, { recursive: true });
  });
});
