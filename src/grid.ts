/** Sample grids: a batch of generated images tiled into one PNG with sharp. */
import sharp from 'sharp';

/** Layout of a grid: columns and the gap (in pixels) between and around cells. */
export interface GridLayout {
  cols: number;
  pad: number;
}

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
 * Tiles `n` NHWC images with values in [-1, 1] into a PNG (grey or RGB),
 * on a mid-grey background so the cell borders stay visible.
 */
export async function gridPng(
  images: Float32Array, shape: readonly [number, number, number], layout: GridLayout = { cols: 8, pad: 2 },
): Promise<Buffer> {
  const [h, w, c] = shape;
  const n = images.length / (h * w * c);
  const { width, height } = gridSize(n, h, w, layout);
  const out = new Uint8Array(width * height * c).fill(128);
  for (let k = 0; k < n; k++) {
    const x0 = layout.pad + (k % layout.cols) * (w + layout.pad);
    const y0 = layout.pad + Math.floor(k / layout.cols) * (h + layout.pad);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w * c; x++) {
        const v = images[((k * h + y) * w) * c + x]!;
        out[((y0 + y) * width + x0) * c + x] = pixelByte(v);
      }
    }
  }
  return sharp(out, { raw: { width, height, channels: c as 1 | 3 } }).png().toBuffer();
}
