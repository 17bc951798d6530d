#!/usr/bin/env bash
# make bench: heimdall localize (TDOA) against a NumPy/SciPy peer
# (likelihood grid + scipy.optimize.least_squares) on the same features, in
# the same run, one core each. Prints ratios, never absolute claims.
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$H" collect -q --set collect.events=400 -o "$D/c.h5"
"$H" featurize -q -o "$D/f.h5" "$D/c.h5"
best=0
for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$H" localize -q --force -o "$D/p.geojson" "$D/f.h5"
    t1=$(date +%s.%N)
    best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { r = 400 / (b - a); print (r > best ? r : best) }')
done
# the command's own I/O against its solver (issue 20: not twice the solver):
# localize's time line, GeoJSON + KML + JSON lines of the same 400 events
io=$("$H" localize --force -o "$D/p.geojson" "$D/f.h5" 2>&1 | sed -n 's/.*time: solver \([0-9.]*\) s, outputs \([0-9.]*\) s.*/\1 \2/p')
read -r ts tw <<<"$io"
awk -v s="$ts" -v w="$tw" 'BEGIN { printf "bench localize-io: outputs %.1f ms, solver %.1f ms, ratio=%.2f (GeoJSON, KML and JSON lines written streaming; 400 events; goal <= 2)\n", w * 1e3, s * 1e3, w / s }'
solver=$("$H" evaluate -q --set evaluate.plots=false -o "$D/e.h5" "$D/f.h5" | sed -n 's/.*(\([0-9]*\) events\/s on one core).*/\1/p')
peer=$("$PY" bench/localize_peer.py "$D/f.h5")
awk -v h="$best" -v p="$peer" 'BEGIN { printf "bench localize: heimdall=%.0f events/s peer=%.0f events/s ratio=%.1f (whole command incl. reading and writing GeoJSON/KML/JSONL; peer: numpy grid + scipy least_squares per event, solver only)\n", h, p, h / p }'
awk -v s="$solver" -v p="$peer" 'BEGIN { printf "bench localize-solver: heimdall=%.0f events/s peer=%.0f events/s ratio=%.1f (solver only, 400 events, 7 receivers)\n", s, p, s / p }'
# the continental case (issue 16): hf-europe.yaml's ten receivers, a 3,000 km
# region, propagation hf; coarse-to-fine (localize.search coarse, what auto
# picks there) against heimdall's own dense grid every grid_step_km (10 km,
# localize.search grid, ranges precomputed once per network), solver only,
# best of 3
X=configs/experiments/hf-europe.yaml
"$H" collect -q -c "$X" --set collect.duration_s=2 --set collect.events=48 -o "$D/hc.h5"
"$H" featurize -q -c "$X" -o "$D/hf.h5" "$D/hc.h5"
rate() { for _ in 1 2 3; do "$H" localize --force -c "$X" --set localize.search="$1" -o "$D/hp.geojson" "$D/hf.h5" 2>&1 |
    sed -n 's/.* \([0-9.]*\) events\/s in the solver.*/\1/p'; done | sort -g | tail -n 1; }
c=$(rate coarse)
g=$(rate grid)
# and the whole command of each (best of 3, ms): the dense grid's set-up
# (its ranges over the whole region) is not in the solver's time
whole() { for _ in 1 2 3; do t0=$(date +%s.%N); "$H" localize -q --force -c "$X" --set localize.search="$1" \
    -o "$D/hp.geojson" "$D/hf.h5"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print (b - a) * 1e3 }'; done |
    sort -g | head -n 1; }
wc=$(whole coarse)
wg=$(whole grid)
awk -v c="$c" -v g="$g" -v wc="$wc" -v wg="$wg" 'BEGIN { printf "bench localize-continental: heimdall=%.0f events/s peer=%.0f events/s ratio=%.2f (coarse-to-fine over a 3,000 km region, 10 receivers, propagation hf, 48 events; peer: heimdall'"'"'s dense 10 km grid, localize.search grid; solver only; whole command %.0f ms against the grid'"'"'s %.0f ms)\n", c, g, c / g, wc, wg }'
