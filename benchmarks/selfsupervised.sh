#!/usr/bin/env bash
# Issue 5's benchmark: self-supervised training on Train400 made noisy once (sigma 25, fixed
# seed; the clean images are never used), tested on BSD68 at sigma 25 (clipped 8-bit protocol).
# Noise2Noise needs a second shot of each scene: a second noisy copy with another seed.
#
#   bash benchmarks/selfsupervised.sh train n2n      # one method (resumes its checkpoint)
#   bash benchmarks/selfsupervised.sh test n2n       # its weights on BSD68 sigma 25
#
# Steps per method are set by the CPU time this project had (see docs/BENCHMARKS.md); raise
# STEPS_<METHOD> and rerun to continue a run from its checkpoint. The recorded n2n run went to
# 8,000 steps, then was resumed with STEPS_N2N=12000.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=../shared/data
RUN=runs/selfsup
THREADS=${THREADS:-1}
python benchmarks/noisy_copy.py $DATA/train400 $RUN/noisy_a --sigma 25 --seed 1
python benchmarks/noisy_copy.py $DATA/train400 $RUN/noisy_b --sigma 25 --seed 2

train() {
    local method=$1 steps=$2; shift 2
    local out=$RUN/$method/$method.pt
    mkdir -p $RUN/$method
    local resume=""
    [ -f $RUN/$method/$method.ckpt ] && resume=--resume
    denoisekit --threads "$THREADS" train --method "$method" --data $RUN/noisy_a --steps "$steps" \
        --lr 1e-3 --schedule cosine --warmup 100 --checkpoint-every 250 --seed 0 $resume --out "$out" "$@"
}

case ${1:-} in
train)
    case $2 in
    n2n) train n2n "${STEPS_N2N:-8000}" --pair-data $RUN/noisy_b --batch-size 16 --patch-size 64 ;;
    n2v) train n2v "${STEPS_N2V:-4000}" --mask-fraction 0.01 --batch-size 16 --patch-size 64 ;;
    ne2ne) train ne2ne "${STEPS_NE2NE:-2000}" --gamma 2 --batch-size 16 --patch-size 128 ;;
    blindspot) train blindspot "${STEPS_BLINDSPOT:-1500}" --model-config posterior=true \
        --batch-size 8 --patch-size 64 ;;
    *) echo "usage: $0 train n2n|n2v|ne2ne|blindspot" >&2; exit 2 ;;
    esac ;;
test)
    method=$2
    out=$RUN/test/$method
    rm -rf "$out"
    denoisekit --threads "$THREADS" bench --data $DATA/bsd68 --sigma 25 --weights "$method=$RUN/$method/$method.pt" \
        --out "$out"
    mkdir -p benchmarks/results/selfsupervised
    cp "$out/results.csv" "benchmarks/results/selfsupervised/$method.csv"
    cp "$RUN/$method/$method.json" "benchmarks/results/selfsupervised/$method.card.json"
    cp "$RUN/$method/$method.csv" "benchmarks/results/selfsupervised/$method.log.csv" ;;
*) echo "usage: $0 train|test n2n|n2v|ne2ne|blindspot" >&2; exit 2 ;;
esac
