// Semi-supervised worker entry when ganpool runs from its TypeScript sources (tsx):
// registers tsx in the worker, then loads the real worker module.
import { register } from 'tsx/esm/api';

register();
const mod = await import('./semi-worker.ts');
export default mod.default;
