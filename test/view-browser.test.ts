/**
 * `ganpool view` in a real browser: Debian's chromium driven by
 * puppeteer-core, on a small run trained once here. Without a browser binary
 * the tests are skipped with the reason logged, except under CI, where
 * each fails (requireOrSkip in helpers.ts decides).
 */
import test from 'ava';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import sharp from 'sharp';
import { train } from '../src/app/train.js';
import { runSample } from '../src/generator/sample.js';
import { startViewServer, type ViewServer } from '../src/view/server.js';
import { writeGenerator } from '../src/generator/export.js';
import { initParams, modelPreset, paramCount } from '../src/models/presets.js';
import { initBackend } from '../src/engines/tfjs/tf-backend.js';
import { requireOrSkip } from './helpers.js';

/** Where a chromium may be installed (Debian's package first); CHROMIUM_PATH overrides. */
const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const browserPath = CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
const STEPS = 300;
const SEED = 7;

const browserTest = requireOrSkip(browserPath !== undefined,
  `view-browser: no chromium at ${CANDIDATES.filter(Boolean).join(', ')} (apt-get install chromium, or set CHROMIUM_PATH; .ci/run installs it)`, test.serial);

const tmp = mkdtempSync(join(tmpdir(), 'ganpool-view-browser-'));
const out = join(tmp, 'run');
let browser: Browser;
let server: ViewServer;
/** A decoded PNG: width, height, channels, bytes. */
interface Decoded { width: number; height: number; channels: number; data: Buffer }
/** `ganpool sample --seed SEED`'s grid. */
let sampleGrid: Decoded;

async function decode(file: string): Promise<Decoded> {
  const { data, info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, data };
}

test.before(async () => {
  if (!browserPath) return;
  const launching = puppeteer.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  try {
    await train({ model: 'mlp', steps: STEPS, sampleEvery: 100, checkpointEvery: STEPS, out, finalEval: false, backend: 'onnx', workers: 2, batchSize: 32, seed: 1 });
    const grid = join(tmp, 'grid.png');
    await runSample({ generator: join(out, 'generator'), n: 64, seed: SEED, out: grid, individual: null, backend: 'auto' });
    sampleGrid = await decode(grid);
    server = await startViewServer({ dir: out, port: 0 });
  } finally {
    browser = await launching;
  }
});

test.after.always(async () => {
  await browser?.close();
  await server?.close();
});

/** Logs every Content-Security-Policy violation of the page as a console error (a violation caught by the page's own code is otherwise silent). */
async function reportCspViolations(page: Page): Promise<void> {
  await page.evaluateOnNewDocument(() => {
    (globalThis as unknown as { document: { addEventListener(type: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void } })
      .document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
}

/** A page with every console error, page error, CSP violation, failed request and HTTP error it meets recorded in `problems`. */
async function openPage(url: string): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  await reportCspViolations(page);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.setViewport({ width: 1300, height: 1000 });
  await page.goto(url);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20_000 });
  return { page, problems };
}

// The DOM as the few callbacks run in the page use it (this project compiles without the DOM library).
interface CanvasLike { width: number; height: number; dataset: Record<string, string>; getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } }
interface InputLike { value: string; dispatchEvent(e: unknown): boolean }
interface ImageLike { src: string; naturalWidth: number; complete: boolean; hidden: boolean }
interface ElementLike { textContent: string | null; getAttribute(name: string): string | null }
declare const Event: new (type: string) => unknown;

/** Sets an input's value in the page and fires `event` on it, as a user would. */
async function setInput(page: Page, id: string, value: string, event: 'input' | 'change'): Promise<void> {
  await page.$eval(`#${id}`, (e, v, ev) => { const input = e as unknown as InputLike; input.value = v; input.dispatchEvent(new Event(ev)); }, value, event);
}

/** The RGB bytes of a canvas, read back with getImageData. */
async function canvasRgb(page: Page, id: string): Promise<{ width: number; height: number; rgb: number[] }> {
  return page.$eval(`#${id}`, (c) => {
    const canvas = c as unknown as CanvasLike;
    const d = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const rgb: number[] = [];
    for (let i = 0; i < d.length; i += 4) rgb.push(d[i], d[i + 1], d[i + 2]);
    return { width: canvas.width, height: canvas.height, rgb };
  });
}

/** The number of points drawn in a chart line: the M and L commands of its path, and its data-points. */
async function pathPoints(page: Page, selector: string): Promise<{ commands: number; declared: number }> {
  return page.$eval(selector, (e) => {
    const p = e as unknown as ElementLike;
    return { commands: (p.getAttribute('d')!.match(/[ML]/g) ?? []).length, declared: Number(p.getAttribute('data-points')) };
  });
}

