#!/usr/bin/env bash
# make bench: how cost grows with the campaign (issue 20): collect ->
# featurize -> localize on the embedded default network with short captures
# (collect.duration_s 0.02, the receivers' start jitter 1 ms so that the
# captures overlap and pairs are timed: 10 ms captures with the default 20 ms
# jitter timed none) at BENCH_SCALE_SIZES events (default 10000 100000
# 1000000, as issue 20 asks: about an hour on 2 cores; "10000 100000"
# for a quick look), one rank, then two (mpirun, the
# collect and featurize stages). Prints per stage the time per event and the
# peak resident memory (GNU time), and how both change from the smallest
# size: flat is the goal (time per event within 15 %, memory independent of
# the number of events).
set -eu
H=${HEIMDALL:-build/heimdall}
SIZES=${BENCH_SCALE_SIZES:-10000 100000 1000000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ -x /usr/bin/time ] || { echo "bench scale: skipped (GNU time missing: apt-get install time)"; exit 0; }
SET=(--set collect.duration_s=0.02 --set collect.simulate.receivers.start_jitter_ms=1 --set collect.interval_s=1
     --set evaluate.plots=false)
PY=${PYTHON:-/usr/bin/python3}

. "$(dirname "$0")/scale_lib.sh"

for ranks in 1 2; do
    for n in $SIZES; do
        for st in collect featurize localize; do
            case $st in
                collect) r=$(scale_stage "$ranks" "$H" collect -q --force "${SET[@]}" --set collect.events="$n" -o "$D/c.h5") ;;
                featurize) r=$(scale_stage "$ranks" "$H" featurize -q --force "${SET[@]}" -o "$D/f.h5" "$D/c.h5") ;;
                localize) [ "$ranks" -gt 1 ] && continue
                          r=$(scale_stage 1 "$H" localize -q --force "${SET[@]}" -o "$D/p.jsonl" "$D/f.h5") ;;
            esac
            what=""
            case $st in
                featurize) what=$("$PY" -c 'import sys, h5py; m = h5py.File(sys.argv[1], "r")["tdoa/mask"][:]
print("; %d of %d pairs timed" % (m.sum(), m.size))' "$D/f.h5") ;;
                localize) what="; $(grep -c '"status":"ok"' "$D/p.jsonl") of $(wc -l <"$D/p.jsonl") events located" ;;
            esac
            scale_line "scale-$st: $ranks rank$([ "$ranks" -gt 1 ] && echo s)" "$st-$ranks" "$n" "$r" "$what"
        done
    done
done
