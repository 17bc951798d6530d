#!/usr/bin/env bash
# make bench: recordings end to end (issue 16). heimdall import kiwiwav →
# featurize → localize on 3 and on 8 kiwiwav recordings of 30 s (12 kHz,
# the TDoA service's layout; configs/experiments/recordings-demo.yaml)
# against bench/recordings_peer.py, the KiwiSDR TDoA service's method in
# plain NumPy/SciPy (read the wav, resample by the GPS clock, correlate the
# whole capture per pair, grid the chi-square, refine), in the same run,
# one core each. Wall time per event (one event: the three commands'
# whole run, start-up, reading and writing included; the peer's whole
# script after the interpreter's start-up), best of 3. Prints ratios.
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
"$H" collect -q -c configs/experiments/recordings-demo.yaml -o "$D/sim.h5"
"$H" export kiwiwav -q -o "$D/iq" "$D/sim.h5"
best() { awk 'NR == 1 || $1 < b { b = $1 } END { print b }'; }
for set in "3:par-sud ber-north muc-center" "8:"; do
    n=${set%%:*}
    files=()
    if [ -n "${set#*:}" ]; then
        for s in ${set#*:}; do files+=("$D"/iq/*_"$s"_iq.wav); done
    else
        files=("$D"/iq/*_iq.wav)
    fi
    h=$(for _ in 1 2 3; do
        t0=$(date +%s.%N)
        "$H" import kiwiwav -q --force -o "$D/c$n.h5" "${files[@]}"
        "$H" featurize -q --force -o "$D/f$n.h5" "$D/c$n.h5"
        "$H" localize -q --force -o "$D/p$n.geojson" "$D/f$n.h5"
        t1=$(date +%s.%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'
    done | best)
    p=$(for _ in 1 2 3; do "$PY" bench/recordings_peer.py "${files[@]}" | awk '{ print $1 }'; done | best)
    awk -v n="$n" -v h="$h" -v p="$p" 'BEGIN { printf "bench recordings-%d: heimdall=%.2f s/event peer=%.2f s/event ratio=%.1f (import kiwiwav + featurize + localize of %d recordings of 30 s at 12 kHz, one 4FSK HF transmitter; peer: the TDoA service'"'"'s method in numpy/scipy: GPS-clock resampling, every pair correlated over the whole capture in 1 s segments, chi-square grid at 10 km + least_squares)\n", n, h, p, p / h, n }'
    # where the time goes: each step alone, best of 3
    step() { for _ in 1 2 3; do t0=$(date +%s.%N); "$@"; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }'; done | best; }
    ti=$(step "$H" import kiwiwav -q --force -o "$D/c$n.h5" "${files[@]}")
    tf=$(step "$H" featurize -q --force -o "$D/f$n.h5" "$D/c$n.h5")
    tl=$(step "$H" localize -q --force -o "$D/p$n.geojson" "$D/f$n.h5")
    awk -v n="$n" -v i="$ti" -v f="$tf" -v l="$tl" 'BEGIN { printf "bench recordings-%d-steps: import=%.2f s featurize=%.2f s localize=%.2f s (each command alone, start-up included)\n", n, i, f, l }'
done
