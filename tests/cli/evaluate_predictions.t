#!/usr/bin/env bash
# evaluate --truth-from FEATURES PREDICTIONS: any predictions file scored
# against a features file's truth (issue 17: fit elsewhere, score here;
# issue 19: tracks scored as fixes are). localize's positions.h5 and JSON
# lines give exactly what evaluate gives locating the file itself; POWDER's
# tracks (real data) are scored like the fixes they came from; bad input.
. "$(dirname "$0")/lib.sh"
H=$HEIMDALL
run "$H" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.events=60 -o "$TMP/c.h5"
run "$H" featurize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "a simulated campaign featurized"
run "$H" evaluate -c "$ROOT/configs/smoke.yaml" --set evaluate.plots=false -o "$TMP/direct.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate locating the file itself"
run "$H" localize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/pos.h5" "$TMP/f.h5"
run "$H" localize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/pos.jsonl" "$TMP/f.h5"
run "$H" evaluate -c "$ROOT/configs/smoke.yaml" --set evaluate.plots=false --truth-from "$TMP/f.h5" -o "$TMP/p.h5" "$TMP/pos.h5"
is "$RC" 0 "evaluate --truth-from a positions file"
like "$OUT" "evaluate positions of tdoa on .*pos.h5" "the headline names what was scored"
run "$H" evaluate -c "$ROOT/configs/smoke.yaml" --set evaluate.plots=false --truth-from "$TMP/f.h5" -o "$TMP/j.h5" "$TMP/pos.jsonl"
is "$RC" 0 "and JSON lines"
"$PYTHON" - "$TMP/direct.report.json" "$TMP/p.report.json" "$TMP/j.report.json" >"$TMP/cmp.out" <<'PY'
import json, sys
d, p, j = (json.load(open(x)) for x in sys.argv[1:])
keys = ["median_m", "p68_m", "p95_m", "rmse_m", "bias_east_m", "bias_north_m", "coverage_1sigma", "coverage_2sigma", "mean_nll"]
def get(r, nd):
    a = r.get("all", r)
    return [round(a[k], nd) if isinstance(a.get(k), float) else a.get(k) for k in keys]
print("ok" if get(d, 6) == get(p, 6) else "not ok", "- positions.h5 scored as evaluate scores the file itself (%s)" % get(p, 2))
print("ok" if get(d, 2) == get(j, 2) else "not ok", "- JSON lines too, to a centimetre (their coordinates have 8 decimals)")
PY
while read -r w rest; do [ "$w" = ok ] && ok 0 "${rest#- }" || ok 1 "${rest#- }"; done <"$TMP/cmp.out"

# real data: POWDER's RSS fixes (time-block split) and their tracks, scored the same way
D="$ROOT/datasets/powder" C="$ROOT/configs/experiments/powder.yaml"
run "$H" import powder -q "$D/single_tx_apr_jul.csv" "$D/receivers.csv" -o "$TMP/pw.h5"
run "$H" evaluate -c "$C" --method rss --set evaluate.plots=false -o "$TMP/pe.h5" "$TMP/pw.h5"
is "$RC" 0 "POWDER fixes evaluated"
run "$H" track -q -c "$C" --set track.fix_error_tau_s=40 -o "$TMP/tr.h5" "$TMP/pe.h5"
is "$RC" 0 "and tracked"
run "$H" evaluate -c "$C" --set evaluate.plots=false --truth-from "$TMP/pw.h5" -o "$TMP/te.h5" "$TMP/tr.h5"
is "$RC" 0 "the tracks scored by evaluate"
like "$OUT" "evaluate tracks on .*tr.h5 \(no split\): 4655 events: 4655 located" "every event has a smoothed state"
run "$H" evaluate -c "$C" --set evaluate.plots=false --truth-from "$TMP/pw.h5" -o "$TMP/fe.h5" "$TMP/pe.h5"
is "$RC" 0 "the fixes' eval.h5 scored again from the file"
"$PYTHON" - "$TMP/pe.report.json" "$TMP/fe.report.json" "$TMP/te.report.json" >"$TMP/cmp2.out" <<'PY'
import json, sys
a, b, t = (json.load(open(x)) for x in sys.argv[1:])
m = lambda r: r.get("all", r)
print("ok" if abs(m(a)["median_m"] - m(b)["median_m"]) < 1e-6 else "not ok",
      "- the fixes rescored: median %.1f m as evaluated (%.1f m)" % (m(b)["median_m"], m(a)["median_m"]))
print("ok" if m(t)["median_m"] < 0.85 * m(a)["median_m"] else "not ok",
      "- tracks %.0f m against fixes %.0f m (median)" % (m(t)["median_m"], m(a)["median_m"]))
print("ok" if abs(m(t)["coverage_2sigma"] - 0.865) < 0.05 else "not ok",
      "- the tracks' 2-sigma coverage %.1f %% (nominal 86.5)" % (100 * m(t)["coverage_2sigma"]))
PY
while read -r w rest; do [ "$w" = ok ] && ok 0 "${rest#- }" || ok 1 "${rest#- }"; done <"$TMP/cmp2.out"

# bad input
run "$H" evaluate --truth-from "$TMP/f.h5" --method rss -o "$TMP/x.h5" "$TMP/pos.h5"
is "$RC" 2 "--truth-from with --method: exit 2"
like "$ERR" "no --method, -m or --calibration with it" "said why"
run "$H" evaluate --truth-from "$TMP/c.h5" -o "$TMP/x.h5" "$TMP/pos.h5"
ok $((RC == 0)) "a captures file as the truth: refused (exit $RC)"
run "$H" evaluate --truth-from "$TMP/f.h5" -o "$TMP/x.h5" "$TMP/c.h5"
ok $((RC == 0)) "a captures file as the predictions: refused (exit $RC)"
like "$ERR" "positions .*JSON lines.*evaluation file.*tracks" "naming what is read"
run test -e "$TMP/x.h5"
is "$RC" 1 "nothing written"
done_testing
