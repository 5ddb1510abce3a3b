/**
 * The read-only HTTP server of `ganpool view`: one page, a small JSON API
 * over a run folder (or a folder of runs), the run's files, the
 * TensorFlow.js browser build from node_modules and the dependency-free
 * modules the page shares with Node. It never writes anything; a path that
 * leads outside the viewed folder is a 404 like a missing one.
 *
 * Routes (GET and HEAD only):
 * - `/`                          the page
 * - `/api/runs`                  `{ root, runs: [{ id, name }] }`
 * - `/api/facts?run=ID`          {@link RunFacts}
 * - `/api/metrics?run=ID&offset=N` {@link MetricsChunk}: complete metrics lines from byte N
 * - `/api/samples?run=ID`        {@link RunSamples}
 * - `/files/PATH`                a file inside the viewed folder (a run of a folder: `/files/RUN/PATH`)
 * - `/vendor/tf.min.js`          @tensorflow/tfjs's browser build
 * - `/modules/NAME.js`           noise.js, grid-layout.js, conditioning.js (browser-modules.ts)
 */
import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { findRuns, readMetrics, runFacts, runSamples, viewedFolder, type RunEntry } from './run-folder.js';
import { resolveInside } from './safe-path.js';
import { browserModuleSource } from './browser-modules.js';
import { pageHtml } from './page.js';
import { viewPortInUse } from '../errors.js';

/** Where {@link startViewServer} listens and what it shows. */
export interface ViewServerOptions {
  /** The run folder, or a folder whose subfolders are runs. */
  dir: string;
  /** TCP port; 0 picks a free one. Default {@link DEFAULT_VIEW_PORT}. */
  port?: number;
  /** Address to bind. Default 127.0.0.1 (this machine only). */
  host?: string;
}

/** A running view server. */
export interface ViewServer {
  /** The page's address, e.g. `http://127.0.0.1:8765/`. */
  url: string;
  /** The port it listens on (the one picked, for port 0). */
  port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The port `ganpool view` listens on unless told otherwise. */
export const DEFAULT_VIEW_PORT = 8765;
/** The address `ganpool view` binds unless told otherwise. */
export const DEFAULT_VIEW_HOST = '127.0.0.1';

const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png', '.json': 'application/json', '.jsonl': 'application/x-ndjson; charset=utf-8', '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.txt': 'text/plain; charset=utf-8', '.md': 'text/plain; charset=utf-8', '.svg': 'image/svg+xml',
};

/** The TensorFlow.js browser build (a UMD bundle defining the global `tf`) in node_modules. */
export function tfjsBrowserBuild(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.min.js');
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, value: unknown, head: boolean): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value), head);
}

function notFound(res: ServerResponse, head: boolean): void {
  send(res, 404, 'text/plain; charset=utf-8', 'not found\n', head);
}

function sendFile(res: ServerResponse, file: string, type: string, head: boolean): void {
  const size = statSync(file).size;
  res.writeHead(200, { 'content-type': type, 'content-length': size, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  if (head) { res.end(); return; }
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
}

/** Handles one request against the folder `root`. */
async function handle(root: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('only GET and HEAD: ganpool view only reads\n');
    return;
  }
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const run = (): RunEntry | undefined => {
    const id = params.get('run') ?? '';
    return findRuns(root).find((r) => r.id === id);
  };
  if (path === '/' || path === '/index.html') {
    send(res, 200, 'text/html; charset=utf-8', pageHtml(basename(root)), head);
  } else if (path === '/api/runs') {
    sendJson(res, { root: basename(root) || root, runs: findRuns(root).map(({ id, name }) => ({ id, name })) }, head);
  } else if (path === '/api/facts' || path === '/api/samples' || path === '/api/metrics') {
    const r = run();
    if (!r) { notFound(res, head); return; }
    if (path === '/api/facts') sendJson(res, runFacts(r), head);
    else if (path === '/api/samples') sendJson(res, runSamples(r), head);
    else {
      const offset = Number(params.get('offset') ?? '0');
      sendJson(res, readMetrics(r, Number.isSafeInteger(offset) && offset >= 0 ? offset : 0), head);
    }
  } else if (path.startsWith('/files/')) {
    const file = resolveInside(root, path.slice('/files/'.length));
    if (file === null) { notFound(res, head); return; }
    sendFile(res, file, CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream', head);
  } else if (path === '/vendor/tf.min.js') {
    sendFile(res, tfjsBrowserBuild(), CONTENT_TYPES['.js'], head);
  } else if (path.startsWith('/modules/')) {
    const js = await browserModuleSource(path.slice('/modules/'.length));
    if (js === null) { notFound(res, head); return; }
    send(res, 200, CONTENT_TYPES['.js'], js, head);
  } else {
    notFound(res, head);
  }
}

/**
 * Serves the run in `dir` (or the runs in its subfolders) read-only on
 * `host:port`; resolves once listening. A missing folder or a port in use is
 * a GanpoolUsageError naming it.
 */
export async function startViewServer(options: ViewServerOptions): Promise<ViewServer> {
  const root = viewedFolder(options.dir);
  const host = options.host ?? DEFAULT_VIEW_HOST;
  const port = options.port ?? DEFAULT_VIEW_PORT;
  const server: Server = createServer((req, res) => {
    handle(root, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `ganpool view: ${(e as Error).message}\n`, false);
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' || e.code === 'EACCES' ? viewPortInUse(port, host, e.code) : e));
    server.listen(port, host, () => ok());
  });
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${bound}/`,
    port: bound,
    close: () => new Promise<void>((ok) => {
      server.close(() => ok());
      server.closeAllConnections();
    }),
  };
}
