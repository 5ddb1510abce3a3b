/**
 * `ganpool view OUT`: serves a read-only page of a run (or a folder of runs)
 * on this machine until Ctrl-C; `--export FILE` writes the static report
 * instead (src/view/).
 */
import { parseArgs } from 'node:util';
import { badValue, unknownFlag, viewExtraArgument, viewMissingFolder, viewPublicHostWarning } from '../../errors.js';
import { DEFAULT_VIEW_HOST, DEFAULT_VIEW_PORT, isLoopbackHost, startViewServer } from '../../view/server.js';
import { writeReport } from '../../view/report.js';

/** Parsed `ganpool view` arguments. */
export interface ViewArgs {
  dir: string;
  port: number;
  host: string;
  /** Write the static report to this file and exit, instead of serving. */
  export: string | null;
}

const HELP = `Usage: ganpool view OUT [flags]

Serves a read-only page of the training run in OUT (or of the runs in OUT's
subfolders, to compare) and prints its address: loss, speed and quality
curves that update while the run trains, the sample grids over time, the
exported generator running in the browser, and the run's facts. Stop with Ctrl-C.

Flags:
  --port P          TCP port; 0 picks a free one [${DEFAULT_VIEW_PORT}]
  --host H          address to bind [${DEFAULT_VIEW_HOST}: this machine only]; any
                    other address lets anyone who can reach it read the run
  --export FILE     write the page as one self-contained HTML file (grids
                    inlined, no external requests) and exit
  -h, --help        show this help
`;

/** Parses `ganpool view` arguments; throws GanpoolUsageError naming the flag. Null means --help. */
export function parseViewArgs(argv: string[]): ViewArgs | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, strict: true, allowPositionals: true,
      options: { port: { type: 'string' }, host: { type: 'string' }, export: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    throw unknownFlag('view', (e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help) return null;
  if (positionals.length === 0) throw viewMissingFolder();
  if (positionals.length > 1) throw viewExtraArgument(positionals[1]);
  let port = DEFAULT_VIEW_PORT;
  if (v.port !== undefined) {
    port = v.port.trim() === '' ? NaN : Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw badValue('--port', v.port, 'a whole number from 0 to 65535 (0 picks a free port)');
  }
  if (v.host === '') throw badValue('--host', v.host, 'an address to bind, e.g. 127.0.0.1');
  if (v.export === '') throw badValue('--export', v.export, 'an HTML file path');
  return { dir: positionals[0], port, host: v.host ?? DEFAULT_VIEW_HOST, export: v.export ?? null };
}

/** Runs `ganpool view ARGS`; resolves to the exit code (serving: once stopped by Ctrl-C or SIGTERM). */
export async function viewCommand(argv: string[]): Promise<number> {
  const args = parseViewArgs(argv);
  if (args === null) { process.stdout.write(HELP); return 0; }
  if (args.export !== null) {
    await writeReport(args.dir, args.export);
    process.stdout.write(`wrote ${args.export} (one self-contained HTML file)\n`);
    return 0;
  }
  const server = await startViewServer({ dir: args.dir, port: args.port, host: args.host });
  if (!isLoopbackHost(args.host)) process.stderr.write(viewPublicHostWarning(args.host));
  process.stdout.write(`ganpool view: serving ${args.dir} at ${server.url} (read-only; Ctrl-C to stop)\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await server.close();
  return 0;
}
