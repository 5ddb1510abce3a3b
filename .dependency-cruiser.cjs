/**
 * The layering of src/, checked by `npm run lint` (dependency-cruiser).
 * ARCHITECTURE.md explains each folder; this file is the rule that keeps them.
 *
 * LADDER lists the layers from the top (the command line) to the bottom (the
 * error messages). A module may import its own layer's folder and any layer
 * below it, never one above, and never a sibling folder of its own layer, so
 * the folders cannot form a cycle.
 */
const LADDER = [
  ['src/cli/'],                               // the bin (cli/main.ts) and one module per command
  ['src/index\\.ts$'],                        // the public API: chooses what a library user sees
  ['src/sweep/'],                             // many runs: a SPEC's runs, the local and Slurm executors, results
  ['src/app/'],                               // one training run end to end: lock, run folder, trainer, eval, export, report
  ['src/view/', 'src/bench/', 'src/anomaly/'], // things done with runs: look at one, time training, score images
  ['src/run/'],                               // the run folder on disk: files, layout, lock, checkpoints, resume
  ['src/eval/'],                              // sample quality: the evaluation classifier, FCD, held-out splits
  ['src/training/'],                          // the data-parallel step: coordinator, pool, shards, protocol, faults
  ['src/optim/'],                             // Adam (JS and wasm) and the EMA on flat parameter vectors
  ['src/config\\.ts$'],                       // a TrainConfig checked and resolved
  ['src/generator/'],                         // what leaves the trainer: export, load, sample, grids
  ['src/engines/'],                           // forward and backward passes: ONNX Runtime graphs and TensorFlow.js
  ['src/data/', 'src/models/'],               // images and labels; network presets and losses
  ['src/metrics/'],                           // numbers: Fréchet distance, AUROC, linear algebra
  ['src/util/'],                              // seeded noise, atomic writes, flag parsing, progress display
  ['src/package-info\\.ts$', 'src/errors\\.ts$'], // the package's own facts; every message
];

const anyOf = (paths) => `^(${paths.join('|')})`;
const ladderRules = LADDER.flatMap((layer, i) => {
  const above = LADDER.slice(0, i).flat();
  const rules = [];
  if (above.length > 0) {
    rules.push({
      name: `layer-${i}-not-upward`,
      comment: `${layer.join(', ')} may not import (even a type) from a layer above it (${above.join(', ')}): move the type down, or the call up to the orchestrator`,
      severity: 'error',
      from: { path: anyOf(layer) },
      to: { path: anyOf(above) },
    });
  }
  for (const own of layer) {
    const siblings = layer.filter((p) => p !== own);
    if (siblings.length === 0) continue;
    rules.push({
      name: `layer-${i}-no-siblings`,
      comment: `${own} may not import its sibling folders (${siblings.join(', ')})`,
      severity: 'error',
      from: { path: anyOf([own]) },
      to: { path: anyOf(siblings) },
    });
  }
  return rules;
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycles between modules.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-folder-cycles',
      comment: 'No import cycles between folders.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'cli-only-from-the-bin',
      comment: 'Nothing imports the command line: what the API offers lives below it.',
      severity: 'error',
      from: { pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'engines-stay-pure',
      comment: 'An engine computes one shard; it knows nothing of training, runs, the CLI or the viewer.',
      severity: 'error',
      from: { path: '^src/engines/' },
      to: { path: '^src/(training|run|cli|view|app|eval|anomaly|bench|generator|data)/' },
    },
    {
      name: 'view-not-training',
      comment: 'The viewer reads run folders; it never starts training code.',
      severity: 'error',
      from: { path: '^src/view/' },
      to: { path: '^src/(training|optim|eval|app)/' },
    },
    {
      name: 'workers-are-thin-hosts',
      comment: 'workers/ only hosts piscina threads: each file calls into src/training or src/eval.',
      severity: 'error',
      from: { path: '^workers/' },
      to: { path: '^src/', pathNot: '^src/(training|eval)/' },
    },
    {
      name: 'src-not-to-tests-or-scripts',
      comment: 'The package never imports its tests or scripts.',
      severity: 'error',
      from: { path: '^(src|workers)/' },
      to: { path: '^(test|scripts)/' },
    },
    {
      name: 'src-not-to-dev-deps',
      comment: 'The installed package has no devDependencies. Two exceptions run only from the sources: view/browser-modules.ts transpiles with typescript, and the workers/*.mjs entries register tsx.',
      severity: 'error',
      from: { path: '^(src|workers)/', pathNot: '^(src/view/browser-modules\\.ts|workers/[^/]+\\.mjs)$' },
      to: { dependencyTypes: ['npm-dev'] },
    },
    ...ladderRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
