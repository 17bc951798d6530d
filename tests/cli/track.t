#!/usr/bin/env bash
# heimdall track: the shipped POWDER walks (time-block split RSS fixes from
# evaluate) tracked and scored: the smoothed tracks' median error below the
# fixes'; every output kind; bad input (out of order, duplicated times, a
# NaN covariance, a single event, wrong files) handled with clear messages.
. "$(dirname "$0")/lib.sh"

# ---- small JSON-lines inputs ------------------------------------------------
"$PYTHON" - "$TMP" <<'PY'
import json, math, sys, random
d = sys.argv[1]
random.seed(3)
def line(ev, t, lat, lon, cov=(400.0, 0.0, 400.0), nu=0):
    o = {"event": ev, "time": "2022-07-06T09:%02d:%02d.000000000Z" % (t // 60, t % 60), "frequency_hz": 462.7e6,
         "status": "ok", "lat": lat, "lon": lon, "cov_enu_m2": list(cov), "nu": nu}
    return o
rows = []
for k in range(40):  # a walk north at 1.5 m/s, fixes every 4 s with 20 m noise
    n = 6.0 * k + random.gauss(0, 20); e = random.gauss(0, 20)
    rows.append(line(k, 4 * k, 40.76 + n / 111000, -111.84 + e / 84000))
with open(d + "/walk-fixes.jsonl", "w") as f:
    for o in rows: f.write(json.dumps(o) + "\n")
with open(d + "/reversed-fixes.jsonl", "w") as f:
    for o in reversed(rows): f.write(json.dumps(o) + "\n")
bad = [dict(o) for o in rows]
bad[5]["cov_enu_m2"] = [None, 0, 400]           # a NaN (localize writes null)
bad.append(dict(rows[10], event=100))           # an exact duplicate (same time and position)
bad[7]["lat"] = rows[7]["lat"] + 0.05           # 5.5 km off: an outlier
del bad[8]["lat"]; del bad[8]["lon"]; bad[8]["status"] = "not enough receivers"
with open(d + "/bad-fixes.jsonl", "w") as f:
    for o in bad: f.write(json.dumps(o) + "\n")
with open(d + "/one-fixes.jsonl", "w") as f:
    f.write(json.dumps(rows[0]) + "\n")
with open(d + "/garbage-fixes.jsonl", "w") as f:
    f.write(json.dumps(rows[0]) + "\n{not json\n")
PY

run "$HEIMDALL" track -o "$TMP/walk.geojson" "$TMP/walk-fixes.jsonl"
is "$RC" 0 "track a JSON-lines walk"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "40 events in 1 tracks" "one track of 40 events"
run "$PYTHON" - "$TMP" <<'PY'
import json, sys, math
import xml.etree.ElementTree as ET
d = sys.argv[1]
g = json.load(open(d + "/walk.geojson"))
kinds = [f["properties"]["kind"] for f in g["features"]]
assert kinds.count("track") == 1 and kinds.count("state") == 40 and kinds.count("ellipse_68") == 40, kinds[:5]
tr = [f for f in g["features"] if f["properties"]["kind"] == "track"][0]
assert tr["geometry"]["type"] == "LineString" and len(tr["geometry"]["coordinates"]) == 40
st = [f for f in g["features"] if f["properties"]["kind"] == "state"]
sp = [f["properties"]["speed_mps"] for f in st]
assert all(math.isfinite(s) for s in sp) and 0.8 < sorted(sp)[20] < 2.2, sp   # walking at 1.5 m/s
el = [f for f in g["features"] if f["properties"]["kind"] == "ellipse_68"][0]
ring = el["geometry"]["coordinates"][0]
assert ring[0] == ring[-1] and len(ring) == 73
assert st[0]["properties"]["time"].startswith("2022-07-06T09:00:00")
k = ET.parse(d + "/walk.kml").getroot()
ns = {"k": "http://www.opengis.net/kml/2.2", "gx": "http://www.google.com/kml/ext/2.2"}
t = k.findall(".//gx:Track", ns)
assert len(t) == 1 and len(t[0].findall("k:when", ns)) == 40 and len(t[0].findall("gx:coord", ns)) == 40
assert len(k.findall(".//k:Placemark/k:TimeStamp", ns)) == 40
PY
is "$RC" 0 "GeoJSON: a LineString, 40 states with speed and time, closed 68 % rings; KML: gx:Track with 40 when/coord, TimeStamps"
[ "$RC" -eq 0 ] || diag "$OUT" "$ERR"
[ -s "$TMP/walk.kml" ] && [ -s "$TMP/walk-fixes.jsonl" ]
ok $? "the .kml and .jsonl beside the .geojson"

run "$HEIMDALL" track -o "$TMP/walk.geojson" "$TMP/walk-fixes.jsonl"
is "$RC" 2 "an existing output is not overwritten"
like "$ERR" "use --force" "says --force"

run "$HEIMDALL" track -o "$TMP/rev.jsonl" "$TMP/reversed-fixes.jsonl"
is "$RC" 0 "out-of-order input"
like "$ERR" "39 events came out of time order.*sorted" "says the events were out of time order"
run "$HEIMDALL" track -o "$TMP/fwd.jsonl" "$TMP/walk-fixes.jsonl"
cmp -s <(sort "$TMP/fwd.jsonl") <(sort "$TMP/rev.jsonl")
ok $? "and gives the same states as the ordered input"

run "$HEIMDALL" track -o "$TMP/bad.h5" "$TMP/bad-fixes.jsonl"
is "$RC" 0 "a NaN covariance, an exact duplicate, an outlier, an event without a position"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "1 fixes with a NaN" "names the bad covariance"
like "$ERR" "share their predecessor's time.*1 exact duplicates" "names the duplicate"
like "$ERR" "1 gated as outliers, 1 without a position" "the outlier gated, the event without a fix counted"
run "$PYTHON" - "$TMP/bad.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["heimdall_format"] == "tracks"
ev = f["event_index"][:]; r = f["reason"][:]
assert len(ev) == 41
for k in ("lat", "lon", "cov_enu_m2", "velocity_enu_mps", "speed_mps", "state", "state_cov", "innovation_d2"):
    assert np.isfinite(f[k][:]).all(), k
reason = dict(zip(ev.tolist(), r.tolist()))
assert reason[5] == 3 and reason[7] == 1 and reason[8] == 2 and reason[100] == 4 and reason[0] == 0, reason
assert f["state"].shape == (41, 4) and f["state_cov"].shape == (41, 4, 4)
assert f["tracks/n"][:].tolist() == [41] and f.attrs["model"] == "cv"
PY
is "$RC" 0 "tracks.h5: no NaN anywhere, reasons per event (bad covariance, gated, no position, duplicate)"
[ "$RC" -eq 0 ] || diag "$OUT" "$ERR"

run "$HEIMDALL" track -o "$TMP/one.geojson" "$TMP/one-fixes.jsonl"
is "$RC" 0 "a single-event track"
grep -q NaN "$TMP/one.geojson" "$TMP/one-fixes.jsonl"
ok $((!$?)) "writes no NaN"

run "$HEIMDALL" track -o "$TMP/g.jsonl" "$TMP/garbage-fixes.jsonl"
is "$RC" 1 "a malformed line"
like "$ERR" "garbage-fixes.jsonl:2: not a JSON object" "is named with its line number"
run "$HEIMDALL" track -o "$TMP/x.txt" "$TMP/walk-fixes.jsonl"
is "$RC" 2 "an unknown output extension is a usage error"
run "$HEIMDALL" track -o "$TMP/x.jsonl" "$TMP/nonexistent.h5"
is "$RC" 1 "a missing input"
run "$HEIMDALL" track -o "$TMP/x.jsonl" --set track.model=cx "$TMP/walk-fixes.jsonl"
is "$RC" 2 "a bad track.model"
run "$HEIMDALL" track -o "$TMP/x.jsonl" --truth "$TMP/walk-fixes.jsonl" "$TMP/walk-fixes.jsonl"
is "$RC" 1 "--truth that is not a features file"
run "$HEIMDALL" track -o "$TMP/x.jsonl" --set track.model=ca "$TMP/walk-fixes.jsonl"
is "$RC" 0 "the constant-acceleration model"

# ---- the POWDER walks: fixes held out by time block, then tracked ------------
if [ -s "$ROOT/datasets/powder/single_tx_apr_jul.csv" ]; then
    run "$HEIMDALL" import powder "$ROOT/datasets/powder/single_tx_apr_jul.csv" "$ROOT/datasets/powder/receivers.csv" \
        -o "$TMP/powder.h5"
    is "$RC" 0 "import the shipped POWDER data"
    run "$HEIMDALL" evaluate -q -c "$ROOT/configs/experiments/powder.yaml" --method rss --set evaluate.plots=false \
        -o "$TMP/eval.h5" "$TMP/powder.h5"
    is "$RC" 0 "evaluate rss, time-block split"
    run "$HEIMDALL" track -o "$TMP/powder_tracks.h5" "$TMP/eval.h5"
    is "$RC" 0 "track the held-out fixes (times and truth through eval.h5's provenance)"
    [ "$RC" -eq 0 ] || diag "$ERR"
    diag "$(printf '%s\n' "$ERR" | grep -E 'tracks|fixes|ratio')"
    fix=$(printf '%s\n' "$ERR" | sed -n 's/.*fixes: *median \([0-9]*\) m.*/\1/p')
    trk=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median \([0-9]*\) m.*/\1/p')
    [ -n "$fix" ] && [ -n "$trk" ] && [ "$trk" -lt "$fix" ]
    ok $? "the tracks' median error ($trk m) is below the fixes' ($fix m) on the same events"
    fp95=$(printf '%s\n' "$ERR" | sed -n 's/.*fixes: *median [0-9]* m, p95 \([0-9]*\) m.*/\1/p')
    tp95=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median [0-9]* m, p95 \([0-9]*\) m.*/\1/p')
    [ -n "$fp95" ] && [ -n "$tp95" ] && [ "$tp95" -lt $((fp95 / 2)) ]
    ok $? "and the p95 ($tp95 m) below half the fixes' ($fp95 m)"
    run "$HEIMDALL" track -o "$TMP/pt.jsonl" --truth "$TMP/powder.h5" "$TMP/eval.h5"
    like "$ERR" "scored on 4605 events" "--truth: scored on the 4605 located events, as evaluate"
    run "$HEIMDALL" track -o "$TMP/pc.h5" --set track.fix_error_tau_s=40 "$TMP/eval.h5"
    is "$RC" 0 "the fixes' errors correlated over 40 s"
    diag "$(printf '%s\n' "$ERR" | grep -E 'correlated|tracks:|ratio')"
    trk=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median \([0-9]*\) m.*/\1/p')
    [ -n "$fix" ] && [ -n "$trk" ] && [ $((trk * 100)) -le $((fix * 80)) ]
    ok $? "then the tracks' median ($trk m) is at most 0.8 x the fixes' ($fix m)"
    like "$ERR" "covariance calibrated against the truth \(5 folds" "the covariance calibrated by cross-validation"
    c1=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median.* \([0-9.]*\) % inside 1-sigma.*/\1/p')
    c2=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median.* \([0-9.]*\) % inside 2-sigma.*/\1/p')
    "$PYTHON" -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (abs(a - 39.3) <= 3 and abs(b - 86.5) <= 3))" "$c1" "$c2"
    ok $? "the tracks' 1/2-sigma coverage ($c1 / $c2 %) within 3 points of 39.3 / 86.5 %"
    run "$HEIMDALL" track -o "$TMP/pu.h5" --set track.fix_error_tau_s=40 --set track.calibrate=false "$TMP/eval.h5"
    c1=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median.* \([0-9.]*\) % inside 1-sigma.*/\1/p')
    "$PYTHON" -c "import sys; sys.exit(not float(sys.argv[1]) < 30)" "$c1"
    ok $? "track.calibrate=false: the model's own covariance, overconfident ($c1 % inside 1-sigma)"
    run "$HEIMDALL" track -o "$TMP/pm.h5" --set track.update=measurements "$TMP/eval.h5"
    like "$ERR" "measurements: 50 events from .*\(0 by time differences, 50 by received powers\)" \
        "track.update measurements on RSS-only data: the 50 events without a fix measured by their received powers"
