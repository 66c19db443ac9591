#!/usr/bin/env bash
# One slice of `sbrzoo reproduce` on the lent GPU machine (torch without DGL, no internet), run from
# the repository root of the copied tree with the datasets carried as .data/<name>:
#
#   bash benchmarks/device_reproduce.sh 480 --models srgnn --datasets yoochoose1_64 --seeds 1
#   # the GPU track: TAGNN and the five TAGNN++ rows on one dataset, packed, on the static engine
#   bash benchmarks/device_reproduce.sh 480 --datasets diginetica --seeds 1 --engine static --jobs 6 \
#       --models tagnn,tagnnpp,tagnnpp_no_agc,tagnnpp_no_gnn,tagnnpp_no_pe,tagnnpp_no_transformer
#
# The first argument is the time budget in seconds (leave room for loading data and the final test
# evaluation inside the command's limit); the rest go to `sbrzoo reproduce`. Runs pause after the
# last whole epoch that fits and resume on the next call while the machine stays warm (results/ is
# ignored by git, so it survives between calls on one machine). The tables and each run's
# metrics.json, config.json and test_ranks.npy are copied to $OUT/results; checkpoints are not.
set -euo pipefail
budget="${1:?usage: device_reproduce.sh BUDGET_SECONDS [reproduce options]}"
shift
export PYTHONPATH=.
export SBRZOO_GIT_COMMIT="${SBRZOO_GIT_COMMIT:-unknown}"
python -c "from cli.main import main; main()" reproduce --device cuda --backend torch --data-root .data \
    --time-budget "$budget" --out results "$@"
mkdir -p "$OUT/results"
cp results/reproduction.* "$OUT/results/"
(cd results && find reproduction \( -name metrics.json -o -name config.json -o -name test_ranks.npy \) -print0 \
    | xargs -0 -r tar -cf "$OUT/results/runs.tar")
