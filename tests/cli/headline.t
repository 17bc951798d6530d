#!/usr/bin/env bash
# The headline counts of evaluate and localize add up to the events and
# agree with eval.h5's status, for every classical method (a campaign whose
# transmitters are drawn far outside the network, so that some fits leave
# the region and some geometries fix no position); eval.h5 stores counts as
# integers.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=60 --set collect.simulate.margin_km=60 -o "$TMP/c.h5"
is "$RC" 0 "a campaign"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "featurized"
for m in tdoa hybrid rss; do
    run "$HEIMDALL" evaluate -c "$cfg" --method $m --set evaluate.plots=false -o "$TMP/e_$m.h5" "$TMP/f.h5"
    is "$RC" 0 "evaluate $m"
    head=$(printf '%s\n' "$OUT" | head -n 1)
    run "$HEIMDALL" localize -c "$cfg" --method $m -o "$TMP/p_$m.geojson" "$TMP/f.h5"
    loc=$(printf '%s\n' "$ERR" | grep "events by $m")
    run "$PYTHON" - "$TMP/e_$m.h5" "$head" "$loc" <<'PY'
import re, sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
st = f["status"][:]
n = len(st)
want = [int((st == 0).sum() + (st == 3).sum()), int((st == 0).sum()), int((st == 3).sum()),
        int((st == 1).sum()), int((st == 2).sum()), int((st == 4).sum())]
pat = (r"(\d+) located \((\d+) inside the region, (\d+) outside it\), (\d+) not enough receivers, "
       r"(\d+) no convergence, (\d+) where the receivers' geometry fixes no position")
for line in sys.argv[2:4]:
    m = re.search(pat, line)
    assert m, line
    got = [int(x) for x in m.groups()]
    assert got == want, (line, want)
    assert got[0] + got[3] + got[4] + got[5] == n, (got, n)
    assert str(n) + " events" in line, line
# counts are integers in the file, not float64
for k in ("n_receivers", "n_timed"):
    assert f[k].dtype.kind == "i", (k, f[k].dtype)
for k in ("n", "located"):
    assert isinstance(f.attrs[k], (np.integer, int)), (k, type(f.attrs[k]))
    assert f["breakdown/snr/" + k].dtype.kind == "i"
assert f.attrs["n"] == n
PY
    is "$RC" 0 "$m: evaluate's and localize's counts add up to the events and match eval.h5"
    [ "$RC" -eq 0 ] || diag "$ERR"
done

# several methods on the same events: each alone, then one table on the
# events every method located
mkdir -p "$TMP/cmp"
run "$HEIMDALL" evaluate -c "$cfg" --method tdoa,hybrid,rss -o "$TMP/cmp/eval.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate --method tdoa,hybrid,rss"
like "$OUT" "the same [0-9]+ events \(located by every method, of 60\)" "says on how many events they are compared"
like "$OUT" "hybrid +[0-9]+ \| +[0-9]+ " "one table, a row per method"
run "$PYTHON" - "$TMP/cmp" <<'PY'
import sys, json, h5py, numpy as np
d = sys.argv[1]
c = h5py.File(d + "/eval.h5", "r")
assert c.attrs["heimdall_format"] in ("comparison", b"comparison")
common = c["compare/common"][:].astype(bool)
r = json.load(open(d + "/report.json"))
assert r["events_every_method_located"] == common.sum() and [m["method"] for m in r["methods"]] == ["tdoa", "hybrid", "rss"]
for k, m in enumerate(["tdoa", "hybrid", "rss"]):
    e = h5py.File(d + "/eval_%s.h5" % m, "r")
    st = e["status"][:]
    located = (st == 0) | (st == 3)
    assert not (common & ~located).any(), m          # common events are located by every method
    med = np.median(e["error_m"][:][common])
    assert abs(c["compare/same_events/median_m"][k] - med) < 1e-6 * max(med, 1), (m, med)
    assert abs(r["methods"][k]["alone"]["median_m"] - e.attrs["median_m"]) < 1e-6 * e.attrs["median_m"]
PY
is "$RC" 0 "the same-event medians are each method's errors on exactly the events all located"
[ "$RC" -eq 0 ] || diag "$ERR"
for f in eval_cdf.png eval_map.sh eval_tdoa.h5 eval_hybrid_map.sh eval_rss.report.json; do
    [ -s "$TMP/cmp/$f" ]; ok $? "cmp/$f"
done
run "$HEIMDALL" evaluate -q -c "$cfg" --method tdoa,tdoa -o "$TMP/cmp2.h5" "$TMP/f.h5"
is "$RC" 2 "a method listed twice is refused"
done_testing