/** The largest difference (in 8-bit levels) between a canvas read-back and a decoded PNG, and how many pixels differ. */
function compare(canvas: { width: number; height: number; rgb: number[] }, png: Decoded): { worst: number; differing: number } {
  const { data, channels } = png; // sharp decodes a grey PNG as grey or as RGB
  let worst = 0, differing = 0;
  for (let i = 0; i < canvas.width * canvas.height; i++) {
    const want = (k: number): number => data[channels === 1 ? i : i * channels + k];
    const d = Math.max(Math.abs(canvas.rgb[3 * i] - want(0)), Math.abs(canvas.rgb[3 * i + 1] - want(1)), Math.abs(canvas.rgb[3 * i + 2] - want(2)));
    worst = Math.max(worst, d);
    if (d > 0) differing++;
  }
  return { worst, differing };
}

const metricsLines = (dir: string): number => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l !== '').length;

browserTest('the page loads and draws the generator with no console errors', async (t) => {
  const { page, problems } = await openPage(server.url);
  await page.waitForSelector('#gen-grid[data-draws]', { timeout: 30_000 });
  await page.waitForSelector('#interp-grid[data-draws]', { timeout: 30_000 });
  t.regex(await page.$eval('#gen-status', (e) => (e as unknown as ElementLike).textContent!), /generator of step 300, 28×28×1 images, latent 100; TensorFlow\.js [\d.]+ \(cpu backend\)/);
  t.is(await page.$eval('#run-status', (e) => (e as unknown as ElementLike).textContent), 'finished');
  t.regex(await page.$eval('#facts', (e) => (e as unknown as ElementLike).textContent!), /workers2/);
  t.deepEqual(problems, []);
  await page.close();
});

browserTest('the loss chart has as many points as metrics.jsonl has lines', async (t) => {
  const { page, problems } = await openPage(server.url);
  const lines = metricsLines(out);
  t.is(lines, STEPS);
  for (const series of ['D loss', 'G loss']) {
    t.deepEqual(await pathPoints(page, `#chart-loss path[data-series="${series}"][data-kind="raw-faint"]`), { commands: lines, declared: lines }, series);
    t.deepEqual(await pathPoints(page, `#chart-loss path[data-series="${series}"][data-kind="smoothed"]`), { commands: lines, declared: lines }, `${series}, smoothed`);
  }
  // Smoothing off: one solid line per loss, still one point per line.
  await setInput(page, 'smoothing', '0', 'input');
  t.deepEqual(await pathPoints(page, '#chart-loss path[data-series="D loss"][data-kind="raw"]'), { commands: lines, declared: lines });
  t.is(await page.$$eval('#chart-loss path[data-kind="smoothed"]', (ps) => ps.length), 0);
  t.deepEqual(await pathPoints(page, '#chart-speed path[data-series="samples/s"]'), { commands: lines, declared: lines });
  t.deepEqual(problems, []);
  await page.close();
});

browserTest('the in-browser generator draws the grid of ganpool sample for the same seed (≤ 1/255 per pixel)', async (t) => {
  const { page, problems } = await openPage(server.url);
  await page.waitForSelector('#gen-grid[data-draws]', { timeout: 30_000 });
  await setInput(page, 'gen-seed', String(SEED), 'change');
  await page.waitForSelector(`#gen-grid[data-seed="${SEED}"]`, { timeout: 20_000 });
  const drawn = await canvasRgb(page, 'gen-grid');
  const { width, height } = drawn;
  t.deepEqual([width, height], [sampleGrid.width, sampleGrid.height]);
  const { worst, differing } = compare(drawn, sampleGrid);
  t.log(`${differing} of ${width * height} pixels differ, by at most ${worst}/255`);
  t.true(worst <= 1, `max difference ${worst}/255`);
  t.true(differing < width * height / 100, 'nearly all pixels are equal');
  t.deepEqual(problems, []);
  await page.close();
});

