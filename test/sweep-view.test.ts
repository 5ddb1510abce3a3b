/**
 * `ganpool view DIR` on a sweep's folder, in a real browser: the runs table
 * shows the settings that differ (the grid) beside the results, best FCD
 * first, sorts by any column's title, and the latest grids sit side by side
 * in the table's order. Skipped without a browser, except under CI.
 */
import test from 'ava';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';
import { train } from '../src/app/train.js';
import { startViewServer } from '../src/view/server.js';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const browserPath = CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));

interface ElementLike { textContent: string | null; getAttribute(name: string): string | null }
interface Clickable { click(): void }

if (!browserPath && !process.env.CI) {
  test.skip(`a sweep's folder in ganpool view (skipped: no chromium at ${CANDIDATES.filter(Boolean).join(', ')})`, () => {});
} else {
  test('a sweep\'s folder in ganpool view: its grid beside the results, best FCD first, sortable, grids side by side in that order', async (t) => {
    t.truthy(browserPath, 'under CI a browser must be installed');
    const tmp = mkdtempSync(join(tmpdir(), 'ganpool-sweep-view-'));
    const one = join(tmp, 'one');
    await train({ model: 'mlp', steps: 4, sampleEvery: 4, out: one, finalEval: false, workers: 1, batchSize: 16 });
    const dir = join(tmp, 'sweep');
    // Three runs of an lr grid with made-up final scores: the middle lr is best.
    const fcds: [string, number, number][] = [['lr=0.0001_seed=1', 1e-4, 30], ['lr=0.0002_seed=1', 2e-4, 10], ['lr=0.0004_seed=1', 4e-4, 20]];
    for (const [name, lr, fcd] of fcds) {
      cpSync(one, join(dir, name), { recursive: true });
      const config = JSON.parse(readFileSync(join(dir, name, 'config.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, name, 'config.json'), JSON.stringify({ ...config, lrG: lr, lrD: lr }));
      const summary = JSON.parse(readFileSync(join(dir, name, 'summary.json'), 'utf8')) as Record<string, unknown>;
      writeFileSync(join(dir, name, 'summary.json'), JSON.stringify({ ...summary, eval: { fcd, classifierScore: 5, classesCovered: 9, histogram: new Array(10).fill(0.1), n: 100 } }));
    }
    const server = await startViewServer({ dir, port: 0 });
    const browser = await puppeteer.launch({ executablePath: browserPath!, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (e) => problems.push((e as Error).message));
      page.on('console', (m) => { if (m.type() === 'error') problems.push(m.text()); });
      await page.goto(server.url);
      await page.waitForSelector('body[data-ready="yes"]', { timeout: 20_000 });
      const names = (): Promise<(string | null)[]> => page.$$eval('#compare-table a', (as) => (as as unknown as ElementLike[]).map((a) => a.textContent));
      const headers = await page.$$eval('#compare-table th.sortable', (hs) => (hs as unknown as ElementLike[]).map((h) => h.getAttribute('data-sort')));
      t.true(headers.includes('setting:lrG') && headers.includes('setting:lrD'), headers.join(' '));
      t.false(headers.includes('setting:model'), 'a setting all runs share is not a column');
      t.deepEqual(await names(), ['lr=0.0002_seed=1', 'lr=0.0004_seed=1', 'lr=0.0001_seed=1']);
      const grids = await page.$$eval('#compare-grids figure', (fs) => (fs as unknown as ElementLike[]).map((f) => f.getAttribute('data-run')));
      t.deepEqual(grids, ['lr=0.0002_seed=1', 'lr=0.0004_seed=1', 'lr=0.0001_seed=1']);
      // A second click on FCD sorts worst first; lr's title sorts by lr.
      await page.$eval('#compare-table th[data-sort="fcd"]', (h) => (h as unknown as Clickable).click());
      t.deepEqual(await names(), ['lr=0.0001_seed=1', 'lr=0.0004_seed=1', 'lr=0.0002_seed=1']);
      await page.$eval('#compare-table th[data-sort="setting:lrG"]', (h) => (h as unknown as Clickable).click());
      t.deepEqual(await names(), ['lr=0.0001_seed=1', 'lr=0.0002_seed=1', 'lr=0.0004_seed=1']);
      t.deepEqual(problems, []);
    } finally {
      await browser.close();
      await server.close();
    }
  });
}
