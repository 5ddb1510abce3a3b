/**
 * The onnx engine: each phase's whole forward and backward pass on a shard is
 * one ONNX graph (compile.ts), run by ONNX Runtime's native CPU kernels on
 * one thread per worker.
 *
 * ONNX Runtime refuses typed arrays on shared memory, so the engine keeps a
 * plain copy of each parameter tensor and refreshes it when the coordinator
 * moves the version (setParams); the input tensors wrap those copies once and
 * for all. A thread must never be terminated inside `session.run` (that
 * aborts the process): the executor's close() waits for running tasks.
 */
import type * as Ort from 'onnxruntime-node';
import { bnStatsSize, paramShapes, sizeOf, splitDiscriminator, type ModelPreset, type ParamShape } from '../../models/presets.js';
import type { BnPassStats, Discrimination, Engine, EngineOptions, LatentInput, LatentOutput, NetName, PhaseInput, PhaseOutput } from '../engine.js';
import { compileDiscriminate, compileDPhase, compileGPhase, compileInference, compileLatent } from './compile.js';
import { oneHotRows, phaseLabels } from '../one-hot.js';

/** Session options of every training session: one thread, sequential (the pool supplies the parallelism). */
export const ONNX_SESSION_OPTIONS: Ort.InferenceSession.SessionOptions = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
};

interface OnnxNet {
  shapes: ParamShape[];
  /** One plain buffer per parameter tensor, wrapped by `tensors`. */
  buffers: Float32Array[];
  tensors: Ort.Tensor[];
}

