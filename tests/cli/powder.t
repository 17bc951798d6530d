#!/usr/bin/env bash
# import powder: the missing-value conventions (RSS -101, bus coordinates
# -1), per-sample bus positions, truth, honest splits; malformed rows
# refused with their line number; the shipped data set imported whole.
. "$(dirname "$0")/lib.sh"

cat > "$TMP/rx.csv" <<'CSV'
name,kind,lat,lon
bus-1,bus,,
roof-a,rooftop,40.7650,-111.8450
dense-b,dense,40.7700,-111.8400
CSV
cat > "$TMP/s.csv" <<'CSV'
timestamp,bus-1_rss,bus-1_x,bus-1_y,roof-a,dense-b,tx_x_coord,tx_y_coord
2022-04-25 14:12:32,-80.5,40.7601,-111.8501,-70.25,-101,40.7610,-111.8420
2022-04-25 14:12:36,-81.0,-1,-1,-101,-60.5,40.7612,-111.8421
2022-07-06 09:00:00,-101,40.7602,-111.8502,-71.0,-61.0,40.7620,-111.8430
2022-07-06 09:00:04,-82.0,40.7603,-111.8503,-72.0,-62.0,40.7621,-111.8431
2022-07-06 09:00:08,-83.0,40.7604,-111.8504,-73.0,-63.0,40.7622,-111.8432
CSV
run "$HEIMDALL" import powder "$TMP/s.csv" "$TMP/rx.csv" -o "$TMP/p.h5"
is "$RC" 0 "import powder"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "wrote 5 samples × 3 receivers" "counts"
run "$PYTHON" - "$TMP/p.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["heimdall_format"] == "features"
ids = [x.decode() if isinstance(x, bytes) else x for x in f["receivers/id"][:]]
assert ids == ["bus-1", "roof-a", "dense-b"], ids
names = [x.decode() if isinstance(x, bytes) else x for x in f["feature_names"][:]]
rss = f["features"][:, :, names.index("rss_dbm")]
m = f["mask"][:].astype(bool)
# row 1: bus heard at its position, roof-a heard, dense-b -101 (not heard)
assert m[0].tolist() == [True, True, False] and abs(rss[0, 0] + 80.5) < 1e-4 and abs(rss[0, 1] + 70.25) < 1e-4
# row 2: the bus reported -1,-1: position unknown, masked although it has RSS
assert m[1].tolist() == [False, False, True] and np.isnan(f["rx_lat"][1, 0])
# row 3: the bus did not hear (-101), its position is still recorded
assert not m[2, 0] and abs(f["rx_lat"][2, 0] - 40.7602) < 1e-9
assert abs(f["rx_lat"][0, 0] - 40.7601) < 1e-9 and abs(f["rx_lon"][3, 0] + 111.8503) < 1e-9
assert abs(f["rx_lat"][4, 1] - 40.765) < 1e-9  # fixed receivers at their positions
assert (rss[~m] == 0).all() and np.isfinite(f["features"][:]).all()
assert abs(f["truth/tx_lat"][2] - 40.7620) < 1e-9 and abs(f["truth/tx_lon"][2] + 111.8430) < 1e-9
assert f["splits/month"][:].tolist() == [4, 4, 7, 7, 7]
b = f["splits/time_block"][:]
assert (np.diff(b) >= 0).all() and b[0] == 0 and b[-1] == f.attrs["time_blocks"] - 1, b
assert f["tdoa/mask"][:].sum() == 0
assert f["receivers/is_bus"][:].tolist() == [1, 0, 0]
PY
is "$RC" 0 "missing RSS masked, bus -1 positions unknown, truth, splits by month and time block"
[ "$RC" -eq 0 ] || diag "$ERR"

