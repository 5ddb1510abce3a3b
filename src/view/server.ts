/**
 * The read-only HTTP server of `ganpool view`: one page, a small JSON API
 * over a run folder (or a folder of runs), the run's files, the
 * TensorFlow.js browser build from node_modules and the dependency-free
 * modules the page shares with Node. It never writes anything; a path that
 * leads outside the viewed folder is a 404 like a missing one.
 *
 * What it guards (see docs/view.md, "Security"):
 * - every file goes through the containment check of safe-path.ts;
 * - /files/ serves only the file types a run writes ({@link SERVED_TYPES}),
 *   the ones a page does not display as attachments;
 * - a request whose Host header names neither the bound address nor a
 *   loopback name (with the port) is refused with 403 (DNS rebinding);
 * - every response carries a Content-Security-Policy, X-Frame-Options DENY,
 *   X-Content-Type-Options nosniff, Referrer-Policy no-referrer and
 *   Cross-Origin-Resource-Policy same-origin.
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
import { closeSync, createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { hostname, networkInterfaces } from 'node:os';
import { basename, dirname, extname, join } from 'node:path';
import { isIP, type AddressInfo } from 'node:net';
import { readMetrics, RunListing, runFacts, runSamples, viewedFolder, type RunEntry } from './run-folder.js';
import { openInside, requestSegments, VIEW_READ_LIMITS, type ContainedFile } from './safe-path.js';
import { browserModuleSource } from './browser-modules.js';
import { PAGE_CSP, pageHtml } from './page.js';
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

/** How /files/ serves a file type a run writes: its content type, inline or as a download, and its size cap. */
interface ServedType {
  type: string;
  attachment: boolean;
  maxBytes: number;
}

/**
 * The file types a run writes, the only ones /files/ serves (anything else is
 * a 404): grids, JSON (config, summary, manifest, model.json), the metrics
 * log and the generator's weights inline; the ONNX export, checkpoint vectors
 * and report.html as downloads only.
 */
export const SERVED_TYPES: Readonly<Record<string, ServedType>> = {
  '.png': { type: 'image/png', attachment: false, maxBytes: VIEW_READ_LIMITS.png },
  '.json': { type: 'application/json; charset=utf-8', attachment: false, maxBytes: VIEW_READ_LIMITS.json },
  '.jsonl': { type: 'application/x-ndjson; charset=utf-8', attachment: false, maxBytes: VIEW_READ_LIMITS.large },
  '.bin': { type: 'application/octet-stream', attachment: false, maxBytes: VIEW_READ_LIMITS.large },
  '.onnx': { type: 'application/octet-stream', attachment: true, maxBytes: VIEW_READ_LIMITS.large },
  '.f32': { type: 'application/octet-stream', attachment: true, maxBytes: VIEW_READ_LIMITS.large },
  '.html': { type: 'text/html; charset=utf-8', attachment: true, maxBytes: VIEW_READ_LIMITS.html },
};

const JS = 'text/javascript; charset=utf-8';
const TEXT = 'text/plain; charset=utf-8';
/** The policy of every response but the page: nothing may load, run or frame it. */
const RESOURCE_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox";

/** The TensorFlow.js browser build (a UMD bundle defining the global `tf`) in node_modules. */
export function tfjsBrowserBuild(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('@tensorflow/tfjs/package.json')), 'dist', 'tf.min.js');
}

/** Whether `host` (a --host value) is this machine only: localhost, 127.0.0.0/8 or ::1. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h === '::ffff:127.0.0.1';
}

/**
 * The Host header values the server answers: the bound address and the
 * loopback names, each with the port (and bare for port 80); a wildcard
 * bind (0.0.0.0, ::) adds this machine's interface addresses and host name.
 */
export function allowedHostHeaders(host: string, port: number): Set<string> {
  const bracket = (h: string): string => (isIP(h) === 6 ? `[${h}]` : h);
  const names = new Set(['localhost', '127.0.0.1', '[::1]', bracket(host.replace(/^\[(.*)\]$/, '$1'))]);
  if (host === '0.0.0.0' || host === '::' || host === '[::]') {
    for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) names.add(bracket(a.address.replace(/%.*$/, '')));
    names.add(hostname());
  }
  const allowed = new Set<string>();
  for (const n of names) {
    allowed.add(`${n.toLowerCase()}:${port}`);
    if (port === 80) allowed.add(n.toLowerCase());
  }
  return allowed;
}

