/**
 * The JavaScript of the dependency-free modules the page of `ganpool view`
 * imports in the browser: noise.ts (the latent noise of `ganpool sample`),
 * grid-layout.ts (how its grid is tiled) and conditioning.ts (a conditional
 * grid's classes, one row each). The browser runs the very code
 * Node runs, not a copy:
 *
 * - from the built package (dist/), the compiled `.js` file beside this one's parent is served as is;
 * - from the TypeScript sources (under tsx, in development and tests), the
 *   `.ts` file is transpiled with the `typescript` dev dependency, once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The modules the page may import, by the name it imports them under. */
export const BROWSER_MODULES: Readonly<Record<string, string>> = {
  'noise.js': 'util/noise', 'grid-layout.js': 'generator/grid-layout', 'conditioning.js': 'models/conditioning',
};

const cache = new Map<string, string>();

/**
 * The browser JavaScript of module `name` (a key of {@link BROWSER_MODULES}),
 * or null for any other name. Throws when the module imports anything (the
 * browser could not resolve it) or when neither its compiled nor its
 * TypeScript file is installed.
 */
export async function browserModuleSource(name: string): Promise<string | null> {
  if (!Object.hasOwn(BROWSER_MODULES, name)) return null;
  const cached = cache.get(name);
  if (cached !== undefined) return cached;
  const base = BROWSER_MODULES[name];
  const compiled = fileURLToPath(new URL(`../${base}.js`, import.meta.url));
  const source = fileURLToPath(new URL(`../${base}.ts`, import.meta.url));
  let js: string;
  if (existsSync(compiled)) {
    js = readFileSync(compiled, 'utf8');
  } else if (existsSync(source)) {
    const ts = (await import('typescript')).default;
    js = ts.transpileModule(readFileSync(source, 'utf8'), {
      compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, fileName: source,
    }).outputText;
  } else {
    throw new Error(`internal: neither ${compiled} nor ${source} exists`);
  }
  js = js.replace(/^\/\/# sourceMappingURL=.*$/m, '');
  if (/^\s*(import\s|export\s.*\sfrom\s)/m.test(js)) throw new Error(`internal: ${base} imports another module; the browser page cannot load it`);
  cache.set(name, js);
  return js;
}
