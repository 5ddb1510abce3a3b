/**
 * Line plots as SVG, rasterised to PNG with sharp (librsvg). Used for the
 * speedup-vs-workers chart of the benchmark and for loss curves from a run's
 * metrics.jsonl. No plotting dependency: the SVG is written by hand.
 */

import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import sharp from 'sharp';
import { plotScaleError } from '../errors.js';

/** One line of a plot. */
export interface PlotSeries {
  /** Legend label. */
  name: string;
  /** `[x, y]` pairs, drawn in the order given; points with a non-finite coordinate are skipped. */
  points: [number, number][];
  /** Draw the line dashed (e.g. an "ideal" reference line). */
  dashed?: boolean;
  /** Any SVG colour; defaults to the next colour of a 10-colour palette. */
  color?: string;
  /** Draw a marker on each point; by default only when the series has at most 60 points. */
  markers?: boolean;
}

/** What {@link renderLinePlot} draws. */
export interface LinePlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: PlotSeries[];
  /** Width in SVG user units (pixels at scale 1); default 800. */
  width?: number;
  /** Height in SVG user units; default 500. */
  height?: number;
  /** Only whole-number ticks on the x axis (counts, such as workers). */
  integerX?: boolean;
}

/** Fonts librsvg finds through fontconfig on typical Linux, macOS and Windows machines. */
const FONT_FAMILY = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
/** The matplotlib "tab10" palette. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
/** Series with more points than this get no markers unless asked for. */
const MAX_AUTO_MARKERS = 60;
/** Legend names longer than this are cut short with an ellipsis. */
const MAX_LEGEND_CHARS = 40;

/** Escapes the five XML special characters for use in text and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]};`);
}

/** Tick spacing and values chosen by {@link niceTicks}. */
export interface Ticks {
  /** Distance between ticks: 1, 2 or 5 times a power of ten. */
  step: number;
  /** Ascending tick values; the first is ≤ the data minimum and the last ≥ the data maximum. */
  values: number[];
}

/** `ticks` with a step of at least 1, on whole numbers. */
function wholeTicks(ticks: Ticks): Ticks {
  if (ticks.step >= 1) return ticks;
  const lo = Math.floor(ticks.values[0]), hi = Math.ceil(ticks.values[ticks.values.length - 1]);
  return { step: 1, values: Array.from({ length: hi - lo + 1 }, (_, i) => lo + i) };
}

/**
 * "Nice" axis ticks covering `[min, max]`: a step of 1, 2 or 5 × 10^k chosen so
 * there are at most about `maxTicks` ticks, starting at or below `min` and
 * ending at or above `max`. A zero-width range is widened; non-finite input gives 0..1.
 */
export function niceTicks(min: number, max: number, maxTicks = 6): Ticks {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return niceTicks(0, 1, maxTicks);
  if (min > max) [min, max] = [max, min];
  if (min === max) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, maxTicks);
  }
  const step = niceStep((max - min) / Math.max(1, maxTicks - 1));
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const values: number[] = [];
  for (let k = first; k <= last; k++) values.push(Number((k * step).toFixed(decimals)));
  return { step, values };
}

/** The smallest of 1, 2, 5 × 10^k that is ≥ `raw`. */
function niceStep(raw: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / magnitude;
  const nice = fraction <= 1 + 1e-9 ? 1 : fraction <= 2 + 1e-9 ? 2 : fraction <= 5 + 1e-9 ? 5 : 10;
  return nice * magnitude;
}

/** Formats a tick value with as many decimals as the step needs. */
function formatTick(value: number, step: number): string {
  return value.toFixed(Math.max(0, -Math.floor(Math.log10(step) + 1e-9)));
}

/** Maps data coordinates to SVG coordinates inside the plot area. */
interface Frame {
  left: number;
  top: number;
  right: number;
  bottom: number;
  x: Ticks;
  y: Ticks;
}

/** SVG x coordinate of data value `v`. */
function sx(f: Frame, v: number): number {
  const lo = f.x.values[0];
  const hi = f.x.values[f.x.values.length - 1];
  return f.left + ((v - lo) / (hi - lo)) * (f.right - f.left);
}

/** SVG y coordinate of data value `v`. */
function sy(f: Frame, v: number): number {
  const lo = f.y.values[0];
  const hi = f.y.values[f.y.values.length - 1];
  return f.bottom - ((v - lo) / (hi - lo)) * (f.bottom - f.top);
}

