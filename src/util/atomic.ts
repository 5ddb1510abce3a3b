/** Writes that never leave a half-written file behind: temp file, then rename. */
import { open, writeFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { writeFailed } from '../errors.js';

function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Writes `data` to `path` atomically (same directory temp file + rename). A
 * file-system failure (full disk, no permission, …) is a GanpoolDataError naming `path`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempName(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeFailed(path, e);
  }
}

/** A file written in pieces that appears under its name only when complete ({@link openFileAtomic}). */
export interface AtomicFile {
  /** Appends `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes to disk and renames the temp file into place. */
  commit(): Promise<void>;
  /** Closes and removes the temp file; the path is left as it was. Safe to call after a failure. */
  abort(): Promise<void>;
}

/**
 * Opens a same-directory temp file for `path`, to be filled by `write` and
 * renamed into place by `commit`, so `path` never holds a partial file (for
 * files too large to build in memory first). File-system failures are
 * GanpoolDataErrors naming `path`, as in {@link writeFileAtomic}.
 */
export async function openFileAtomic(path: string): Promise<AtomicFile> {
  const tmp = tempName(path);
  let fh: FileHandle | null;
  try {
    fh = await open(tmp, 'w');
  } catch (e) {
    throw writeFailed(path, e);
  }
  const fail = async (e: unknown): Promise<never> => {
    await fh?.close().catch(() => {});
    fh = null;
    await rm(tmp, { force: true }).catch(() => {});
    throw writeFailed(path, e);
  };
  return {
    async write(chunk) {
      if (!fh) throw new Error(`internal: ${path} is already committed or aborted`);
      try {
        for (let off = 0; off < chunk.length;) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      } catch (e) {
        await fail(e);
      }
    },
    async commit() {
      if (!fh) throw new Error(`internal: ${path} is already committed or aborted`);
      try {
        await fh.sync();
        await fh.close();
        fh = null;
        await rename(tmp, path);
      } catch (e) {
        await fail(e);
      }
    },
    async abort() {
      await fh?.close().catch(() => {});
      fh = null;
      await rm(tmp, { force: true }).catch(() => {});
    },
  };
}
