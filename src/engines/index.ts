/**
 * Picks an engine: the one place that imports the backends' engines, kept
 * apart from the interface (engine.ts) so that the interface and its
 * implementations form no import cycle.
 */
import type { BackendName } from './backend.js';
import type { ModelPreset } from '../models/presets.js';
import type { Engine, EngineOptions } from './engine.js';

/** Starts the engine of `backend` for `preset` in the current thread. */
export async function createEngine(backend: BackendName, preset: ModelPreset, options: EngineOptions): Promise<Engine> {
  if (backend === 'onnx') {
    const { createOnnxEngine } = await import('./onnx/engine.js');
    return createOnnxEngine(preset, options);
  }
  const { createTfjsEngine } = await import('./tfjs/engine.js');
  return createTfjsEngine(backend, preset, options);
}
