/**
 * The docs stay true to the repository: every relative link and image in
 * README.md, CONTRIBUTING.md, ARCHITECTURE.md and docs/**\/*.md points at a
 * file that exists (and at a heading that exists, for `page.md#anchor`), and
 * every ```ts / ```typescript block compiles against ganpool's own types, with
 * `'ganpool'` mapped to src/index.ts.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * A tsconfig for the folder `dir` (inside the repository): the repository's, with `'ganpool'` mapped
 * to src/index.ts. Unused locals are allowed: an example may name a value only to show it, and the
 * sources' own unused names are `npm test`'s and `npm run lint`'s business, not the docs'.
 */
function docsTsconfig(dir: string): string {
  return JSON.stringify({
    extends: relative(dir, join(ROOT, 'tsconfig.json')),
    compilerOptions: {
      baseUrl: relative(dir, ROOT),
      paths: { ganpool: ['./src/index.ts'] },
      noEmit: true,
      noUnusedLocals: false,
      noUnusedParameters: false,
      rootDir: relative(dir, ROOT),
    },
    include: ['./*.ts'],
  }, null, 2);
}

/** Runs the repository's tsc on the project in `dir`. */
function tsc(dir: string): { status: number | null; output: string } {
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsc'), ['--noEmit', '--pretty', 'false', '-p', join(dir, 'tsconfig.json')],
    { cwd: ROOT, encoding: 'utf8', timeout: 240_000 });
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}` };
}

/** The markdown files the checks cover, relative to the repository root. */
function docFiles(): string[] {
  const files = ['README.md', 'CONTRIBUTING.md', 'ARCHITECTURE.md'].filter((f) => existsSync(join(ROOT, f)));
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const path = join(dir, name);
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  if (existsSync(join(ROOT, 'docs'))) walk('docs');
  return files;
}

/** A fenced code block: its info string's language, its text and the line it starts on. */
interface CodeBlock {
  lang: string;
  code: string;
  line: number;
}

/** Splits markdown into its fenced code blocks and the prose outside them (fences blanked, line numbers kept). */
function splitFences(markdown: string): { prose: string; blocks: CodeBlock[] } {
  const prose: string[] = [];
  const blocks: CodeBlock[] = [];
  let open: { fence: string; lang: string; line: number; body: string[] } | null = null;
  for (const [i, line] of markdown.split('\n').entries()) {
    const m = /^\s*(`{3,}|~{3,})\s*([\w+-]*)/.exec(line);
    if (open === null) {
      if (m) open = { fence: m[1], lang: m[2].toLowerCase(), line: i + 1, body: [] };
      prose.push(open === null ? line : '');
    } else if (m && m[1].startsWith(open.fence) && line.trim() === m[1]) {
      blocks.push({ lang: open.lang, code: open.body.join('\n'), line: open.line });
      open = null;
      prose.push('');
    } else {
      // Fenced code inside a list item is indented; the compiler does not mind the indentation.
      open.body.push(line);
      prose.push('');
    }
  }
  if (open !== null) throw new Error(`unclosed code fence opened on line ${open.line}`);
  return { prose: prose.join('\n'), blocks };
}

