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
