#!/usr/bin/env bash
# Installs ganpool as a user would: npm pack this checkout, npm install the tarball into an empty
# project (reaching only the npm registry), then one short train through the API, one through
# `npx ganpool train` and a two-run `npx ganpool sweep`. Exits non-zero on the first failure.
#
# The empty project's .npmrc holds the one line docs/sweep.md (installing on cluster nodes) asks for, onnxruntime-node-install=skip:
# without it onnxruntime-node's install script downloads its CUDA provider from api.nuget.org, and the
# install fails where only the registry is reachable. ganpool itself runs on the CPU build it ships.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/ganpool-pack-XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

cd "$root"
npm pack --silent --pack-destination "$tmp" >/dev/null
tarball="$(ls "$tmp"/ganpool-*.tgz)"
echo "pack-install-check: packed $(basename "$tarball")"

mkdir "$tmp/app" && cd "$tmp/app"
npm init -y >/dev/null
printf 'onnxruntime-node-install=skip\n' > .npmrc
npm install --no-audit --no-fund --loglevel=error "$tarball"

cat > api.mjs <<'JS'
import { train } from 'ganpool';
const r = await train({ model: 'mlp', steps: 3, batchSize: 16, workers: 1, finalEval: false, out: 'api-run' });
if (r.steps !== 3) throw new Error(`expected 3 steps, got ${r.steps}`);
console.log(`pack-install-check: API train: ${r.steps} steps on ${r.backend}`);
JS
node api.mjs
npx --no-install ganpool train --model mlp --steps 3 --batch-size 16 --workers 1 --final-eval off --out cli-run >/dev/null
test -f cli-run/summary.json
echo "pack-install-check: npx ganpool train: ok"
printf 'base: { model: mlp, steps: 3, batch-size: 16, final-eval: off }\ngrid: { loss: [ns, hinge] }\n' > spec.yaml
npx --no-install ganpool sweep spec.yaml --out sweep --workers 1 >/dev/null 2>&1
test -f sweep/results.csv && test "$(grep -c ',finished,3,' sweep/results.csv)" = 2
echo "pack-install-check: npx ganpool sweep: ok"
