#!/usr/bin/env bash
# The fixes-vs-tracks table of a tracking campaign with truth: for each
# motion kind, collect → featurize → localize (the fixes) → track (the
# smoothed tracks, with their map) → evaluate --truth-from on both, and one
# table row: median and p95 error and 1-sigma coverage of the fixes and of
# the tracks side by side (every event each scored; the tracks also on the
# events without a fix).
#   scripts/tracking.sh [-b HEIMDALL] [-c CONFIG] [-o OUTDIR] [MOTION...]
# Defaults: build/heimdall, configs/experiments/tracking.yaml, results/tracking,
# the config's own motion. MOTION: walk | car | aircraft; each kind with the
# settings below on top of the config: a car heard every 4 s; an aircraft
# every 4 s over the nw-italy network (the urban one is far smaller than a
# minute of flight), its fixes at 9 km (localize.tx_alt_m's largest value;
# the aircraft fly at 9-11 km).
# OUTDIR/MOTION/ keeps every file (tracks_map.png: the tracks against the truth).
set -euo pipefail
cd "$(dirname "$0")/.."
H=build/heimdall; C=configs/experiments/tracking.yaml; O=results/tracking
while getopts "b:c:o:" opt; do
  case $opt in b) H=$OPTARG ;; c) C=$OPTARG ;; o) O=$OPTARG ;; *) exit 2 ;; esac
done
shift $((OPTIND - 1))
H=$(realpath "$H"); C=$(realpath "$C")
PYTHON=${PYTHON:-/usr/bin/python3}
[ $# -gt 0 ] || set -- ""
printf "| motion | events | fixes median m | fixes p95 m | fixes 1σ | tracks median m | tracks p95 m | tracks 1σ | tracks/fixes |\n"
printf "|---|---|---|---|---|---|---|---|---|\n"
for m in "$@"; do
  d="$O/${m:-config}"; mkdir -p "$d/fixes" "$d/tracks"
  set_m=(); [ -n "$m" ] && set_m=(--set "collect.simulate.transmitter.motion=$m")
  case $m in
    car) set_m+=(--set collect.interval_s=1) ;;
    aircraft) set_m+=(--set "stations=$PWD/configs/stations/nw-italy.yaml" --set collect.interval_s=1
                      --set collect.simulate.margin_km=0 --set localize.tx_alt_m=9000 --set localize.margin_km=80) ;;
  esac
  "$H" collect -q -c "$C" "${set_m[@]}" --force -o "$d/captures.h5"
  "$H" featurize -q -c "$C" --force -o "$d/features.h5" "$d/captures.h5"
  "$H" localize -q -c "$C" "${set_m[@]}" --force -o "$d/positions.h5" "$d/features.h5"
  "$H" track -q -c "$C" "${set_m[@]}" --set track.map=true --truth "$d/features.h5" --force -o "$d/tracks.h5" "$d/positions.h5"
  "$H" evaluate -q -c "$C" --set evaluate.plots=false --truth-from "$d/features.h5" --force -o "$d/fixes/eval.h5" "$d/positions.h5" > "$d/fixes/evaluate.log"
  "$H" evaluate -q -c "$C" --set evaluate.plots=false --truth-from "$d/features.h5" --force -o "$d/tracks/eval.h5" "$d/tracks.h5" > "$d/tracks/evaluate.log"
  "$PYTHON" - "$d" "${m:-config}" <<'PY'
import json, sys
d, m = sys.argv[1], sys.argv[2]
f = json.load(open(d + "/fixes/report.json")); t = json.load(open(d + "/tracks/report.json"))
g = lambda r, k, s=1: "%.0f" % (r[k] * s) if r.get(k) is not None else "-"
print("| %s | %d | %s | %s | %s %% | %s | %s | %s %% | %.2f |" % (m, f["events"], g(f, "median_m"), g(f, "p95_m"),
      g(f, "coverage_1sigma", 100), g(t, "median_m"), g(t, "p95_m"), g(t, "coverage_1sigma", 100),
      t["median_m"] / f["median_m"]))
PY
done
