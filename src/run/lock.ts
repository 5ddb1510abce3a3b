/**
 * One run per output folder: a run holds OUT/.lock (pid, host, start time
 * and a token of its own) for its whole life. A second run into the same
 * folder (fresh or --resume) is refused while the holder lives; a lock whose
 * process is gone (on this host) is stale and is taken over with a notice.
 *
 * Taking over is exact: of any number of runs that find the same stale lock
 * at the same moment, exactly one wins.
 *
 * 1. Everyone tries an exclusive create of .lock; one that succeeds holds it.
 * 2. Otherwise it reads .lock. A live holder refuses the run; so does a lock
 *    file that is empty or half-written and younger than {@link UNREADABLE_LIVE_MS}
 *    (a run is writing it right now).
 * 3. A stale lock is claimed first: an exclusive create of a claim file
 *    named after that very lock file (its inode and a hash of its bytes).
 *    Only the claim's winner may touch .lock; the others are refused.
 * 4. The winner checks that .lock is still the file it judged stale, renames
 *    it to a unique name (and checks the renamed file again), removes it,
 *    and goes back to 1: the exclusive create decides between it and any run
 *    that arrived after the stale file was gone.
 *
 * A claim left by a contender that died mid-takeover is passed over with a
 * next-generation claim (again an exclusive create).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, linkSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { outDirNotFolder, runLockBeingTaken, runLocked, staleLockNotice } from '../errors.js';

/** The lock file's name inside a run folder. */
export const LOCK_FILE = '.lock';
/** Every file the lock writes in a run folder starts with this (.lock, takeover claims, a stale lock being removed). */
export const LOCK_PREFIX = '.lock';
/** A lock (or claim) file that exists but cannot be read yet counts as live for this long after its last change. */
export const UNREADABLE_LIVE_MS = 5_000;
/** Claims of dead contenders passed over before giving up. */
const MAX_CLAIM_GENERATIONS = 8;

/** What a lock file records. */
export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** Random, unique per lock taken: tells this run's lock from a later one with the same pid. */
  token?: string;
}

/** A held lock; release() removes it (only if it is still ours). */
export interface RunLock {
  readonly file: string;
  release(): void;
}

/** The points of a takeover where a test may run a competing takeover (see {@link LockEnv.step}). */
export type TakeoverStep = 'judged-stale' | 'claimed' | 'renamed-aside' | 'removed';

/** Who is taking the lock, and how liveness is decided: the process's own by default; tests may simulate several runs. */
export interface LockEnv {
  pid: number;
  host: string;
  /** True when process `pid` exists on this host. */
  alive: (pid: number) => boolean;
  /** Called at each step of a takeover (tests: to interleave competing takeovers deterministically). */
  step?: (step: TakeoverStep) => void;
  now?: () => number;
}

/** True when process `pid` exists on this host (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const processEnv = (): LockEnv => ({ pid: process.pid, host: hostname(), alive: processAlive });

/** A lock or claim file as found: its identity (inode + bytes), what it says, and its age. */
interface Seen {
  id: string;
  info: LockInfo | null;
  mtimeMs: number;
}

function parse(text: string): LockInfo | null {
  try {
    const info = JSON.parse(text) as LockInfo;
    return Number.isInteger(info.pid) && typeof info.host === 'string' ? info : null;
  } catch {
    return null;
  }
}

/** Reads `file` with its identity; null when it does not exist. */
function inspect(file: string): Seen | null {
  try {
    const st = statSync(file);
    const bytes = readFileSync(file);
    const id = `${st.ino}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}`;
    return { id, info: parse(bytes.toString('utf8')), mtimeMs: st.mtimeMs };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/** Creates `file` exclusively holding `info`; false if it already exists. */
function create(file: string, info: LockInfo): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    const bytes = Buffer.from(JSON.stringify(info) + '\n');
    for (let off = 0; off < bytes.length;) off += writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    closeSync(fd);
  }
  return true;
}

function unlinkIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

/**
 * True when `seen` belongs to a run that may still be alive: its process
 * exists on this host, or it is another host's (whose pid cannot be checked
 * from here), or the file cannot be read yet and is young. Our own pid
 * counts as alive: another run in this process.
 */
function heldByLiveRun(seen: Seen, env: LockEnv): boolean {
  if (seen.info === null) return (env.now ?? Date.now)() - seen.mtimeMs < UNREADABLE_LIVE_MS;
  return seen.info.host !== env.host || seen.info.pid === env.pid || env.alive(seen.info.pid);
}

