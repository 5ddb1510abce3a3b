/**
 * Every user-facing error message ganpool produces is built here, so the
 * wording stays consistent and each message names the field that was wrong
 * and what would have been accepted.
 */

/** An error caused by the user's input (a flag, a config field, a file). The CLI exits with code 2 on it. */
export class GanpoolUsageError extends Error {
  /** The config field or CLI flag at fault, when there is one. */
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'GanpoolUsageError';
    if (field !== undefined) this.field = field;
  }
}

/** An error in data read from disk (a dataset, a checkpoint, an exported model). */
export class GanpoolDataError extends Error {
  /** The file at fault. */
  readonly file: string;
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'GanpoolDataError';
    this.file = file;
  }
}

// ---- IDX data sets (src/datasets/idx.ts) ----

/** The IDX file does not start with the two zero bytes of the IDX magic number. */
export function idxBadMagicError(file: string, first: Uint8Array): GanpoolDataError {
  const hex = Array.from(first.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return new GanpoolDataError(file, `not an IDX file: expected the magic number to start with 00 00, found ${hex || '(empty file)'}`);
}

/** The IDX element type code is not 0x08 (unsigned byte), the only type ganpool reads. */
export function idxBadTypeError(file: string, code: number): GanpoolDataError {
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return new GanpoolDataError(file, `unsupported IDX data type code ${hex}; only 0x08 (unsigned byte) is supported`);
}

/** The IDX header is shorter than its dimension count says, or declares no or zero-sized dimensions. */
export function idxBadHeaderError(file: string, what: string): GanpoolDataError {
  return new GanpoolDataError(file, `bad IDX header: ${what}`);
}

/** The IDX data section is not exactly the product of the dimensions. */
export function idxLengthError(file: string, expected: number, found: number): GanpoolDataError {
  const hint = found < expected ? 'file truncated?' : 'trailing data after the last item';
  return new GanpoolDataError(file, `expected ${expected} bytes of data after the header, found ${found} (${hint})`);
}

/** The IDX file is gzip-compressed but does not decompress. */
export function idxGunzipError(file: string, cause: string): GanpoolDataError {
  return new GanpoolDataError(file, `gzip data is corrupt (${cause})`);
}

/** The IDX file has the wrong number of dimensions for what it should hold. */
export function idxDimsError(file: string, what: string, dims: number[]): GanpoolDataError {
  return new GanpoolDataError(file, `expected ${what}, found dimensions [${dims.join(', ')}]`);
}

/** The labels file holds a different number of items than the images file. */
export function idxLabelCountError(labelsFile: string, labels: number, imagesFile: string, images: number): GanpoolDataError {
  return new GanpoolDataError(labelsFile, `has ${labels} labels but ${imagesFile} has ${images} images; the counts must match`);
}

/** A data set file could not be found; says where ganpool looked and how to get it. */
export function datasetNotFoundError(spec: string, looked: string[]): GanpoolUsageError {
  return new GanpoolUsageError(
    `dataset '${spec}' not found; looked for: ${looked.join(', ')}. ` +
      `Install it with 'apt-get install dataset-fashion-mnist' or point --data-dir at a folder holding the IDX files.`,
    'dataset',
  );
}

/** An unrecognised IDX data set spec. */
export function idxSpecError(spec: string): GanpoolUsageError {
  return new GanpoolUsageError(`unknown IDX dataset '${spec}'; expected 'fashion-mnist' or 'idx:PATH' (an images-idx3-ubyte file, optionally .gz)`, 'dataset');
}

/** A feature matrix whose length is not `n × dim`, or with too few rows to estimate a covariance. */
export function featureShapeError(length: number, n: number, dim: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `feature matrix has ${length} values but n=${n} × dim=${dim} = ${n * dim} were expected ` +
      `(need n ≥ 2 samples and dim ≥ 1 features, as an n × dim row-major array)`,
  );
}

/** Two feature statistics (or probability matrices) compared across different dimensions. */
export function dimensionMismatchError(what: string, a: number, b: number): GanpoolUsageError {
  return new GanpoolUsageError(`${what}: dimensions differ (${a} vs ${b}); both sides must come from the same feature extractor`);
}

/** The symmetric eigen solver did not converge, which means the matrix held NaN or ±Infinity. */
export function eigenNoConvergence(n: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `eigendecomposition of a ${n}×${n} covariance did not converge; the features contain NaN or ±Infinity`,
  );
}

/** A PNG scale factor that is not a positive finite number. */
export function plotScaleError(scale: number): GanpoolUsageError {
  return new GanpoolUsageError(`plot scale must be a positive finite number (e.g. 1 or 2), got ${scale}`, 'scale');
}

/** A class-probability matrix whose length is not `n × classes`. */
export function probsShapeError(length: number, n: number, classes: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `class-probability matrix has ${length} values but n=${n} × classes=${classes} = ${n * classes} were expected ` +
      `(need n ≥ 1 samples and classes ≥ 1, as an n × classes row-major array)`,
  );
}

