/**
 * `ganpool view` against hostile run folders and hostile requests: every file
 * read goes through one containment check (symlinks out, FIFOs, oversized
 * files), text from run files is escaped on the live page and in
 * report.html, the headers, the Host check, the allow-list of served file
 * types, long metrics lines, the run listing cache, the status of a resumed
 * run, and fast-check properties over URL paths and metrics.jsonl lines.
 *
 * The view's modules are imported as namespaces so that one missing export
 * fails only the tests that use it.
 */
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { gridPng } from '../src/generator/grid.js';
import * as server from '../src/view/server.js';
import * as runFolder from '../src/view/run-folder.js';
import * as safePath from '../src/view/safe-path.js';
import { buildReport } from '../src/view/report.js';
import { train } from '../src/app/train.js';
import { GanpoolDataError, GanpoolUsageError } from '../src/errors.js';

const tmp = realpathSync(mkdtempSync(join(tmpdir(), 'ganpool-view-hard-')));
const SECRET = 'SECRET-outside-the-run';
const XSS = '<img src=x onerror="document.body.dataset.pwned=\'yes\'">';
const MiB = 2 ** 20;
let png: Buffer;

/** A run folder with a config, a summary, two metrics lines and one grid. */
function plainRun(dir: string, metrics?: string): void {
  mkdirSync(join(dir, 'samples'), { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'mlp', dataset: 'mnist', steps: 2 }));
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ steps: 2, dLoss: 1, gLoss: 2 }));
  writeFileSync(join(dir, 'metrics.jsonl'), metrics ?? [1, 2].map((step) => JSON.stringify({ step, dLoss: 1, gLoss: 2, ms: 5 }) + '\n').join(''));
  writeFileSync(join(dir, 'samples', 'step-000002.png'), png);
  writeFileSync(join(dir, 'samples', 'latest.png'), png);
}

test.before(async () => {
  png = await gridPng(Float32Array.from({ length: 2 * 16 }, (_, i) => Math.cos(i)), [4, 4, 1]);
  writeFileSync(join(tmp, 'secret.json'), JSON.stringify({ secret: SECRET }));
  writeFileSync(join(tmp, 'secret.jsonl'), JSON.stringify({ step: 1, secret: SECRET }) + '\n');
  writeFileSync(join(tmp, 'secret.png'), Buffer.concat([png, Buffer.from(SECRET)]));
});

/** A GET (or `method`) of `path` exactly as given, with `host` as the Host header (null: none); resolves on the whole response. */
function get(port: number, path: string, host: string | null = `127.0.0.1:${port}`, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false, setHost: false, headers: host === null ? {} : { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', fail);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer to ${path} in 10 s`)));
    req.on('error', fail);
    req.end();
  });
}

/** Starts `ganpool view ARGS --port 0` in a child process; resolves to its port once it prints its URL. */
function viewProcess(args: string[]): Promise<{ child: ChildProcess; port: number; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'view', ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  return new Promise((ok, fail) => {
    let text = '';
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString('utf8');
      const m = / at http:\/\/[^:]+:(\d+)\//.exec(text);
      if (m) ok({ child, port: Number(m[1]), stderr: () => err });
    });
    child.on('exit', (code) => fail(new Error(`exited ${code} before printing a URL: ${text} ${err}`)));
  });
}

/** Stops a view process (SIGTERM, then SIGKILL after 5 s: a process blocked in a read cannot run its handler); resolves once its output is all read. */
function stop(child: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) { ok(); return; }
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.on('close', () => { clearTimeout(kill); ok(); });
    child.kill('SIGTERM');
  });
}

// ---- containment: one check for every read ----

