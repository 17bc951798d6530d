#!/usr/bin/env bash
# import mlat: the LocaRDS sensors and message files into a features file
# (receivers that occur, /toa arrival times, /tdoa pairs, /obs altitude,
# /truth, aircraft); malformed rows and unknown receivers refused with
# file:line; evaluate --method tdoa in 3-D with its GDOP breakdown.
. "$(dirname "$0")/lib.sh"
DATA=${HEIMDALL_MLAT_DATA:-$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat}
[ -r "$DATA/sensors.csv" ] || skip_all "no ADS-B data set at $DATA (../shared/datasets/mlat beside the repository)"
CFG="$ROOT/configs/experiments/mlat.yaml"

head -81 "$DATA/set_3.csv" > "$TMP/m.csv"       # the header and 80 messages
run "$HEIMDALL" import mlat -c "$CFG" "$DATA/sensors.csv" "$TMP/m.csv" -o "$TMP/m.h5"
is "$RC" 0 "import mlat"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "wrote 80 messages × [0-9]+ receivers \(of 716" "counts: 80 messages, the receivers that occur of 716"
run "$PYTHON" - "$TMP/m.h5" "$TMP/m.csv" "$DATA/sensors.csv" <<'PY'
import sys, csv, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["heimdall_format"] == "features"
rows = list(csv.DictReader(open(sys.argv[2])))
sens = {r["serial"]: r for r in csv.DictReader(open(sys.argv[3]))}
ids = [x.decode() if isinstance(x, bytes) else x for x in f["receivers/id"][:]]
occur = []
for r in rows:
    for s, _, _ in json.loads(r["measurements"]):
        if str(s) not in occur:
            occur.append(str(s))
assert ids == occur, (ids, occur)
assert abs(f["receivers/lat"][0] - float(sens[ids[0]]["latitude"])) < 1e-12
T, M = f["toa/time_ns"][:], f["toa/mask"][:].astype(bool)
assert T.dtype == np.int64 and M.sum(axis=1).tolist() == [5] * 80
pairs = f["tdoa/pairs"][:]
for e in (0, 41, 79):
    m = json.loads(rows[e]["measurements"])
    for s, t, _ in m:
        assert T[e, ids.index(str(s))] == t
    (s0, t0, _), (s1, t1, _) = m[0], m[1]
    i, j = sorted((ids.index(str(s0)), ids.index(str(s1))))
    p = [k for k, (a, b) in enumerate(pairs) if a == i and b == j][0]
    want = (T[e, j] - T[e, i]) * 1e-9
    assert abs(f["tdoa/delay_s"][e, p] - want) < 1e-15 and f["tdoa/mask"][e, p] == 1
    assert abs(f["obs/alt_m"][e] - float(rows[e]["baroAltitude"])) < 1e-9
    assert abs(f["truth/tx_alt_m"][e] - float(rows[e]["geoAltitude"])) < 1e-9
    assert abs(f["truth/tx_lat"][e] - float(rows[e]["latitude"])) < 1e-12
    assert f["events/aircraft"][e] == int(rows[e]["aircraft"]) and f["events/message_id"][e] == int(rows[e]["id"])
    assert f["events/time_ns"][e] == round(float(rows[e]["timeAtServer"]) * 1e9)
assert (f["tdoa/mask"][:].sum(axis=1) == 10).all()
assert (f["obs/alt_sigma_m"][:] == 120).all()
PY
is "$RC" 0 "receivers in order of appearance; arrival times, pair differences, altitude, truth, aircraft as in the CSV"
[ "$RC" -eq 0 ] || diag "$ERR"

run "$HEIMDALL" evaluate -c "$CFG" --method tdoa -o "$TMP/e.h5" "$TMP/m.h5"
is "$RC" 0 "evaluate --method tdoa on the imported file"
like "$OUT" "80 events: 80 located" "every message located"
like "$OUT" "by GDOP \\(median / p95 m, events located\\): " "the GDOP breakdown on stdout"
like "$OUT" "by receivers used \\(median / p95 m, events located\\): " "the receivers breakdown on stdout"
like "$OUT" "timing outliers: [0-9]+ events located with a receiver rejected" "the events located without a rejected receiver"
printf '%s\n' "$OUT" | grep -E "by GDOP|by receivers" > "$TMP/lines.txt"
run "$PYTHON" - "$TMP/e.report.json" "$TMP/e.h5" "$TMP/lines.txt" <<'PY'
import sys, json, h5py, numpy as np
r = json.load(open(sys.argv[1]))
assert r["median_m"] < 150, r["median_m"]
assert r["by_receivers"] and r["n"] == 80
g = r["by_gdop"]
assert [x["group"] for x in g] == ["0 <= gdop < 1", "1 <= gdop < 1.5", "1.5 <= gdop < 2", "2 <= gdop < 3",
                                   "3 <= gdop < 5", "gdop >= 5"], g
assert sum(x["n"] for x in g) == 80 and sum(x["located"] for x in g) == 80
f = h5py.File(sys.argv[2], "r")
gd, st = f["gdop"][:], f["status"][:]
err = f["error_m"][:]
tab = f["breakdown/gdop"]
for k, x in enumerate(g):
    lo, hi = x["gdop_min"], x["gdop_max"] if x["gdop_max"] is not None else np.inf
    sel = (gd >= lo) & (gd < hi)
    assert tab["n"][k] == sel.sum() == x["n"], (k, tab["n"][k], sel.sum())
    if sel.sum():
        assert abs(np.median(err[sel]) - tab["median_m"][k]) < 1e-6 and abs(x["median_m"] - tab["median_m"][k]) < 1e-4
