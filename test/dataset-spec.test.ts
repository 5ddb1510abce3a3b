import test from 'ava';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { expandHome, parseDatasetSpec } from '../src/data/dataset.js';

test('folder:~/DIR and idx:~/FILE start at the home folder, as the README examples write them', (t) => {
  t.deepEqual(parseDatasetSpec('folder:~/faces'), { kind: 'folder', dir: join(homedir(), 'faces') });
  t.deepEqual(parseDatasetSpec('idx:~/data/train-images.idx3-ubyte'), { kind: 'idx', path: join(homedir(), 'data', 'train-images.idx3-ubyte') });
  t.is(expandHome('~'), homedir());
});

test('only a leading ~ is expanded: ~user, a ~ inside the path and relative paths stay as written', (t) => {
  t.is(expandHome('~bob/faces'), '~bob/faces');
  t.is(expandHome('data/~/faces'), 'data/~/faces');
  t.deepEqual(parseDatasetSpec('folder:./faces'), { kind: 'folder', dir: './faces' });
  t.deepEqual(parseDatasetSpec('folder:/srv/faces'), { kind: 'folder', dir: '/srv/faces' });
});
