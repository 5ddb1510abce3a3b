/** Writes that never leave a half-written file behind: temp file, then rename. */
import { writeFile, rename, rm } from 'node:fs/promises';
import { writeFileSync, renameSync } from 'node:fs';
import { writeFailed } from './errors.js';

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

/** Synchronous {@link writeFileAtomic}, for exit paths. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array): void {
  const tmp = tempName(path);
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
