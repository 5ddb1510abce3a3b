/**
 * Writes that never leave a half-written file behind: temp file, fsync, then
 * rename, then an fsync of the folder, so that after a crash or a power loss
 * the name holds either the previous file or the complete new one.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFailed } from '../errors.js';

/** What {@link setFsyncSpy} receives: a file's data (before its rename) or a folder's entries (after a rename in it). */
export type FsyncKind = 'file' | 'dir';
let fsyncSpy: ((kind: FsyncKind, path: string) => void) | null = null;

/**
 * Tests only: `spy` is called just before every fsync this module makes (the
 * callers of {@link fsyncFile} and {@link fsyncDir} included), with the path;
 * `null` removes it.
 */
export function setFsyncSpy(spy: ((kind: FsyncKind, path: string) => void) | null): void {
  fsyncSpy = spy;
}

/** Flushes the open file `fd` (whose path is `path`) to disk. */
export function fsyncFile(fd: number, path: string): void {
  fsyncSpy?.('file', path);
  fsyncSync(fd);
}

/**
 * Flushes folder `dir`'s entries to disk, so a rename or a new file in it
 * survives a power loss. Where folders cannot be opened or synced (Windows,
 * some network file systems) this is a no-op.
 */
export function fsyncDir(dir: string): void {
  fsyncSpy?.('dir', dir);
  let fd: number;
  try {
    fd = openSync(dir, 'r');
  } catch (e) {
    if (ignorable(e)) return;
    throw e;
  }
  try {
    fsyncSync(fd);
  } catch (e) {
    if (!ignorable(e)) throw e;
  } finally {
    closeSync(fd);
  }
}

/** {@link fsyncDir} without blocking the event loop (for the async writers, many of which may be in flight). */
async function fsyncDirAsync(dir: string): Promise<void> {
  fsyncSpy?.('dir', dir);
  let fh: FileHandle;
  try {
    fh = await open(dir, 'r');
  } catch (e) {
    if (ignorable(e)) return;
    throw e;
  }
  try {
    await fh.sync();
  } catch (e) {
    if (!ignorable(e)) throw e;
  } finally {
    await fh.close();
  }
}

/** Errors that mean "this platform cannot sync a folder", not a failed write. */
function ignorable(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'EISDIR' || code === 'EPERM' || code === 'EACCES' || code === 'EINVAL' || code === 'ENOTSUP' || code === 'EBADF';
}

async function syncHandle(fh: FileHandle, path: string): Promise<void> {
  fsyncSpy?.('file', path);
  await fh.sync();
}

function tempName(path: string): string {
  return `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Writes `data` to `path` atomically and durably (same-directory temp file,
 * fsync, rename, fsync of the folder). A file-system failure (full disk, no
 * permission, …) is a GanpoolDataError naming `path`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const file = await openFileAtomic(path);
  await file.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  await file.commit();
}

/** A file written in pieces that appears under its name only when complete ({@link openFileAtomic}). */
export interface AtomicFile {
  /** Appends `chunk`. */
  write(chunk: Uint8Array): Promise<void>;
  /** Flushes to disk, renames the temp file into place and syncs the folder. */
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
    fh = await open(tmp, 'wx');
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
        await syncHandle(fh, tmp);
        await fh.close();
        fh = null;
        await rename(tmp, path);
        await fsyncDirAsync(dirname(path));
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