function refusal(out: string, seen: Seen): Error {
  return seen.info ? runLocked(out, seen.info) : runLockBeingTaken(out);
}

/** Throws the error {@link acquireRunLock} would when a live run holds OUT/.lock; takes nothing. */
export function assertNotLocked(out: string): void {
  const seen = inspect(join(out, LOCK_FILE));
  if (seen && heldByLiveRun(seen, processEnv())) throw refusal(out, seen);
}

/**
 * Claims the takeover of the stale lock `stale` (see the module comment):
 * the claim file's path, or throws when a live contender holds the claim.
 */
function claim(out: string, stale: Seen, env: LockEnv, mine: LockInfo): string {
  for (let gen = 0; gen < MAX_CLAIM_GENERATIONS; gen++) {
    const file = join(out, `${LOCK_FILE}.takeover-${stale.id}-${gen}`);
    if (create(file, mine)) return file;
    const other = inspect(file);
    if (other && heldByLiveRun(other, env)) throw runLockBeingTaken(out);
  }
  throw runLockBeingTaken(out);
}

/** Removes every claim on the stale lock `id` (it is gone: no claim on it can matter again). */
function dropClaims(out: string, id: string): void {
  const prefix = `${LOCK_FILE}.takeover-${id}-`;
  for (const name of readdirSync(out)) if (name.startsWith(prefix)) unlinkIfThere(join(out, name));
}

/**
 * Moves the stale lock `stale` out of the way, holding its claim. False when
 * .lock is no longer that file (then nothing is left changed).
 */
function removeStale(out: string, file: string, stale: Seen, env: LockEnv): boolean {
  if (inspect(file)?.id !== stale.id) return false;
  const aside = join(out, `${LOCK_FILE}.stale-${env.pid}-${randomBytes(6).toString('hex')}`);
  try {
    renameSync(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  env.step?.('renamed-aside');
  if (inspect(aside)?.id !== stale.id) {
    // Not the file judged stale (only a process outside this protocol can cause it): put it back, never over another.
    try {
      linkSync(aside, file);
    } catch {
      // a new lock is already there: it decides
    }
    unlinkIfThere(aside);
    return false;
  }
  unlinkIfThere(aside);
  env.step?.('removed');
  return true;
}

/** {@link acquireRunLock} for the run `env` describes (tests simulate several runs in one process). */
export function takeRunLock(out: string, env: LockEnv, onNotice?: (message: string) => void): RunLock {
  if (existsSync(out) && !statSync(out).isDirectory()) throw outDirNotFolder(out);
  const created = !existsSync(out);
  mkdirSync(out, { recursive: true });
  const file = join(out, LOCK_FILE);
  const mine: LockInfo = { pid: env.pid, host: env.host, startedAt: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  let noticed = false;
  for (let attempt = 0; !create(file, mine); attempt++) {
    const seen = inspect(file);
    if (seen === null) continue; // removed since: try again
    if (heldByLiveRun(seen, env)) throw refusal(out, seen);
    if (attempt > 3) throw refusal(out, seen);
    env.step?.('judged-stale');
    const claimFile = claim(out, seen, env, mine);
    env.step?.('claimed');
    let removed: boolean;
    try {
      removed = removeStale(out, file, seen, env);
    } catch (e) {
      unlinkIfThere(claimFile);
      throw e;
    }
    if (removed) {
      if (!noticed) onNotice?.(staleLockNotice(out, seen.info));
      noticed = true;
      dropClaims(out, seen.id);
    } else {
      unlinkIfThere(claimFile);
    }
  }
  return {
    file,
    release(): void {
      if (inspect(file)?.info?.token === mine.token) unlinkIfThere(file);
      // A folder this run created and left empty (it failed before writing anything) goes too.
      if (created && existsSync(out) && readdirSync(out).length === 0) rmdirSync(out);
    },
  };
}

/**
 * Takes OUT/.lock (creating OUT if needed). Throws a GanpoolUsageError naming
 * the holder's pid when a live run holds it; takes over a stale lock (its
 * process is gone, or the file is unreadable and older than a few seconds)
 * and reports it through `onNotice`. OUT that is a file is a usage error.
 */
export function acquireRunLock(out: string, onNotice?: (message: string) => void): RunLock {
  return takeRunLock(out, processEnv(), onNotice);
}
