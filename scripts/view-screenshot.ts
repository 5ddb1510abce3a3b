/**
 * The README's screenshot of `ganpool view` (docs/view.png): serves RUN,
 * opens it in Debian's chromium with puppeteer-core, waits for the
 * in-browser generator (the interpolation slider at 0.4), and saves the page
 * as a palette PNG.
 *
 *   npx tsx scripts/view-screenshot.ts RUN [docs/view.png]
 */
import puppeteer from 'puppeteer-core';
import sharp from 'sharp';
import { startViewServer } from '../src/view/server.js';

const [run, file = 'docs/view.png'] = process.argv.slice(2);
if (!run) throw new Error('usage: npx tsx scripts/view-screenshot.ts RUN [docs/view.png]');
const server = await startViewServer({ dir: run, port: 0 });
const browser = await puppeteer.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  await page.goto(server.url);
  await page.waitForSelector('#interp-grid[data-draws]', { timeout: 60_000 });
  // Move the interpolation slider part way, so the two generator grids differ.
  await page.evaluate("const s = document.getElementById('interp-t'); s.value = '40'; s.dispatchEvent(new Event('input'));");
  await page.waitForSelector('#interp-grid[data-t="0.40"]', { timeout: 60_000 });
  const shot = await page.screenshot({ fullPage: true });
  await sharp(shot).png({ palette: true, colours: 128, compressionLevel: 9 }).toFile(file);
  console.log(`wrote ${file}`);
} finally {
  await browser.close();
  await server.close();
}
