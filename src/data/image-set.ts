/**
 * The in-memory image data set every loader produces and the trainer consumes.
 */

/** A set of same-sized images, NHWC uint8 (0..255), in shared memory so worker threads can read it without copying. */
export interface ImageSet {
  /** Pixels, NHWC, 0..255; backed by a SharedArrayBuffer. */
  images: Uint8Array;
  /** Number of images. */
  count: number;
  /** Image height in pixels. */
  height: number;
  /** Image width in pixels. */
  width: number;
  /** Channels per pixel (1 = grey, 3 = RGB). */
  channels: number;
  /** One class label per image, when the data set has them. */
  labels?: Uint8Array;
  /** Classes of a labelled set (labels lie in [0, classes)); default: the largest label + 1. */
  classes?: number;
  /** A human-readable name for logs (a data set name or a path). */
  name: string;
}

/** The sizes `folder:` decodes to: MNIST's 28 and the conv presets' 32 and 64. */
export const FOLDER_IMAGE_SIZES = [28, 32, 64] as const;
/** One of {@link FOLDER_IMAGE_SIZES}. */
export type FolderImageSize = (typeof FOLDER_IMAGE_SIZES)[number];

/** Allocates `n` zeroed bytes backed by a SharedArrayBuffer. */
export function sharedBytes(n: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(n));
}

/** The set's labels in shared memory, so worker threads can read them (copied unless they already are there). */
export function sharedLabels(set: ImageSet & { labels: Uint8Array }): Uint8Array {
  if (set.labels.buffer instanceof SharedArrayBuffer) return set.labels;
  const out = sharedBytes(set.labels.length);
  out.set(set.labels);
  return out;
}

/** Classes of a labelled set ({@link ImageSet.classes}, else the largest label + 1); 0 when it has no labels. */
export function classCount(set: Pick<ImageSet, 'labels' | 'classes'>): number {
  if (!set.labels) return 0;
  if (set.classes !== undefined) return set.classes;
  let max = -1;
  for (const y of set.labels) if (y > max) max = y;
  return max + 1;
}