/** GitHub's anchor for a heading: lowercase, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading.trim().toLowerCase()
    .replace(/!\[[^\]]*\]\([^)]*\)/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/<[^>]+>/g, '')
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** The anchors of a markdown file's headings (duplicates numbered as GitHub does). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of splitFences(markdown).prose.split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** The link and image targets of a file's prose, with their line numbers (inline code spans skipped). */
function linkTargets(markdown: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  splitFences(markdown).prose.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(`+)(?:(?!\1)[\s\S])*?\1/g, '');
    for (const m of line.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) out.push({ target: m[1], line: i + 1 });
    for (const m of line.matchAll(/\b(?:src|href)="([^"]+)"/g)) out.push({ target: m[1], line: i + 1 });
  });
  return out;
}

test('every relative link and image in the README, CONTRIBUTING, ARCHITECTURE and docs/ resolves', (t) => {
  const files = docFiles();
  t.true(files.includes('README.md') && files.some((f) => f.startsWith('docs')), `docs found: ${files.join(', ')}`);
  const broken: string[] = [];
  let checked = 0, anchorsChecked = 0;
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    for (const { target, line } of linkTargets(text)) {
      if (/^(https?:|mailto:)/i.test(target)) continue;
      checked++;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const path = pathPart === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), decodeURIComponent(pathPart));
      const where = `${file}:${line}: ${target}`;
      if (!path.startsWith(ROOT + '/') && path !== ROOT) { broken.push(`${where} (leaves the repository)`); continue; }
      if (!existsSync(path)) { broken.push(`${where} (no such file: ${relative(ROOT, path)})`); continue; }
      if (anchor !== undefined && anchor !== '' && path.endsWith('.md')) {
        anchorsChecked++;
        if (!anchors(readFileSync(path, 'utf8')).has(anchor)) broken.push(`${where} (no heading #${anchor} in ${relative(ROOT, path)})`);
      }
    }
  }
  t.true(checked > 0, 'no relative links found: the link check would pass vacuously');
  t.true(anchorsChecked > 0, 'no links to a heading found');
  t.deepEqual(broken, [], `${broken.length} of ${checked} links are broken:\n${broken.join('\n')}`);
});

test('the link check itself: it sees links and headings the way GitHub does', (t) => {
  t.deepEqual(linkTargets('see [a](x.md#y), ![b](img/c.png "t") and `[not](a-link.md)`\n```sh\n[no](code.md)\n```\n').map((l) => l.target),
    ['x.md#y', 'img/c.png']);
  t.deepEqual([...anchors('# `ganpool train`\n## metrics.jsonl\n## Resume\n## Resume\n```sh\n# a comment\n```\n')],
    ['ganpool-train', 'metricsjsonl', 'resume', 'resume-1']);
  t.throws(() => splitFences('```ts\nlet a = 1;\n'), { message: /unclosed code fence/ });
});

test('every ```ts block in the docs compiles against the package\'s types', (t) => {
  const blocks: (CodeBlock & { file: string })[] = [];
  for (const file of docFiles()) {
    for (const b of splitFences(readFileSync(join(ROOT, file), 'utf8')).blocks) {
      if (b.lang === 'ts' || b.lang === 'typescript') blocks.push({ ...b, file });
    }
  }
  t.true(blocks.length > 0, 'no ```ts blocks found: the compile check would pass vacuously');
  t.true(blocks.some((b) => /from 'ganpool'/.test(b.code)), 'no block imports from \'ganpool\'');

  // Inside the repository, so that the repo's tsconfig, node_modules and package.json ("type": "module") apply.
  const dir = mkdtempSync(join(ROOT, '.docs-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const names = blocks.map((b, i) => {
    const name = `block-${String(i).padStart(3, '0')}.ts`;
    // Each block is its own module (`export {}`), so blocks may reuse names; the header maps errors back.
    writeFileSync(join(dir, name), `// ${b.file}:${b.line}\n${b.code}\nexport {};\n`);
    return `${name} = ${b.file}:${b.line}`;
  });
  writeFileSync(join(dir, 'tsconfig.json'), docsTsconfig(dir));
  const run = tsc(dir);
  t.is(run.status, 0, `tsc failed on the docs' TypeScript blocks (line 1 of each file names its source):\n${run.output}\n${names.join('\n')}`);
  t.log(`${blocks.length} TypeScript blocks compiled`);
});

test('the compile check can fail: a block with a type error is rejected', (t) => {
  const dir = mkdtempSync(join(ROOT, '.docs-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.ts'), "import { train } from 'ganpool';\nawait train({ batchSize: 'many' });\nexport {};\n");
  writeFileSync(join(dir, 'tsconfig.json'), docsTsconfig(dir));
  const run = tsc(dir);
  t.not(run.status, 0, run.output);
  t.regex(run.output, /bad\.ts\(2,\d+\): error TS2322/);
});