/** A TensorFlow.js backend could not be started in a thread. */
export function backendInitFailed(name: string, cause: unknown): Error {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new Error(`could not start the TensorFlow.js '${name}' backend${why}`);
}

/** A task was handed to an executor that is closing or closed. */
export function executorClosed(): Error {
  return new Error('the worker pool is closing: no new tasks are accepted');
}

/** The text every loop-aborted error starts with: a worker stopped because another one failed. */
export const LOOP_ABORTED = 'the lockstep loop was aborted';

/** A worker of the lockstep loop stopped at a barrier because another worker (or the main thread) aborted the loop. */
export function loopAbortedError(): Error {
  return new Error(`${LOOP_ABORTED}: another worker failed or the run is stopping`);
}

/** A worker of the lockstep loop waited longer than the barrier timeout for the others. */
export function barrierTimeoutError(where: string, timeoutMs: number): Error {
  return new Error(`barrier timeout: waited ${timeoutMs} ms ${where} for the other workers`);
}

/** The lockstep loop's N tasks did not land on N distinct threads (piscina's one task per thread was broken). */
export function loopThreadsNotDistinct(threads: readonly number[]): Error {
  return new Error(`internal: the lockstep loop's tasks ran on threads ${threads.join(', ')}, not one thread each`);
}

/** The onnx backend was asked for where onnxruntime-node cannot be loaded. */
export function onnxUnavailable(reason: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid backend: "onnx" needs onnxruntime-node, which cannot be loaded here (${reason}); use --backend wasm or auto`, 'backend',
  );
}

/** `--backend auto` fell back to wasm: the one-line notice. */
export function onnxFallbackNotice(reason: string): string {
  return `onnxruntime-node cannot be loaded (${reason}); training on the wasm backend instead (slower)`;
}

// ---- Image folders (src/datasets/image-folder.ts) ----

/** The image folder does not exist or is not a folder. */
export function folderMissingError(dir: string, existsAsFile: boolean): GanpoolDataError {
  return new GanpoolDataError(dir, existsAsFile ? 'is not a folder; expected a folder of PNG/JPEG/WebP images' : 'no such folder; expected a folder of PNG/JPEG/WebP images');
}

/** The image folder holds no decodable images. */
export function folderNoImagesError(dir: string, corrupt: number, nonImages: number): GanpoolDataError {
  const found = corrupt > 0 ? `all ${corrupt} image files failed to decode` : 'found no .png, .jpg, .jpeg or .webp files';
  return new GanpoolDataError(dir, `no usable images: ${found} (searched recursively; ${nonImages} other files ignored)`);
}

/** A config field (or its CLI flag) holds a value outside what is allowed. */
export function badValue(field: string, value: unknown, allowed: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid ${field}: ${JSON.stringify(value)}; expected ${allowed}`, field);
}

/** Two fields that cannot be given together. */
export function conflictingFields(a: string, b: string): GanpoolUsageError {
  return new GanpoolUsageError(`give either ${a} or ${b}, not both`, b);
}

/** tfjs-node holds one process-wide backend, so it cannot run in several worker threads. */
export function tensorflowNeedsOneWorker(workers: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `the 'tensorflow' backend cannot run in ${workers} workers: @tensorflow/tfjs-node's native binding keeps ` +
      'one process-wide backend and breaks when loaded in more than one worker thread (tensorflow/tfjs issues ' +
      '3463 and 8388). Use one worker (--workers 1; libtensorflow then uses its own threads) or the wasm backend (--backend wasm).',
    'workers',
  );
}

// ---- Exported models (src/model-io.ts) ----

/** The model folder has no model.json. */
export function modelJsonMissingError(file: string): GanpoolDataError {
  return new GanpoolDataError(file, 'not found; expected a TensorFlow.js LayersModel folder (model.json + weights.bin) as written by ganpool export');
}

/** model.json exists but is not a TensorFlow.js model description. */
export function modelJsonInvalidError(file: string, what: string): GanpoolDataError {
  return new GanpoolDataError(file, `not a TensorFlow.js model.json: ${what}`);
}

/** A weights file named in model.json's weightsManifest is missing. */
export function weightsMissingError(file: string): GanpoolDataError {
  return new GanpoolDataError(file, 'weights file listed in model.json is missing');
}

/** The weight files hold a different number of bytes than model.json's weight specs add up to. */
export function weightsLengthError(files: string, expected: number, found: number): GanpoolDataError {
  const hint = found < expected ? 'file truncated?' : 'file does not belong to this model.json?';
  return new GanpoolDataError(files, `expected ${expected} bytes of weights (from model.json's weightsManifest), found ${found} (${hint})`);
}

/** A model whose topology is binary (a GraphModel protobuf) cannot be saved as a LayersModel folder. */
export function binaryTopologyError(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`cannot save to ${dir}: the model topology is binary; only LayersModels (JSON topology) can be exported`, 'out');
}

/** A covariance (or other matrix) handed to the eigen solver that contains NaN or ±Infinity. */
export function nonFiniteMatrixError(n: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `cannot take the eigendecomposition of a ${n}×${n} matrix containing NaN or ±Infinity; check the features for non-finite values`,
  );
}

