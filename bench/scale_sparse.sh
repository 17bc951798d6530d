#!/usr/bin/env bash
# make bench: a network as large as the real ones (issue 20): 1,000
# receivers (scripts/network.sh over 44-54 N, 0-20 E), each event heard by
# the strongest of those within reach (collect.layout sparse: 1 to 15 per
# event, heard_snr_db 20), collect -> featurize -> localize at
# BENCH_SPARSE_SIZES events (default 10000 100000; add 1000000 for the
# full run), one rank, then two (collect and featurize under mpirun).
# Prints per stage the time per event and the peak resident memory (GNU
# time), and how both change from the smallest size: flat is the goal
# (time per event within 15 %, memory independent of the number of
# events). BENCH_SPARSE_RANKS: the rank counts ("1 2"). Captures of 20 ms
# (start jitter 1 ms, so that they overlap and pairs are timed: the lines
# give the pairs timed and events located).
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
SIZES=${BENCH_SPARSE_SIZES:-10000 100000}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
[ -x /usr/bin/time ] || { echo "bench scale-sparse: skipped (GNU time missing: apt-get install time)"; exit 0; }
bash "$(dirname "$0")/../scripts/network.sh" 1000 44 54 0 20 >"$D/net.yaml"
cat >"$D/cfg.yaml" <<'YAML'
stations: net.yaml
collect:
  duration_s: 0.02
  interval_s: 1
  simulate:
    receivers: {start_jitter_ms: 1, heard_snr_db: 20, max_per_event: 15}
evaluate: {plots: false}
YAML

. "$(dirname "$0")/scale_lib.sh"

for ranks in ${BENCH_SPARSE_RANKS:-1 2}; do
    for n in $SIZES; do
        for st in collect featurize localize; do
            case $st in
                collect) r=$(scale_stage "$ranks" "$H" collect -q --force -c "$D/cfg.yaml" --set collect.events="$n" -o "$D/c.h5") ;;
                featurize) r=$(scale_stage "$ranks" "$H" featurize -q --force -c "$D/cfg.yaml" -o "$D/f.h5" "$D/c.h5") ;;
                localize) [ "$ranks" -gt 1 ] && continue
                          r=$(scale_stage 1 "$H" localize -q --force -c "$D/cfg.yaml" -o "$D/p.jsonl" "$D/f.h5") ;;
            esac
            what=""
            case $st in
                collect) what=$("$PY" -c 'import sys, os, h5py; f = h5py.File(sys.argv[1], "r"); c = f["events/link_count"][:]
print("%d events kept, %.1f receivers per event (%d-%d) of %d; %.2f KB per event on disk" % (len(c), c.mean(), c.min(), c.max(), len(f["receivers/id"]), os.path.getsize(sys.argv[1]) / len(c) / 1e3))' "$D/c.h5") ;;
                featurize) what=$("$PY" -c 'import sys, os, h5py; f = h5py.File(sys.argv[1], "r"); m = f["tdoa/mask"][:]
print("%d of %d pairs timed; %.2f KB per event on disk" % (m.sum(), len(m), os.path.getsize(sys.argv[1]) / len(f["events/index"]) / 1e3))' "$D/f.h5") ;;
                localize) what="$(grep -c '"status":"ok"' "$D/p.jsonl") of $(wc -l <"$D/p.jsonl") events located" ;;
            esac
            scale_line "scale-sparse-$st: 1000 receivers, $ranks rank$([ "$ranks" -gt 1 ] && echo s)" "$st-$ranks" "$n" "$r" "; $what"
        done
    done
done