browserTest('the interpolation slider changes the image, from the grid of seed A (t = 0) on', async (t) => {
  const { page, problems } = await openPage(server.url);
  await page.waitForSelector('#interp-grid[data-t="0.00"]', { timeout: 30_000 });
  await page.waitForSelector('#gen-grid[data-draws]', { timeout: 30_000 });
  const seedA = await page.$eval('#interp-a', (e) => Number((e as unknown as InputLike).value));
  t.is(seedA, await page.$eval('#gen-grid', (e) => Number((e as unknown as CanvasLike).dataset.seed)), 'seed A starts as the drawn seed');
  const atZero = await canvasRgb(page, 'interp-grid');
  t.deepEqual(atZero, await canvasRgb(page, 'gen-grid'), 't = 0 is seed A exactly');
  await setInput(page, 'interp-t', '50', 'input');
  await page.waitForSelector('#interp-grid[data-t="0.50"]', { timeout: 20_000 });
  const half = await canvasRgb(page, 'interp-grid');
  const changed = half.rgb.filter((v, i) => Math.abs(v - atZero.rgb[i]) > 8).length / 3;
  t.log(`${changed} of ${half.width * half.height} pixels changed by more than 8/255 at t = 0.5`);
  t.true(changed > half.width * half.height / 10, `only ${changed} pixels changed`);
  t.regex(await page.$eval('#interp-label', (e) => (e as unknown as ElementLike).textContent!), /^t = 0\.50 \(seed 1 → seed 2/);
  t.deepEqual(problems, []);
  await page.close();
});

browserTest('the live view picks up a step appended to metrics.jsonl, and a new grid, within 2 s; a torn line waits', async (t) => {
  const live = join(tmp, 'live');
  cpSync(out, live, { recursive: true });
  const liveServer = await startViewServer({ dir: live, port: 0 });
  try {
    const { page, problems } = await openPage(liveServer.url);
    const selector = '#chart-loss path[data-series="D loss"][data-kind="raw-faint"]';
    t.is((await pathPoints(page, selector)).declared, STEPS);
    const line = JSON.stringify({ step: STEPS + 1, epoch: 0, dLoss: 0.5, gLoss: 3, ms: 20, samplesPerSec: 1600, outsideMs: 2, adamMs: 1, reloadMs: 0.5 });
    appendFileSync(join(live, 'metrics.jsonl'), line.slice(0, 30));
    await new Promise((ok) => setTimeout(ok, 1200));
    t.is((await pathPoints(page, selector)).declared, STEPS, 'the torn line is not drawn');
    const t0 = Date.now();
    appendFileSync(join(live, 'metrics.jsonl'), line.slice(30) + '\n');
    await page.waitForFunction(`document.querySelector('${selector}')?.getAttribute('data-points') === '${STEPS + 1}'`, { timeout: 5000, polling: 50 });
    const ms = Date.now() - t0;
    t.log(`the appended step was drawn after ${ms} ms`);
    t.true(ms <= 2000, `${ms} ms`);
    t.regex(await page.$eval('#metrics-note', (e) => (e as unknown as ElementLike).textContent!), new RegExp(`^${STEPS + 1} steps logged`));
    // A new grid: the step slider gains it (and follows it), and latest.png is reloaded.
    const latestBefore = await page.$eval('#grid-latest', (e) => (e as unknown as ElementLike).getAttribute('src'));
    const g0 = Date.now();
    cpSync(join(live, 'samples', 'step-000100.png'), join(live, 'samples', 'step-000400.png'));
    cpSync(join(live, 'samples', 'step-000100.png'), join(live, 'samples', 'latest.png'));
    await page.waitForFunction(`document.getElementById('grid-step-label').textContent === 'step 400 (4 of 4)'`, { timeout: 5000, polling: 50 });
    await page.waitForFunction(`document.getElementById('grid-latest').getAttribute('src') !== ${JSON.stringify(latestBefore)}`, { timeout: 5000, polling: 50 });
    const gms = Date.now() - g0;
    t.log(`the new grid was shown after ${gms} ms`);
    t.true(gms <= 2000, `${gms} ms`);
    t.regex(await page.$eval('#grid-at-step', (e) => (e as unknown as ElementLike).getAttribute('src')!), /\/files\/samples\/step-000400\.png$/);
    t.deepEqual(problems, []);
    await page.close();
  } finally {
    await liveServer.close();
  }
});

browserTest('the run\'s report.html opens with the network off and shows its charts and grids', async (t) => {
  t.true(readdirSync(out).includes('report.html'), 'the run wrote OUT/report.html');
  const page = await browser.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  await reportCspViolations(page);
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  await page.setOfflineMode(true);
  await page.setRequestInterception(true);
  page.on('request', (r) => {
    requests.push(r.url());
    if (r.url().startsWith('data:') || r.url() === pathToFileURL(join(out, 'report.html')).href) void r.continue();
    else void r.abort();
  });
  await page.goto(pathToFileURL(join(out, 'report.html')).href);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20_000 });
  t.deepEqual(requests.filter((u) => !u.startsWith('data:')), [pathToFileURL(join(out, 'report.html')).href], 'no request but the file itself');
  t.deepEqual(await pathPoints(page, '#chart-loss path[data-series="D loss"][data-kind="raw-faint"]'), { commands: STEPS, declared: STEPS });
  const images = await page.$$eval('#grid-at-step, #grid-latest', (imgs) => imgs.map((i) => {
    const img = i as unknown as ImageLike;
    return { src: img.src.slice(0, 22), width: img.naturalWidth, complete: img.complete, hidden: img.hidden };
  }));
  t.deepEqual(images, [
    { src: 'data:image/png;base64,', width: sampleGrid.width, complete: true, hidden: false },
    { src: 'data:image/png;base64,', width: sampleGrid.width, complete: true, hidden: false },
  ]);
  t.regex(await page.$eval('#grid-step-label', (e) => (e as unknown as ElementLike).textContent!), /^step 300 \(3 of 3\)$/);
  t.regex(await page.$eval('#generator', (e) => (e as unknown as ElementLike).textContent!), /static report/);
  t.deepEqual(problems, []);
  await page.close();
});