test('a symlink out of OUT is refused for every file the page and the report read, not only /files/', async (t) => {
  const dir = join(tmp, 'links-out');
  mkdirSync(join(dir, 'samples'), { recursive: true });
  mkdirSync(join(dir, 'checkpoint'));
  mkdirSync(join(dir, 'generator'));
  for (const f of ['config.json', 'summary.json', 'checkpoint/manifest.json', 'generator/model.json']) symlinkSync(join(tmp, 'secret.json'), join(dir, f));
  symlinkSync(join(tmp, 'secret.jsonl'), join(dir, 'metrics.jsonl'));
  symlinkSync(join(tmp, 'secret.png'), join(dir, 'samples', 'step-000001.png'));
  symlinkSync(join(tmp, 'secret.png'), join(dir, 'samples', 'latest.png'));
  const run = { id: '', name: 'links-out', dir };
  const facts = runFolder.runFacts(run);
  t.like(facts, { config: null, summary: null, checkpoint: null, generator: null, hasGenerator: false });
  t.deepEqual(facts.skipped, ['config.json', 'summary.json', 'checkpoint/manifest.json', 'generator/model.json'].map((f) => `${f}: outside the viewed folder`));
  t.deepEqual(runFolder.readMetrics(run, 0).lines, []);
  t.deepEqual(runFolder.runSamples(run), { grids: [], latest: null });
  t.false(buildReport(dir).includes(SECRET), 'report.html holds nothing from outside OUT');
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    for (const path of ['/api/facts?run=', '/api/metrics?run=&offset=0', '/api/samples?run=', '/files/config.json', '/files/metrics.jsonl', '/files/samples/latest.png']) {
      const r = await get(s.port, path);
      t.false(r.body.toString('latin1').includes(SECRET), path);
    }
    t.is((await get(s.port, '/files/samples/latest.png')).status, 404);
  } finally {
    await s.close();
  }
});

test('a FIFO in place of any run file never blocks the server or --export', async (t) => {
  const dir = join(tmp, 'fifos');
  mkdirSync(join(dir, 'samples'), { recursive: true });
  mkdirSync(join(dir, 'checkpoint'));
  const fifos = ['config.json', 'summary.json', 'metrics.jsonl', 'checkpoint/manifest.json', 'samples/step-000001.png', 'samples/latest.png'];
  const made = spawnSync('mkfifo', fifos.map((f) => join(dir, f)));
  if (made.status !== 0) { t.fail(`mkfifo failed: ${made.stderr?.toString()}`); return; }
  // In a child process, so that a blocking read on the old code fails this test instead of hanging the file.
  const view = await viewProcess([dir]);
  try {
    const facts = JSON.parse((await get(view.port, '/api/facts?run=')).body.toString('utf8')) as { config: unknown; skipped: string[] };
    t.is(facts.config, null);
    t.true(facts.skipped.includes('config.json: not a regular file'), facts.skipped.join('; '));
    t.deepEqual(JSON.parse((await get(view.port, '/api/metrics?run=&offset=0')).body.toString('utf8')), { offset: 0, lines: [], bad: 0, long: 0, reset: false, more: false });
    t.deepEqual(JSON.parse((await get(view.port, '/api/samples?run=')).body.toString('utf8')), { grids: [], latest: null });
    for (const f of ['config.json', 'metrics.jsonl', 'samples/latest.png']) t.is((await get(view.port, `/files/${f}`)).status, 403, f);
    t.is((await get(view.port, '/api/runs')).status, 200, 'still answering');
  } finally {
    await stop(view.child);
  }
  const file = join(tmp, 'fifos.html');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'view', dir, '--export', file], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, `--export: ${r.error?.message ?? r.stderr}`);
  t.true(existsSync(file));
});

test('files over the cap for their kind are refused before they are read, and said so', async (t) => {
  const dir = join(tmp, 'big');
  plainRun(dir);
  // Sparse files: the size is what counts, nothing is written.
  writeFileSync(join(dir, 'config.json'), '');
  truncateSync(join(dir, 'config.json'), safePath.VIEW_READ_LIMITS.json + 1);
  writeFileSync(join(dir, 'samples', 'step-000009.png'), '');
  truncateSync(join(dir, 'samples', 'step-000009.png'), safePath.VIEW_READ_LIMITS.png + 1);
  const facts = runFolder.runFacts({ id: '', name: 'big', dir });
  t.is(facts.config, null);
  t.deepEqual(facts.skipped, [`config.json: too large (over ${16 * MiB} bytes)`]);
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    t.is((await get(s.port, '/files/config.json')).status, 403);
    t.is((await get(s.port, '/files/samples/step-000009.png')).status, 403);
    t.is((await get(s.port, '/files/samples/step-000002.png')).status, 200);
  } finally {
    await s.close();
  }
  const html = buildReport(dir);
  const data = JSON.parse(/window\.GANPOOL_REPORT = (.*);<\/script>/.exec(html)![1]) as { runs: { grids: { step: number }[]; note: string }[] };
  t.deepEqual(data.runs[0].grids.map((g) => g.step), [2], 'the oversized grid is left out of report.html');
  t.regex(data.runs[0].note, /1 sample grids not read/);
});

