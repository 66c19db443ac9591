#!/usr/bin/env bash
# The GPU engine check in one call of the lent machine (torch + CUDA, no DGL, no internet), from the
# repository root of the copied tree with Diginetica carried as .data/diginetica:
#
#   bash benchmarks/gpu_engine.sh            # writes $OUT/parity.txt and $OUT/gpu_engine.json (prints the epoch table)
#
# DEVICE and DATA override the device and the data folder (DATA= : the synthetic dataset); further
# arguments go to benchmarks/gpu_engine.py (e.g. --steps 100 --packed 1,2). The budget keeps the whole
# run under ~8 minutes of a 10-minute call (call it with a 540 s limit), so there is time to rerun.
set -euo pipefail
export PYTHONPATH=.
device="${DEVICE:-cuda}"
data="${DATA-.data/diginetica}"
out="${OUT:?set OUT to the folder that comes back}"
# first, seconds: every composed model's scores and gradients on the CPU and the device (exit 1 on a mismatch)
python benchmarks/device_parity.py --device "$device" | tee "$out/parity.txt" || echo "device parity: MISMATCH"
python benchmarks/gpu_engine.py --device "$device" ${data:+--data-dir "$data"} --budget 400 \
    --out "$out/gpu_engine.json" "$@"
