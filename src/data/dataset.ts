/**
 * Resolves a `dataset` config value to images in shared memory:
 * `mnist` (embedded), `fashion-mnist` / `idx:PATH` (IDX files) or
 * `folder:DIR` (an image folder, decoded by sharp and cached).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadEmbeddedMnist } from './mnist.js';
import type { FolderImageSize, ImageSet } from './image-set.js';
import { datasetSpecError } from '../errors.js';

/** A parsed `dataset` value. */
export type DatasetSpec =
  | { kind: 'mnist' }
  | { kind: 'fashion-mnist' }
  | { kind: 'idx'; path: string }
  | { kind: 'folder'; dir: string };

/**
 * A path with a leading `~` or `~/` taken from the home folder, as a shell
 * would have done: `--dataset folder:~/faces` arrives unexpanded because the
 * `~` is not at the start of the word.
 */
export function expandHome(path: string): string {
  if (path === '~') return homedir();
  return path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

/** Parses a `dataset` value without touching the disk; throws a usage error naming `dataset` on anything unknown. */
export function parseDatasetSpec(spec: string): DatasetSpec {
  if (typeof spec !== 'string') throw datasetSpecError(spec);
  if (spec === 'mnist') return { kind: 'mnist' };
  if (spec === 'fashion-mnist') return { kind: 'fashion-mnist' };
  if (spec.startsWith('idx:') && spec.length > 4) return { kind: 'idx', path: expandHome(spec.slice(4)) };
  if (spec.startsWith('folder:') && spec.length > 7) return { kind: 'folder', dir: expandHome(spec.slice(7)) };
  throw datasetSpecError(spec);
}

/** How to load a data set beyond its name. */
export interface DatasetOptions {
  /** Where to look for the Fashion-MNIST IDX files first. */
  dataDir?: string | null;
  /** `folder:` only: output side length (default 32). */
  imageSize?: number | null;
  /** `folder:` only: 1 or 3 channels (default 3). */
  channels?: number | null;
  /** `folder:` only: decode progress (not called on a cache hit). */
  onProgress?: (done: number, total: number) => void;
  /** One-line warnings, e.g. how many unreadable images were skipped. */
  onWarning?: (message: string) => void;
}

/** Loads an image folder, reporting skipped files in one warning line. */
async function loadFolder(dir: string, options: DatasetOptions): Promise<ImageSet> {
  const { loadImageFolder } = await import('./image-folder.js'); // sharp loads only when needed
  const set = await loadImageFolder(dir, {
    size: (options.imageSize ?? 32) as FolderImageSize,
    channels: (options.channels ?? 3) as 1 | 3,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
  if (set.skipped > 0) {
    const more = set.skipped > set.skippedNames.length ? ', …' : '';
    options.onWarning?.(`skipped ${set.skipped} unreadable image file(s) in ${dir}: ${set.skippedNames.join(', ')}${more}`);
  }
  const { images, count, height, width, channels, name, labels, classes } = set;
  return { images, count, height, width, channels, name, ...(labels && classes ? { labels, classes } : {}) };
}

/** Loads the data set `spec` (see {@link parseDatasetSpec}) into shared memory. */
export async function loadDataset(spec: string, options: DatasetOptions = {}): Promise<ImageSet> {
  const parsed = parseDatasetSpec(spec);
  switch (parsed.kind) {
    case 'mnist':
      return loadEmbeddedMnist();
    case 'fashion-mnist':
    case 'idx': {
      const { loadIdxImages, resolveIdxDataset } = await import('./idx.js');
      const files = resolveIdxDataset(spec, options.dataDir ?? undefined);
      return loadIdxImages(files.images, files.labels);
    }
    case 'folder':
      return loadFolder(parsed.dir, options);
  }
}
