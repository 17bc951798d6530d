#!/usr/bin/env bash
# bench mlat: heimdall's 3-D TDOA (import mlat + evaluate --method tdoa with
# configs/experiments/mlat.yaml) against the plain SciPy peer
# (bench/mlat_peer.py: least_squares per message, the barometric altitude as
# a fixed height) on the same ADS-B messages in the same run, one core each:
# speed (solver only, events/s) and the errors of both. Scored on sets 3-4;
# with per-receiver clock offsets learnt on sets 1-2 applied by both
# (heimdall: heimdall calibrate, applied with evaluate --calibration; the
# peer: its --learn-offsets, the median residual against the truth).
# make bench appends the machine to every "bench " line.
#   bench/mlat.sh [DATA_DIR]   (default: ../shared/datasets/mlat beside the repository)
set -eu
cd "$(dirname "$0")/.."
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
DATA=${1:-$(git rev-parse --show-toplevel)/../shared/datasets/mlat}
[ -r "$DATA/sensors.csv" ] || { echo "bench mlat: skipped: no data set at $DATA" >&2; exit 0; }
CFG=configs/experiments/mlat.yaml
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

# heimdall: the solver's own events/s (evaluate's latency per event, best of 3)
score() { # NAME FEATURES [EVALUATE OPTIONS] -> "eps median p68 p95 rmse cov1 cov2 located events"
    local best="" line name=$1 in=$2
    shift 2
    for _ in 1 2 3; do
        "$H" evaluate -q -c "$CFG" --method tdoa --force "$@" -o "$D/eval_$name.h5" "$in" > /dev/null 2>&1
        line=$("$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["events_per_second"], r["median_m"], r["p68_m"], r["p95_m"], r["rmse_m"], r["coverage_1sigma"], r["coverage_2sigma"], r["located"], r["events"])' "$D/eval_$name.report.json")
        if [ -z "$best" ] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a > b) }'; then best=$line; fi
    done
    echo "$best"
}
row() { # LABEL HEIMDALL_FIELDS PEER_LINE
    local label=$1 h=$2 p=$3
    local pe pm p68 p95 pr
    pe=$(echo "$p" | sed -n 's/.*events_per_s=\([0-9.]*\).*/\1/p')
    pm=$(echo "$p" | sed -n 's/.*median_m=\([0-9.]*\).*/\1/p')
    p68=$(echo "$p" | sed -n 's/.*p68_m=\([0-9.]*\).*/\1/p')
    p95=$(echo "$p" | sed -n 's/.*p95_m=\([0-9.]*\).*/\1/p')
    pr=$(echo "$p" | sed -n 's/.*rmse_m=\([0-9.]*\).*/\1/p')
    echo "$h" | awk -v l="$label" -v pe="$pe" -v pm="$pm" -v p68="$p68" -v p95="$p95" -v pr="$pr" '{
        printf "bench mlat%s: heimdall=%.0f events/s peer=%.0f events/s ratio=%.1f (solver only, one core each)\n", l, $1, pe, $1 / pe
        printf "  heimdall: %d/%d located, median %.1f m, p68 %.1f m, p95 %.1f m, rmse %.1f m, 1-sigma %.1f %%, 2-sigma %.1f %%\n", $8, $9, $2, $3, $4, $5, 100 * $6, 100 * $7
        printf "  peer:     median %.1f m, p68 %.1f m, p95 %.1f m, rmse %.1f m (scipy least_squares, barometric height fixed, no outlier handling)\n", pm, p68, p95, pr }'
}

S="$DATA/sensors.csv"
"$H" import -q mlat -c "$CFG" "$S" "$DATA/set_3.csv" "$DATA/set_4.csv" -o "$D/m34.h5"
"$H" import -q mlat -c "$CFG" "$S" "$DATA/set_1.csv" "$DATA/set_2.csv" -o "$D/m12.h5"
h34=$(score e34 "$D/m34.h5")
p34=$("$PY" bench/mlat_peer.py "$S" "$DATA/set_3.csv" "$DATA/set_4.csv")
row "" "$h34" "$p34"
h12=$(score e12 "$D/m12.h5")
p12=$("$PY" bench/mlat_peer.py "$S" "$DATA/set_1.csv" "$DATA/set_2.csv")
row " (sets 1-2, where the settings were chosen)" "$h12" "$p12"

# calibration: clock offsets learnt on sets 1-2, applied to sets 3-4 by both
"$H" calibrate -q -c "$CFG" -o "$D/calib12.h5" "$D/m12.h5" > /dev/null
"$PY" bench/mlat_peer.py --learn-offsets "$D/offsets.csv" "$S" "$DATA/set_1.csv" "$DATA/set_2.csv" > /dev/null
hc=$(score c34 "$D/m34.h5" --calibration "$D/calib12.h5")
pc=$("$PY" bench/mlat_peer.py "$S" "$DATA/set_3.csv" "$DATA/set_4.csv" --offsets "$D/offsets.csv")
row " (clock offsets learnt on sets 1-2: heimdall calibrate; the peer's own)" "$hc" "$pc"