// ---- what is served, and to whom ----

test('every response carries a CSP, X-Frame-Options DENY, frame-ancestors none and nosniff; the page\'s CSP allows no inline code but its own', async (t) => {
  const dir = join(tmp, 'headers');
  plainRun(dir);
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    for (const path of ['/', '/api/runs', '/api/facts?run=', '/files/samples/latest.png', '/files/nope.png', '/modules/noise.js']) {
      const r = await get(s.port, path);
      t.is(r.headers['x-frame-options'], 'DENY', path);
      t.is(r.headers['x-content-type-options'], 'nosniff', path);
      t.regex(String(r.headers['content-security-policy']), /frame-ancestors 'none'/, path);
      t.regex(String(r.headers['content-security-policy']), /default-src 'none'/, path);
    }
    const csp = String((await get(s.port, '/')).headers['content-security-policy']);
    t.notRegex(csp, /unsafe-inline|'unsafe-eval'|\*/);
    t.regex(csp, /script-src 'self' 'wasm-unsafe-eval' 'sha256-[A-Za-z0-9+/]+=*'(;|$)/);
  } finally {
    await s.close();
  }
});

test('/files serves only the file types a run writes: downloads for what a page does not show, 404 for anything else', async (t) => {
  const dir = join(tmp, 'types');
  plainRun(dir);
  writeFileSync(join(dir, 'report.html'), '<script>alert(1)</script>');
  writeFileSync(join(dir, 'generator.onnx'), 'onnx');
  for (const f of ['notes.txt', 'evil.svg', 'evil.js', 'page.htm', 'README.md', 'noext']) writeFileSync(join(dir, f), `<svg onload="alert(1)"></svg>`);
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    for (const f of ['notes.txt', 'evil.svg', 'evil.js', 'page.htm', 'README.md', 'noext']) t.is((await get(s.port, `/files/${f}`)).status, 404, f);
    const html = await get(s.port, '/files/report.html');
    t.is(html.status, 200);
    t.is(html.headers['content-disposition'], 'attachment; filename="report.html"');
    t.regex(String(html.headers['content-security-policy']), /sandbox/);
    t.regex(String((await get(s.port, '/files/generator.onnx')).headers['content-disposition']), /^attachment/);
    const grid = await get(s.port, '/files/samples/latest.png');
    t.is(grid.headers['content-type'], 'image/png');
    t.is(grid.headers['content-disposition'], undefined, 'grids are shown inline');
    t.true(grid.body.equals(png));
  } finally {
    await s.close();
  }
});

test('a Host header that is neither the bound address nor a loopback name gets 403 (DNS rebinding)', async (t) => {
  const dir = join(tmp, 'hosts');
  plainRun(dir);
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    for (const host of [`127.0.0.1:${s.port}`, `localhost:${s.port}`, `LOCALHOST:${s.port}`, `[::1]:${s.port}`]) t.is((await get(s.port, '/api/runs', host)).status, 200, host);
    for (const host of [`evil.example:${s.port}`, 'evil.example', `127.0.0.1:${s.port + 1}`, `127.0.0.1`, `localhost.evil.example:${s.port}`, `127.0.0.1:${s.port}.evil.example`, '']) {
      const r = await get(s.port, '/api/facts?run=', host);
      t.is(r.status, 403, host);
      t.false(r.body.toString('utf8').includes('mlp'), host);
    }
    // HTTP/1.0 without any Host header.
    const reply = await new Promise<string>((ok, fail) => {
      const sock = connect(s.port, '127.0.0.1', () => sock.end('GET /api/runs HTTP/1.0\r\n\r\n'));
      let text = '';
      sock.on('data', (c: Buffer) => { text += c.toString('utf8'); });
      sock.on('end', () => ok(text));
      sock.on('error', fail);
    });
    t.regex(reply, /^HTTP\/1\.[01] 403 /);
  } finally {
    await s.close();
  }
  const any = server.allowedHostHeaders('0.0.0.0', 8765);
  t.true(any.has('127.0.0.1:8765') && any.has('localhost:8765') && any.has(`${hostname().toLowerCase()}:8765`));
  t.false(any.has('evil.example:8765'));
  t.true(server.allowedHostHeaders('::1', 80).has('[::1]'), 'port 80 may be left out');
});