function headers(type: string, length: number, csp = RESOURCE_CSP): Record<string, string | number> {
  return {
    'content-type': type, 'content-length': length, 'cache-control': 'no-store',
    'content-security-policy': csp, 'x-frame-options': 'DENY', 'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer', 'cross-origin-resource-policy': 'same-origin',
  };
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, head: boolean, csp?: string): void {
  res.writeHead(status, headers(type, Buffer.byteLength(body), csp));
  res.end(head ? undefined : body);
}

function sendJson(res: ServerResponse, value: unknown, head: boolean): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value), head);
}

function notFound(res: ServerResponse, head: boolean): void {
  send(res, 404, TEXT, 'not found\n', head);
}

/** Streams an opened file (and closes it), as a download when `attachment`. */
function sendOpened(res: ServerResponse, file: ContainedFile, type: string, head: boolean, attachment = false): void {
  const h = headers(type, file.size);
  if (attachment) h['content-disposition'] = `attachment; filename="${basename(file.path).replace(/[^\w.-]/g, '_')}"`;
  res.writeHead(200, h);
  if (head || file.size === 0) { closeSync(file.fd); res.end(); return; }
  createReadStream(file.path, { fd: file.fd, start: 0, end: file.size - 1, autoClose: true }).on('error', () => res.destroy()).pipe(res);
}

/** Serves `/files/PATH`: a file type a run writes, inside the viewed folder, within its cap. */
function sendRunFile(root: string, requestPath: string, res: ServerResponse, head: boolean): void {
  const segments = requestSegments(requestPath);
  const ext = segments ? extname(segments[segments.length - 1]).toLowerCase() : '';
  if (!segments || !Object.hasOwn(SERVED_TYPES, ext)) { notFound(res, head); return; }
  const served = SERVED_TYPES[ext];
  const file = openInside(root, segments, served.maxBytes);
  if ('refused' in file) {
    if (file.refused === 'missing' || file.refused === 'outside the viewed folder') notFound(res, head);
    else send(res, 403, TEXT, `refused: ${file.refused}\n`, head);
    return;
  }
  sendOpened(res, file, served.type, head, served.attachment);
}

/** Handles one request against the folder `root`. */
async function handle(root: string, listing: RunListing, hosts: Set<string>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  const host = req.headers.host?.toLowerCase();
  if (host === undefined || !hosts.has(host)) {
    send(res, 403, TEXT, 'refused: the Host header names neither this server\'s address nor localhost\n', head);
    return;
  }
  if (req.method !== 'GET' && !head) {
    res.writeHead(405, { ...headers(TEXT, 0), allow: 'GET, HEAD' });
    res.end();
    return;
  }
  const raw = req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const run = (): RunEntry | undefined => {
    const id = params.get('run') ?? '';
    return listing.get().find((r) => r.id === id);
  };
  if (path === '/' || path === '/index.html') {
    send(res, 200, 'text/html; charset=utf-8', pageHtml(basename(root)), head, PAGE_CSP);
  } else if (path === '/api/runs') {
    sendJson(res, { root: basename(root) || root, runs: listing.get().map(({ id, name }) => ({ id, name })) }, head);
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
    sendRunFile(root, path.slice('/files/'.length), res, head);
  } else if (path === '/vendor/tf.min.js') {
    const build = tfjsBrowserBuild();
    const file = openInside(dirname(build), [basename(build)], VIEW_READ_LIMITS.large);
    if ('refused' in file) { notFound(res, head); return; }
    sendOpened(res, file, JS, head);
  } else if (path.startsWith('/modules/')) {
    const js = await browserModuleSource(path.slice('/modules/'.length));
    if (js === null) { notFound(res, head); return; }
    send(res, 200, JS, js, head);
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
  const listing = new RunListing(root);
  let hosts = new Set<string>();
  const server: Server = createServer((req, res) => {
    handle(root, listing, hosts, req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, TEXT, `ganpool view: ${(e as Error).message}\n`, false);
      else res.destroy();
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) => fail(e.code === 'EADDRINUSE' || e.code === 'EACCES' ? viewPortInUse(port, host, e.code) : e));
    server.listen(port, host, () => ok());
  });
  const bound = (server.address() as AddressInfo).port;
  hosts = allowedHostHeaders(host, bound);
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
