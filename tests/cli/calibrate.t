#!/usr/bin/env bash
# heimdall calibrate: a simulated campaign's features given deliberate
# per-receiver RSS offsets (dB) and clock offsets (ns) recovers them within
# their stated sigma; a receiver advertised 2 km from where it is is
# reported; localize/evaluate with the calibration beat them without on a
# second campaign; a receiver the calibration does not know is flagged and,
# with localize.unknown_receivers mask, masked; bad inputs refused.
. "$(dirname "$0")/lib.sh"
S="$ROOT/configs/smoke.yaml"
for s in 1 2; do
    run "$HEIMDALL" collect -q -c "$S" --set collect.events=60 --set seed=$s -o "$TMP/c$s.h5"
    run "$HEIMDALL" featurize -q -c "$S" -o "$TMP/f$s.h5" "$TMP/c$s.h5"
    is "$RC" 0 "campaign $s simulated and featurized"
done
# the offsets (mean zero: a calibration fixes differences only)
cat > "$TMP/perturb.py" <<'PY'
import sys, h5py, numpy as np, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copy(src, dst)
f = h5py.File(dst, "r+")
drss = np.array([6.0, -4.0, 0.0, 9.0, -7.0, 3.0, -7.0])
dclk = np.array([1500.0, -800.0, 0.0, 2500.0, -1200.0, 400.0, -2400.0]) * 1e-9
names = [x.decode() for x in f["feature_names"][:]]
X = f["features"][:]
for k in ("rss_dbm", "rss_dbfs"):
    X[:, :, names.index(k)] += drss
f["features"][...] = X
p = f["tdoa/pairs"][:]
D = f["tdoa/delay_s"][:]
f["tdoa/delay_s"][...] = D + dclk[p[:, 1]] - dclk[p[:, 0]]
for a in sys.argv[3:]:
    k, v = a.split("=")
    if k == "move":  # advertise receiver r v metres north of where it is
        r, m = v.split(":"); lat = f["receivers/lat"][:]; lat[int(r)] += float(m) / 111132.0; f["receivers/lat"][...] = lat
    if k == "rename":
        r, nm = v.split(":"); ids = f["receivers/id"][:]; ids[int(r)] = nm.encode(); f["receivers/id"][...] = ids
    if k == "truth" and v == "none":
        del f["truth"]
PY
for s in 1 2; do "$PYTHON" "$TMP/perturb.py" "$TMP/f$s.h5" "$TMP/p$s.h5"; done
run "$HEIMDALL" calibrate -o "$TMP/cal.h5" "$TMP/p1.h5"
is "$RC" 0 "calibrate on campaign 1"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$OUT" "calibration of 7 receivers from 60 events with truth" "the table's heading"
like "$OUT" "coazze +\+[0-9.]+ ± [0-9.]+ +[0-9]+ +\+[0-9.]+ ± [0-9.]+" "a row per receiver with sigmas"
unlike "$OUT" "DISPLACED" "no receiver flagged where none was moved"
run "$PYTHON" - "$TMP/cal.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["heimdall_format"] == "calibration"
ids = [x.decode() if isinstance(x, bytes) else x for x in f["receivers/id"][:]]
assert ids[3] == "coazze", ids
c = f["calibration"]
drss = np.array([6.0, -4.0, 0.0, 9.0, -7.0, 3.0, -7.0]); drss -= drss.mean()
dclk = np.array([1500.0, -800.0, 0.0, 2500.0, -1200.0, 400.0, -2400.0]); dclk -= dclk.mean()
z_rss = (c["rss_offset_db"][:] - drss) / c["rss_offset_sigma_db"][:]
z_clk = (c["clock_offset_ns"][:] - dclk) / c["clock_offset_sigma_ns"][:]
print("# z rss", np.round(z_rss, 2), "z clock", np.round(z_clk, 2))
assert (abs(z_rss) < 3).all() and (abs(z_clk) < 3).all(), (z_rss, z_clk)
# stated sigmas honest: not inflated to pass (the offsets are 4-9 dB, 0.4-2.5 us)
assert (c["rss_offset_sigma_db"][:] < 2.5).all() and (c["clock_offset_sigma_ns"][:] < 400).all()
assert c.attrs["n_events"] == 60 and len(c["event_index"]) == 60 and 2 < c.attrs["rss_exponent"] < 5
assert len(f["provenance/inputs"]) == 1
PY
is "$RC" 0 "RSS and clock offsets recovered within 3 stated sigma"
printf '%s\n' "$OUT" | grep '^#' || true
[ "$RC" -eq 0 ] || diag "$ERR"

