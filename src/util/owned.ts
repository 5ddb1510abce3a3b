/**
 * Removals limited to what ganpool wrote. Every removal ganpool makes goes
 * through here: a folder is removed only when it is a real folder (not a
 * link) holding nothing but regular files with names its writer gives them,
 * file by file; a file only when it is a regular file reached through no
 * link. Anything else is left where it is, and the caller decides whether
 * that is an error. A link named like a ganpool folder therefore never lets
 * a removal reach outside the folder it sits in.
 */
import { lstatSync, readdirSync, realpathSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';

/** lstat, or null when nothing is there. */
export function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw e;
  }
}

/**
 * The file names in folder `dir` when it is a real folder (lstat: not a link)
 * holding only regular files whose names `owned` accepts; null when it is
 * anything else (absent, a link, a file, or a folder holding a subfolder, a
 * link or a name its writer never gives).
 */
export function ownedFolderFiles(dir: string, owned: (name: string) => boolean): string[] | null {
  if (!lstatOrNull(dir)?.isDirectory()) return null;
  const names = readdirSync(dir);
  for (const name of names) if (!owned(name) || !lstatOrNull(join(dir, name))?.isFile()) return null;
  return names;
}

/**
 * Removes folder `dir` when {@link ownedFolderFiles} accepts it: its files one
 * by one, then the empty folder. 'absent' when nothing is there; 'foreign'
 * (nothing removed) when something other than such a folder is.
 */
export function removeOwnedFolder(dir: string, owned: (name: string) => boolean): 'removed' | 'absent' | 'foreign' {
  if (lstatOrNull(dir) === null) return 'absent';
  const names = ownedFolderFiles(dir, owned);
  if (names === null) return 'foreign';
  for (const name of names) unlinkSync(join(dir, name));
  rmdirSync(dir);
  return 'removed';
}

/**
 * True when `rel` (a relative, normalised path) names an entry under `root`
 * reached through real folders only: no component between `root` and the
 * entry is a link (realpath of its folder is exactly where the names say).
 */
function reachedWithoutLinks(root: string, rel: string): boolean {
  const parentRel = dirname(rel);
  let realParent: string;
  try {
    realParent = realpathSync(join(root, parentRel));
  } catch {
    return false;
  }
  const expected = parentRel === '.' ? realpathSync(root) : join(realpathSync(root), parentRel);
  return normalize(realParent) === normalize(expected);
}

/**
 * Removes file `rel` under `root` when it is a regular file reached through
 * real folders only (see {@link reachedWithoutLinks}); `rel` must already be
 * checked to stay inside `root` (no `..`, not absolute). Returns false, and
 * removes nothing, for a link, a folder, a missing file, or a path through a link.
 */
export function removeOwnedFile(root: string, rel: string): boolean {
  const clean = normalize(rel);
  if (clean.startsWith(`..${sep}`) || clean === '..') return false;
  if (!reachedWithoutLinks(root, clean)) return false;
  const path = join(root, clean);
  if (!lstatOrNull(path)?.isFile()) return false;
  unlinkSync(path);
  return true;
}

/** Removes the empty folder `rel` under `root` when it is a real folder reached through real folders only; false otherwise (left as it is). */
export function removeOwnedEmptyFolder(root: string, rel: string): boolean {
  const clean = normalize(rel);
  if (clean.startsWith(`..${sep}`) || clean === '..' || !reachedWithoutLinks(root, clean)) return false;
  const path = join(root, clean);
  if (!lstatOrNull(path)?.isDirectory()) return false;
  try {
    rmdirSync(path);
    return true;
  } catch {
    return false; // not empty (files the writer did not write): left as it is
  }
}