# months by number and name, the time zone by the tz database (DST-correct):
# 14:12:32 in April is daylight time (UTC-6), noon in November standard (UTC-7)
cat > "$TMP/tz.csv" <<'CSV'
timestamp,bus-1_rss,bus-1_x,bus-1_y,roof-a,dense-b,tx_x_coord,tx_y_coord
2022-04-25 14:12:32,-80.5,40.7601,-111.8501,-70.25,-101,40.7610,-111.8420
2022-07-06 09:00:00,-101,40.7602,-111.8502,-71.0,-61.0,40.7620,-111.8430
2022-11-15 12:00:00,-82.0,40.7603,-111.8503,-72.0,-62.0,40.7621,-111.8431
2022-11-15 12:00:04,-83.0,40.7604,-111.8504,-73.0,-63.0,40.7622,-111.8432
2023-01-10 08:00:00,-83.0,40.7604,-111.8504,-73.0,-63.0,40.7622,-111.8432
CSV
run "$HEIMDALL" import powder "$TMP/tz.csv" "$TMP/rx.csv" -o "$TMP/tz.h5"
is "$RC" 0 "import powder with November and January rows"
like "$ERR" "1 in January, 1 in April, 1 in July, 2 in November; 5 time blocks; local time America/Denver" "months named, none called July that is not"
run "$HEIMDALL" import powder --tz UTC "$TMP/tz.csv" "$TMP/rx.csv" -o "$TMP/tz_utc.h5"
is "$RC" 0 "import powder --tz UTC"
run "$HEIMDALL" import powder --tz=America/New_York "$TMP/tz.csv" "$TMP/rx.csv" -o "$TMP/tz_ny.h5"
is "$RC" 0 "import powder --tz=America/New_York"
run "$PYTHON" - "$TMP/tz.h5" "$TMP/tz_utc.h5" "$TMP/tz_ny.h5" <<'PY'
import sys, h5py, calendar
def utc(s): return calendar.timegm(__import__("time").strptime(s, "%Y-%m-%d %H:%M:%S")) * 10**9
d, u, ny = (h5py.File(x, "r") for x in sys.argv[1:4])
t = d["events/time_ns"][:].tolist()
want = [utc("2022-04-25 20:12:32"), utc("2022-07-06 15:00:00"), utc("2022-11-15 19:00:00"),
        utc("2022-11-15 19:00:04"), utc("2023-01-10 15:00:00")]
assert t == want, (t, want)
assert u["events/time_ns"][:].tolist() == [utc("2022-04-25 14:12:32"), utc("2022-07-06 09:00:00"),
        utc("2022-11-15 12:00:00"), utc("2022-11-15 12:00:04"), utc("2023-01-10 08:00:00")]
assert ny["events/time_ns"][2] == utc("2022-11-15 17:00:00") and ny["events/time_ns"][0] == utc("2022-04-25 18:12:32")
assert d["splits/month"][:].tolist() == [4, 7, 11, 11, 1]
desc = d["splits/month"].attrs["description"]
desc = desc.decode() if isinstance(desc, bytes) else desc
assert "April vs July" not in desc and "1 January" in desc, desc
tz = d.attrs["time_zone"]; tz = tz.decode() if isinstance(tz, bytes) else tz
assert tz == "America/Denver", tz
src = d.attrs["source"]; src = src.decode() if isinstance(src, bytes) else src
assert "UTC-6" not in src and "America/Denver" in src, src
PY
is "$RC" 0 "times: UTC-6 in April and July, UTC-7 in November and January; --tz UTC and New York as such; months 1..12"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" import powder --tz Mars/Olympus_Mons "$TMP/tz.csv" "$TMP/rx.csv" -o "$TMP/tz_bad.h5"
is "$RC" 2 "an unknown time zone is a usage error"
like "$ERR" "unknown time zone 'Mars/Olympus_Mons'" "and names it"
[ ! -e "$TMP/tz_bad.h5" ]; ok $? "and nothing written"
run "$HEIMDALL" import powder --tz "$TMP/tz.csv" "$TMP/rx.csv"
[ "$RC" -ne 0 ]; ok $? "--tz without a zone and output fails"

