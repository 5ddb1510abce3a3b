#!/bin/sh
# Semi-supervised GAN runs for docs/semi-supervised.md: one `ganpool train --semi-supervised`
# per seed, each in runs/semi/<dataset>-<labels>-s<seed>, then one line per run
# (held-out accuracy, wall seconds, steps) from its summary.json.
#   sh scripts/semi-experiment.sh DATASET LABELS STEPS SEED...
# e.g. sh scripts/semi-experiment.sh mnist 100 2500 1 2 3
set -eu
dataset=$1 labels=$2 steps=$3
shift 3
for seed in "$@"; do
  out=runs/semi/$dataset-$labels-s$seed
  npx tsx src/cli/main.ts train --semi-supervised --labels "$labels" --dataset "$dataset" --steps "$steps" \
    --seed "$seed" --workers 2 --eval-every 500 --out "$out" > "$out.log" 2>&1 || { echo "seed $seed failed, see $out.log"; continue; }
  node -e "const s = require('./$out/summary.json'); console.log([process.argv[1], process.argv[2], 'seed ' + process.argv[3], (100 * s.heldOutAccuracy).toFixed(2) + '%', s.wallSeconds.toFixed(0) + ' s', s.steps + ' steps'].join('\t'))" \
    "$dataset" "$labels" "$seed"
done