/** Rounds an SVG coordinate to two decimals. */
function n2(v: number): string {
  return String(Math.round(v * 100) / 100);
}

/** The finite points of every series, flattened. */
function finitePoints(series: PlotSeries[]): [number, number][] {
  return series.flatMap((s) => s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)));
}

/** `[[xMin, xMax], [yMin, yMax]]` of the points (Infinity/−Infinity when there are none); no spread, so any length works. */
function extents(pts: [number, number][]): [[number, number], [number, number]] {
  const x: [number, number] = [Infinity, -Infinity];
  const y: [number, number] = [Infinity, -Infinity];
  for (const [px, py] of pts) {
    x[0] = Math.min(x[0], px);
    x[1] = Math.max(x[1], px);
    y[0] = Math.min(y[0], py);
    y[1] = Math.max(y[1], py);
  }
  return [x, y];
}

/** Legend label for a series, shortened if very long. */
function legendName(name: string): string {
  return name.length > MAX_LEGEND_CHARS ? `${name.slice(0, MAX_LEGEND_CHARS - 1)}…` : name;
}

/**
 * An SVG line chart: title, axes with nice ticks and grid lines, axis labels,
 * one polyline per series (dashed when asked, with point markers) and a legend
 * to the right of the plot area. All text is XML-escaped.
 */
export function renderLinePlot(opts: LinePlotOptions): string {
  const width = opts.width ?? 800;
  const height = opts.height ?? 500;
  const [x, y] = extents(finitePoints(opts.series));
  const longest = Math.max(0, ...opts.series.map((s) => legendName(s.name).length));
  const legendWidth = opts.series.length === 0 ? 0 : 46 + longest * 7.2;
  const frame: Frame = {
    left: 78,
    top: 48,
    right: width - 24 - legendWidth,
    bottom: height - 62,
    x: opts.integerX ? wholeTicks(niceTicks(x[0], x[1], 8)) : niceTicks(x[0], x[1], 8),
    y: niceTicks(y[0], y[1], 6),
  };
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="${FONT_FAMILY}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    axesSvg(frame, opts),
    ...opts.series.map((s, i) => seriesSvg(frame, s, seriesColor(s, i))),
    legendSvg(frame.right + 14, frame.top, opts.series, legendWidth - 14),
    `</svg>`,
  ].join('\n');
}

/** The colour a series is drawn in. */
function seriesColor(s: PlotSeries, index: number): string {
  return s.color ?? PALETTE[index % PALETTE.length];
}

/** Grid lines, frame, tick marks and labels, title and axis labels. */
function axesSvg(f: Frame, opts: LinePlotOptions): string {
  const out: string[] = [];
  for (const v of f.x.values) {
    const x = n2(sx(f, v));
    out.push(`<line x1="${x}" y1="${f.top}" x2="${x}" y2="${f.bottom}" stroke="#e3e3e3"/>`);
    out.push(`<line x1="${x}" y1="${f.bottom}" x2="${x}" y2="${f.bottom + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${f.bottom + 20}" font-size="12" text-anchor="middle" fill="#333">${formatTick(v, f.x.step)}</text>`);
  }
  for (const v of f.y.values) {
    const y = n2(sy(f, v));
    out.push(`<line x1="${f.left}" y1="${y}" x2="${f.right}" y2="${y}" stroke="#e3e3e3"/>`);
    out.push(`<line x1="${f.left - 5}" y1="${y}" x2="${f.left}" y2="${y}" stroke="#333"/>`);
    out.push(`<text x="${f.left - 9}" y="${y}" dy="0.35em" font-size="12" text-anchor="end" fill="#333">${formatTick(v, f.y.step)}</text>`);
  }
  const midX = n2((f.left + f.right) / 2);
  const midY = n2((f.top + f.bottom) / 2);
  out.push(`<rect x="${f.left}" y="${f.top}" width="${n2(f.right - f.left)}" height="${n2(f.bottom - f.top)}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${midX}" y="30" font-size="17" font-weight="bold" text-anchor="middle" fill="#111">${escapeXml(opts.title)}</text>`);
  out.push(`<text x="${midX}" y="${f.bottom + 46}" font-size="14" text-anchor="middle" fill="#111">${escapeXml(opts.xLabel)}</text>`);
  out.push(
    `<text x="22" y="${midY}" font-size="14" text-anchor="middle" fill="#111" transform="rotate(-90 22 ${midY})">${escapeXml(opts.yLabel)}</text>`,
  );
  return out.join('\n');
}

