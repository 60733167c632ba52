#!/usr/bin/env bash
# Issue 6, item 2: how far the no-reference stopping rule's pick falls from the oracle-best
# iteration. DIP (the CPU pyramid net) in oracle mode on 128² centre crops of Set12 03-10
# (images the rule was never tuned on), 3,000 iterations each, so the fits pass their peak.
# Two runs in parallel, one thread each. Resumable. Results: runs/stopgap/summary.md.
# STOP=variance measures the rule that was the default before self-validation.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data}
OUT=${OUT:-runs/stopgap}
mkdir -p "$OUT/crops"
python - "$DATA/set12" "$OUT/crops" <<'PY'
import sys
from pathlib import Path
from denoisekit import read_image, write_image
from denoisekit.figures import centre_crop
source, target = Path(sys.argv[1]), Path(sys.argv[2])
for name in ["03", "04", "05", "06", "07", "08", "09", "10"]:
    out = target / f"{name}.png"
    if not out.exists():
        write_image(out, centre_crop(read_image(source / f"{name}.png")[0], 128), bit_depth=8)
PY
run() { python benchmarks/zeroshot.py ${STOP:+--stop "$STOP"} --dataset set12crop --methods dip --dip-iterations 3000 --threads 1 --out "$OUT" --images "$@"; }
run "$OUT"/crops/0[3-6].png > "$OUT/a.log" 2>&1 &
run "$OUT"/crops/0[7-9].png "$OUT"/crops/10.png > "$OUT/b.log" 2>&1
wait
