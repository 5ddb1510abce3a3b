/**
 * The one gate every file read of `ganpool view` goes through, for the live
 * page and for report.html alike: a path is opened only when its real path
 * lies inside the viewed folder, and kept only when the opened file is a
 * regular file within a size cap for its kind.
 *
 * - `..` and `.` segments, absolute paths (an empty segment, or a `/` or `\`
 *   inside a decoded segment) and NUL bytes in a request path are refused;
 * - a symbolic link that leads out of the folder is refused (the real path
 *   is checked, the file is opened with O_NOFOLLOW, and on Linux the opened
 *   descriptor's path is checked again, so a link swapped in meanwhile does
 *   not count);
 * - the file is opened with O_NONBLOCK and checked with fstat, so a FIFO or a
 *   device never blocks the server or an export: it is refused;
 * - a file over the cap for its kind is refused before anything is read.
 */
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';

const MiB = 2 ** 20;

/** The most bytes `ganpool view` reads, by kind of file. */
export const VIEW_READ_LIMITS = {
  /** config.json, summary.json, checkpoint/manifest.json, generator/model.json (read whole and parsed). */
  json: 16 * MiB,
  /** The run's .lock (a pid, a host, a time). */
  lock: 64 * 1024,
  /** A sample grid (read whole into report.html; streamed by /files/). */
  png: 64 * MiB,
  /** One line of metrics.jsonl; a longer line is skipped with a note. */
  metricsLine: MiB,
  /** report.html, served as an attachment. */
  html: 64 * MiB,
  /** Files streamed by /files/ without being read whole: metrics.jsonl, the generator's weights, generator.onnx, checkpoint vectors. */
  large: 4 * 1024 * MiB,
} as const;

/** Why a file was not read. */
export type Refusal = 'missing' | 'outside the viewed folder' | 'not a regular file' | 'too large';

/** A file opened inside the viewed folder: close `fd` when done. */
export interface ContainedFile {
  fd: number;
  /** Its real path. */
  path: string;
  /** Its size when opened (reads stop there). */
  size: number;
  mtimeMs: number;
}

/** A refused read and why. */
export interface Refused {
  refused: Refusal;
}

const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOFOLLOW ?? 0);

function inside(realRoot: string, path: string): boolean {
  return path.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

/** The path an open descriptor names (Linux's /proc), or null where that cannot be told. */
function descriptorPath(fd: number): string | null {
  if (process.platform !== 'linux') return null;
  try {
    return readlinkSync(`/proc/self/fd/${fd}`);
  } catch {
    return null;
  }
}

/**
 * Opens `segments` (plain names, joined under `root`) for reading when it is
 * a regular file of at most `maxBytes` whose real path is inside `root`;
 * otherwise says why not. Never blocks on a FIFO or a device.
 */
export function openInside(root: string, segments: readonly string[], maxBytes: number): ContainedFile | Refused {
  let realRoot: string, real: string;
  try {
    realRoot = realpathSync(root);
    real = realpathSync(join(realRoot, ...segments));
  } catch (e) {
    return { refused: (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'outside the viewed folder' : 'missing' };
  }
  if (!inside(realRoot, real)) return { refused: 'outside the viewed folder' };
  let fd: number;
  try {
    fd = openSync(real, FLAGS);
  } catch (e) {
    return { refused: (e as NodeJS.ErrnoException).code === 'ELOOP' ? 'outside the viewed folder' : 'missing' };
  }
  let refusal: Refusal;
  try {
    const st = fstatSync(fd);
    const opened = descriptorPath(fd);
    if (opened !== null && !inside(realRoot, opened)) refusal = 'outside the viewed folder';
    else if (!st.isFile()) refusal = 'not a regular file';
    else if (st.size > maxBytes) refusal = 'too large';
    else return { fd, path: real, size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    refusal = 'missing';
  }
  closeSync(fd);
  return { refused: refusal };
}

/** Reads up to `length` bytes of `fd` from `position` (fewer at the end of the file). */
export function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? buf : buf.subarray(0, got);
}

/** A whole file read through {@link openInside}. */
export interface ContainedData {
  data: Buffer;
  mtimeMs: number;
}

/** Reads the whole of `segments` under `root` through {@link openInside} (at most `maxBytes`), or says why not. */
export function readInside(root: string, segments: readonly string[], maxBytes: number): ContainedData | Refused {
  const file = openInside(root, segments, maxBytes);
  if ('refused' in file) return file;
  try {
    return { data: readAt(file.fd, 0, file.size), mtimeMs: file.mtimeMs };
  } catch {
    return { refused: 'missing' };
  } finally {
    closeSync(file.fd);
  }
}

/**
 * The plain names a request path (URL-encoded segments joined by `/`,
 * relative to the viewed folder) stands for, or null when it is refused:
 * an empty, `.` or `..` segment, a `/`, `\` or NUL inside a decoded segment,
 * or bad percent-encoding.
 */
export function requestSegments(requestPath: string): string[] | null {
  const segments: string[] = [];
  for (const raw of requestPath.split('/')) {
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (seg === '' || seg === '.' || seg === '..' || /[/\\\0]/.test(seg)) return null;
    segments.push(seg);
  }
  return segments.length === 0 ? null : segments;
}
