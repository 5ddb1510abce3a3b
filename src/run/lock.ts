/**
 * One run per output folder: a run holds OUT/.lock (pid, host, start time)
 * for its whole life. A second run into the same folder (fresh or --resume)
 * is refused while the holder lives; a lock whose process is gone (on this
 * host) is stale and is taken over with a notice.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runLocked, staleLockNotice } from '../errors.js';

/** The lock file's name inside a run folder. */
export const LOCK_FILE = '.lock';

/** What a lock file records. */
export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

/** A held lock; release() removes it (only if it is still ours). */
export interface RunLock {
  readonly file: string;
  release(): void;
}

function readLock(file: string): LockInfo | null {
  try {
    const info = JSON.parse(readFileSync(file, 'utf8')) as LockInfo;
    return Number.isInteger(info.pid) && typeof info.host === 'string' ? info : null;
  } catch {
    return null;
  }
}

/** True when process `pid` exists on this host (EPERM: it exists but is not ours). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Creates the lock file exclusively; false if it already exists. */
function create(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, JSON.stringify(info) + '\n');
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * True when `held` belongs to a run that may still be alive: its process
 * exists on this host, or it is another host's (whose pid cannot be checked
 * from here). Our own pid counts as alive: another run in this process.
 */
function heldByLiveRun(held: LockInfo): boolean {
  return held.host !== hostname() || alive(held.pid);
}

/** Throws the error {@link acquireRunLock} would when a live run holds OUT/.lock; takes nothing. */
export function assertNotLocked(out: string): void {
  const held = readLock(join(out, LOCK_FILE));
  if (held && heldByLiveRun(held)) throw runLocked(out, held);
}

/**
 * Takes OUT/.lock (creating OUT if needed). Throws a GanpoolUsageError naming
 * the holder's pid when a live run holds it; takes over a stale lock (its
 * process is gone, or the file is unreadable) and reports it through `onNotice`.
 */
export function acquireRunLock(out: string, onNotice?: (message: string) => void): RunLock {
  const created = !existsSync(out);
  mkdirSync(out, { recursive: true });
  const file = join(out, LOCK_FILE);
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
  for (let attempt = 0; !create(file, mine); attempt++) {
    const held = readLock(file);
    if (held && heldByLiveRun(held)) throw runLocked(out, held);
    if (attempt > 0) throw runLocked(out, held ?? { pid: -1, host: '?', startedAt: '?' });
    onNotice?.(staleLockNotice(out, held));
    rmSync(file, { force: true });
  }
  return {
    file,
    release(): void {
      if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
      // A folder this run created and left empty (it failed before writing anything) goes too.
      if (created && existsSync(out) && readdirSync(out).length === 0) rmdirSync(out);
    },
  };
}
