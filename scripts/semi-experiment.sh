#!/bin/sh
# Semi-supervised GAN runs for docs/experiments/semi-supervised.md: one `ganpool train --semi-supervised`
# per seed, each in runs/semi/<dataset>-<labels>[-u<unlabelled>]-<steps>-s<seed>, then one line per run
# (held-out accuracy, wall seconds, steps) from its summary.json.
#   [WORKERS=2] [UNLABELLED=N] sh scripts/semi-experiment.sh DATASET LABELS STEPS SEED...
# e.g. sh scripts/semi-experiment.sh mnist 100 6000 1 2 3
#      UNLABELLED=7900 sh scripts/semi-experiment.sh fashion-mnist 1000 6000 1
# Results do not depend on WORKERS (only the wall time does), so seeds can run side by side
# with WORKERS=1, one per core.
set -eu
dataset=$1 labels=$2 steps=$3
shift 3
workers=${WORKERS:-2}
tag=$dataset-$labels${UNLABELLED:+-u$UNLABELLED}-$steps
mkdir -p runs/semi
for seed in "$@"; do
  out=runs/semi/$tag-s$seed
  npx tsx src/cli/main.ts train --semi-supervised --labels "$labels" --dataset "$dataset" --steps "$steps" \
    ${UNLABELLED:+--unlabelled "$UNLABELLED"} --seed "$seed" --workers "$workers" --eval-every 500 --out "$out" > "$out.log" 2>&1 \
    || { echo "seed $seed failed, see $out.log"; continue; }
  node -e "const s = require('./$out/summary.json'); console.log([process.argv[1], 'seed ' + process.argv[2], (100 * s.heldOutAccuracy).toFixed(2) + '%', s.wallSeconds.toFixed(0) + ' s', s.steps + ' steps', s.unlabelled + ' unlabelled'].join('\t'))" \
    "$tag" "$seed"
done