# malformed rows: named with their line number, nothing written
sed '4s/-71.0/minus-seventy/' "$TMP/s.csv" > "$TMP/bad1.csv"
run "$HEIMDALL" import powder "$TMP/bad1.csv" "$TMP/rx.csv" -o "$TMP/b1.h5"
is "$RC" 1 "a non-numeric RSS is refused"
like "$ERR" "bad1.csv:4: receiver roof-a: RSS 'minus-seventy' is not a number" "with its line number"
[ ! -e "$TMP/b1.h5" ]; ok $? "and nothing written"
sed '3s/,40.7612,-111.8421$//' "$TMP/s.csv" > "$TMP/bad2.csv"
run "$HEIMDALL" import powder "$TMP/bad2.csv" "$TMP/rx.csv" -o "$TMP/b2.h5"
is "$RC" 1 "a short row is refused"
like "$ERR" "bad2.csv:3: 6 fields, the header has 8" "with its line number"
sed '5s/^2022-07-06 09:00:04/yesterday/' "$TMP/s.csv" > "$TMP/bad3.csv"
run "$HEIMDALL" import powder "$TMP/bad3.csv" "$TMP/rx.csv" -o "$TMP/b3.h5"
like "$ERR" "bad3.csv:5: bad timestamp 'yesterday'" "a bad timestamp with its line number"
sed '1s/dense-b/dense-z/' "$TMP/s.csv" > "$TMP/bad4.csv"
run "$HEIMDALL" import powder "$TMP/bad4.csv" "$TMP/rx.csv" -o "$TMP/b4.h5"
like "$ERR" "names receiver 'dense-z', which .*rx.csv does not list" "an unknown receiver column"
run "$HEIMDALL" import powder "$TMP/s.csv" -o "$TMP/b5.h5"
is "$RC" 2 "the receivers list is required"
run "$HEIMDALL" import nosuch x -o "$TMP/b6.h5"
is "$RC" 2 "an unknown format is a usage error"

# the shipped data set
if [ -s "$ROOT/datasets/powder/single_tx_apr_jul.csv" ]; then
    run "$HEIMDALL" import powder "$ROOT/datasets/powder/single_tx_apr_jul.csv" "$ROOT/datasets/powder/receivers.csv" -o "$TMP/powder.h5"
    is "$RC" 0 "the POWDER data set imports"
    like "$ERR" "wrote 4655 samples × 40 receivers \(21.1 heard per sample; 811 in April, 3844 in July; 5 time blocks; local time America/Denver" "all of it"
    # baselines, fitted on the other time blocks, scored on each held-out block
    for m in rss knn; do
        run "$HEIMDALL" evaluate -c "$ROOT/configs/experiments/powder.yaml" --method $m --set evaluate.plots=false \
            -o "$TMP/e_$m.h5" "$TMP/powder.h5"
        is "$RC" 0 "evaluate --method $m by time block"
        like "$ERR" "time_block 4: 931 events held out" "each block held out in turn"
        like "$OUT" "4655 events: ([0-9]+) located \([0-9]+ inside the region, [0-9]+ outside it\), 0 not enough receivers, 0 no convergence, [0-9]+ where the receivers.? geometry fixes no position" "every sample located once or said why not"
        med=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_$m.report.json")
        awk -v m="$med" 'BEGIN { exit !(m > 50 && m < 1000) }'; ok $? "$m median error ${med} m: a campus-scale answer"
        grep -q '"split": "time_block"' "$TMP/e_$m.report.json"; ok $? "the split is in the report"
        like "$OUT" "evaluate $m on .*powder.h5 \(split by time_block, each group located by a fit on the others\)" "the headline names the split"
        like "$OUT" "time_block 4: 931 events, [0-9]+ located, median [0-9]+ m, p95 [0-9]+ m" "and prints a row per group"
        run "$PYTHON" - "$TMP/e_$m.report.json" "$TMP/e_$m.h5" <<'PY'