/** The output directory already holds a run. */
export function outDirInUse(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`output directory ${dir} already holds a run (metrics.jsonl exists); choose another out directory`, 'out');
}

/** GANPOOL_INJECT_FAULT holds a value this version does not know. */
export function badFaultSpec(variable: string, value: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid ${variable}: ${JSON.stringify(value)}; expected KIND@K[+][:d|:g] with KIND one of grad, apply, apply-mid, exit, exit-mid, nan, nan-grad (K = a 1-based step; + repeats, nan kinds only; :g strikes the G phase)`);
}

/** Too many steps in a row were refused for non-finite values. */
export class GanpoolDivergedError extends Error {
  constructor(readonly step: number, readonly skips: number) {
    super(`training diverged: ${skips} steps in a row up to step ${step} produced a non-finite (NaN or infinite) loss or ` +
      'gradient and were skipped; the parameters were left as they were. Try a lower learning rate (--lr), or raise --max-skips');
    this.name = 'GanpoolDivergedError';
  }
}

/** Why a write failed, in words, for the common file-system error codes. */
const WRITE_REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device', EDQUOT: 'disk quota exceeded', EACCES: 'permission denied',
  EPERM: 'operation not permitted', EROFS: 'read-only file system', ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'a folder is in the way', EMFILE: 'too many open files',
  ENOENT: 'its folder does not exist, or was removed while writing',
};

/**
 * Writing a file failed (a full disk, no permission, …). Errors that are not
 * file-system errors pass through unchanged.
 */
export function writeFailed(file: string, cause: unknown): unknown {
  const code = (cause as NodeJS.ErrnoException | null)?.code;
  if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code)) return cause;
  return new GanpoolDataError(file, `could not write (${WRITE_REASONS[code] ?? (cause as Error).message}, ${code})`);
}

/** A worker task kept failing after its retries: the run stops. */
export class GanpoolFaultError extends Error {
  constructor(readonly step: number, readonly task: 'grad' | 'apply', readonly phase: 'd' | 'g', readonly cause: string, readonly retries: number) {
    super(`step ${step}: a ${task} task of the ${phase.toUpperCase()} phase failed ${retries + 1} times (last error: ${cause}); the run stopped`);
    this.name = 'GanpoolFaultError';
  }
}

/** Another live run holds the output folder's lock. */
export function runLocked(dir: string, holder: { pid: number; host: string; startedAt: string }): GanpoolUsageError {
  return new GanpoolUsageError(
    `output directory ${dir} is in use by another ganpool run (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt}); ` +
      'wait for it to finish or stop it, or choose another output directory', 'out',
  );
}

/** A lock left by a run whose process is gone is taken over: the one-line notice. */
export function staleLockNotice(dir: string, holder: { pid: number } | null): string {
  const who = holder ? `pid ${holder.pid}, no longer running` : 'unreadable';
  return `taking over the stale lock of ${dir} (${who})`;
}

/** A command-line flag that is not known, or is missing its value. */
export function unknownFlag(command: string, detail: string): GanpoolUsageError {
  return new GanpoolUsageError(`${detail.replace(/\.$/, '')}; see 'ganpool ${command} --help' for the flags it accepts`);
}

/** An unknown subcommand. */
export function unknownCommand(name: string, known: readonly string[]): GanpoolUsageError {
  return new GanpoolUsageError(`unknown command '${name}'; expected one of: ${known.join(', ')} (see 'ganpool --help')`);
}

/** The tensorflow backend was asked for but @tensorflow/tfjs-node is not usable. */
export function tensorflowMissing(): GanpoolUsageError {
  return new GanpoolUsageError(
    "invalid backend: \"tensorflow\"; it needs @tensorflow/tfjs-node with its native binding, which is not installed " +
      '(it is an optional dependency whose install downloads libtensorflow). Use --backend wasm or auto.',
    'backend',
  );
}

// ---- Model presets (src/models.ts) ----

/** A model preset built for one image size given data of another. */
export function modelShapeMismatch(model: string, size: number, data: readonly number[]): GanpoolUsageError {
  const [h, w, c] = data;
  return new GanpoolUsageError(
    `invalid model: ${JSON.stringify(model)} expects ${size}×${size}×C images, but the data are ${h}×${w}×${c}; ` +
      'use dcgan for 28×28, dcgan32 for 32×32, dcgan64 for 64×64, or mlp for any size',
    'model',
  );
}

// ---- Data set specs, checkpoints, resume, export, sample (src/dataset.ts, src/checkpoint.ts, src/commands/sample.ts) ----

/** A `dataset` value that is none of the known forms. */
export function datasetSpecError(spec: string): GanpoolUsageError {
  return badValue('dataset', spec, "mnist, fashion-mnist, idx:PATH (an IDX images file) or folder:DIR (a folder of PNG/JPEG/WebP images)");
}

/** A field that only applies to `folder:` data sets was given for another kind. */
export function folderOnlyField(field: string, value: unknown, dataset: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid ${field}: ${JSON.stringify(value)}; it applies only to folder:DIR data sets, not '${dataset}'`, field);
}

