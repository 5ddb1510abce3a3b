import test from 'ava';
import { trainHelp } from '../src/cli/args.js';
import { BACKEND_NAMES } from '../src/engines/backend.js';

test('train --help offers every backend the config accepts, onnx (the default where it loads) included', (t) => {
  const line = trainHelp().split('\n').find((l) => l.trimStart().startsWith('--backend'));
  t.truthy(line, 'a --backend line');
  for (const name of ['auto', ...BACKEND_NAMES]) t.regex(line!, new RegExp(`\\b${name}\\b`), name);
});