# a receiver advertised 2 km north of where it is
"$PYTHON" "$TMP/perturb.py" "$TMP/f1.h5" "$TMP/m1.h5" move=3:2000
run "$HEIMDALL" calibrate -o "$TMP/calm.h5" "$TMP/m1.h5"
is "$RC" 0 "calibrate with a misplaced receiver"
like "$OUT" "coazze: its time differences put it (1[6-9][0-9][0-9]|2[0-3][0-9][0-9]) m from its advertised position \(-?[0-9]+ m east, -(1[6-9]|2[0-3])[0-9][0-9] m north\)" "reported: about 2 km, to the south"
flagged=$(printf '%s\n' "$OUT" | grep DISPLACED | awk '{print $1}' | tr '\n' ' ')
is "$flagged" "coazze " "that receiver alone is flagged DISPLACED"

# localize and evaluate on campaign 2 with the calibration beat them without
for m in rss tdoa; do
    for c in without with; do
        opt=(); [ $c = with ] && opt=(--calibration "$TMP/cal.h5")
        run "$HEIMDALL" evaluate -q --method $m "${opt[@]}" --set evaluate.plots=false -o "$TMP/e_${m}_$c.h5" "$TMP/p2.h5"
        is "$RC" 0 "evaluate --method $m $c the calibration"
    done
    w=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_${m}_with.report.json")
    wo=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_${m}_without.report.json")
    awk -v a="$w" -v b="$wo" 'BEGIN { exit !(a < 0.85 * b) }'; ok $? "$m on campaign 2: median $w m with the calibration, $wo m without"
done
# the network trained on campaign 1 with the calibration (train --calibration), scored on campaign 2 with it
for c in without with; do
    opt=(); [ $c = with ] && opt=(--calibration "$TMP/cal.h5")
    run "$HEIMDALL" train -q -c "$S" "${opt[@]}" -o "$TMP/nn_$c.h5" "$TMP/p1.h5"
    is "$RC" 0 "train $c the calibration"
    run "$HEIMDALL" evaluate -q --method nn -m "$TMP/nn_$c.h5" "${opt[@]}" --set evaluate.plots=false -o "$TMP/e_nn_$c.h5" "$TMP/p2.h5"
    is "$RC" 0 "evaluate the network $c it"
done
w=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_nn_with.report.json")
wo=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_nn_without.report.json")
awk -v a="$w" -v b="$wo" 'BEGIN { exit !(a < 0.9 * b) }'; ok $? "nn on campaign 2: median $w m trained and scored with the calibration, $wo m without"
run "$PYTHON" -c "import h5py,sys; print(len(h5py.File(sys.argv[1],'r')['provenance/inputs'][:]))" "$TMP/nn_with.h5"
is "$OUT" 2 "the calibration is an input of model.h5"
run "$PYTHON" - "$TMP/e_tdoa_with.h5" "$TMP/cal.h5" <<'PY'
import sys, h5py
lines = [x.decode() if isinstance(x, bytes) else x for x in h5py.File(sys.argv[1], "r")["provenance/inputs"][:]]
assert len(lines) == 2 and sys.argv[2] in lines[1], lines
PY
is "$RC" 0 "the calibration is an input of eval.h5"
run "$HEIMDALL" localize --method tdoa --calibration "$TMP/cal.h5" -o "$TMP/l.jsonl" "$TMP/p2.h5"
is "$RC" 0 "localize --calibration"
like "$ERR" "calibration .*cal.h5: 7 of 7 receivers calibrated" "says what it applied"
like "$ERR" "every receiver heard is calibrated" "and that nothing was left out"
run "$HEIMDALL" localize -q --method tdoa --set localize.calibration="$TMP/cal.h5" -o "$TMP/l2.jsonl" "$TMP/p2.h5"
cmp -s "$TMP/l.jsonl" "$TMP/l2.jsonl"; ok $? "localize.calibration is the same as --calibration"