test('a non-loopback --host prints a warning that anyone who can reach it can read the run; loopback does not', async (t) => {
  for (const h of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.1.1']) t.true(server.isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '192.168.1.5', 'example.org']) t.false(server.isLoopbackHost(h), h);
  const dir = join(tmp, 'public');
  plainRun(dir);
  const open = await viewProcess([dir, '--host', '0.0.0.0']);
  await stop(open.child);
  t.regex(open.stderr(), /warning: --host 0\.0\.0\.0 is not this machine only; anyone who can reach 0\.0\.0\.0 can read the run/);
  const local = await viewProcess([dir]);
  await stop(local.child);
  t.is(local.stderr(), '');
});

// ---- big files ----

test('a metrics line over the cap is skipped with a count, complete or torn, and the lines after it are read', (t) => {
  const dir = join(tmp, 'long-lines');
  mkdirSync(dir);
  const line = (step: number): string => JSON.stringify({ step, dLoss: step, gLoss: step }) + '\n';
  const long = (bytes: number): string => JSON.stringify({ step: 0, pad: 'x'.repeat(bytes) }) + '\n';
  // 2 MiB (over the line cap) and 20 MiB (over a whole chunk): the old reader stalled on the second.
  writeFileSync(join(dir, 'metrics.jsonl'), line(1) + long(2 * MiB) + line(2) + long(20 * MiB) + line(3));
  const run = { id: '', name: 'long', dir };
  const readAll = (from: number): { lines: unknown[]; long: number; offset: number; calls: number } => {
    const lines: unknown[] = [];
    let longs = 0, offset = from, calls = 0;
    for (;;) {
      const c = runFolder.readMetrics(run, offset);
      calls++;
      if (c.more && !(c.offset > offset)) throw new Error(`no progress at ${offset}`);
      if (calls > 100) throw new Error('more than 100 reads');
      lines.push(...c.lines);
      longs += c.long;
      offset = c.offset;
      if (!c.more) return { lines, long: longs, offset, calls };
    }
  };
  const first = readAll(0);
  t.deepEqual(first.lines, [1, 2, 3].map((s) => ({ step: s, dLoss: s, gLoss: s })));
  t.is(first.long, 2);
  t.is(first.offset, statSync(join(dir, 'metrics.jsonl')).size);
  // A long line still being written: skipped as it grows, and the line after it is read whole, not from its middle.
  appendFileSync(join(dir, 'metrics.jsonl'), '{"step":4,"pad":"' + 'y'.repeat(3 * MiB));
  const torn = readAll(first.offset);
  t.deepEqual(torn.lines, []);
  t.is(torn.long, 1);
  appendFileSync(join(dir, 'metrics.jsonl'), 'y'.repeat(MiB) + '"}\n' + line(5));
  const after = readAll(torn.offset);
  t.deepEqual(after.lines, [{ step: 5, dLoss: 5, gLoss: 5 }]);
  t.is(after.long, 0, 'counted once');
  const html = buildReport(dir);
  t.regex(html, /3 metrics lines over 1048576 bytes skipped/, 'report.html notes them');
});

test('the run listing is cached for a moment instead of rescanned on every poll', (t) => {
  const root = join(tmp, 'listing');
  mkdirSync(join(root, 'a'), { recursive: true });
  writeFileSync(join(root, 'a', 'metrics.jsonl'), '');
  const listing = new runFolder.RunListing(root, 2000);
  t.deepEqual(listing.get(0).map((r) => r.id), ['a']);
  mkdirSync(join(root, 'b'));
  writeFileSync(join(root, 'b', 'metrics.jsonl'), '');
  for (let now = 0; now < 2000; now += 100) listing.get(now);
  t.is(listing.scans, 1, 'twenty polls in 2 s scan once');
  t.deepEqual(listing.get(1999).map((r) => r.id), ['a']);
  t.deepEqual(listing.get(2000).map((r) => r.id), ['a', 'b'], 'a new run shows once the scan is older than the TTL');
  t.is(listing.scans, 2);
  t.is(runFolder.RUN_LISTING_TTL_MS, 2000);
});

// ---- status ----

test('a resumed run says training while it holds the lock, though its earlier summary.json is there; finished once it ends again', (t) => {
  const dir = join(tmp, 'resumed');
  plainRun(dir);
  const run = { id: '', name: 'resumed', dir };
  const past = Date.now() / 1000 - 60;
  utimesSync(join(dir, 'summary.json'), past, past);
  utimesSync(join(dir, 'config.json'), past - 10, past - 10);
  t.is(runFolder.runFacts(run).status, 'finished', 'the first run ended');
  writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }) + '\n');
  const resumed = runFolder.runFacts(run);
  t.is(resumed.status, 'training');
  t.is(resumed.summary, null, 'the earlier summary is not shown as this run\'s');
  writeFileSync(join(dir, '.lock'), '');
  t.is(runFolder.runFacts(run).status, 'training', 'a lock being written counts as live');
  // The resumed run ends: a new summary, then the lock goes.
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ steps: 4 }));
  t.is(runFolder.runFacts(run).status, 'finished', 'the report written at the end, lock still held, says finished');
  // A resumed run that crashed: its lock's process is gone, and the summary is older than its start (the config it rewrote).
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  utimesSync(join(dir, 'summary.json'), past, past);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model: 'mlp', steps: 8 }));
  writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: Number(dead.stdout), host: hostname(), startedAt: '' }));
  t.is(runFolder.runFacts(run).status, 'incomplete');
});

