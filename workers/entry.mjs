// Worker entry used when ganpool runs from its TypeScript sources (tsx):
// piscina's execArgv does not carry `--import tsx` into the worker, so the
// worker registers tsx itself and then loads the real worker module.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./gan-worker.ts');
export default mod.default;
