/**
 * The names of the files a training run leaves in its output folder, for the
 * code that writes them (run-files.ts, eval/train-eval.ts) and the code that
 * reads them (`ganpool view`, src/view/). The checkpoint's and the exported
 * generator's names live with their writers (checkpoint.ts, export.ts).
 */

/** The resolved config, written when the run starts. */
export const CONFIG_FILE = 'config.json';
/** The metrics log: one JSON line per step (and per evaluation), appended as the run goes. */
export const METRICS_FILE = 'metrics.jsonl';
/** The end-of-run summary, with the machine the run ran on. */
export const SUMMARY_FILE = 'summary.json';
/** The folder of the sample grids. */
export const SAMPLES_DIR = 'samples';
/** The newest sample grid, inside {@link SAMPLES_DIR}. */
export const LATEST_GRID = 'latest.png';
/** The static report a run writes at its end (and `ganpool view --export` writes anywhere). */
export const REPORT_FILE = 'report.html';

/** The file name of the sample grid drawn after `step` steps, inside {@link SAMPLES_DIR}: step-NNNNNN.png. */
export function gridFileName(step: number): string {
  return `step-${String(step).padStart(6, '0')}.png`;
}
