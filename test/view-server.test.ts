import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gridPng } from '../src/generator/grid.js';
import { tileGrid } from '../src/generator/grid-layout.js';
import { latentNoise, NoiseStream, randomLabels } from '../src/util/rng.js';
import { perClassLabels } from '../src/models/conditioning.js';
import { startViewServer, tfjsBrowserBuild, type ViewServer } from '../src/view/server.js';
import { buildReport } from '../src/view/report.js';
import { viewCommand } from '../src/cli/commands/view.js';
import { GanpoolUsageError } from '../src/errors.js';

/** A synthetic run folder, written here so every number served can be checked against what was written. */
const tmp = mkdtempSync(join(tmpdir(), 'ganpool-view-'));
const runs = join(tmp, 'runs');
const out = join(runs, 'alpha');
const outside = join(tmp, 'secret.txt');
const config = { dataset: 'mnist', model: 'mlp', steps: 30, workers: 2, batchSize: 8, seed: 5, backend: 'onnx', imageShape: [4, 4, 1], out };
const summary = { steps: 30, backend: 'onnx', workers: 2, dLoss: 1.25, gLoss: 0.75, machine: { cpuModel: 'test cpu', cores: 2 } };
const manifest = { format: 'ganpool-checkpoint', version: 3, step: 30, config, files: { 'g-params.f32': {} } };
const stepLine = (step: number): Record<string, number> => ({
  step, epoch: 0, dLoss: 1 + step / 100, gLoss: 2 - step / 100, ms: 10 + step, samplesPerSec: 800 + step, outsideMs: step / 10, adamMs: step / 20, reloadMs: step / 40,
});
const evalLine = { step: 3, eval: { n: 10, fcd: 12.5, classifierScore: 3.25, histogram: [5, 5], classesCovered: 2, ms: 4 } };
const complete = [stepLine(1), stepLine(2), stepLine(3), evalLine].map((l) => JSON.stringify(l) + '\n').join('');
const torn = JSON.stringify(stepLine(4));
let server: ViewServer;
let folderServer: ViewServer;
let grid: Buffer;

test.before(async () => {
  mkdirSync(join(out, 'samples'), { recursive: true });
  mkdirSync(join(out, 'checkpoint'));
  mkdirSync(join(runs, 'not-a-run'));
  mkdirSync(join(runs, 'beta'));
  writeFileSync(join(out, 'config.json'), JSON.stringify(config));
  writeFileSync(join(out, 'summary.json'), JSON.stringify(summary));
  writeFileSync(join(out, 'checkpoint', 'manifest.json'), JSON.stringify(manifest));
  // The run is writing step 4: its line is torn (no newline yet).
  writeFileSync(join(out, 'metrics.jsonl'), complete + torn.slice(0, 40));
  writeFileSync(join(runs, 'beta', 'metrics.jsonl'), JSON.stringify(stepLine(1)) + '\n');
  const images = Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(i) * 0.9);
  grid = await gridPng(images, [4, 4, 1]);
  writeFileSync(join(out, 'samples', 'step-000010.png'), grid);
  writeFileSync(join(out, 'samples', 'step-000002.png'), grid);
  writeFileSync(join(out, 'samples', 'latest.png'), grid);
  writeFileSync(outside, 'not yours\n');
  symlinkSync(outside, join(out, 'escape.txt'));
  symlinkSync(tmp, join(out, 'escape-dir'));
  symlinkSync(join(out, 'config.json'), join(out, 'inside-link.json'));
  server = await startViewServer({ dir: out, port: 0 });
  folderServer = await startViewServer({ dir: runs, port: 0 });
});

test.after.always(async () => {
  await server?.close();
  await folderServer?.close();
});

