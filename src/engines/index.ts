/**
 * Picks an engine: the one place that imports the backends' engines, kept
 * apart from the interface (engine.ts) so that the interface and its
 * implementations form no import cycle.
 */
import type { BackendName } from './backend.js';
import type { ModelPreset } from '../models/presets.js';
import type { Engine, EngineOptions } from './engine.js';
import type { SemiSpec } from '../models/semi.js';
import type { SemiEngine } from './semi-engine.js';

/** Starts the engine of `backend` for `preset` in the current thread. */
export async function createEngine(backend: BackendName, preset: ModelPreset, options: EngineOptions): Promise<Engine> {
  if (backend === 'onnx') {
    const { createOnnxEngine } = await import('./onnx/engine.js');
    return createOnnxEngine(preset, options);
  }
  const { createTfjsEngine } = await import('./tfjs/engine.js');
  return createTfjsEngine(backend, preset, options);
}

/** Starts the semi-supervised engine of `backend` for `spec` (D's phase with unlabelled rows and G's phases when `unlabelled`). */
export async function createSemiEngine(backend: BackendName, spec: SemiSpec, unlabelled: boolean): Promise<SemiEngine> {
  if (backend === 'onnx') {
    const { createOnnxSemiEngine } = await import('./onnx/semi-engine.js');
    return createOnnxSemiEngine(spec, unlabelled);
  }
  const { createTfjsSemiEngine } = await import('./tfjs/semi.js');
  return createTfjsSemiEngine(backend, spec, unlabelled);
}
