#!/usr/bin/env bash
# make bench: heimdall featurize against the NumPy/SciPy peer on the same
# captures, in the same run, one core each; then how heimdall's time grows
# with capture length and event count. Prints ratios, never absolute claims.
# heimdall's rate is the whole command (start-up, reading, writing); the
# peer's is its event loop (reading included, start-up and writing not).
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

rate() { # rate EVENTS CAPTURES [ARGS...] -> events/s of heimdall featurize (best of 3)
    local ev=$1 cap=$2 best=0
    shift 2
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        "$H" featurize -q --force "$@" -o "$D/f.h5" "$cap"
        t1=$(date +%s.%N)
        best=$(awk -v e="$ev" -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { r = e / (b - a); print (r > best ? r : best) }')
    done
    echo "$best"
}
line() { # line NAME HEIMDALL PEER NOTE
    awk -v n="$1" -v h="$2" -v p="$3" -v note="$4" 'BEGIN { printf "bench %s: heimdall=%.1f events/s peer=%.1f events/s ratio=%.1f (%s)\n", n, h, p, h / p, note }'
}

E=480
"$H" collect -q --set collect.events=$E -o "$D/c.h5"
hd=$(rate $E "$D/c.h5")
peer=$("$PY" bench/featurize_peer.py "$D/c.h5")
line featurize "$hd" "$peer" "all 21 pairs; peer: scipy welch + one numpy GCC-PHAT per pair, no frequency-difference correction or refinement; $E events, 7 receivers, 0.25 s of 24 kHz IQ"
# the same with FFTW plans measured once and kept (featurize.fftw_wisdom):
# a first run measures them (not timed), the rate is the best of the next 3
"$H" featurize -q --force --set featurize.fftw_wisdom="$D/wisdom" -o "$D/f.h5" "$D/c.h5"
hw=$(rate $E "$D/c.h5" --set featurize.fftw_wisdom="$D/wisdom")
line featurize-wisdom "$hw" "$peer" "as featurize, with featurize.fftw_wisdom (measured plans, made by an untimed first run)"
hr=$(rate $E "$D/c.h5" --set featurize.pairs=reference)
peer=$("$PY" bench/featurize_peer.py "$D/c.h5" --pairs reference)
line featurize-reference "$hr" "$peer" "featurize.pairs=reference: the best-SNR receiver against the 6 others, the peer likewise"
same=$("$PY" bench/featurize_peer.py "$D/c.h5" same-work --events 60)
line featurize-same-work "$hd" "$same" "numpy correcting each pair as heimdall did before its per-receiver redesign: coarse GCC-PHAT, frequency difference from the aligned product, de-rotation, GCC-PHAT again, phase-slope fit; all pairs, first 60 events"

# growth with capture length and with events
for dur in 0.125 0.5; do
    "$H" collect -q --set collect.events=120 --set collect.duration_s=$dur -o "$D/c_$dur.h5"
    r=$(rate 120 "$D/c_$dur.h5")
    awk -v r="$r" -v base="$hd" -v d="$dur" 'BEGIN { printf "bench featurize-length: duration=%s s heimdall=%.1f events/s, time per event x%.2f of 0.25 s\n", d, r, base / r }'
done
"$H" collect -q --set collect.events=120 -o "$D/c120.h5"
r=$(rate 120 "$D/c120.h5")
awk -v r="$r" -v base="$hd" -v e="$E" 'BEGIN { printf "bench featurize-events: events=120 heimdall=%.1f events/s (x%.2f the rate at %d events: start-up shared by fewer events)\n", r, r / base, e }'