# a receiver the calibration does not know
"$PYTHON" "$TMP/perturb.py" "$TMP/f2.h5" "$TMP/u2.h5" rename=3:stranger
run "$HEIMDALL" localize --method tdoa --calibration "$TMP/cal.h5" -o "$TMP/u.jsonl" "$TMP/u2.h5"
is "$RC" 0 "localize with an unknown receiver"
like "$ERR" "6 of 7 receivers calibrated; not in it: stranger \(used uncalibrated\)" "named"
like "$ERR" "calibration: [0-9]+ events heard receivers it does not know \(stranger [0-9]+\), used uncalibrated" "counted in the summary"
run "$HEIMDALL" localize --method tdoa --calibration "$TMP/cal.h5" --set localize.unknown_receivers=mask -o "$TMP/um.jsonl" "$TMP/u2.h5"
is "$RC" 0 "localize with unknown_receivers mask"
like "$ERR" "\(stranger [0-9]+\), masked" "said masked"
run "$PYTHON" - "$TMP/u.jsonl" "$TMP/um.jsonl" <<'PY'
import sys, json
use = [json.loads(l) for l in open(sys.argv[1])]
mask = [json.loads(l) for l in open(sys.argv[2])]
assert all(e.get("uncalibrated") == ["stranger"] for e in use if "stranger" in e["receivers"])
assert any("stranger" in e["receivers"] for e in use)
assert not any("stranger" in e["receivers"] for e in mask)
assert sum("uncalibrated" in e for e in mask) > 0
PY
is "$RC" 0 "flagged per event (uncalibrated), used with use, never used with mask"
[ "$RC" -eq 0 ] || diag "$ERR"

# bad inputs
"$PYTHON" "$TMP/perturb.py" "$TMP/f2.h5" "$TMP/x2.h5" rename=0:x0 rename=1:x1 rename=2:x2 rename=3:x3 rename=4:x4 rename=5:x5 rename=6:x6
run "$HEIMDALL" localize -q --calibration "$TMP/cal.h5" -o "$TMP/x.jsonl" "$TMP/x2.h5"
is "$RC" 2 "a calibration of another network is exit 2"
like "$ERR" "calibrates none of this network's 7 receivers" "with a clear message"
[ ! -e "$TMP/x.jsonl" ]; ok $? "nothing written"
"$PYTHON" "$TMP/perturb.py" "$TMP/f1.h5" "$TMP/n1.h5" truth=none
run "$HEIMDALL" calibrate -o "$TMP/n.h5" "$TMP/p1.h5" "$TMP/n1.h5"
is "$RC" 2 "a features file without truth is exit 2"
like "$ERR" "n1.h5 has no /truth" "and named"
[ ! -e "$TMP/n.h5" ]; ok $? "nothing written"
run "$HEIMDALL" evaluate -q --method tdoa --calibration "$TMP/cal.h5" --set evaluate.plots=false -o "$TMP/x.h5" "$TMP/x2.h5"
is "$RC" 2 "evaluate with a calibration of another network is exit 2"
like "$ERR" "calibrates none of this network's 7 receivers" "with the same message"
[ ! -e "$TMP/x.h5" ] && [ ! -e "$TMP/x.report.json" ]; ok $? "nothing written"
run "$HEIMDALL" train --method knn -q -o "$TMP/knn1.h5" "$TMP/p1.h5"
is "$RC" 0 "a kNN model of campaign 1"
run "$HEIMDALL" evaluate -q --method knn -m "$TMP/knn1.h5" --set evaluate.plots=false -o "$TMP/xk.h5" "$TMP/x2.h5"
is "$RC" 2 "a kNN model of another network is exit 2"
like "$ERR" "knows none of the receivers of this file: a model of another network" "and says so"
[ ! -e "$TMP/xk.h5" ]; ok $? "nothing written"
run "$HEIMDALL" train --method knn -q -o "$TMP/knn_n.h5" "$TMP/n1.h5"
is "$RC" 1 "train --method knn on a file without truth fails"
like "$ERR" "n1.h5 has no /truth" "and names it"
[ ! -e "$TMP/knn_n.h5" ]; ok $? "nothing written"

# known sources: campaign 1 without /truth, its transmitters' positions in a
# table by frequency, learns what campaign 1 with /truth learns
"$PYTHON" - "$TMP/p1.h5" "$TMP/ks1.h5" "$TMP/ks.csv" <<'PY'
import sys, h5py, numpy as np, shutil
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+")
lat, lon, alt = f["truth/tx_lat"][:], f["truth/tx_lon"][:], f["truth/tx_alt_m"][:] if "tx_alt_m" in f["truth"] else np.zeros(len(f["truth/tx_lat"]))
# every event its own channel: a source per event, 25 kHz apart
fr = 145.0e6 + 25e3 * np.arange(len(lat))
f["events/frequency_hz"][...] = fr
del f["truth"]
with open(sys.argv[3], "w") as o:
    o.write("# transmitters of campaign 1\nid,lat,lon,alt,frequency\n")
    for i in range(len(lat)):
        o.write("tx%d,%.9f,%.9f,%.1f,%.1f\n" % (i, lat[i], lon[i], alt[i] if np.isfinite(alt[i]) else 0, fr[i]))
