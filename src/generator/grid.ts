/** Sample grids: a batch of generated images tiled into one PNG with sharp (the tiling itself: grid-layout.ts). */
import sharp from 'sharp';
import { DEFAULT_GRID_LAYOUT, tileGrid, type GridLayout } from './grid-layout.js';

export { gridSize, pixelByte, type GridLayout } from './grid-layout.js';

/**
 * Tiles `n` NHWC images with values in [-1, 1] into a PNG (grey or RGB),
 * on a mid-grey background so the cell borders stay visible.
 */
export async function gridPng(
  images: Float32Array, shape: readonly [number, number, number], layout: GridLayout = DEFAULT_GRID_LAYOUT,
): Promise<Buffer> {
  const { pixels, width, height, channels } = tileGrid(images, shape, layout);
  return sharp(pixels, { raw: { width, height, channels: channels as 1 | 3 } }).png().toBuffer();
}
