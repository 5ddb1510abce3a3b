/**
 * `ganpool sweep --executor slurm` through a real Slurm: a 4-run sweep goes
 * through sbatch; the table, bit-identity with the local executor, a failing
 * configuration reported with its log, and --resume resubmitting only what
 * failed. It uses the cluster SLURM_CONF names when one answers (CI starts
 * one with scripts/slurm-local.sh), else starts its own one-node cluster with
 * that script and stops its daemons by their pids. Without Slurm it is
 * skipped with the reason, except under CI, where it must run.
 */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function answers(env: NodeJS.ProcessEnv): boolean {
  return spawnSync('sinfo', ['-h'], { env, stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** Why Slurm cannot be used here, or null when it can (running, or startable). */
function unavailable(): string | null {
  if (process.env.SLURM_CONF && answers(process.env)) return null;
  for (const bin of ['sbatch', 'slurmctld', 'slurmd', 'munged']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status !== 0) return `${bin} not found (apt-get install slurm-wlm munge)`;
  }
  if (process.getuid?.() !== 0) return 'starting a local Slurm cluster needs root';
  return null;
}

const reason = unavailable();
let slurmEnv: NodeJS.ProcessEnv = process.env;
let ownCluster: string | null = null;

test.before(() => {
  if (reason !== null || (process.env.SLURM_CONF && answers(process.env))) return;
  ownCluster = mkdtempSync(join(tmpdir(), 'ganpool-slurm-'));
  const port = String(20000 + (process.pid % 20000));
  const out = execFileSync('bash', [join('scripts', 'slurm-local.sh'), 'start'], { encoding: 'utf8', env: { ...process.env, GANPOOL_SLURM_DIR: ownCluster, GANPOOL_SLURM_PORT: port } });
  slurmEnv = { ...process.env, SLURM_CONF: /export SLURM_CONF=(\S+)/.exec(out)![1] };
});

test.after.always(() => {
  if (ownCluster === null) return;
  // Stop the daemons this test started, by the pids they wrote.
  for (const daemon of ['slurmd', 'slurmctld', 'munged']) {
    const file = join(ownCluster, `${daemon}.pid`);
    if (!existsSync(file)) continue;
    const pid = Number(readFileSync(file, 'utf8').trim());
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
});

function sweep(args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'sweep', ...args], {
    encoding: 'utf8', timeout: 280_000, env: { ...slurmEnv, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const NAMES = ['steps=6_seed=1', 'steps=6_seed=2', 'steps=12_seed=1', 'steps=12_seed=2'];
const weights = (run: string): Buffer => readFileSync(join(run, 'generator', 'weights.bin'));

if (reason !== null && !process.env.CI) {
  test.skip(`a 4-run sweep through sbatch (skipped: ${reason})`, () => {});
} else {
  test('a 4-run sweep through sbatch: the table, a failing configuration reported with its log, --resume resubmits only it, and the weights equal the local executor\'s bit for bit', (t) => {
    t.is(reason, null, `under CI Slurm must be available: ${reason}`);
    const dir = mkdtempSync(join(tmpdir(), 'ganpool-sweep-slurm-'));
    const spec = join(dir, 'spec.yaml');
    writeFileSync(spec, 'base: { model: mlp, batch-size: 16, final-eval: off, checkpoint-every: 4, max-retries: 0 }\ngrid: { steps: [6, 12] }\nseeds: 2\n');
    const out = join(dir, 'slurm');

    // A fault at step 9 fails the steps=12 configuration (after its step-8 checkpoint); steps=6 never reaches it.
    const first = sweep([spec, '--out', out, '--executor', 'slurm', '--workers', '1', '--poll', '1'], { GANPOOL_INJECT_FAULT: 'grad@9' });
    t.is(first.code, 1, first.stderr);
    const job = /submitted array job (\d+) \(4 task\(s\)\)/.exec(first.stderr)?.[1];
    t.truthy(job, first.stderr);
    const script = readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8');
    t.regex(script, /#SBATCH --array=0-3\n/);
    t.regex(script, /#SBATCH --cpus-per-task=1\n/);
    for (const i of [2, 3]) {
      t.regex(first.stderr, new RegExp(`array task ${job}_${i} \\(${NAMES[i]}\\) failed.*; log ${out}/logs/${job}_${i}\\.log:\\n(  \\| .*\\n)*  \\| .*step 9: a grad task of the D phase failed 1 times`), NAMES[i]);
    }
    t.notRegex(first.stderr, /_[01] \(steps=6/);
    t.true(existsSync(join(out, 'logs', `${job}_0.log`)));
    t.regex(first.stdout, /steps\s+seed\s+status\s+steps\s+FCD/);
    t.regex(first.stdout, /\n6\s+1\s+finished\s+6 /);
    t.regex(first.stdout, /\n12\s+2\s+unfinished\s+8 /);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    t.deepEqual(csv.slice(1).map((l) => l.split(',').slice(0, 6).join(',')), [
      'steps=6_seed=1,steps=6,6,1,finished,6', 'steps=6_seed=2,steps=6,6,2,finished,6',
      'steps=12_seed=1,steps=12,12,1,unfinished,8', 'steps=12_seed=2,steps=12,12,2,unfinished,8',
    ]);

    // --resume (the fault gone) resubmits only the two failed runs; the finished ones are not touched.
    const mtimes = [0, 1].map((i) => statSync(join(out, NAMES[i], 'summary.json')).mtimeMs);
    const second = sweep([spec, '--out', out, '--executor', 'slurm', '--workers', '1', '--poll', '1', '--resume']);
    t.is(second.code, 0, second.stderr);
    t.regex(second.stderr, /submitted array job \d+ \(2 task\(s\)\)/);
    t.regex(readFileSync(join(out, 'slurm', 'sweep.sbatch'), 'utf8'), /#SBATCH --array=2-3\n/);
    t.deepEqual([0, 1].map((i) => statSync(join(out, NAMES[i], 'summary.json')).mtimeMs), mtimes);
    for (const name of NAMES) t.regex(second.stdout, new RegExp(`\\n${/steps=(\d+)/.exec(name)![1]}\\s+${name.at(-1)}\\s+finished\\s+${/steps=(\d+)/.exec(name)![1]} `));
    t.is(readdirSync(join(out, 'logs')).length, 6);

    // The same SPEC with the local executor: the same weights, bit for bit.
    const local = join(dir, 'local');
    const here = sweep([spec, '--out', local, '--workers', '1', '--parallel', '2']);
    t.is(here.code, 0, here.stderr);
    for (const name of NAMES) t.true(weights(join(out, name)).equals(weights(join(local, name))), `${name}: Slurm and local weights are bit-identical`);
  });
}