test('a real resume: the page\'s facts say training at every step of the resumed run, finished at its end', async (t) => {
  const out = join(tmp, 'real-resume');
  const base = { model: 'seed' as const, workers: 1, batchSize: 16, seed: 3, sampleEvery: 1000, checkpointEvery: 1000, finalEval: false };
  await train({ ...base, steps: 2, out });
  const run = { id: '', name: 'real-resume', dir: out };
  t.is(runFolder.runFacts(run).status, 'finished');
  const seen: string[] = [];
  await train({ finalEval: false, resume: out, steps: 4 }, { onStep: () => { seen.push(runFolder.runFacts(run).status); } });
  t.deepEqual(seen, ['training', 'training']);
  t.is(runFolder.runFacts(run).status, 'finished');
  const report = JSON.parse(/window\.GANPOOL_REPORT = (.*);<\/script>/.exec(readFileSync(join(out, 'report.html'), 'utf8'))![1]) as { runs: { facts: { status: string } }[] };
  t.is(report.runs[0].facts.status, 'finished', 'the report the run writes at its end');
});

// ---- fuzzing ----

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20240518);

test('fast-check: 1,000 arbitrary URL paths get an answer in the expected set, and nothing from outside OUT', async (t) => {
  t.timeout(120_000);
  t.log(`seed ${FUZZ_SEED} (FUZZ_SEED=… replays)`);
  const dir = join(tmp, 'fuzz-urls');
  plainRun(dir);
  mkdirSync(join(dir, 'checkpoint'));
  writeFileSync(join(dir, 'checkpoint', 'manifest.json'), '{"step":2}');
  symlinkSync(join(tmp, 'secret.json'), join(dir, 'escape.json'));
  symlinkSync(tmp, join(dir, 'escape-dir'));
  symlinkSync(join(dir, 'config.json'), join(dir, 'inside.json'));
  /** The contents of every regular file inside OUT: a 200 from /files/ must be one of them. */
  const inside = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else if (e.isFile()) inside.add(readFileSync(join(d, e.name)).toString('base64'));
    }
  };
  walk(dir);
  const s = await server.startViewServer({ dir, port: 0 });
  const segment = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('..', '.', '', '%2e%2e', '%2E%2e%2F', '%2f', '%5c', '%00', '%', '%zz', '~', 'config.json', 'escape.json', 'escape-dir', 'inside.json',
      'secret.json', 'secret.png', 'samples', 'latest.png', 'step-000002.png', 'metrics.jsonl', 'checkpoint', 'manifest.json', 'noise.js', relative(dir, join(tmp, 'secret.json'))) },
    fc.string({ unit: fc.constantFrom(...'abc.-_~%/\\?#&=+:@!$\'()*,;[]'.split('')), maxLength: 12 }),
    fc.string({ unit: 'grapheme', maxLength: 8 }).map(encodeURIComponent),
    fc.array(fc.integer({ min: 0x21, max: 0x7e }), { maxLength: 10 }).map((cs) => String.fromCharCode(...cs)),
  );
  const prefix = fc.constantFrom('/files/', '/files/samples/', '/files/checkpoint/', '/', '/files/', '/files/samples/', '/files/escape-dir/', '/api/facts?run=', '/api/metrics?run=&offset=', '/api/samples?run=', '/api/runs', '/modules/', '/vendor/', '//', '/files//');
  /** A path to a file the run has, with some of its characters percent-encoded (an encoded `/` makes it a 404). */
  const encoded = fc.constantFrom('/files/config.json', '/files/samples/latest.png', '/files/samples/step-000002.png', '/files/checkpoint/manifest.json',
    '/files/metrics.jsonl', '/files/inside.json', '/files/escape.json', '/files/escape-dir/secret.json').chain((p) => fc.array(fc.nat(p.length - 1), { maxLength: 4 }).map((at) =>
    [...p].map((c, i) => (at.includes(i) && i > 0 ? `%${c.charCodeAt(0).toString(16).padStart(2, '0')}` : c)).join('')));
  const path = fc.oneof(encoded, fc.tuple(prefix, fc.array(segment, { minLength: 1, maxLength: 4 })).map(([p, segs]) => p + segs.join('/')));
  const expected = new Set([200, 400, 403, 404]);
  let served = 0;
  try {
    await fc.assert(fc.asyncProperty(path, async (path) => {
      const r = await get(s.port, path);
      if (!expected.has(r.status)) throw new Error(`${path}: status ${r.status}`);
      if (r.body.toString('latin1').includes(SECRET)) throw new Error(`${path}: served a file from outside OUT`);
      if (r.status === 200 && path.startsWith('/files/')) {
        served++;
        if (!inside.has(r.body.toString('base64'))) throw new Error(`${path}: 200 with a body that is no file inside OUT`);
      }
    }), { numRuns: 1000, seed: FUZZ_SEED, timeout: 10_000 });
    t.is((await get(s.port, '/api/runs')).status, 200, 'the server still answers');
  } finally {
    await s.close();
  }
  t.log(`${served} of 1000 paths served a file inside OUT`);
  t.pass();
});