else
    skip 12 "datasets/powder not shipped in this tree"
fi

# ---- the MLAT aircraft: real TDOA fixes, tracked by aircraft id --------------
MLAT=${HEIMDALL_MLAT_DATA:-$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat}
if [ -r "$MLAT/set_4.csv" ]; then
    run "$HEIMDALL" import mlat -q -c "$ROOT/configs/experiments/mlat.yaml" "$MLAT/sensors.csv" "$MLAT/set_1.csv" \
        "$MLAT/set_2.csv" "$MLAT/set_3.csv" "$MLAT/set_4.csv" -o "$TMP/mlat.h5"
    is "$RC" 0 "import the four MLAT sets"
    run "$HEIMDALL" evaluate -q -c "$ROOT/configs/experiments/mlat.yaml" --method tdoa -o "$TMP/mlat_eval.h5" "$TMP/mlat.h5"
    is "$RC" 0 "evaluate tdoa on them"
    run "$HEIMDALL" track -o "$TMP/mlat_tracks.h5" --set track.max_gap_s=300 "$TMP/mlat_eval.h5"
    is "$RC" 0 "track the aircraft (by /events/tx_id, the aircraft id)"
    [ "$RC" -eq 0 ] || diag "$ERR"
    diag "$(printf '%s\n' "$ERR" | grep -E 'tracks|fixes|ratio')"
    TERR=$ERR
    run "$PYTHON" - "$TMP/mlat.h5" "$TMP/mlat_tracks.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); t = h5py.File(sys.argv[2], "r")