/** A checkpoint (or its aside copy) is not in the run directory. */
export function checkpointMissingError(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`cannot resume from ${dir}: it holds no checkpoint/ folder (runs write one every --checkpoint-every steps and at the end)`, 'resume');
}

/** A damaged or foreign checkpoint file. */
export function checkpointDamagedError(file: string, what: string): GanpoolDataError {
  return new GanpoolDataError(file, `damaged checkpoint: ${what}; not resuming (delete the run directory's checkpoint/ to start over)`);
}

/** A field given on resume that differs from the value the checkpoint was trained with. */
export function resumeConflict(field: string, given: unknown, saved: unknown, changeable: readonly string[]): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid ${field}: ${JSON.stringify(given)} conflicts with the checkpoint's ${field} ${JSON.stringify(saved)}; ` +
      `on resume only ${changeable.join(', ')} may change`,
    field,
  );
}

/** A resume whose target step count is below the steps the checkpoint already holds. */
export function resumeStepsTooFew(steps: number, done: number): GanpoolUsageError {
  return badValue('steps', steps, `at least the checkpoint's ${done} steps (--steps counts the total, not the additional steps)`);
}

/** The data set no longer matches the one the checkpoint was trained on. */
export function resumeDatasetChanged(dataset: string, now: string, then: string): GanpoolUsageError {
  return new GanpoolUsageError(`cannot resume: dataset '${dataset}' now holds ${now} but the checkpoint was trained on ${then}; the shuffled order would differ`, 'dataset');
}

/** A required flag was not given. */
export function missingFlag(command: string, flag: string, what: string): GanpoolUsageError {
  return new GanpoolUsageError(`missing ${flag}: ganpool ${command} needs ${what}`, flag);
}

// ---- ganpool bench (src/commands/bench.ts) ----

/** A bench batch size smaller than the largest worker count: some worker would get no shard. */
export function benchBatchBelowWorkers(batchSize: number, workers: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --batch-size: ${batchSize}; expected at least the largest --workers value (${workers}), so every worker gets a shard`,
    '--batch-size',
  );
}

// ---- Evaluation classifier and `ganpool eval` (src/eval/) ----

/** Images too small for the classifier's two conv + pool stages. */
export function classifierImageTooSmall(shape: readonly number[]): GanpoolUsageError {
  return new GanpoolUsageError(`the evaluation classifier needs images of at least 7×7 pixels, got ${shape.join('×')}`, 'dataset');
}

/** A data set without class labels cannot train a classifier (so it cannot be evaluated). */
export function datasetUnlabeled(spec: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `dataset '${spec}' has no class labels, so no evaluation classifier can be trained on it; ` +
      "use a labelled data set (mnist, fashion-mnist, or idx:PATH with a labels-idx1 file beside it)",
    'dataset',
  );
}

/** A conditional run asked for on a data set without class labels (or with a single class). */
export function conditionalUnlabeled(spec: string, classes: number): GanpoolUsageError {
  const found = classes === 1 ? 'has a single class' : 'has no class labels';
  return new GanpoolUsageError(
    `invalid conditional: dataset '${spec}' ${found}, and a conditional GAN needs two or more; use a labelled data set ` +
      '(mnist, fashion-mnist, idx:PATH with a labels-idx1 file beside it, or folder:DIR with one subfolder per class) or drop conditional',
    'conditional',
  );
}

/** Labels handed to `GanTrainer.sample` that do not fit the run. */
export function sampleLabelsError(what: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid labels: ${what}`, 'labels');
}

/** Two flags that cannot be given together. */
export function conflictingFlags(a: string, b: string): GanpoolUsageError {
  return new GanpoolUsageError(`give either ${a} or ${b}, not both`, b);
}

/** `ganpool sample --label/--per-class` on a generator that was not trained conditionally. */
export function sampleNotConditional(flag: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid ${flag}: the generator is not conditional (it has no label input); train with --conditional to draw chosen classes`, flag);
}

/** `ganpool sample --format` into a folder that holds other files and no ganpool export manifest: refused, so no user data is overwritten. */
export function exportFolderNotEmpty(dir: string, why: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --out: ${JSON.stringify(dir)} ${why}; ganpool writes a data set only into a new or empty folder, or over its own earlier export ` +
      '(one with a ganpool manifest.json; a folder without it may be an interrupted export): choose another --out or empty the folder',
    '--out',
  );
}

/** An earlier export's manifest lists a file outside its folder, or a name no export writes: the folder is not cleared. */
export function exportManifestUnsafe(file: string, entry: string): GanpoolDataError {
  return new GanpoolDataError(file, `lists ${JSON.stringify(entry)}, which is not a file an export writes inside its folder; not overwriting this export (delete the folder yourself)`);
}

/** A saved classifier's model folder does not hold the expected classifier. */
export function classifierModelInvalid(source: string, what: string): GanpoolDataError {
  return new GanpoolDataError(source, `not a ganpool evaluation classifier: ${what}; delete the folder to retrain it`);
}

