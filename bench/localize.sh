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
solver=$("$H" evaluate -q --set evaluate.plots=false -o "$D/e.h5" "$D/f.h5" | sed -n 's/.*(\([0-9]*\) events\/s on one core).*/\1/p')
peer=$("$PY" bench/localize_peer.py "$D/f.h5")
awk -v h="$best" -v p="$peer" 'BEGIN { printf "bench localize: heimdall=%.0f events/s peer=%.0f events/s ratio=%.1f (whole command incl. reading and writing GeoJSON/KML/JSONL; peer: numpy grid + scipy least_squares per event, solver only)\n", h, p, h / p }'
awk -v s="$solver" -v p="$peer" 'BEGIN { printf "bench localize-solver: heimdall=%.0f events/s peer=%.0f events/s ratio=%.1f (solver only, 400 events, 7 receivers)\n", s, p, s / p }'
