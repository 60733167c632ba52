#!/usr/bin/env bash
# Every classical method on Set12, BSD68 (gray) and CBSD68 (color) at sigma 15/25/50.
# Resumable: rerun the same command and it skips what results.jsonl already holds.
set -euo pipefail
DATA=${DATA:-../shared/data}
# 1. The realistic protocol: noisy 8-bit files (clipped and rounded).
denoisekit bench --data "$DATA/set12" "$DATA/bsd68" "$DATA/cbsd68" --sigma 15 25 50 \
  --methods mean median gaussian tv wavelet nlm bm3d --out runs/classical --workers 2
# 2. BM3D under the published tables' protocol (unclipped float noise), to compare with them.
denoisekit bench --data "$DATA/set12" "$DATA/bsd68" "$DATA/cbsd68" --sigma 15 25 50 \
  --methods bm3d --protocol unclipped --out runs/bm3d_unclipped --workers 2