/** A classifier.json that cannot be read. */
export function classifierInfoInvalid(file: string, what: string): GanpoolDataError {
  return new GanpoolDataError(file, `unreadable classifier metadata (${what}); delete its folder to retrain the classifier`);
}

/** What --generator accepts, for its error messages. */
const GENERATOR_FORMS = 'an exported generator: a folder (model.json + weights.bin, e.g. OUT/generator of a training run) or an ONNX file (e.g. OUT/generator.onnx)';

/** The --generator path does not exist. */
export function generatorDirMissing(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid --generator: ${JSON.stringify(dir)} does not exist (not a folder nor a file); expected ${GENERATOR_FORMS}`, 'generator');
}

/** The --generator path is a file but not an ONNX model. */
export function generatorNotOnnx(file: string, why: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid --generator: ${JSON.stringify(file)} is a file but not an ONNX model (${why}); expected ${GENERATOR_FORMS}`, 'generator');
}

/** An ONNX generator where onnxruntime-node cannot be loaded. */
export function generatorOnnxUnavailable(file: string, reason: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --generator: ${JSON.stringify(file)} is an ONNX model, which needs onnxruntime-node, and it cannot be loaded here (${reason}); ` +
      'use the exported generator folder (OUT/generator) instead',
    'generator',
  );
}

/** ONNX Runtime refused an ONNX generator file. */
export function generatorOnnxLoadFailed(file: string, cause: unknown): GanpoolDataError {
  const why = (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
  return new GanpoolDataError(file, `ONNX Runtime cannot load this model: ${why}`);
}

/** The generator model does not map latent vectors to images. */
export function generatorNotAGenerator(
  dir: string, input: readonly (number | null)[], output: readonly (number | null)[], counts: [inputs: number, outputs: number] = [1, 1],
): GanpoolDataError {
  const fmt = (s: readonly (number | null)[]): string => `[${s.map((d) => d ?? 'batch').join(', ')}]`;
  const [ins, outs] = counts;
  const found = ins === 1 && outs === 1 ? `${fmt(input)} → ${fmt(output)}` : `${ins} input${ins === 1 ? '' : 's'} and ${outs} output${outs === 1 ? '' : 's'}`;
  return new GanpoolDataError(dir, `not a generator: expected one float32 input [batch, latent] and one output [batch, height, width, 1|3], found ${found}`);
}

/** Generated images (or a classifier) and the data set have different image shapes. */
export function evalImageShapeMismatch(what: string, found: readonly number[], expected: readonly number[]): GanpoolUsageError {
  return new GanpoolUsageError(
    `image shape mismatch: the ${what} makes ${found.join('×')} images but the data set's are ${expected.join('×')}; ` +
      'evaluate a generator against the data set it was trained on',
    'dataset',
  );
}

/** `ganpool classifier` without a known action. */
export function classifierActionError(action: string | undefined): GanpoolUsageError {
  return new GanpoolUsageError(`${action === undefined ? 'missing action' : `unknown action '${action}'`}; usage: ganpool classifier train --dataset D, or ganpool classifier eval --model FILE --dataset D (see 'ganpool classifier --help')`);
}

// ---- Generated images mixed into the classifier's training rows (src/eval/augment-set.ts) ----

/** What --augment accepts, for its error messages. */
const AUGMENT_FORMS = "the folder written by 'ganpool sample --per-class N --out DIR' (with its manifest.json), idx:PATH (a labelled images-idx3 file) or folder:DIR (one subfolder per class number)";

/** The --augment value cannot be used (missing path, no labels, wrong layout…); `what` says why. */
export function augmentError(spec: string, what: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid --augment: ${JSON.stringify(spec)} ${what}; expected ${AUGMENT_FORMS}`, '--augment');
}

/** Generated images of another shape than the real data set's. */
export function augmentShapeError(spec: string, found: readonly number[], expected: readonly number[]): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --augment: ${JSON.stringify(spec)} holds ${found.join('×')} images but the data set's are ${expected.join('×')}; ` +
      'mix in images generated by a model trained on this data set',
    '--augment',
  );
}

/** Generated images labelled with a class the real data set does not have. */
export function augmentLabelError(spec: string, label: number, classes: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --augment: ${JSON.stringify(spec)} has an image labelled ${label} but the data set's classes are 0 to ${classes - 1}; ` +
      'generated labels must be classes of the real data set',
    '--augment',
  );
}

/** A ratio that mixes in no generated image per epoch. */
export function augmentRatioTooSmall(ratio: number, realCount: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --augment-ratio: ${ratio} mixes round(${ratio} × ${realCount} training images) = 0 generated images into each epoch; give a larger ratio`,
    '--augment-ratio',
  );
}

// ---- ganpool view (src/view/, src/commands/view.ts) ----

/** `ganpool view OUT` where OUT is not a folder. */
export function viewFolderMissing(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid OUT: ${JSON.stringify(dir)} is not a folder; expected a run folder (the --out of 'ganpool train') or a folder of runs`, 'OUT');
}