ac = f["events/aircraft"][:]
assert (f["events/tx_id"][:] == ac).all()
ev = t["event_index"][:]; tr = t["track"][:]
for k in np.unique(tr):          # one aircraft per track
    assert len(np.unique(ac[ev[tr == k]])) == 1, k
assert len(np.unique(tr)) >= len(np.unique(ac)), (len(np.unique(tr)), len(np.unique(ac)))
assert sorted(t["tracks/tx_id"][:].tolist()) == sorted(ac[ev[np.unique(tr, return_index=True)[1]]].tolist())
PY
    is "$RC" 0 "/events/tx_id is the aircraft id; every track holds one aircraft"
    [ "$RC" -eq 0 ] || diag "$OUT" "$ERR"
    fix=$(printf '%s\n' "$TERR" | sed -n 's/.*fixes: *median \([0-9]*\) m.*/\1/p')
    trk=$(printf '%s\n' "$TERR" | sed -n 's/.*tracks: median \([0-9]*\) m.*/\1/p')
    [ -n "$fix" ] && [ -n "$trk" ] && [ $((trk * 100)) -le $((fix * 110)) ]
    ok $? "the tracks' median ($trk m) within 1.1 x the fixes' ($fix m): the fixes' errors are correlated along a track"
    c1=$(printf '%s\n' "$TERR" | sed -n 's/.*tracks: median.* \([0-9.]*\) % inside 1-sigma.*/\1/p')
    "$PYTHON" -c "import sys; sys.exit(not abs(float(sys.argv[1]) - 39.3) <= 3)" "$c1"
    ok $? "the calibrated tracks' 1-sigma coverage ($c1 %) within 3 points of 39.3 %"
    run "$HEIMDALL" track -o "$TMP/mlat_meas.h5" -c "$ROOT/configs/experiments/mlat.yaml" --set track.max_gap_s=300 \
        --set track.update=measurements "$TMP/mlat_eval.h5"
    is "$RC" 0 "track.update measurements: the aircraft tracked on their time differences"
    [ "$RC" -eq 0 ] || diag "$ERR"
    diag "$(printf '%s\n' "$ERR" | grep -E 'measurements|tracks:')"
    like "$ERR" "measurements: 1147 events from .*\(1147 by time differences" "the features file's time differences found through the provenance"
    nm=$(printf '%s\n' "$ERR" | sed -n 's/.*fixes used, \([0-9]*\) by their measurements.*/\1/p')
    [ -n "$nm" ] && [ "$nm" -gt 400 ]
    ok $? "most events ($nm) updated by their measurements (a track's first by its fix)"
    trk=$(printf '%s\n' "$ERR" | sed -n 's/.*tracks: median \([0-9]*\) m.*/\1/p')
    [ -n "$fix" ] && [ -n "$trk" ] && [ $((trk * 100)) -le $((fix * 125)) ]
    ok $? "the measurement-updated tracks' median ($trk m) within 1.25 x the fixes' ($fix m)"
    run "$PYTHON" - "$TMP/mlat_meas.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
for k in ("lat", "lon", "cov_enu_m2", "state", "state_cov", "nu"):
    assert np.isfinite(f[k][:]).all(), k
assert (f["reason"][:] == 5).sum() > 400
PY
    is "$RC" 0 "tracks.h5: no NaN, reason 5 (measurements) recorded"
else
    skip 11 "no MLAT data set at $MLAT"
fi

done_testing