browserTest('a conditional generator gets a class picker; every class, and one class, match ganpool sample', async (t) => {
  // An untrained conditional generator (seeded initial weights) in a run folder of its own: enough to tell the classes apart.
  const dir = join(tmp, 'conditional');
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'mlp', dataset: 'mnist', conditional: true, classes: 10 }));
  const preset = modelPreset('mlp', [28, 28, 1], 10);
  const params = new Float32Array(paramCount(preset.generator));
  initParams(preset.generator, 11, 0, params);
  await initBackend('cpu');
  await writeGenerator(join(dir, 'generator'), preset, { params, bn: new Float32Array(0) }, {
    seed: 4, step: 0, model: 'mlp', dataset: 'mnist', imageShape: [28, 28, 1], latentDim: preset.latentDim, classes: 10,
  });
  const base = { generator: join(dir, 'generator'), n: 64, seed: 4, individual: null, backend: 'auto' as const };
  await runSample({ ...base, out: join(tmp, 'per-class.png'), nGiven: false });
  await runSample({ ...base, out: join(tmp, 'class-3.png'), label: 3 });
  const cserver = await startViewServer({ dir, port: 0 });
  try {
    const { page, problems } = await openPage(cserver.url);
    await page.waitForSelector('#gen-grid[data-label="all"]', { timeout: 30_000 });
    t.deepEqual(await page.$$eval('#gen-class option', (os) => (os as unknown as ElementLike[]).map((o) => o.textContent)),
      ['every class, one row each', ...Array.from({ length: 10 }, (_, k) => `class ${k}`)]);
    const everyPng = await decode(join(tmp, 'per-class.png')), classPng = await decode(join(tmp, 'class-3.png'));
    t.deepEqual([everyPng.width, everyPng.height, classPng.width, classPng.height], [242, 302, 242, 242], '10 rows of 8, then 8 rows of 8');
    const everyCanvas = await canvasRgb(page, 'gen-grid');
    t.deepEqual([everyCanvas.width, everyCanvas.height], [everyPng.width, everyPng.height]);
    const every = compare(everyCanvas, everyPng);
    t.true(every.worst <= 1, `every class: max difference ${every.worst}/255`);
    await setInput(page, 'gen-class', '3', 'change');
    await page.waitForSelector('#gen-grid[data-label="3"]', { timeout: 20_000 });
    const oneCanvas = await canvasRgb(page, 'gen-grid');
    t.deepEqual([oneCanvas.width, oneCanvas.height], [classPng.width, classPng.height]);
    const one = compare(oneCanvas, classPng);
    t.true(one.worst <= 1, `class 3: max difference ${one.worst}/255`);
    t.log(`pixels that differ: every class ${every.differing} (by at most ${every.worst}/255), class 3 ${one.differing} (by at most ${one.worst}/255)`);
    t.deepEqual(problems, []);
    await page.close();
  } finally {
    await cserver.close();
  }
});

browserTest('a folder of runs: the compare view overlays each run\'s curves, and a name opens that run', async (t) => {
  const folder = join(tmp, 'folder');
  cpSync(out, join(folder, 'long'), { recursive: true });
  cpSync(out, join(folder, 'short'), { recursive: true });
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l !== '');
  writeFileSync(join(folder, 'short', 'metrics.jsonl'), lines.slice(0, 120).map((l) => l + '\n').join(''));
  const fserver = await startViewServer({ dir: folder, port: 0 });
  try {
    const { page, problems } = await openPage(fserver.url);
    t.deepEqual(await page.$$eval('#compare-table a', (as) => (as as unknown as ElementLike[]).map((a) => a.textContent)), ['long', 'short']);
    for (const [name, n] of [['long', STEPS], ['short', 120]] as const) {
      t.deepEqual(await pathPoints(page, `#compare-g path[data-series="${name}"][data-kind="raw-faint"]`), { commands: n, declared: n }, name);
    }
    await page.click('#compare-table a[href="#run=short"]');
    await page.waitForSelector('#chart-loss path[data-series="D loss"]', { timeout: 10_000 });
    t.is(await page.$eval('#title', (e) => (e as unknown as ElementLike).textContent), 'short');
    t.deepEqual(await pathPoints(page, '#chart-loss path[data-series="D loss"][data-kind="raw-faint"]'), { commands: 120, declared: 120 });
    t.deepEqual(problems, []);
    await page.close();
  } finally {
    await fserver.close();
  }
});
