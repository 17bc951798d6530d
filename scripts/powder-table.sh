#!/usr/bin/env bash
# The POWDER results table of the README: import the data set, fit and
# score each method on each honest split (leave one month / one time block
# out), print a Markdown table. Usage: scripts/powder-table.sh [RESULTS_DIR]
set -euo pipefail
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=${1:-results/powder}
C=configs/experiments/powder.yaml
mkdir -p "$D"
"$H" import powder datasets/powder/single_tx_apr_jul.csv datasets/powder/receivers.csv --force -q -o "$D/features.h5"
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
"$PY" - "$D" <<'PY'
import json, sys
d = sys.argv[1]
names = {"rss": "RSS, per-receiver offsets fitted", "knn": "weighted kNN fingerprints (k = 5)", "nn": "network (set model)"}
print("| method | split | median | p68 | p95 | inside 1σ / 2σ (39.3 / 86.5 %) |")
print("| --- | --- | --- | --- | --- | --- |")
for s in ("month", "time_block"):
    for m in ("rss", "knn", "nn"):
        r = json.load(open("%s/eval_%s_%s.report.json" % (d, m, s)))
        print("| %s | %s | %.0f m | %.0f m | %.0f m | %.1f / %.1f %% |" % (names[m], s.replace("_", " "), r["median_m"], r["p68_m"],
              r["p95_m"], 100 * r["coverage_1sigma"], 100 * r["coverage_2sigma"]))
PY