/** Loads onnxruntime-node, compiles the preset's three graphs (the phases with `options.loss`) and creates their sessions. */
export async function createOnnxEngine(preset: ModelPreset, options: EngineOptions): Promise<Engine> {
  const ort = await import('onnxruntime-node');
  const dGraph = compileDPhase(preset, options.loss), gGraph = compileGPhase(preset, options.loss);
  const inference = compileInference(preset);
  const [dSession, gSession, sampleSession] = await Promise.all([
    ort.InferenceSession.create(dGraph.model, ONNX_SESSION_OPTIONS),
    ort.InferenceSession.create(gGraph.model, ONNX_SESSION_OPTIONS),
    ort.InferenceSession.create(inference.model, ONNX_SESSION_OPTIONS),
  ]);

  const makeNet = (which: NetName): OnnxNet => {
    const shapes = paramShapes(which === 'g' ? preset.generator : preset.discriminator);
    const buffers = shapes.map((p) => new Float32Array(sizeOf(p.shape)));
    return { shapes, buffers, tensors: buffers.map((b, i) => new ort.Tensor('float32', b, shapes[i].shape)) };
  };
  const nets: Record<NetName, OnnxNet> = { g: makeNet('g'), d: makeNet('d') };
  /**
   * Each phase's fetches: its gradient outputs bound to buffers the engine owns (ONNX Runtime writes
   * into them, so no output is allocated per run), and the loss and statistics ORT allocates.
   */
  const phaseFetches = (which: NetName, graph: typeof dGraph): { fetches: Record<string, Ort.Tensor | null>; grads: Float32Array[] } => {
    const fetches: Record<string, Ort.Tensor | null> = { loss: null };
    const grads = nets[which].shapes.map((p, i) => {
      const b = new Float32Array(sizeOf(p.shape));
      fetches[`grad.${i}`] = new ort.Tensor('float32', b, p.shape);
      return b;
    });
    graph.statsPasses.forEach((_, p) => { fetches[`stats.${p}`] = null; });
    return { fetches, grads };
  };
  const outputs: Record<NetName, ReturnType<typeof phaseFetches>> = { d: phaseFetches('d', dGraph), g: phaseFetches('g', gGraph) };
  const paramFeeds: Record<string, Ort.Tensor> = {};
  for (const which of ['g', 'd'] as const) nets[which].tensors.forEach((t, i) => { paramFeeds[`${which}.${i}`] = t; });
  /** G's input width: the latent noise, plus the one-hot label of a conditional preset. */
  const gIn = preset.generator.inputShape[0];
  /** A conditional preset's one-hot label feed for `count` rows (null for an unconditional preset). */
  const labelFeed = (labels: Int32Array | null, count: number, what: string): Ort.Tensor | null => {
    const l = phaseLabels(labels, count, preset.classes, what);
    return l ? new ort.Tensor('float32', oneHotRows(l, preset.classes), [count, preset.classes]) : null;
  };
  const gBnSize = bnStatsSize(preset.generator);

  const dBnSize = bnStatsSize(preset.discriminator);
  /** The scoring sessions (ganpool score), compiled on first use so training never pays for them. */
  let scoring: Promise<{ discriminate: Ort.InferenceSession; latent: Ort.InferenceSession }> | null = null;
  const scoringSessions = (): NonNullable<typeof scoring> => scoring ??= (async () => {
    const [discriminate, latent] = await Promise.all([
      ort.InferenceSession.create(compileDiscriminate(preset).model, ONNX_SESSION_OPTIONS),
      ort.InferenceSession.create(compileLatent(preset).model, ONNX_SESSION_OPTIONS),
    ]);
    return { discriminate, latent };
  })();
  /** The parameter and moving-statistics feeds a session declares as inputs. */
  const netFeeds = (session: Ort.InferenceSession, gBn: Float32Array | null, dBn: Float32Array): Record<string, Ort.Tensor> => {
    const feeds: Record<string, Ort.Tensor> = {};
    for (const name of session.inputNames) if (paramFeeds[name]) feeds[name] = paramFeeds[name]!;
    if (gBn && gBnSize > 0) feeds['g.bn'] = new ort.Tensor('float32', gBn, [gBnSize]);
    if (dBnSize > 0) feeds['d.bn'] = new ort.Tensor('float32', dBn, [dBnSize]);
    return feeds;
  };
  const featureSize = preset.classes > 0 ? 0 : splitDiscriminator(preset.discriminator).featureSize;

  const floats = (t: Ort.Tensor | undefined, name: string): Float32Array => {
    if (!t) throw new Error(`internal: the onnx graph has no output '${name}'`);
    return t.data as Float32Array;
  };

  return {
    backend: 'onnx',

    setParams(which: NetName, params: Float32Array): void {
      const net = nets[which];
      let offset = 0;
      for (const b of net.buffers) {
        b.set(params.subarray(offset, offset + b.length));
        offset += b.length;
      }
    },

    async phase(input: PhaseInput, grad: Float32Array): Promise<PhaseOutput> {
      const graph = input.phase === 'd' ? dGraph : gGraph;
      const session = input.phase === 'd' ? dSession : gSession;
      const feeds: Record<string, Ort.Tensor> = { ...paramFeeds, z: new ort.Tensor('float32', input.z, [input.count, gIn]) };
      if (input.phase === 'd') feeds.real = new ort.Tensor('float32', input.real!, [input.count, ...preset.imageShape]);
      const yFake = labelFeed(input.fakeLabels, input.count, 'fake rows');
      if (yFake) feeds['y.fake'] = yFake;
      const yReal = input.phase === 'd' ? labelFeed(input.realLabels, input.count, 'real rows') : null;
      if (yReal) feeds['y.real'] = yReal;
      const { fetches, grads } = outputs[input.phase];
      const out = await session.run(feeds, fetches);
      let offset = 0;
      for (const g of grads) {
        grad.set(g, offset);
        offset += g.length;
      }
      const bnStats: BnPassStats[] = graph.statsPasses.map((net, p) => ({ net, values: floats(out[`stats.${p}`], `stats.${p}`) }));
      return { loss: floats(out.loss, 'loss')[0], bnStats };
    },

    async sample(z: Float32Array, n: number, gBn: Float32Array): Promise<Float32Array> {
      const feeds: Record<string, Ort.Tensor> = { z: new ort.Tensor('float32', z, [n, gIn]) };
      nets.g.tensors.forEach((t, i) => { feeds[`g.${i}`] = t; });
      if (gBnSize > 0) feeds['g.bn'] = new ort.Tensor('float32', gBn, [gBnSize]);
      const out = await sampleSession.run(feeds);
      return floats(out.images, 'images');
    },

    async discriminate(images: Float32Array, n: number, dBn: Float32Array): Promise<Discrimination> {
      const { discriminate } = await scoringSessions();
      const feeds = netFeeds(discriminate, null, dBn);
      feeds.images = new ort.Tensor('float32', images, [n, ...preset.imageShape]);
      const out = await discriminate.run(feeds);
      return { logits: floats(out.logits, 'logits'), features: floats(out.features, 'features') };
    },

    async latent(input: LatentInput, gBn: Float32Array, dBn: Float32Array): Promise<LatentOutput> {
      const { latent } = await scoringSessions();
      const n = input.count;
      const feeds = netFeeds(latent, gBn, dBn);
      feeds.z = new ort.Tensor('float32', input.z, [n, gIn]);
      feeds.target = new ort.Tensor('float32', input.target, [n, ...preset.imageShape]);
      feeds['target.features'] = new ort.Tensor('float32', input.targetFeatures, [n, featureSize]);
      feeds.lambda = new ort.Tensor('float32', Float32Array.of(input.lambda), [1]);
      const out = await latent.run(feeds);
      return {
        recon: floats(out.recon, 'recon'), pixel: floats(out.pixel, 'pixel'), feature: floats(out.feature, 'feature'),
        dz: floats(out.dz, 'dz'), images: floats(out.images, 'images'),
      };
    },

    liveObjects: () => 0,
  };
}