/** A raw GET (or `method`) of `path` exactly as given: no URL normalisation, unlike fetch. */
function raw(base: string, path: string, method = 'GET'): Promise<{ status: number; type: string; body: Buffer }> {
  const { hostname, port } = new URL(base);
  return new Promise((ok, fail) => {
    const req = request({ host: hostname, port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}
const json = async (base: string, path: string): Promise<unknown> => {
  const r = await raw(base, path);
  if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  return JSON.parse(r.body.toString('utf8'));
};

test('the server binds 127.0.0.1 by default and serves the page', async (t) => {
  t.regex(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  t.true(server.port > 0);
  const r = await raw(server.url, '/');
  t.is(r.status, 200);
  t.regex(r.type, /^text\/html/);
  t.regex(r.body.toString('utf8'), /<title>alpha · ganpool view<\/title>/);
});

test('/api/runs, /api/facts and /api/samples return what the run folder holds', async (t) => {
  t.deepEqual(await json(server.url, '/api/runs'), { root: 'alpha', runs: [{ id: '', name: 'alpha' }] });
  const facts = await json(server.url, '/api/facts?run=') as Record<string, unknown>;
  t.deepEqual(facts.config, config);
  t.deepEqual(facts.summary, summary);
  t.deepEqual(facts.checkpoint, { format: 'ganpool-checkpoint', version: 3, step: 30 }, 'the manifest without its config copy and file list');
  t.like(facts, { id: '', name: 'alpha', status: 'finished', generator: null, hasGenerator: false, hasOnnx: false });
  t.deepEqual(await json(server.url, '/api/samples?run='), {
    grids: [{ step: 2, file: 'samples/step-000002.png' }, { step: 10, file: 'samples/step-000010.png' }],
    latest: { file: 'samples/latest.png', mtimeMs: statSync(join(out, 'samples', 'latest.png')).mtimeMs },
  });
  t.is((await raw(server.url, '/api/facts?run=nope')).status, 404);
});

test('a folder of runs lists the subfolders that are runs, each served under its name', async (t) => {
  t.deepEqual(await json(folderServer.url, '/api/runs'), { root: 'runs', runs: [{ id: 'alpha', name: 'alpha' }, { id: 'beta', name: 'beta' }] });
  const beta = await json(folderServer.url, '/api/metrics?run=beta&offset=0') as { lines: unknown[] };
  t.deepEqual(beta.lines, [stepLine(1)]);
  t.like(await json(folderServer.url, '/api/facts?run=beta'), { status: 'incomplete', config: null, summary: null });
  const png = await raw(folderServer.url, '/files/alpha/samples/step-000010.png');
  t.is(png.status, 200);
  t.true(png.body.equals(grid));
  t.is((await raw(folderServer.url, '/api/facts?run=not-a-run')).status, 404);
});

test('/files serves the run\'s files byte for byte, a torn metrics.jsonl included', async (t) => {
  const png = await raw(server.url, '/files/samples/step-000010.png');
  t.is(png.status, 200);
  t.is(png.type, 'image/png');
  t.true(png.body.equals(grid));
  const metrics = await raw(server.url, '/files/metrics.jsonl');
  t.is(metrics.status, 200);
  t.true(metrics.body.equals(readFileSync(join(out, 'metrics.jsonl'))));
  t.true(metrics.body.toString('utf8').endsWith(torn.slice(0, 40)), 'the torn line as it is on disk');
  const cfg = await raw(server.url, '/files/config.json');
  t.deepEqual(JSON.parse(cfg.body.toString('utf8')), config);
  t.is((await raw(server.url, '/files/samples/missing.png')).status, 404);
  t.is((await raw(server.url, '/files/samples')).status, 404, 'a folder is not a file');
});

test('/api/metrics returns the complete lines only, and the torn line once it is complete', async (t) => {
  const dir = join(tmp, 'live');
  mkdirSync(dir);
  writeFileSync(join(dir, 'metrics.jsonl'), complete + torn.slice(0, 40));
  const live = await startViewServer({ dir, port: 0 });
  try {
    const first = await json(live.url, '/api/metrics?run=&offset=0') as { offset: number; lines: unknown[]; bad: number; reset: boolean };
    t.deepEqual(first.lines, [stepLine(1), stepLine(2), stepLine(3), evalLine]);
    t.is(first.offset, Buffer.byteLength(complete));
    t.is(first.bad, 0);
    t.false(first.reset);
    const again = await json(live.url, `/api/metrics?run=&offset=${first.offset}`) as { offset: number; lines: unknown[] };
    t.deepEqual(again, { offset: first.offset, lines: [], bad: 0, long: 0, reset: false, more: false }, 'the torn line waits');
    appendFileSync(join(dir, 'metrics.jsonl'), torn.slice(40) + '\n');
    const next = await json(live.url, `/api/metrics?run=&offset=${first.offset}`) as { offset: number; lines: unknown[] };
    t.deepEqual(next.lines, [stepLine(4)]);
    t.is(next.offset, Buffer.byteLength(complete + torn + '\n'));
    // A resumed run rewrites the log shorter: the reader starts over.
    writeFileSync(join(dir, 'metrics.jsonl'), JSON.stringify(stepLine(1)) + '\n');
    const reset = await json(live.url, `/api/metrics?run=&offset=${next.offset}`) as { lines: unknown[]; reset: boolean };
    t.true(reset.reset);
    t.deepEqual(reset.lines, [stepLine(1)]);
  } finally {
    await live.close();
  }
});

test('paths with .. are refused with 404', async (t) => {
  for (const path of ['/files/../secret.txt', '/files/samples/../../secret.txt', '/files/%2e%2e/secret.txt', '/files/samples/%2E%2E%2F..%2Fsecret.txt', '/files/./config.json']) {
    const r = await raw(server.url, path);
    t.is(r.status, 404, path);
    t.false(r.body.toString('utf8').includes('not yours'), path);
  }
});

test('absolute paths are refused with 404', async (t) => {
  for (const path of ['/files//etc/passwd', `/files/${encodeURIComponent(outside)}`, `/files/${outside}`, '/files/%5Cetc%5Cpasswd', '/files/config.json%00.png']) {
    const r = await raw(server.url, path);
    t.is(r.status, 404, path);
    t.false(r.body.toString('utf8').includes('not yours'), path);
  }
});

test('symbolic links that lead out of OUT are refused with 404; one that stays inside is served', async (t) => {
  t.is((await raw(server.url, '/files/escape.txt')).status, 404);
  t.is((await raw(server.url, '/files/escape-dir/secret.txt')).status, 404);
  t.is((await raw(folderServer.url, '/files/alpha/escape.txt')).status, 404);
  const inside = await raw(server.url, '/files/inside-link.json');
  t.is(inside.status, 200);
  t.deepEqual(JSON.parse(inside.body.toString('utf8')), config);
});

test('the server only reads: other methods are refused and OUT is left as it was', async (t) => {
  /** Every entry under OUT with its size and modification time (links not followed). */
  const listing = (dir = out): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name), s = lstatSync(path);
    return [`${path}:${s.size}:${s.mtimeMs}`, ...(e.isDirectory() ? listing(path) : [])];
  }).sort();
  const before = listing();
  for (const method of ['POST', 'PUT', 'DELETE']) t.is((await raw(server.url, '/files/config.json', method)).status, 405, method);
  for (const path of ['/', '/api/runs', '/api/facts?run=', '/api/samples?run=', '/api/metrics?run=&offset=0', '/files/config.json']) await raw(server.url, path);
  t.deepEqual(listing(), before);
  t.true(before.length >= 10);
});

test('/modules/noise.js is the latent noise of ganpool sample, bit for bit; grid-layout.js and conditioning.js tile and label as Node does', async (t) => {
  const load = async (name: string): Promise<Record<string, unknown>> => {
    const r = await raw(server.url, `/modules/${name}`);
    t.is(r.status, 200, name);
    t.regex(r.type, /^text\/javascript/);
    return import(`data:text/javascript;base64,${r.body.toString('base64')}`) as Promise<Record<string, unknown>>;
  };
  const noise = await load('noise.js') as { latentNoise: typeof latentNoise; randomLabels: typeof randomLabels; NoiseStream: typeof NoiseStream };
  for (const seed of [0, 1, 7, 4294967295]) {
    const dim = 37;
    const mine = latentNoise(new Float32Array(5 * dim), seed, 0, NoiseStream.Sample, 3, dim);
    const served = noise.latentNoise(new Float32Array(5 * dim), seed, 0, noise.NoiseStream.Sample, 3, dim);
    t.deepEqual(Array.from(served), Array.from(mine), `seed ${seed}`);
    t.deepEqual(noise.randomLabels(new Int32Array(9), seed, 0, 2, 0, 10), randomLabels(new Int32Array(9), seed, 0, 2, 0, 10));
  }
  const layout = await load('grid-layout.js') as { tileGrid: typeof tileGrid };
  const images = Float32Array.from({ length: 3 * 2 * 2 * 3 }, (_, i) => (i % 7) / 3 - 1);
  t.deepEqual(layout.tileGrid(images, [2, 2, 3], { cols: 2, pad: 1 }), tileGrid(images, [2, 2, 3], { cols: 2, pad: 1 }));
  const conditioning = await load('conditioning.js') as { perClassLabels: typeof perClassLabels };
  t.deepEqual(conditioning.perClassLabels(3, 2), perClassLabels(3, 2));
  t.is((await raw(server.url, '/modules/rng.js')).status, 404, 'only the listed modules');
  t.is((await raw(server.url, '/modules/../noise.js')).status, 404);
});

test('/vendor/tf.min.js is the TensorFlow.js browser build from node_modules', async (t) => {
  const r = await raw(server.url, '/vendor/tf.min.js');
  t.is(r.status, 200);
  t.true(r.body.equals(readFileSync(tfjsBrowserBuild())));
});

test('the report is one self-contained HTML file: grids as data: URLs, the metrics embedded, no external URL', (t) => {
  const html = buildReport(out);
  const embedded = /window\.GANPOOL_REPORT = (.*);<\/script>/.exec(html);
  t.truthy(embedded);
  const data = JSON.parse(embedded![1]) as { runs: { lines: { step: number }[]; grids: { step: number; src: string }[]; facts: { config: unknown } }[] };
  t.is(data.runs.length, 1);
  const run = data.runs[0];
  t.deepEqual(run.lines.map((l) => l.step), [1, 2, 3, 3], 'the complete lines: three steps and the evaluation of step 3');
  const drawn = stepLine(1);
  delete drawn.epoch;
  t.deepEqual(run.lines[0], drawn, 'a step line without what the page does not draw (the epoch)');
  t.deepEqual(run.lines[3], { step: 3, eval: { fcd: 12.5, classifierScore: 3.25, classesCovered: 2 } });
  t.deepEqual(run.facts.config, config);
  t.deepEqual(run.grids.map((g) => g.step), [2, 10]);
  for (const g of run.grids) t.true(Buffer.from(g.src.replace(/^data:image\/png;base64,/, ''), 'base64').equals(grid));
  // The only URL-like text is the SVG namespace, which is a name, not a request.
  const urls = html.match(/\b(?:https?|wss?|ftp):\/\/[^\s"'<>)]*/g) ?? [];
  t.deepEqual([...new Set(urls)], ['http://www.w3.org/2000/svg']);
  t.notRegex(html, /<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=(?!["']?data:)/i, 'no element loads anything but a data: URL');
});

/** Runs the CLI with tsx, as the package's own users would run `ganpool`. */
function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ganpool view --export writes the report; a usage error exits 2', (t) => {
  const file = join(tmp, 'report.html');
  const r = cli(['view', out, '--export', file]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, `wrote ${file} (one self-contained HTML file)\n`);
  const written = readFileSync(file, 'utf8');
  // The time differs, and with it the hash of the data script in the page's CSP.
  const timeless = (html: string): string => html.replace(/"writtenAt":"[^"]*"/, '').replace(/<meta http-equiv="Content-Security-Policy"[^>]*>/, '');
  t.is(timeless(written), timeless(buildReport(out)));
  const e = cli(['view', runs, '--port', 'http']);
  t.is(e.code, 2);
  t.is(e.stderr, 'ganpool: invalid --port: "http"; expected a whole number from 0 to 65535 (0 picks a free port)\n');
});

test('ganpool view refuses bad arguments with a usage error naming the field', async (t) => {
  const file = join(tmp, 'unwritten.html');
  const blocker = createServer();
  await new Promise<void>((ok) => blocker.listen(0, '127.0.0.1', ok));
  const busy = (blocker.address() as { port: number }).port;
  try {
    const bad: [string[], RegExp, string][] = [
      [[], /^missing OUT/, 'OUT'],
      [[join(tmp, 'nope')], /^invalid OUT: .*nope.* is not a folder/, 'OUT'],
      [[join(tmp, 'nope'), '--export', file], /^invalid OUT: .*nope.* is not a folder/, 'OUT'],
      [[runs, '--port', '70000'], /^invalid --port: "70000"/, '--port'],
      [[runs, '--host', ''], /^invalid --host: ""/, '--host'],
      [[runs, 'other'], /^unexpected argument "other"/, 'OUT'],
      [[runs, '--port', String(busy)], new RegExp(`^invalid --port: ${busy} on 127\\.0\\.0\\.1 is in use`), '--port'],
      [[join(runs, 'not-a-run'), '--export', file], /holds no run/, 'OUT'],
    ];
    for (const [args, message, field] of bad) {
      const e = await t.throwsAsync(viewCommand(args), { instanceOf: GanpoolUsageError, message }, args.join(' '));
      t.is(e?.field, field);
    }
    const unknown = await t.throwsAsync(viewCommand([runs, '--colour']), { instanceOf: GanpoolUsageError });
    t.regex(unknown.message, /Unknown option '--colour'.*ganpool view --help/);
  } finally {
    blocker.close();
  }
  t.false(existsSync(file), 'nothing written');
});

test('ganpool view OUT --port 0 prints the URL it serves and stops on SIGTERM with exit 0', async (t) => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'view', out, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((ok, fail) => {
    let text = '';
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const m = /serving .* at (http:\/\/127\.0\.0\.1:\d+\/) \(read-only; Ctrl-C to stop\)\n/.exec(text);
      if (m) ok(m[1]);
    });
    child.on('exit', (code) => fail(new Error(`exited ${code} before printing a URL: ${text}`)));
  });
  const runsList = await json(url, '/api/runs');
  t.deepEqual(runsList, { root: 'alpha', runs: [{ id: '', name: 'alpha' }] });
  const code = await new Promise<number | null>((ok) => { child.on('exit', ok); child.kill('SIGTERM'); });
  t.is(code, 0);
});
