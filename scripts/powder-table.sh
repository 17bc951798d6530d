#!/usr/bin/env bash
# The POWDER results tables of the README: import the data set, fit and
# score each method on each honest split (leave one month / one time block
# out), with a row per held-out group; then fit on one month and locate
# another through saved fits only (calibrate → calib.h5, train --method knn
# → a kNN model, train → the network), no concatenation, no split. Prints
# Markdown tables. Usage: scripts/powder-table.sh [RESULTS_DIR]
set -euo pipefail
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=${1:-results/powder}
C=configs/experiments/powder.yaml
CSV=datasets/powder/single_tx_apr_jul.csv
RX=datasets/powder/receivers.csv
mkdir -p "$D"
"$H" import powder "$CSV" "$RX" --force -q -o "$D/features.h5"
for s in month time_block; do
    groups=$("$PY" -c "import h5py,sys; print(' '.join(str(g) for g in sorted(set(h5py.File(sys.argv[1])['splits/$s'][:]))))" "$D/features.h5")
    for g in $groups; do   # the network: one model per held-out group
        "$H" train -q --force -c "$C" --set train.exclude_split=$s --set train.exclude_group=$g -o "$D/model_${s}_$g.h5" "$D/features.h5"
    done
    for m in rss knn nn; do
        extra=()
        [ $m = nn ] && extra=(-m "$D/model_${s}_%d.h5")
        "$H" evaluate -q --force -c "$C" --method $m --set evaluate.split=$s "${extra[@]}" -o "$D/eval_${m}_$s.h5" "$D/features.h5" >/dev/null
    done
done
# fit once, apply later: a file per month, each fitted alone and applied to the others
months=$(awk -F, 'NR > 1 { print substr($1, 1, 7) }' "$CSV" | sort -u)
for ym in $months; do
    { head -1 "$CSV"; grep "^$ym" "$CSV"; } > "$D/month_$ym.csv"
    "$H" import powder "$D/month_$ym.csv" "$RX" --force -q -o "$D/month_$ym.h5"
    "$H" calibrate -q --force -c "$C" -o "$D/calib_$ym.h5" "$D/month_$ym.h5" >/dev/null
    "$H" train -q --force -c "$C" --method knn -o "$D/knn_$ym.h5" "$D/month_$ym.h5"
    "$H" train -q --force -c "$C" -o "$D/nn_$ym.h5" "$D/month_$ym.h5"
done
pairs=""
for a in $months; do
    for b in $months; do
        [ "$a" = "$b" ] && continue
        pairs="$pairs $a:$b"
        for m in rss knn nn; do
            case $m in
                rss) fit=(--calibration "$D/calib_$a.h5") ;;
                knn) fit=(-m "$D/knn_$a.h5") ;;
                nn) fit=(-m "$D/nn_$a.h5") ;;
            esac
            "$H" evaluate -q --force -c "$C" --set evaluate.split=none --set evaluate.plots=false --method $m "${fit[@]}" \
                -o "$D/apply_${m}_${a}_$b.h5" "$D/month_$b.h5" >/dev/null
        done
    done
done
"$PY" - "$D" $pairs <<'PY'
import json, sys
d, pairs = sys.argv[1], [p.split(":") for p in sys.argv[2:]]
names = {"rss": "RSS, per-receiver offsets fitted", "knn": "weighted kNN fingerprints (k = 5)", "nn": "network (set model)"}
row = lambda r: "%.0f m | %.0f m | %.0f m | %.1f / %.1f %%" % (r["median_m"], r["p68_m"], r["p95_m"],
                                                             100 * r["coverage_1sigma"], 100 * r["coverage_2sigma"])
print("| method | split | median | p68 | p95 | inside 1σ / 2σ (39.3 / 86.5 %) |")
print("| --- | --- | --- | --- | --- | --- |")
for s in ("month", "time_block"):
    for m in ("rss", "knn", "nn"):
        r = json.load(open("%s/eval_%s_%s.report.json" % (d, m, s)))
        print("| %s | %s | %s |" % (names[m], s.replace("_", " "), row(r)))
print()
print("Each group held out in turn, located by the method fitted on the others:")
print()
print("| method | held out | events | median | p68 | p95 | inside 1σ / 2σ |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for s in ("month", "time_block"):
    for m in ("rss", "knn", "nn"):
        for g in json.load(open("%s/eval_%s_%s.report.json" % (d, m, s)))["by_group"]:
            print("| %s | %s | %d | %s |" % (m, g["group"].replace("_", " "), g["n"], row(g)))
print()
print("Fitted on one month alone (calibrate, train --method knn, train), applied to another month's file:")
print()
print("| method | fitted on | located | events | median | p68 | p95 | inside 1σ / 2σ |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for a, b in pairs:
    for m in ("rss", "knn", "nn"):
        r = json.load(open("%s/apply_%s_%s_%s.report.json" % (d, m, a, b)))
        print("| %s | %s | %s | %d | %s |" % (names[m], a, b, r["events"], row(r)))
PY
