/** Strict flag parsing for every command (node:util parseArgs, errors that name the command). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { unknownFlag } from '../errors.js';

/** Parses a subcommand's flags strictly (no positionals); an unknown flag or a missing value is a usage error naming the command. */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(
  command: string, args: string[], options: O,
): ReturnType<typeof parseArgs<{ args: string[]; options: O; strict: true; allowPositionals: false }>>['values'] {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    throw unknownFlag(command, (e as Error).message);
  }
}
