#!/usr/bin/env bash
# The shipped networks on Set12, BSD68 and CBSD68 at sigma 15/25/50: on noisy 8-bit files, told
# sigma (as the published tables) and blind (sigma estimated); on the published tables' unclipped
# float noise; then BM3D and the network timed side by side in one run on the first 8 images of
# each set. Resumable (rerun to continue).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data
denoisekit bench --data $DATA/set12 $DATA/bsd68 $DATA/cbsd68 --sigma 15 25 50 --methods unet --out runs/learned
denoisekit bench --data $DATA/set12 $DATA/bsd68 $DATA/cbsd68 --sigma 15 25 50 --methods unet --blind \
    --out runs/learned_blind
denoisekit bench --data $DATA/bsd68 $DATA/cbsd68 --sigma 15 25 50 --methods unet --protocol unclipped \
    --out runs/learned_unclipped
denoisekit bench --data $DATA/bsd68 $DATA/cbsd68 --sigma 25 --methods unet bm3d --limit 8 --out runs/learned_timing
mkdir -p benchmarks/results
for run in learned learned_blind learned_unclipped learned_timing; do
    rm -rf benchmarks/results/$run && mkdir -p benchmarks/results/$run
    cp runs/$run/results.csv runs/$run/results.md benchmarks/results/$run/
done
