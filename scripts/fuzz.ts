/**
 * Longer fuzz runs than `npm test`'s: runs test/fuzz.test.ts (IDX raw and gzip, the image-folder
 * cache, checkpoints, tfjs model.json) with more cases per format and a chosen seed.
 *
 *   npx tsx scripts/fuzz.ts --cases 20000 --seed 7
 *
 * A failure prints fast-check's seed, path and shrunk counterexample; rerun with that seed.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string', default: String(Date.now() % 2 ** 31) } } });
if (!/^\d+$/.test(values.cases) || !/^\d+$/.test(values.seed)) {
  console.error('usage: npx tsx scripts/fuzz.ts [--cases N] [--seed S] (whole numbers)');
  process.exit(2);
}
console.log(`fuzz: ${values.cases} cases per format, seed ${values.seed}`);
const r = spawnSync('npx', ['ava', '--timeout', '0', 'test/fuzz.test.ts'], {
  stdio: 'inherit', env: { ...process.env, GANPOOL_FUZZ_CASES: values.cases, GANPOOL_FUZZ_SEED: values.seed },
});
process.exit(r.status ?? 1);
