/**
 * `ganpool view` of a semi-supervised run in a real browser (Debian's chromium through
 * puppeteer-core): the held-out accuracy the run logs is plotted, one point per evaluation.
 * Skipped without a browser, except under CI (requireOrSkip).
 */
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer, { type Browser } from 'puppeteer-core';
import { trainSemi } from '../src/app/semi-train.js';
import { startViewServer, type ViewServer } from '../src/view/server.js';
import { requireOrSkip } from './helpers.js';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const browserPath = CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
const browserTest = requireOrSkip(browserPath !== undefined, 'semi-view: no chromium (apt-get install chromium, or set CHROMIUM_PATH)', test.serial);

interface ElementLike { getAttribute(name: string): string | null }

let browser: Browser | undefined;
let server: ViewServer | undefined;
test.after.always(async () => {
  await browser?.close();
  await server?.close();
});

browserTest('ganpool view plots a semi-supervised run\'s held-out accuracy: one point per heldOutAccuracy line', async (t) => {
  const out = join(mkdtempSync(join(tmpdir(), 'ganpool-semi-view-')), 'run');
  await trainSemi({ semiSupervised: true, labels: 'all', steps: 6, evalEvery: 2, workers: 2, seed: 1, out, backend: 'onnx' });
  const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const evals = lines.filter((l) => typeof l.heldOutAccuracy === 'number').length;
  t.is(evals, 3, 'steps 2 and 4, and the end');
  server = await startViewServer({ dir: out, port: 0 });
  browser = await puppeteer.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  await page.goto(server.url);
  await page.waitForSelector('#chart-accuracy path[data-series="held-out accuracy"]', { timeout: 30_000 });
  const points = await page.$eval('#chart-accuracy path[data-series="held-out accuracy"]', (e) => {
    const p = e as unknown as ElementLike;
    return { commands: (p.getAttribute('d')!.match(/[ML]/g) ?? []).length, declared: Number(p.getAttribute('data-points')) };
  });
  t.deepEqual(points, { commands: evals, declared: evals });
  t.is(await page.$$eval('#chart-fcd', (e) => e.length), 0, 'no FCD chart for a classifier run');
  t.deepEqual(problems, []);
});
