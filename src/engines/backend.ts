/**
 * Which backend a run computes on: `onnx` (ONNX Runtime's native CPU kernels,
 * src/engines/onnx) or a TensorFlow.js backend (src/engines/tfjs). This module
 * only decides; it starts no engine.
 */
import { createRequire } from 'node:module';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { onnxFallbackNotice } from '../errors.js';

/** The backends ganpool can train on. */
export const BACKEND_NAMES = ['onnx', 'wasm', 'cpu', 'tensorflow'] as const;
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

/** Set this environment variable (to anything but '' or '0') to make onnxruntime-node count as unloadable. */
export const DISABLE_ONNX_ENV = 'GANPOOL_DISABLE_ONNX';

let onnxCheck: { ok: true } | { ok: false; reason: string } | null = null;

/**
 * Whether onnxruntime-node loads in this process (its prebuilt binaries cover
 * linux x64/arm64, macOS arm64 and Windows x64/arm64). Checked once.
 */
export function onnxAvailability(): { ok: true } | { ok: false; reason: string } {
  const disabled = process.env[DISABLE_ONNX_ENV];
  if (disabled !== undefined && disabled !== '' && disabled !== '0') return { ok: false, reason: `${DISABLE_ONNX_ENV} is set` };
  if (onnxCheck === null) {
    try {
      const require = createRequire(import.meta.url);
      require('onnxruntime-node');
      onnxCheck = { ok: true };
    } catch (e) {
      onnxCheck = { ok: false, reason: (e as Error).message.split('\n')[0] };
    }
  }
  return onnxCheck;
}

/** A resolved backend, and for `auto` that fell back, the reason as a one-line notice. */
export interface BackendResolution {
  backend: BackendName;
  notice: string | null;
}

/** `auto` means onnx where onnxruntime-node loads, else wasm (with a notice naming the reason). */
export function resolveBackendWithNotice(choice: BackendChoice): BackendResolution {
  if (choice !== 'auto') return { backend: choice, notice: null };
  const onnx = onnxAvailability();
  return onnx.ok ? { backend: 'onnx', notice: null } : { backend: 'wasm', notice: onnxFallbackNotice(onnx.reason) };
}

/** `auto` means onnx where onnxruntime-node loads, else wasm. */
export function resolveBackend(choice: BackendChoice): BackendName {
  return resolveBackendWithNotice(choice).backend;
}
