/**
 * Maps a request path to a file inside the viewed folder, or refuses it:
 * `..` and `.` segments, absolute paths (an empty segment, or a `/` or `\`
 * inside a decoded segment), NUL bytes, and symbolic links that lead out of
 * the folder are all refused, as is anything that is not a regular file.
 */
import { realpathSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';

/**
 * The real path of the file that `requestPath` (URL-encoded segments joined
 * by `/`, relative to `root`) names inside `root`, or null when it is
 * refused or missing.
 */
export function resolveInside(root: string, requestPath: string): string | null {
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
  if (segments.length === 0) return null;
  try {
    const realRoot = realpathSync(root);
    const real = realpathSync(join(realRoot, ...segments));
    if (!real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep)) return null;
    return statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}
