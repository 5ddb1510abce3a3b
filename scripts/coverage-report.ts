/**
 * `npm run coverage`'s last step: line and branch coverage per src/ folder,
 * summed from c8's per-file summary (coverage/coverage-summary.json), so a
 * folder's figure weighs its files by their size. It never fails the run: the
 * figures are information, not a gate.
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';

interface Counts { total: number; covered: number }
interface FileSummary { lines: Counts; branches: Counts }

/** The folder a source file belongs to: `src/<folder>`, or `src/` for the files at its top. */
export function folderOf(file: string): string {
  const parts = file.split('/');
  return parts.length > 2 ? `${parts[0]}/${parts[1]}` : `${parts[0]}/`;
}

/** Per-folder sums of c8's per-file line and branch counts, folders sorted by name. */
export function byFolder(summary: Record<string, FileSummary>, root: string): Map<string, { lines: Counts; branches: Counts; files: number }> {
  const folders = new Map<string, { lines: Counts; branches: Counts; files: number }>();
  for (const [path, s] of Object.entries(summary)) {
    if (path === 'total') continue;
    const file = relative(root, path);
    if (!file.startsWith('src/')) continue;
    const key = folderOf(file);
    const f = folders.get(key) ?? { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 }, files: 0 };
    f.lines.total += s.lines.total; f.lines.covered += s.lines.covered;
    f.branches.total += s.branches.total; f.branches.covered += s.branches.covered;
    f.files++;
    folders.set(key, f);
  }
  return new Map([...folders].sort(([a], [b]) => a.localeCompare(b)));
}

const pct = (c: Counts): string => (c.total === 0 ? '—' : `${((100 * c.covered) / c.total).toFixed(1)}%`);

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const root = process.cwd();
  const summary = JSON.parse(readFileSync('coverage/coverage-summary.json', 'utf8')) as Record<string, FileSummary>;
  const rows = byFolder(summary, root);
  const all = { lines: { total: 0, covered: 0 }, branches: { total: 0, covered: 0 }, files: 0 };
  console.log('\nfolder           files   lines   branches');
  for (const [folder, f] of rows) {
    console.log(`${folder.padEnd(16)} ${String(f.files).padStart(5)}  ${pct(f.lines).padStart(6)}  ${pct(f.branches).padStart(9)}`);
    all.lines.total += f.lines.total; all.lines.covered += f.lines.covered;
    all.branches.total += f.branches.total; all.branches.covered += f.branches.covered; all.files += f.files;
  }
  console.log(`${'all of src'.padEnd(16)} ${String(all.files).padStart(5)}  ${pct(all.lines).padStart(6)}  ${pct(all.branches).padStart(9)}`);
}