/** The view server cannot listen on the port asked for. */
export function viewPortInUse(port: number, host: string, code: string): GanpoolUsageError {
  const why = code === 'EACCES' ? 'needs privileges' : 'is in use';
  return new GanpoolUsageError(`invalid --port: ${port} on ${host} ${why}; choose another port (--port 0 picks a free one)`, '--port');
}

/** `ganpool view` without the folder to show. */
export function viewMissingFolder(): GanpoolUsageError {
  return new GanpoolUsageError("missing OUT: ganpool view needs a run folder (the --out of 'ganpool train') or a folder of runs; see 'ganpool view --help'", 'OUT');
}

/** `ganpool view` given more than one folder. */
export function viewExtraArgument(extra: string): GanpoolUsageError {
  return new GanpoolUsageError(`unexpected argument ${JSON.stringify(extra)}: ganpool view takes one folder (a run, or a folder of runs); see 'ganpool view --help'`, 'OUT');
}

/** `ganpool view OUT` where OUT holds no run (nor any subfolder that is one): nothing to export. */
export function viewNoRuns(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid OUT: ${JSON.stringify(dir)} holds no run (no config.json or metrics.jsonl, nor any subfolder with one); nothing to export`, 'OUT');
}

// ---- Anomaly scores: `ganpool score` (src/anomaly/, src/commands/score.ts) ----

/** --run names no folder with a training run's checkpoint. */
export function scoreRunMissing(path: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --run: ${JSON.stringify(path)} holds no checkpoint/ folder; expected the OUT folder of a 'ganpool train' run ` +
      '(runs write OUT/checkpoint every --checkpoint-every steps and at the end)',
    '--run',
  );
}

/** A conditional run: its D needs each image's class, and anomaly scores must not use labels. */
export function scoreConditionalRun(path: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --run: ${JSON.stringify(path)} is a conditional run; ganpool score scores images with unconditional runs only ` +
      '(a conditional D needs each image\'s class, and an anomaly score must not use labels)',
    '--run',
  );
}

/** The --images data set cannot be read (unknown spec, missing or non-image file…); `cause` says why. */
export function scoreImagesUnreadable(spec: string, cause: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --images: ${JSON.stringify(spec)} cannot be read as a data set (${cause}); expected mnist, fashion-mnist, idx:PATH or folder:DIR`,
    '--images',
  );
}

/** `ganpool score --top` without its two values (K FILE), or given twice. */
export function scoreTopInvalid(twice: boolean): GanpoolUsageError {
  return new GanpoolUsageError(twice ? 'invalid --top: given twice'
    : 'invalid --top: expected two values, K FILE (the K most anomalous images and the PNG grid to write)', '--top');
}

/** --images holds images of another shape than the run's. */
export function scoreImagesShape(spec: string, found: readonly number[], expected: readonly number[]): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --images: ${JSON.stringify(spec)} holds ${found.join('×')} images but the run was trained on ${expected.join('×')} images; ` +
      'score images of the shape the run was trained on',
    '--images',
  );
}

/** The run's own training data (the calibration sample of the combined score) cannot be loaded. */
export function scoreCalibrationUnreadable(run: string, dataset: string, cause: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --run: the training data of ${JSON.stringify(run)} (${dataset}) cannot be read for the combined score's calibration sample (${cause})`,
    '--run',
  );
}

// ---- Bounded parsers: IDX, image folders, model files, checkpoints ----

/** An IDX header field (a dimension) outside what ganpool accepts; named before any data is read or inflated. */
export function idxFieldError(file: string, field: string, value: number | string, expected: string): GanpoolDataError {
  return new GanpoolDataError(file, `IDX header field ${field} is ${value}; expected ${expected}`);
}

/** A gzip-compressed IDX file inflates to more bytes than its IDX header declares (a gzip bomb, or trailing data). */
export function idxGunzipTooLargeError(file: string, declared: number): GanpoolDataError {
  return new GanpoolDataError(file, `gzip data inflates to more than the ${declared} bytes its IDX header declares; refused without inflating the rest`);
}

/** The IDX header of a gzip file does not appear within the first bytes of the stream. */
export function idxGunzipNoHeaderError(file: string, looked: number): GanpoolDataError {
  return new GanpoolDataError(file, `no IDX header in the first ${looked} compressed bytes of the gzip stream`);
}

/** A weights path in model.json that leaves the model's folder (absolute, `..`, or a link to elsewhere). */
export function weightsPathOutsideError(modelJson: string, path: string): GanpoolDataError {
  return new GanpoolDataError(modelJson, `weightsManifest path ${JSON.stringify(path)} leaves the model's folder; every weights file must lie inside it`);
}

/** A model file larger than ganpool reads. */
export function modelFileTooLargeError(file: string, size: number, max: number): GanpoolDataError {
  return new GanpoolDataError(file, `is ${size} bytes; ganpool reads at most ${max}`);
}

/** A model file that is not a regular file (a FIFO, a device, a folder). */
export function modelFileNotRegularError(file: string): GanpoolDataError {
  return new GanpoolDataError(file, 'is not a regular file');
}

