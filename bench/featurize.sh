#!/usr/bin/env bash
# make bench: heimdall featurize against the NumPy/SciPy peer on the same
# captures, in the same run, one core each; then how heimdall's time grows
# with capture length and event count. Prints ratios, never absolute claims.
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

rate() { # rate EVENTS CAPTURES -> events/s of heimdall featurize (best of 3)
    local best=0
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        "$H" featurize -q --force -o "$D/f.h5" "$2"
        t1=$(date +%s.%N)
        best=$(awk -v e="$1" -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { r = e / (b - a); print (r > best ? r : best) }')
    done
    echo "$best"
}

"$H" collect -q --set collect.events=120 -o "$D/c.h5"
hd=$(rate 120 "$D/c.h5")
peer=$("$PY" bench/featurize_peer.py "$D/c.h5")
awk -v h="$hd" -v p="$peer" 'BEGIN { printf "bench featurize: heimdall=%.1f events/s peer=%.1f events/s ratio=%.1f (straightforward numpy/scipy: one GCC-PHAT per pair, no frequency-difference correction or refinement; 7 receivers, 0.25 s of 24 kHz IQ)\n", h, p, h / p }'
same=$("$PY" bench/featurize_peer.py "$D/c.h5" same-work)
awk -v h="$hd" -v p="$same" 'BEGIN { printf "bench featurize-same-work: heimdall=%.1f events/s peer=%.1f events/s ratio=%.1f (numpy doing heimdall'"'"'s per-pair work)\n", h, p, h / p }'

# growth with capture length and with events
for dur in 0.125 0.5; do
    "$H" collect -q --set collect.events=60 --set collect.duration_s=$dur -o "$D/c_$dur.h5"
    r=$(rate 60 "$D/c_$dur.h5")
    awk -v r="$r" -v base="$hd" -v d="$dur" 'BEGIN { printf "bench featurize-length: duration=%s s heimdall=%.1f events/s, time per event x%.2f of 0.25 s\n", d, r, base / r }'
done
"$H" collect -q --set collect.events=480 -o "$D/c480.h5"
r=$(rate 480 "$D/c480.h5")
awk -v r="$r" -v base="$hd" 'BEGIN { printf "bench featurize-events: events=480 heimdall=%.1f events/s (x%.2f the rate at 120 events)\n", r, r / base }'
