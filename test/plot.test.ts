import test from 'ava';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { GanpoolUsageError } from '../src/errors.js';
import { escapeXml, lossPlotSvg, niceTicks, renderLinePlot, speedupPlotSvg, writePlotPng } from '../src/bench/plot.js';

/** True when `v` is 1, 2 or 5 times a power of ten. */
function isNiceStep(v: number): boolean {
  const mantissa = v / 10 ** Math.floor(Math.log10(v) + 1e-12);
  return [1, 2, 5].some((m) => Math.abs(mantissa - m) < 1e-9);
}

test('niceTicks: nice steps that cover the data range', (t) => {
  const cases: [number, number][] = [
    [0.13, 9.7],
    [1, 16],
    [-3.2, 41.7],
    [0.00123, 0.00987],
    [1e5, 1.234e6],
    [-7, -2],
    [0.5912, 2.0801],
    [0, 10000],
  ];
  for (const [lo, hi] of cases) {
    const { step, values } = niceTicks(lo, hi);
    t.true(isNiceStep(step), `step ${step} for [${lo}, ${hi}]`);
    t.true(values[0] <= lo && values[values.length - 1] >= hi, `${values.join()} covers [${lo}, ${hi}]`);
    t.true(values.length >= 2 && values.length <= 8, `${values.length} ticks for [${lo}, ${hi}]`);
    values.forEach((v, i) => {
      t.true(Math.abs(v / step - Math.round(v / step)) < 1e-9, `${v} is a multiple of ${step}`);
      if (i > 0) t.true(Math.abs(v - values[i - 1] - step) < step * 1e-9);
    });
  }
  t.deepEqual(niceTicks(0.13, 9.7).values, [0, 2, 4, 6, 8, 10]);
  t.deepEqual(niceTicks(0.1, 0.7).values, [0, 0.2, 0.4, 0.6, 0.8]); // no 0.6000000000000001
  t.true(niceTicks(5, 5).values.length > 1);
  t.deepEqual(niceTicks(NaN, Infinity).values, niceTicks(0, 1).values);
});

test('escapeXml escapes all five special characters', (t) => {
  t.is(escapeXml(`a<b>&"c"'d'`), 'a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;');
});

test('renderLinePlot: one svg root, title and series names present, text escaped', (t) => {
  const svg = renderLinePlot({
    title: 'Loss <vs> step & "more"',
    xLabel: 'step',
    yLabel: "d'loss",
    series: [
      { name: 'a & b', points: [[0, 1], [1, 2], [2, NaN], [3, 1.5]] },
      { name: 'ideal <linear>', points: [[0, 0], [3, 3]], dashed: true, color: '#555' },
    ],
  });
  t.is(svg.match(/<svg[\s>]/g)?.length, 1);
  t.true(svg.trimStart().startsWith('<svg') && svg.trimEnd().endsWith('</svg>'));
  t.true(svg.includes('Loss &lt;vs&gt; step &amp; &quot;more&quot;'));
  t.true(svg.includes('a &amp; b'));
  t.true(svg.includes('ideal &lt;linear&gt;'));
  t.true(svg.includes('d&apos;loss'));
  t.true(svg.includes('stroke-dasharray'));
  t.false(/NaN|Infinity|undefined/.test(svg));
  // No raw specials left inside text nodes.
  for (const m of svg.matchAll(/>([^<]*)</g)) t.false(/[<>"]|&(?!(amp|lt|gt|quot|apos);)/.test(m[1]), m[1]);
});

test('renderLinePlot: empty and single-point series still render', (t) => {
  const svg = renderLinePlot({ title: 'empty', xLabel: 'x', yLabel: 'y', series: [] });
  t.true(svg.includes('empty'));
  t.false(/NaN|Infinity/.test(svg));
  const one = renderLinePlot({ title: 'one', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[3, 3]] }] });
  t.false(/NaN|Infinity/.test(one));
});

test('speedupPlotSvg and lossPlotSvg include their series', (t) => {
  const speed = speedupPlotSvg([
    { model: 'dcgan', batchSize: 64, workers: 4, speedup: 3.1 },
    { model: 'dcgan', batchSize: 64, workers: 1, speedup: 1 },
    { model: 'mlp', batchSize: 128, workers: 2, speedup: 1.8 },
  ]);
  for (const s of ['ideal (linear)', 'dcgan, batch 64', 'mlp, batch 128', 'workers']) t.true(speed.includes(s), s);
  const loss = lossPlotSvg(Array.from({ length: 500 }, (_, i) => ({ step: i, dLoss: 1 / (i + 1), gLoss: Math.log(i + 2) })));
  for (const s of ['dLoss', 'gLoss', 'step']) t.true(loss.includes(s), s);
  t.false(loss.includes('<circle cx'), 'no markers on long series');
});

test('writePlotPng writes a PNG of the requested size and leaves no temp file', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ganpool-plot-'));
  try {
    const svg = renderLinePlot({ title: 'size', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0, 0], [1, 1]] }], width: 400, height: 300 });
    const path = join(dir, 'plot.png');
    await writePlotPng(svg, path);
    let meta = await sharp(path).metadata();
    t.is(meta.format, 'png');
    t.is(meta.width, 400);
    t.is(meta.height, 300);
    await writePlotPng(svg, path, 2);
    meta = await sharp(path).metadata();
    t.is(meta.width, 800);
    t.is(meta.height, 600);
    t.deepEqual(await readdir(dir), ['plot.png']);
    // The rendered image is not blank: text and lines give dark pixels.
    const stats = await sharp(path).stats();
    t.true(stats.channels[0].min < 100);
    await t.throwsAsync(writePlotPng(svg, path, 0), { instanceOf: GanpoolUsageError });
    await t.throwsAsync(writePlotPng('<not svg', join(dir, 'bad.png')));
    t.deepEqual(await readdir(dir), ['plot.png']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