/** An ONNX model that keeps tensors in external data files, which ganpool refuses to follow. */
export function onnxExternalDataError(file: string, tensor: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid --generator: ${JSON.stringify(file)} stores tensor ${JSON.stringify(tensor)} in an external data file; ` +
      'ganpool loads only self-contained .onnx files (as ganpool train exports them)', 'generator',
  );
}

/** A checkpoint whose recorded model, image shape or vector lengths do not fit the model preset it names. */
export function checkpointModelMismatchError(file: string, what: string): GanpoolDataError {
  return new GanpoolDataError(file, `checkpoint does not fit its model: ${what}; refusing to pad or truncate it`);
}

// ---- ganpool view: what it serves (src/view/, src/cli/commands/view.ts) ----

/** `ganpool view --host H` with an address other machines can reach: printed as a warning, the server still starts. */
export function viewPublicHostWarning(host: string): string {
  return `ganpool view: warning: --host ${host} is not this machine only; anyone who can reach ${host} can read the run ` +
    '(its config, metrics, sample grids, generator and checkpoint files), and the server has no password. ' +
    'Use the default 127.0.0.1 and an SSH tunnel to watch a run from another machine.\n';
}

// ---- ownership of files, durable writes and the run lock ----

/** `train --out DIR`: DIR holds files and is not a ganpool run; nothing in it is touched. */
export function outDirNotRun(dir: string, entries: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid out: ${JSON.stringify(dir)} is not empty (${entries} entries) and is not a ganpool run (no config.json written by ganpool, ` +
      'no ganpool checkpoint); ganpool trains only into a new or empty folder or continues its own run (--resume), and changes nothing ' +
      'of a folder it did not write: choose another folder',
    'out',
  );
}

/** `train --out PATH`: PATH is a file, not a folder. */
export function outDirNotFolder(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid out: ${JSON.stringify(dir)} is a file, not a folder; choose a new or empty folder`, 'out');
}

/** A fresh `train --out DIR` into a ganpool run that already trained (a checkpoint, a generator or a summary). */
export function outDirHoldsRun(dir: string, what: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid out: ${JSON.stringify(dir)} already holds a ganpool run (${what} exists); continue it with --resume, or choose another folder`,
    'out',
  );
}

/** `--resume DIR`: DIR is not a ganpool run. */
export function resumeNotRun(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid resume: ${JSON.stringify(dir)} is not a ganpool run (no config.json written by ganpool and no ganpool checkpoint/ folder); ` +
      '--resume takes the --out folder of an earlier ganpool train',
    'resume',
  );
}

/** A path ganpool would replace or remove holds something it did not write (a link, other files): left untouched, the run stops. */
export function notOwnedByGanpool(path: string, expected: string): GanpoolDataError {
  return new GanpoolDataError(
    path,
    `is not what ganpool writes there (${expected}): it is a link, or holds other files or folders; ganpool does not replace or remove it. ` +
      'Move it away, or choose another folder',
  );
}

/** A lock file exists but is still empty or half-written: a run is taking the lock right now. */
export function runLockBeingTaken(dir: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `output directory ${dir} is being locked by another ganpool run right now (its lock file is not yet written); ` +
      'wait for it to finish or stop it, or choose another output directory',
    'out',
  );
}

// ---- Sweeps: `ganpool sweep` (src/sweep/, src/cli/sweep-spec.ts, src/cli/commands/sweep.ts) ----

/** A sweep SPEC problem at `key` (a path such as `grid.lr` or `variants[1].loss`): exit 2, naming the key. */
export function sweepSpecError(key: string, what: string): GanpoolUsageError {
  return new GanpoolUsageError(`sweep spec: ${key}: ${what}`, key);
}

/** The SPEC file cannot be read or parsed. */
export function sweepSpecUnreadable(file: string, why: string): GanpoolUsageError {
  return new GanpoolUsageError(`cannot read the sweep spec ${file}: ${why}`, 'SPEC');
}

/** `ganpool sweep` without a SPEC (or with two). */
export function sweepSpecMissing(): GanpoolUsageError {
  return new GanpoolUsageError('ganpool sweep needs one SPEC file (JSON or YAML) and --out DIR; see ganpool sweep --help', 'SPEC');
}

/** Runs of the sweep already in DIR that are unfinished, without --resume. */
export function sweepUnfinishedRuns(dir: string, names: string[]): GanpoolUsageError {
  const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length} in all)` : '');
  return new GanpoolUsageError(`${dir} holds unfinished runs of this sweep (${shown}); pass --resume to continue them from their checkpoints`, 'resume');
}

/** DIR/sweep.json is missing or not a sweep file (`--task`, `ganpool view`). */
export function sweepFileBad(file: string, why: string): GanpoolDataError {
  return new GanpoolDataError(file, `not a readable sweep file: ${why}`);
}

/** `--task I` names no run of the sweep. */
export function sweepTaskMissing(index: string, count: number): GanpoolUsageError {
  return new GanpoolUsageError(`invalid --task: ${JSON.stringify(index)}; expected a run index from 0 to ${count - 1}`, 'task');
}