PY
run "$HEIMDALL" calibrate --known-sources "$TMP/ks.csv" -o "$TMP/calks.h5" "$TMP/ks1.h5"
is "$RC" 0 "calibrate a file without truth by --known-sources"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$OUT" "from 60 events with truth \(60 with RSS, [0-9]+ with time differences, 60 of them by known sources\)" "every event positioned by its source"
run "$PYTHON" - "$TMP/cal.h5" "$TMP/calks.h5" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(x, "r")["calibration"] for x in sys.argv[1:3])
assert np.allclose(a["rss_offset_db"][:], b["rss_offset_db"][:], atol=1e-6)
assert np.allclose(a["clock_offset_ns"][:], b["clock_offset_ns"][:], atol=1e-3)
assert b.attrs["n_events_known"] == 60 and a.attrs["n_events_known"] == 0
PY
is "$RC" 0 "the same offsets as from /truth"
[ "$RC" -eq 0 ] || diag "$ERR"
bad() { # NAME SED-EXPR EXPECTED-MESSAGE
    sed "$2" "$TMP/ks.csv" > "$TMP/$1.csv"
    run "$HEIMDALL" calibrate --known-sources "$TMP/$1.csv" -o "$TMP/$1.h5" "$TMP/ks1.h5"
    is "$RC" 2 "known sources, $1: exit 2"
    like "$ERR" "$3" "named with its file and line"
    [ ! -e "$TMP/$1.h5" ]; ok $? "nothing written"
}
bad short '5s/,[^,]*$//' "short.csv:5: 4 fields, expected 5 \(id,lat,lon,alt,frequency\)"
bad nan '4s/^tx1,[^,]*,/tx1,north,/' "nan.csv:4: lat 'north' is not a number"
bad range '6s/^tx3,[^,]*,/tx3,95.0,/' "range.csv:6: lat is outside \[-90, 90\]"
bad dup '7s/^tx4,/tx0,/' "dup.csv:7: id 'tx0' is listed twice"
bad header '2s/frequency/freq/' "header.csv:2: the header must be id,lat,lon,alt,frequency"
bad freq '5s/,[^,]*$/,145000500.0/' "freq.csv:5: 'tx2' is within 2000 Hz of 'tx0'"
run "$HEIMDALL" calibrate --known-sources "$TMP/nosuch.csv" -o "$TMP/nosuch.h5" "$TMP/ks1.h5"
is "$RC" 2 "a missing table is exit 2"
grep -v '^tx' "$TMP/ks.csv" > "$TMP/none.csv"; echo "far,45.0,8.0,0,433000000" >> "$TMP/none.csv"
run "$HEIMDALL" calibrate --known-sources "$TMP/none.csv" -o "$TMP/none.h5" "$TMP/ks1.h5"
is "$RC" 2 "no event on a known source's frequency is exit 2"
like "$ERR" "ks1.h5 has no /truth and no event on a known source's frequency" "and says so"
[ ! -e "$TMP/none.h5" ]; ok $? "nothing written"
run "$HEIMDALL" calibrate -o "$TMP/nk.h5" "$TMP/ks1.h5"
like "$ERR" "or give their positions: --known-sources FILE" "without a table, the refusal says what would help"
run "$HEIMDALL" localize --known-sources "$TMP/ks.csv" -o "$TMP/y.jsonl" "$TMP/p2.h5"
is "$RC" 2 "--known-sources is calibrate's alone"
run "$HEIMDALL" calibrate -o "$TMP/cal.h5" "$TMP/p1.h5"
is "$RC" 2 "an existing output without --force"
run "$HEIMDALL" calibrate "$TMP/p1.h5"
is "$RC" 2 "no -o is a usage error"
run "$HEIMDALL" calibrate -o "$TMP/z.h5"
is "$RC" 2 "no input is a usage error"
run "$HEIMDALL" localize -q --calibration "$TMP/c1.h5" -o "$TMP/y.jsonl" "$TMP/p2.h5"
[ "$RC" -ne 0 ]; ok $? "a captures file is no calibration"
like "$ERR" "not a heimdall calibration file" "and says so"
run "$HEIMDALL" evaluate -q --method rss --calibration "$TMP/cal.h5" --set evaluate.split=month -o "$TMP/y.h5" "$TMP/p2.h5"
is "$RC" 2 "a calibration with evaluate.split is refused"
like "$ERR" "fitted elsewhere" "with the reason"
run "$HEIMDALL" localize -q --calibration "$TMP/cal.h5" --set localize.unknown_receivers=drop -o "$TMP/y.jsonl" "$TMP/p2.h5"
is "$RC" 2 "unknown_receivers takes use or mask"
done_testing