test('fast-check: 1,000 arbitrary metrics.jsonl contents, read whole or torn anywhere, give exactly the complete JSON-object lines; never a foreign error', (t) => {
  t.timeout(120_000);
  t.log(`seed ${FUZZ_SEED} (FUZZ_SEED=… replays)`);
  const dir = join(tmp, 'fuzz-metrics');
  mkdirSync(dir);
  const file = join(dir, 'metrics.jsonl');
  const run = { id: '', name: 'fuzz', dir };
  const bigLine = Buffer.from(JSON.stringify({ step: 1, pad: 'z'.repeat(safePath.VIEW_READ_LIMITS.metricsLine) }));
  const line = fc.oneof(
    { weight: 4, arbitrary: fc.record({ step: fc.integer(), dLoss: fc.oneof(fc.double(), fc.string(), fc.constant(XSS)), eval: fc.option(fc.jsonValue(), { nil: undefined }) }).map((o) => Buffer.from(JSON.stringify(o))) },
    { weight: 3, arbitrary: fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)) },
    { weight: 1, arbitrary: fc.constantFrom(Buffer.from('{"__proto__":{"polluted":1},"step":1}'), Buffer.from('{"constructor":{"prototype":{"x":1}}}'), Buffer.from(''), Buffer.from('\r'), bigLine) },
  );
  /** The lines a reader must return: each newline-terminated line of at most the cap that parses as a JSON object. */
  const oracle = (bytes: Buffer): unknown[] => {
    const out: unknown[] = [];
    let start = 0;
    for (let nl = bytes.indexOf(0x0a); nl >= 0; start = nl + 1, nl = bytes.indexOf(0x0a, start)) {
      if (nl - start > runFolder.METRICS_LINE_BYTES) continue;
      try {
        const v = JSON.parse(bytes.toString('utf8', start, nl)) as unknown;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(v);
      } catch {
        // not a line the reader keeps
      }
    }
    return out;
  };
  const readFrom = (offset: number): { lines: unknown[]; offset: number } => {
    const lines: unknown[] = [];
    for (let calls = 0; ; calls++) {
      if (calls > 50) throw new Error('readMetrics: more than 50 reads');
      const c = runFolder.readMetrics(run, offset);
      if (c.more && !(c.offset > offset)) throw new Error(`readMetrics: no progress at offset ${offset}`);
      lines.push(...c.lines);
      offset = c.offset;
      if (!c.more) return { lines, offset };
    }
  };
  fc.assert(fc.property(fc.array(line, { maxLength: 12 }), fc.boolean(), fc.nat(), (lines, tornEnd, cut) => {
    const bytes = Buffer.concat(lines.flatMap((l, i) => (i < lines.length - 1 || !tornEnd ? [l, Buffer.from('\n')] : [l])));
    const at = bytes.length === 0 ? 0 : cut % (bytes.length + 1);
    try {
      // Torn at `at` (a run writing), then complete: the two reads together give the whole file's lines.
      writeFileSync(file, bytes.subarray(0, at));
      const first = readFrom(0);
      appendFileSync(file, bytes.subarray(at));
      const rest = readFrom(first.offset);
      const got = [...first.lines, ...rest.lines];
      const want = oracle(bytes);
      // A line cut in the middle may be skipped as too long only if it is; otherwise the reads must equal the oracle.
      if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`read ${JSON.stringify(got).slice(0, 200)}, expected ${JSON.stringify(want).slice(0, 200)}`);
      if (({} as Record<string, unknown>).polluted !== undefined) throw new Error('Object.prototype polluted');
      buildReport(dir);
    } catch (e) {
      if (e instanceof GanpoolUsageError || e instanceof GanpoolDataError) return;
      throw e;
    }
  }), { numRuns: 1000, seed: FUZZ_SEED });
  t.pass();
});