/** A Slurm command (sbatch, squeue) failed or is missing. */
export function slurmCommandFailed(command: string, why: string): GanpoolUsageError {
  return new GanpoolUsageError(`${command} failed: ${why.trim()}. The slurm executor needs Slurm's commands on PATH (or --dry-run to print the script)`, 'executor');
}

/** An extra #SBATCH line that is not an sbatch option. */
export function badSbatchLine(line: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid --sbatch: ${JSON.stringify(line)}; expected an sbatch option such as --partition=cpu or --time=02:00:00`, 'sbatch');
}

// ---- semi-supervised training (src/data/label-split.ts, src/app/semi-train.ts) ----

/** `labels` is neither a whole number ≥ 1 nor `all`. */
export function labelsBadValue(raw: unknown): GanpoolUsageError {
  return new GanpoolUsageError(`invalid labels: ${JSON.stringify(raw)}; expected a whole number of labelled images (a multiple of the classes) or all`, 'labels');
}

/** Fewer labels than classes: some class would have none. */
export function labelsBelowClasses(count: number, classes: number): GanpoolUsageError {
  return new GanpoolUsageError(`invalid labels: ${count} is fewer than the data set's ${classes} classes; give at least one labelled image per class (${classes})`, 'labels');
}

/** A label count that does not split evenly over the classes. */
export function labelsNotMultiple(count: number, classes: number): GanpoolUsageError {
  const lo = Math.floor(count / classes) * classes;
  return new GanpoolUsageError(`invalid labels: ${count} is not a multiple of the ${classes} classes (labels are drawn N/K per class); try ${lo} or ${lo + classes}`, 'labels');
}

/** More labels per class than a class has training images. */
export function labelsTooMany(count: number, per: number, cls: number, available: number): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid labels: ${count} labels need ${per} per class, but class ${cls} has only ${available} training images (the held-out split is never used); ` +
      `give at most ${available} per class, or all`, 'labels');
}

/** Semi-supervised training on a data set without labels. */
export function semiUnlabeled(spec: string): GanpoolUsageError {
  return new GanpoolUsageError(
    `invalid semiSupervised: dataset '${spec}' has no class labels; semi-supervised training needs a labelled data set ` +
      '(mnist, fashion-mnist, idx:PATH with a labels-idx1 file beside it, or folder:DIR with one subfolder per class)', 'semiSupervised');
}

/** `field` (`labels` or `unlabelled`) given without `semiSupervised`, or (null) `semiSupervised` without `labels`. */
export function semiLabelsPairing(field: 'labels' | 'unlabelled' | null): GanpoolUsageError {
  return field !== null
    ? new GanpoolUsageError(`invalid ${field}: it only applies with semiSupervised (--semi-supervised)`, field)
    : new GanpoolUsageError('invalid semiSupervised: it needs labels (--labels N, or all for the supervised baseline)', 'semiSupervised');
}

/** `unlabelled` above the unlabelled training rows there are. */
export function unlabelledTooMany(asked: number, available: number): GanpoolUsageError {
  return new GanpoolUsageError(`invalid unlabelled: ${asked}, but only ${available} training images are unlabelled with these labels; give at most ${available}`, 'unlabelled');
}

/** `unlabelled` that is not a positive integer, or given with `--labels all` (no unlabelled rows). */
export function unlabelledBadValue(value: unknown, labelsAll: boolean): GanpoolUsageError {
  return new GanpoolUsageError(labelsAll
    ? 'invalid unlabelled: --labels all leaves no unlabelled images to limit'
    : `invalid unlabelled: ${JSON.stringify(value)}; expected a positive integer (unlabelled training images to use)`, 'unlabelled');
}

/** A train option the semi-supervised trainer does not take. */
export function semiUnsupportedField(field: string): GanpoolUsageError {
  return new GanpoolUsageError(`invalid ${field}: it does not apply to semi-supervised training (--semi-supervised), whose model, loss and optimiser are fixed by the recipe`, field);
}

/** A semi-supervised classifier file that is not one. */
export function semiClassifierInvalid(file: string, why: string): GanpoolUsageError {
  return new GanpoolUsageError(`${file} is not a classifier ganpool can score (${why}); pass the classifier.onnx a semi-supervised run wrote`, 'model');
}

/** A semi-supervised batch that is not whole groups of G's batch norm. */
export function semiBatchNotGroups(batchSize: number, group: number): GanpoolUsageError {
  return new GanpoolUsageError(`invalid batchSize: ${batchSize}; semi-supervised training needs a multiple of ${group} (G's batch-norm groups, which keep results independent of the worker count)`, 'batchSize');
}

/** `train()` given a semi-supervised config: that run is `trainSemi()`, with another result. */
export function semiNeedsTrainSemi(): GanpoolUsageError {
  return new GanpoolUsageError('invalid semiSupervised: train() trains a GAN; call trainSemi() with the same config for a semi-supervised run (the CLI does so for --semi-supervised)', 'semiSupervised');
}