nr = f["n_receivers"][:]
rt = f["breakdown/receivers"]
for k, x in enumerate(r["by_receivers"]):
    assert rt["n"][k] == (nr == x["receivers"]).sum() == x["n"]
assert int(f.attrs["located_with_rejected_receiver"]) == r["located_with_rejected_receiver"]
lines = open(sys.argv[3]).read()
for x in g:
    if x["located"]:
        want = "%s: %.0f / %.0f (%d)" % (x["group"], x["median_m"], x["p95_m"], x["located"])
        assert want in lines, (want, lines)
PY
is "$RC" 0 "report: median under 150 m; by_gdop and by_receivers in report.json, eval.h5 and the printed lines agree with the events"
[ "$RC" -eq 0 ] || diag "$ERR"

# clock offsets through heimdall calibrate: learnt on sets 1-2 (3-D: each
# message's GNSS altitude as the truth's height, the solver's refractivity),
# applied by receiver id on sets 3-4, which they were not learnt on
run "$HEIMDALL" import -q mlat -c "$CFG" "$DATA/sensors.csv" "$DATA/set_1.csv" "$DATA/set_2.csv" -o "$TMP/m12.h5"
is "$RC" 0 "import sets 1-2"
run "$HEIMDALL" import -q mlat -c "$CFG" "$DATA/sensors.csv" "$DATA/set_3.csv" "$DATA/set_4.csv" -o "$TMP/m34.h5"
is "$RC" 0 "import sets 3-4"
run "$HEIMDALL" calibrate -q -c "$CFG" -o "$TMP/calib12.h5" "$TMP/m12.h5"
is "$RC" 0 "calibrate on sets 1-2"
like "$OUT" "from 660 events with truth \\([0-9]+ with RSS, 660 with time differences\\)" "every message of sets 1-2 timed"
run "$HEIMDALL" evaluate -q -c "$CFG" --method tdoa -o "$TMP/e34.h5" "$TMP/m34.h5"
is "$RC" 0 "evaluate sets 3-4 without calibration"
run "$HEIMDALL" evaluate -c "$CFG" --method tdoa --calibration "$TMP/calib12.h5" -o "$TMP/e34c.h5" "$TMP/m34.h5"
is "$RC" 0 "evaluate sets 3-4 with the calibration of sets 1-2"
like "$ERR" "calibration .*calib12.h5: 22 of 24 receivers calibrated" "the calibration applied by receiver id"
run "$PYTHON" - "$TMP/e34.report.json" "$TMP/e34c.report.json" "$TMP/calib12.h5" <<'PY'
import sys, json, h5py, numpy as np
a, b = (json.load(open(p)) for p in sys.argv[1:3])
assert a["located"] == b["located"] == 487, (a["located"], b["located"])
print("# median %.1f -> %.1f m, p68 %.1f -> %.1f m" % (a["median_m"], b["median_m"], a["p68_m"], b["p68_m"]))
assert b["median_m"] < a["median_m"] - 3, (a["median_m"], b["median_m"])
assert b["p68_m"] < a["p68_m"], (a["p68_m"], b["p68_m"])
c = h5py.File(sys.argv[3], "r")["calibration"]
off, sig = c["clock_offset_ns"][:], c["clock_offset_sigma_ns"][:]
k = np.isfinite(off)
assert k.sum() >= 18 and (np.abs(off[k] - np.median(off[k])) < 400).all() and (sig[k] < 50).all(), (off, sig)
PY
is "$RC" 0 "calibrated on sets 1-2: sets 3-4's median at least 3 m and p68 better than without; offsets within 400 ns of their median (only differences matter), sigma under 50 ns"
[ "$RC" -eq 0 ] || diag "$ERR"
printf '%s\n' "$OUT" | grep '^#' | while read -r l; do diag "${l#\# }"; done

{ head -3 "$TMP/m.csv"; echo '9,1.0,5,48.1,ten,9000,8950,2,"[[10,1,5],[147,2,6]]"'; } > "$TMP/bad.csv"
run "$HEIMDALL" import mlat "$DATA/sensors.csv" "$TMP/bad.csv" -o "$TMP/bad.h5"
is "$RC" 1 "a malformed row: exit 1"
like "$ERR" "bad.csv:4: longitude" "named by file:line and column"
[ ! -e "$TMP/bad.h5" ]; ok $? "no output left behind"
{ head -2 "$TMP/m.csv"; echo '9,1.0,5,48.1,10.0,9000,8950,2,"[[10,1,5],[987654,2,6]]"'; } > "$TMP/unk.csv"
run "$HEIMDALL" import mlat "$DATA/sensors.csv" "$TMP/unk.csv" -o "$TMP/unk.h5"
is "$RC" 1 "a message naming a receiver not in the sensors file: refused"
like "$ERR" "unk.csv:3: message 9 names receiver 987654" "named by file:line and receiver"
run "$HEIMDALL" import mlat "$DATA/sensors.csv" -o "$TMP/x.h5"
like "$ERR" "needs SENSORS.csv and at least one MESSAGES.csv" "no message file: usage error"
done_testing