// ---- in a real browser: text from run files stays text ----

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
const browserPath = CANDIDATES.find((p): p is string => typeof p === 'string' && p !== '' && existsSync(p));
if (!browserPath && process.env.CI) {
  test('a browser for the hostile-page tests is installed (CI)', (t) => { t.fail(`no chromium found at ${CANDIDATES.filter(Boolean).join(', ')}`); });
} else if (!browserPath) {
  console.log(`view-hardening: browser checks skipped: no chromium at ${CANDIDATES.filter(Boolean).join(', ')} (apt-get install chromium, or set CHROMIUM_PATH)`);
}
const browserTest = browserPath ? test.serial : test.skip;
let browser: Browser | undefined;
const launchBrowser = async (): Promise<Browser> => {
  browser ??= await puppeteer.launch({ executablePath: browserPath, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  return browser;
};
test.after.always(async () => { await browser?.close(); });

interface DomLike { textContent: string | null; querySelectorAll(s: string): { length: number }; dataset: Record<string, string | undefined> }
declare const document: { body: DomLike; getElementById(id: string): DomLike | null; addEventListener(type: string, f: (e: { violatedDirective: string; blockedURI: string }) => void): void };

/** Opens `url` recording console errors, page errors, CSP violations and HTTP errors in `problems`; waits until the page is ready. */
async function openPage(url: string, offline = false): Promise<{ page: Page; problems: string[] }> {
  const page = await (await launchBrowser()).newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${(e as Error).message}`));
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.evaluateOnNewDocument(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  if (offline) await page.setOfflineMode(true);
  await page.goto(url);
  await page.waitForSelector('body[data-ready="yes"]', { timeout: 20_000 });
  return { page, problems };
}

/** A run folder's name with markup in it. */
const EVIL = 'evil<b>run';

/** A folder of runs whose files carry HTML: a run named with markup, a config field, metrics values and a summary field. */
function hostileFolder(): string {
  const root = join(tmp, 'hostile');
  const evil = join(root, EVIL);
  plainRun(evil, [1, 2].map((step) => JSON.stringify({ step, dLoss: 1, gLoss: 2, ms: 5 }) + '\n').join('') +
    JSON.stringify({ step: 2, eval: { fcd: XSS, classifierScore: 1, classesCovered: 1, histogram: [1] } }) + '\n' +
    JSON.stringify({ step: 3, pad: 'p'.repeat(2 * MiB) }) + '\n' + JSON.stringify({ step: 3, dLoss: XSS, gLoss: XSS, ms: 5 }) + '\n');
  // The config first, then the summary: a summary older than the config would be an earlier attempt's.
  writeFileSync(join(evil, 'config.json'), JSON.stringify({ model: XSS, dataset: XSS, steps: XSS, imageShape: XSS, out: '</script><script>document.body.dataset.pwned="yes"</script>' }));
  writeFileSync(join(evil, 'summary.json'), JSON.stringify({ steps: 3, stopReason: XSS, stoppedEarly: true, eval: { fcd: XSS }, machine: { cpuModel: XSS } }));
  plainRun(join(root, 'plain'));
  return root;
}

/** What the page shows of the hostile run: no element made from its text, the text shown as text. */
async function checkInert(t: ExecutionContext, page: Page, problems: string[]): Promise<void> {
  const state = await page.evaluate(() => ({
    pwned: document.body.dataset.pwned ?? null,
    imgs: document.body.querySelectorAll('#compare-table img, #facts img, #charts img, #compare-charts img, #title img, b').length,
    text: document.body.textContent ?? '',
  }));
  t.is(state.pwned, null, 'no script from a run file ran');
  t.is(state.imgs, 0, 'no element was made from a run file\'s text');
  t.true(state.text.includes('<img src=x onerror='), 'the markup shows as text');
  t.deepEqual(problems, []);
}

browserTest('live page: HTML in metrics values, config, summary and a run\'s name renders as text, under the CSP, with no console error', async (t) => {
  const root = hostileFolder();
  const s = await server.startViewServer({ dir: root, port: 0 });
  try {
    const compare = await openPage(s.url);
    await checkInert(t, compare.page, compare.problems);
    await compare.page.close();
    const { page, problems } = await openPage(`${s.url}#run=${encodeURIComponent(EVIL)}`);
    await page.waitForSelector('#facts table', { timeout: 10_000 });
    await checkInert(t, page, problems);
    const note = await page.evaluate(() => document.getElementById('metrics-note')?.textContent ?? '');
    t.regex(note, /^3 steps logged, 1 evaluations, 1 lines over 1 MiB skipped$/, 'the long line is skipped with a note; the step after it is drawn');
    await page.close();
  } finally {
    await s.close();
  }
});

browserTest('report.html: the same hostile run renders as text, offline, under its meta CSP', async (t) => {
  const root = hostileFolder();
  const file = join(tmp, 'hostile.html');
  writeFileSync(file, buildReport(root));
  const { page, problems } = await openPage(pathToFileURL(file).href, true);
  await checkInert(t, page, problems);
  await page.close();
});

browserTest('the page of a resumed run says training while the resumed run holds the lock', async (t) => {
  const dir = join(tmp, 'resumed-page');
  plainRun(dir);
  const past = Date.now() / 1000 - 60;
  utimesSync(join(dir, 'summary.json'), past, past);
  utimesSync(join(dir, 'config.json'), past - 10, past - 10);
  writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString() }) + '\n');
  const s = await server.startViewServer({ dir, port: 0 });
  try {
    const { page, problems } = await openPage(s.url);
    t.is(await page.evaluate(() => document.getElementById('run-status')?.textContent), 'training');
    t.deepEqual(problems, []);
    await page.close();
  } finally {
    await s.close();
  }
});
