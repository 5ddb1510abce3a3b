/**
 * How a sample grid is laid out: images tiled in rows of `cols` with a
 * `pad`-pixel gap between and around the cells, on a mid-grey background,
 * each value in [-1, 1] mapped to an 8-bit level.
 *
 * This module imports nothing and uses nothing of Node: `ganpool view` serves
 * its compiled JavaScript to the browser (src/view/browser-modules.ts), so
 * the page tiles its in-browser grid exactly as `ganpool sample` tiles its
 * PNG. Keep it that way.
 */

/** Layout of a grid: columns and the gap (in pixels) between and around cells. */
export interface GridLayout {
  cols: number;
  pad: number;
}

/** The default layout of a sample grid: 8 columns, 2-pixel gaps. */
export const DEFAULT_GRID_LAYOUT: GridLayout = { cols: 8, pad: 2 };

/** The level of the background between the cells. */
export const GRID_BACKGROUND = 128;

/** The pixel size of a grid of `n` images of `h`×`w`. */
export function gridSize(n: number, h: number, w: number, { cols, pad }: GridLayout): { width: number; height: number } {
  const rows = Math.ceil(n / cols);
  return { width: cols * w + (cols + 1) * pad, height: rows * h + (rows + 1) * pad };
}

/** A generated value in [-1, 1] as the 8-bit level written to a PNG or an IDX file: round((v + 1) × 127.5), clamped to 0..255. */
export function pixelByte(v: number): number {
  return Math.max(0, Math.min(255, Math.round((v + 1) * 127.5)));
}

/**
 * Tiles `n` NHWC images with values in [-1, 1] into one interleaved 8-bit
 * raster of `c` channels (grey or RGB), `width` × `height` pixels.
 */
export function tileGrid(
  images: Float32Array, shape: readonly [number, number, number], layout: GridLayout = DEFAULT_GRID_LAYOUT,
): { pixels: Uint8Array; width: number; height: number; channels: number } {
  const [h, w, c] = shape;
  const n = images.length / (h * w * c);
  const { width, height } = gridSize(n, h, w, layout);
  const pixels = new Uint8Array(width * height * c).fill(GRID_BACKGROUND);
  for (let k = 0; k < n; k++) {
    const x0 = layout.pad + (k % layout.cols) * (w + layout.pad);
    const y0 = layout.pad + Math.floor(k / layout.cols) * (h + layout.pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * c; x++) {
        const v = images[((k * h + y) * w) * c + x];
        pixels[((y0 + y) * width + x0) * c + x] = pixelByte(v);
      }
    }
  }
  return { pixels, width, height, channels: c };
}