import json, sys, h5py
r = json.load(open(sys.argv[1]))
g = r["by_group"]
assert [x["group"] for x in g] == ["time_block %d" % i for i in range(5)], g
assert sum(x["n"] for x in g) == 4655 and all(x["median_m"] > 0 and "p95_m" in x and "coverage_2sigma" in x for x in g)
f = h5py.File(sys.argv[2], "r")
assert f["breakdown/group/value"][:].tolist() == [0, 1, 2, 3, 4]
assert abs(f["breakdown/group/median_m"][2] - g[2]["median_m"]) < 1e-3
PY
        is "$RC" 0 "by_group rows in report.json and eval.h5, one per time block"
        [ "$RC" -eq 0 ] || diag "$ERR"
    done
    # fit once, apply later: calibrate on April, locate July through the
    # calibration file alone (no concatenation, no split)
    head -1 "$ROOT/datasets/powder/single_tx_apr_jul.csv" > "$TMP/apr.csv"
    cp "$TMP/apr.csv" "$TMP/jul.csv"
    grep '^2022-04' "$ROOT/datasets/powder/single_tx_apr_jul.csv" >> "$TMP/apr.csv"
    grep '^2022-07' "$ROOT/datasets/powder/single_tx_apr_jul.csv" >> "$TMP/jul.csv"
    for m in apr jul; do
        run "$HEIMDALL" import powder "$TMP/$m.csv" "$ROOT/datasets/powder/receivers.csv" -o "$TMP/$m.h5"
    done
    run "$HEIMDALL" calibrate -c "$ROOT/configs/experiments/powder.yaml" -o "$TMP/cal_apr.h5" "$TMP/apr.h5"
    is "$RC" 0 "calibrate on April"
    like "$OUT" "from 811 events with truth \(811 with RSS, 0 with time differences\)" "RSS only: no time differences in POWDER"
    run "$HEIMDALL" evaluate -c "$ROOT/configs/experiments/powder.yaml" --set evaluate.split=none --method rss \
        --calibration "$TMP/cal_apr.h5" --set evaluate.plots=false -o "$TMP/e_cal.h5" "$TMP/jul.h5"
    is "$RC" 0 "evaluate July with April's calibration"
    like "$ERR" "12 of 40 receivers calibrated; not in it: .*cnode-mario-dd-b210" "July's receivers April never heard are named"
    like "$OUT" "calibration: 3844 events heard receivers it does not know \(.*cnode-mario-dd-b210 3844" "and counted"
    like "$OUT" "evaluate rss on .*jul.h5 \(no split\)" "the headline says no split"
    med=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["median_m"])' "$TMP/e_cal.report.json")
    awk -v m="$med" 'BEGIN { exit !(m > 50 && m < 400) }'; ok $? "July by April's calibration: median ${med} m"
    # kNN as a saved model: fingerprints of April, July located by them alone;
    # the same positions as the month split's kNN (July by April's events)
    run "$HEIMDALL" train --method knn -c "$ROOT/configs/experiments/powder.yaml" -o "$TMP/knn_apr.h5" "$TMP/apr.h5"
    is "$RC" 0 "train --method knn on April"
    like "$ERR" "kNN model of 811 fingerprints over 40 receivers, k 5" "the fingerprint table"
    run "$HEIMDALL" evaluate -c "$ROOT/configs/experiments/powder.yaml" --set evaluate.split=none --method knn \
        -m "$TMP/knn_apr.h5" --set evaluate.plots=false -o "$TMP/e_knn_model.h5" "$TMP/jul.h5"
    is "$RC" 0 "evaluate July with April's kNN model"
    like "$OUT" "evaluate knn on .*jul.h5 \(no split\): 3844 events: 3844 located" "every July sample located"
    run "$HEIMDALL" evaluate -q -c "$ROOT/configs/experiments/powder.yaml" --set evaluate.split=month --method knn \
        --set evaluate.plots=false -o "$TMP/e_knn_month.h5" "$TMP/powder.h5"
    run "$PYTHON" - "$TMP/e_knn_model.h5" "$TMP/e_knn_month.h5" "$TMP/knn_apr.h5" <<'PY'
