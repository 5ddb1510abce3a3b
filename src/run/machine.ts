/**
 * Facts about the machine and the installed software, recorded next to
 * benchmark results so numbers from different machines can be told apart.
 */
import { readFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus, totalmem, platform, arch, release } from 'node:os';
import { dirname, join } from 'node:path';
import { packageVersion } from '../package-info.js';

/** What a benchmark report records about where it ran. */
export interface MachineFacts {
  /** CPU model string of the first core (`os.cpus()`), or `unknown`. */
  cpuModel: string;
  /** Cores this process may use (`os.availableParallelism()`): what "oversubscribed" is measured against. */
  cores: number;
  /** Logical CPUs the OS reports (`os.cpus().length`). */
  logicalCpus: number;
  totalMemoryBytes: number;
  /** `linux`, `darwin`, …, with the kernel release and CPU architecture. */
  os: string;
  node: string;
  /** Installed versions, or `unknown` when a package.json cannot be found. */
  versions: {
    ganpool: string;
    tfjsCore: string;
    tfjsBackendWasm: string;
    piscina: string;
    onnxruntimeNode: string;
  };
}

const requireHere = createRequire(import.meta.url);

/**
 * The version of an installed package: its `package.json` through the
 * resolver, or, for packages whose `exports` hide it, the nearest
 * `package.json` above the resolved entry point. `unknown` if not installed.
 */
export function installedVersion(name: string): string {
  try {
    return (requireHere(`${name}/package.json`) as { version: string }).version;
  } catch {
    try {
      let dir = dirname(requireHere.resolve(name));
      for (;;) {
        const file = join(dir, 'package.json');
        if (existsSync(file)) {
          const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
          if (pkg.name === name && pkg.version) return pkg.version;
        }
        const up = dirname(dir);
        if (up === dir) return 'unknown';
        dir = up;
      }
    } catch {
      return 'unknown';
    }
  }
}

/** Collects {@link MachineFacts} for this process. */
export function machineFacts(): MachineFacts {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() || 'unknown',
    cores: availableParallelism(),
    logicalCpus: cpuList.length,
    totalMemoryBytes: totalmem(),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    versions: {
      ganpool: packageVersion(),
      tfjsCore: installedVersion('@tensorflow/tfjs-core'),
      tfjsBackendWasm: installedVersion('@tensorflow/tfjs-backend-wasm'),
      piscina: installedVersion('piscina'),
      onnxruntimeNode: installedVersion('onnxruntime-node'),
    },
  };
}

/** One line for a report header: `Intel Xeon …, 2 cores, 23.4 GiB, Node v20.…, linux …`. */
export function describeMachine(m: MachineFacts): string {
  const gib = (m.totalMemoryBytes / 2 ** 30).toFixed(1);
  return `${m.cpuModel}, ${m.cores} core${m.cores === 1 ? '' : 's'}, ${gib} GiB, Node ${m.node}, ${m.os}`;
}
