/**
 * Which TensorFlow.js backend a run uses. This module only decides; it loads
 * no TensorFlow.js code (see tf-backend.ts for that).
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The backends ganpool can train on. */
export const BACKEND_NAMES = ['wasm', 'cpu', 'tensorflow'] as const;
/** A concrete backend. */
export type BackendName = (typeof BACKEND_NAMES)[number];
/** A backend as a user asks for it. */
export type BackendChoice = BackendName | 'auto';

/**
 * True when @tensorflow/tfjs-node is installed with its native binding.
 * The package can be present without the binding (its install script
 * downloads libtensorflow, which fails offline); that counts as absent.
 */
export function tfjsNodeAvailable(): boolean {
  try {
    const require = createRequire(import.meta.url);
    const pkgDir = dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
    const libDir = join(pkgDir, 'lib');
    return existsSync(libDir) && readdirSync(libDir).some((d) => existsSync(join(libDir, d, 'tfjs_binding.node')));
  } catch {
    return false;
  }
}

/** `auto` means tensorflow when tfjs-node is usable, else wasm. */
export function resolveBackend(choice: BackendChoice): BackendName {
  if (choice !== 'auto') return choice;
  return tfjsNodeAvailable() ? 'tensorflow' : 'wasm';
}
