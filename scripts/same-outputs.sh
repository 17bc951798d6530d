#!/usr/bin/env bash
# Are two heimdall binaries' outputs identical? Runs the same stages with
# both — the demo (collect, featurize, localize, evaluate), a smoke campaign
# trained and scored by the network (1 and 2 ranks), the POWDER import with
# RSS and kNN, kiwiwav and SigMF export → import → featurize, and featurize
# on 2 ranks — then compares every HDF5 file with h5diff (every dataset and
# every attribute but the root's provenance and /provenance (input paths and hashes), which name the binary and the
# time; train's /log/seconds and evaluate's /latency_us, wall clocks),
# report.json without its input path and timings, and other text with cmp.
#   scripts/same-outputs.sh OLD_BINARY NEW_BINARY [WORKDIR]
# Prints a line per output that differs and "same-outputs: N identical, M differ";
# exits 1 when anything differs. mpirun as root needs
# OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 (set here).
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: scripts/same-outputs.sh OLD_BINARY NEW_BINARY [WORKDIR]" >&2; exit 2; }
A=$(realpath "$1"); B=$(realpath "$2"); W=${3:-$(mktemp -d)}; mkdir -p "$W"; W=$(realpath "$W")
cd "$(dirname "$0")/.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
PW=datasets/powder
PYTHON=${PYTHON:-/usr/bin/python3}

run_all() { # BINARY DIR
  local H=$1 D=$2
  rm -rf "$D"; mkdir -p "$D/demo" "$D/smoke" "$D/powder" "$D/kiwi" "$D/sigmf"
  $H collect -q -o "$D/demo/captures.h5"
  $H featurize -q -o "$D/demo/features.h5" "$D/demo/captures.h5"
  mpirun -np 2 $H featurize -q -o "$D/demo/features-2ranks.h5" "$D/demo/captures.h5"
  $H localize -q -o "$D/demo/positions.geojson" "$D/demo/features.h5"
  $H localize -q --method hybrid -o "$D/demo/hybrid.geojson" "$D/demo/features.h5"
  $H evaluate -q -o "$D/demo/eval.h5" "$D/demo/features.h5"
  $H evaluate -q --method rss -o "$D/demo/eval-rss/eval.h5" "$D/demo/features.h5"
  $H collect -q -c configs/smoke.yaml -o "$D/smoke/captures.h5"
  $H featurize -q -c configs/smoke.yaml -o "$D/smoke/features.h5" "$D/smoke/captures.h5"
  $H train -q -c configs/smoke.yaml -o "$D/smoke/model.h5" "$D/smoke/features.h5"
  mpirun -np 2 $H train -q -c configs/smoke.yaml -o "$D/smoke/model-2ranks.h5" "$D/smoke/features.h5"
  $H evaluate -q -c configs/smoke.yaml --method nn -m "$D/smoke/model.h5" -o "$D/smoke/eval-nn/eval.h5" "$D/smoke/features.h5"
  $H localize -q -c configs/smoke.yaml --method nn -m "$D/smoke/model.h5" -o "$D/smoke/nn.geojson" "$D/smoke/features.h5"
  $H import powder $PW/single_tx_apr_jul.csv $PW/receivers.csv -q -o "$D/powder/features.h5"
  $H evaluate -q -c configs/experiments/powder.yaml --method rss -o "$D/powder/rss/eval.h5" "$D/powder/features.h5"
  $H evaluate -q -c configs/experiments/powder.yaml --method knn -o "$D/powder/knn/eval.h5" "$D/powder/features.h5"
  $H export kiwiwav -q -o "$D/kiwi/rec" "$D/smoke/captures.h5"
  $H import kiwiwav -q -o "$D/kiwi/captures.h5" "$D"/kiwi/rec/*.wav
  $H featurize -q -o "$D/kiwi/features.h5" "$D/kiwi/captures.h5"
  $H export sigmf -q -o "$D/sigmf/rec" "$D/smoke/captures.h5"
  $H import sigmf -q -o "$D/sigmf/captures.h5" "$D"/sigmf/rec/*.sigmf-meta
  $H featurize -q -o "$D/sigmf/features.h5" "$D/sigmf/captures.h5"
}

run_all "$A" "$W/a" > "$W/a.log" 2>&1 || { echo "same-outputs: the old binary failed (see $W/a.log)" >&2; tail -5 "$W/a.log" >&2; exit 1; }
run_all "$B" "$W/b" > "$W/b.log" 2>&1 || { echo "same-outputs: the new binary failed (see $W/b.log)" >&2; tail -5 "$W/b.log" >&2; exit 1; }
same=0; differ=0
while IFS= read -r f; do
  rel=${f#"$W/a/"}
  case "$f" in
    *.h5) if h5diff -q --exclude-attribute / --exclude-path /provenance --exclude-path /log/seconds --exclude-path /latency_us "$f" "$W/b/$rel" >/dev/null 2>&1; then r=identical; else r=DIFFER; fi ;;
    *.png|*.gp) continue ;;
    *.json) if $PYTHON - "$f" "$W/b/$rel" <<'PY'
import json, sys
def clean(p):  # what names the run, not its results: paths and timings
    r = json.load(open(p))
    return {k: v for k, v in r.items() if k != "input" and "latency" not in k and k != "events_per_second"}
sys.exit(clean(sys.argv[1]) != clean(sys.argv[2]))
PY
      then r=identical; else r=DIFFER; fi ;;
    *) if cmp -s "$f" "$W/b/$rel"; then r=identical; else r=DIFFER; fi ;;
  esac
  [ $r = identical ] || printf '%-40s %s\n' "$rel" "$r"
  if [ $r = identical ]; then same=$((same + 1)); else differ=$((differ + 1)); fi
done < <(find "$W/a" -type f \( -name '*.h5' -o -name '*.geojson' -o -name '*.kml' -o -name '*.jsonl' -o -name '*.json' -o -name '*.wav' -o -name '*.sigmf-*' -o -name '*.txt' \) | sort)
echo "same-outputs: $same identical, $differ differ (outputs in $W)"
[ $differ -eq 0 ]