import sys, h5py, numpy as np
a, b, m = (h5py.File(x, "r") for x in sys.argv[1:4])
assert m.attrs["heimdall_format"] == "model" and m.attrs["kind"] == "knn"
assert m["knn/rss_dbm"].shape == (811, 40) and m["knn"].attrs["k"] == 5
sel = np.arange(811, 4655)  # July in the whole file
assert np.array_equal(a["lat"][:], b["lat"][sel]) and np.array_equal(a["lon"][:], b["lon"][sel])
assert np.allclose(a["cov_enu_m2"][:], b["cov_enu_m2"][sel], rtol=1e-12)
PY
    is "$RC" 0 "fit on April, locate July: the positions and covariances of the month split's kNN"
    [ "$RC" -eq 0 ] || diag "$ERR"
    run "$HEIMDALL" localize -q --method knn -m "$TMP/knn_apr.h5" -o "$TMP/knn_jul.jsonl" "$TMP/jul.h5"
    is "$RC" 0 "localize --method knn with the saved model"
    [ "$(wc -l < "$TMP/knn_jul.jsonl")" -eq 3844 ]; ok $? "a line per July sample"
    run "$HEIMDALL" evaluate -q -c "$ROOT/configs/experiments/powder.yaml" --method knn -m "$TMP/knn_apr.h5" \
        --set evaluate.plots=false -o "$TMP/e_knn_bad.h5" "$TMP/jul.h5"
    is "$RC" 2 "a kNN model with evaluate.split is refused"
    like "$ERR" "fitted elsewhere: score it on the whole file" "and says what to set"
    [ ! -e "$TMP/e_knn_bad.h5" ]; ok $? "and nothing written"
    run "$HEIMDALL" localize -q --method nn -m "$TMP/knn_apr.h5" -o "$TMP/knn_bad.jsonl" "$TMP/jul.h5"
    is "$RC" 2 "a kNN model for --method nn is refused"
    like "$ERR" "is a knn model: use --method knn" "and named"
    run "$HEIMDALL" localize -q --method knn -o "$TMP/knn_bad2.jsonl" "$TMP/jul.h5"
    is "$RC" 2 "localize --method knn without a model is refused"
    like "$ERR" "heimdall train --method knn" "and says how to make one"
    run "$HEIMDALL" calibrate -q -c "$ROOT/configs/experiments/powder.yaml" -o "$TMP/cal_both.h5" "$TMP/apr.h5" "$TMP/jul.h5"
    is "$RC" 0 "calibrate on two files"
    like "$OUT" "calibration of 40 receivers from 4655 events" "pooled by receiver id"
    # the network, one model per held-out month (short training: the path, not the figure)
    for g in 4 7; do
        run "$HEIMDALL" train -q -c "$ROOT/configs/experiments/powder.yaml" --set train.exclude_split=month \
            --set train.exclude_group=$g --set train.epochs=2 --set train.hidden=16 -o "$TMP/m_$g.h5" "$TMP/powder.h5"
        is "$RC" 0 "train without month $g"
        [ "$RC" -eq 0 ] || diag "$ERR"
    done
    run "$HEIMDALL" evaluate -c "$ROOT/configs/experiments/powder.yaml" --method nn -m "$TMP/m_%d.h5" \
        --set evaluate.split=month --set evaluate.plots=false -o "$TMP/e_nn.h5" "$TMP/powder.h5"
    is "$RC" 0 "evaluate --method nn by month, each month by the model that never saw it"
    like "$ERR" "month 7: 3844 events held out, located by .*m_7.h5" "the right model for each month"
    run "$PYTHON" - "$TMP/e_nn.h5" "$TMP/e_nn.report.json" <<'PY'
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); r = json.load(open(sys.argv[2]))
err = f["error_m"][:]; st = f["status"][:]
# the region: the receivers' box (about 3 x 3 km... 7 km with the buses) grown by 2 km
assert np.nanmax(err) < 15000, np.nanmax(err)
assert f.attrs["clamped_to_region"] == r["clamped_to_region"] <= (st == 3).sum()
PY
    is "$RC" 0 "the network's positions bounded by the region, those clamped counted"
    [ "$RC" -eq 0 ] || diag "$ERR"
    run "$HEIMDALL" evaluate -q -c "$ROOT/configs/experiments/powder.yaml" --method nn -m "$TMP/m_4.h5" \
        --set evaluate.split=month --set evaluate.plots=false -o "$TMP/e_nn2.h5" "$TMP/powder.h5"
    is "$RC" 2 "one model for all folds is refused"
    like "$ERR" "one model per group" "and says why"
    run "$HEIMDALL" evaluate -q --method knn --set evaluate.plots=false -o "$TMP/e_nosplit.h5" "$TMP/powder.h5"
    is "$RC" 2 "knn without a split is refused"
    like "$ERR" "set evaluate.split" "and says what to set"
fi
# a split the file does not have
run "$HEIMDALL" evaluate -q --method rss --set evaluate.split=month --set evaluate.plots=false -o "$TMP/e_x.h5" "$TMP/p.h5"
[ "$RC" -ne 0 ]; ok $? "evaluate with a split on too little data fails"
like "$ERR" "RSS calibration|training links" "with a reason"
done_testing