/** One series: its line and, when enabled, its point markers. */
function seriesSvg(f: Frame, s: PlotSeries, color: string): string {
  const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) return '';
  const stroke = escapeXml(color);
  const dash = s.dashed ? ' stroke-dasharray="7 5"' : '';
  const d = pts.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${n2(sx(f, x))} ${n2(sy(f, y))}`).join(' ');
  const out = [`<path d="${d}" fill="none" stroke="${stroke}" stroke-width="2"${dash} stroke-linejoin="round"/>`];
  if (s.markers ?? pts.length <= MAX_AUTO_MARKERS) {
    for (const [x, y] of pts) out.push(`<circle cx="${n2(sx(f, x))}" cy="${n2(sy(f, y))}" r="3.5" fill="${stroke}" stroke="#fff" stroke-width="1"/>`);
  }
  return out.join('\n');
}

/** The legend box: a line sample and the name of each series. */
function legendSvg(x: number, y: number, series: PlotSeries[], width: number): string {
  if (series.length === 0) return '';
  const rowHeight = 20;
  const out = [`<rect x="${n2(x)}" y="${y}" width="${n2(width)}" height="${series.length * rowHeight + 10}" fill="#fff" stroke="#bbb"/>`];
  series.forEach((s, i) => {
    const cy = y + 15 + i * rowHeight;
    const color = escapeXml(seriesColor(s, i));
    const dash = s.dashed ? ' stroke-dasharray="7 5"' : '';
    out.push(`<line x1="${n2(x + 8)}" y1="${cy}" x2="${n2(x + 32)}" y2="${cy}" stroke="${color}" stroke-width="2"${dash}/>`);
    if (s.markers ?? s.points.length <= MAX_AUTO_MARKERS) out.push(`<circle cx="${n2(x + 20)}" cy="${cy}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${n2(x + 38)}" y="${cy}" dy="0.35em" font-size="12" fill="#222">${escapeXml(legendName(s.name))}</text>`);
  });
  return out.join('\n');
}

/**
 * Rasterises `svg` to a PNG at `path`, `scale` times its SVG size (density
 * 72·scale dpi). Writes a temporary file beside `path` and renames it into
 * place, so readers never see a half-written PNG; the temporary file is
 * removed if rendering fails.
 */
export async function writePlotPng(svg: string, path: string, scale = 1): Promise<void> {
  if (!(Number.isFinite(scale) && scale > 0)) throw plotScaleError(scale);
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  try {
    await sharp(Buffer.from(svg), { density: 72 * scale }).png().toFile(tmp);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** One benchmark measurement for {@link speedupPlotSvg}. */
export interface SpeedupRow {
  model: string;
  batchSize: number;
  workers: number;
  /** Throughput relative to one worker. */
  speedup: number;
}

/**
 * Speedup vs. number of workers: a dashed "ideal (linear)" line y = x and one
 * measured series per (model, batch size), ordered by worker count.
 */
export function speedupPlotSvg(rows: SpeedupRow[]): string {
  const groups = new Map<string, [number, number][]>();
  for (const r of rows) {
    const key = `${r.model}, batch ${r.batchSize}`;
    groups.set(key, [...(groups.get(key) ?? []), [r.workers, r.speedup]]);
  }
  const maxWorkers = Math.max(1, ...rows.map((r) => r.workers));
  const ideal: PlotSeries = { name: 'ideal (linear)', points: [[1, 1], [maxWorkers, maxWorkers]], dashed: true, color: '#555555', markers: false };
  const measured = [...groups].map(([name, points], i): PlotSeries => ({
    name,
    points: points.sort((a, b) => a[0] - b[0]),
    color: PALETTE[i % PALETTE.length],
  }));
  return renderLinePlot({
    title: 'Training speedup vs. workers', xLabel: 'workers', yLabel: 'speedup (× one worker)', series: [ideal, ...measured], integerX: true,
  });
}

/** One logged training step for {@link lossPlotSvg}. */
export interface LossPoint {
  step: number;
  dLoss: number;
  gLoss: number;
}

/** Discriminator and generator loss against training step (non-finite losses are left out). */
export function lossPlotSvg(points: LossPoint[]): string {
  return renderLinePlot({
    title: 'GAN training losses',
    xLabel: 'step',
    yLabel: 'loss',
    series: [
      { name: 'discriminator (dLoss)', points: points.map((p): [number, number] => [p.step, p.dLoss]) },
      { name: 'generator (gLoss)', points: points.map((p): [number, number] => [p.step, p.gLoss]) },
    ],
  });
}
