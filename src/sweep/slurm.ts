/**
 * The slurm executor: one sbatch array script per submission in DIR/slurm/
 * (one array task per run, --cpus-per-task = the runs' workers, logs in
 * DIR/logs/), submitted with `sbatch --parsable`, followed with `squeue`
 * until no task is left, then judged from the run folders, which are the
 * truth on a shared file system. Each task runs `ganpool sweep --task I
 * --out DIR`: the same code as the local executor, on the same config.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { badSbatchLine, slurmCommandFailed } from '../errors.js';
import { LOGS_DIR, SLURM_DIR, type SweepFile, type SweepRun } from './plan.js';

/** The file name of the array script inside DIR/slurm/. */
export const SBATCH_SCRIPT = 'sweep.sbatch';

/** What an array script needs beyond the sweep. */
export interface SbatchOptions {
  /** The command that runs ganpool on a node, as argv (e.g. [node, …execArgv, main.js]); `sweep --task I --out DIR` is appended. */
  command: string[];
  /** The working directory of each task (where `command` resolves relative paths). */
  cwd: string;
  /** At most this many tasks at a time (`--array=…%K`); none when undefined. */
  parallel?: number;
  /** Extra sbatch options, one #SBATCH line each (--partition=…, --time=…, --mem=…, --account=…). */
  extra: string[];
}

function quote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Checks the extra #SBATCH lines: each must be an sbatch option. */
export function checkSbatchLines(lines: string[]): string[] {
  for (const line of lines) if (!/^--?[A-Za-z]/.test(line) || /[\n\r]/.test(line)) throw badSbatchLine(line);
  return lines;
}

/** The array job's --array value for these runs: "0-3" or "1,4,7", with %K. */
function arraySpec(runs: SweepRun[], parallel?: number): string {
  const ids = runs.map((r) => r.index).sort((a, b) => a - b);
  const contiguous = ids.every((id, i) => i === 0 || id === ids[i - 1] + 1);
  const list = contiguous && ids.length > 1 ? `${ids[0]}-${ids[ids.length - 1]}` : ids.join(',');
  return parallel ? `${list}%${parallel}` : list;
}

/** The sbatch array script that trains `runs` of the sweep in DIR. */
export function sbatchScript(dir: string, sweep: SweepFile, runs: SweepRun[], options: SbatchOptions): string {
  const abs = resolve(dir);
  const extra = checkSbatchLines([...sweep.sbatch, ...options.extra]);
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=ganpool-${basename(abs).replace(/[^A-Za-z0-9._-]/g, '-')}`,
    `#SBATCH --array=${arraySpec(runs, options.parallel)}`,
    '#SBATCH --ntasks=1',
    `#SBATCH --cpus-per-task=${sweep.workers}`,
    `#SBATCH --output=${join(abs, LOGS_DIR, '%A_%a.log')}`,
    ...extra.map((line) => `#SBATCH ${line}`),
    `# Written by ganpool sweep: one array task per run of ${join(abs, 'sweep.json')} (the task id is the run's index).`,
    '# Each task trains (or finishes, from its checkpoint) the run in DIR/<name>/; a finished run is left alone.',
    'set -eu',
    `cd ${quote(options.cwd)}`,
    `exec ${options.command.map(quote).join(' ')} sweep --task "$SLURM_ARRAY_TASK_ID" --out ${quote(abs)}`,
    '',
  ].join('\n');
}

/** Writes the script to DIR/slurm/sweep.sbatch and makes DIR/logs/; resolves to the script's path. */
export async function writeSbatchScript(dir: string, script: string): Promise<string> {
  mkdirSync(join(dir, SLURM_DIR), { recursive: true });
  mkdirSync(join(dir, LOGS_DIR), { recursive: true });
  const file = join(resolve(dir), SLURM_DIR, SBATCH_SCRIPT);
  await writeFileAtomic(file, script);
  return file;
}

function slurm(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    throw slurmCommandFailed(`${command} ${args.join(' ')}`, err.code === 'ENOENT' ? `${command} not found` : (err.stderr || err.message));
  }
}

/** Submits the script with `sbatch --parsable`; resolves to the job id. */
export function submit(script: string): string {
  const out = slurm('sbatch', ['--parsable', script]).trim();
  const id = out.split(';')[0];
  if (!/^\d+$/.test(id)) throw slurmCommandFailed('sbatch --parsable', `unexpected output ${JSON.stringify(out)}`);
  return id;
}

/** The array tasks of `jobId` still queued or running (squeue); 0 once none is left. */
export function tasksLeft(jobId: string): number {
  let out: string;
  try {
    out = execFileSync('squeue', ['-h', '-j', jobId, '-o', '%i %T'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string };
    if (/Invalid job id/i.test(err.stderr ?? '')) return 0; // finished and purged
    throw slurmCommandFailed(`squeue -j ${jobId}`, err.stderr ?? String(e));
  }
  let n = 0;
  for (const line of out.split('\n')) {
    const m = /_\[([^\]]+)\]/.exec(line);
    if (!m) { if (line.trim()) n++; continue; }
    for (const part of m[1].split('%')[0].split(',')) {
      const [a, b] = part.split('-').map(Number);
      n += b === undefined ? 1 : b - a + 1;
    }
  }
  return n;
}

/** Slurm's final state of each array task (sacct), by run index; empty where accounting is off. */
export function taskStates(jobId: string): Map<number, string> {
  const states = new Map<number, string>();
  try {
    const out = execFileSync('sacct', ['-n', '-P', '-X', '-j', jobId, '-o', 'JobID,State'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    for (const line of out.split('\n')) {
      const m = /^\d+_(\d+)\|(\S+)/.exec(line);
      if (m) states.set(Number(m[1]), m[2]);
    }
  } catch {
    // no accounting storage: the run folders and logs tell the outcome
  }
  return states;
}

/** The log file of array task `index` of job `jobId`. */
export function taskLog(dir: string, jobId: string, index: number): string {
  return join(resolve(dir), LOGS_DIR, `${jobId}_${index}.log`);
}

/** The last `lines` lines of a file (read from its last 64 KiB); '' when it is missing. */
export function tail(file: string, lines = 15): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = statSync(file).size;
    const length = Math.min(size, 65536);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8').replace(/\r/g, '\n').split('\n').filter((l) => l.trim() !== '').slice(-lines).join('\n');
  } finally {
    closeSync(fd);
  }
}

/** Options of {@link followJob}. */
export interface FollowOptions {
  /** Milliseconds between squeue polls. */
  pollMs: number;
  /** Called after each poll with the tasks left. */
  onPoll?: (tasksLeft: number) => void;
  /** Aborting stops following (the job keeps running). */
  signal?: AbortSignal;
}

/** Polls squeue until no task of `jobId` is queued or running (or the signal aborts); resolves to true when the job is done. */
export async function followJob(jobId: string, options: FollowOptions): Promise<boolean> {
  for (;;) {
    if (options.signal?.aborted) return false;
    const left = tasksLeft(jobId);
    options.onPoll?.(left);
    if (left === 0) return true;
    await new Promise<void>((done) => {
      const t = setTimeout(done, options.pollMs);
      options.signal?.addEventListener('abort', () => { clearTimeout(t); done(); }, { once: true });
    });
  }
}
