#!/usr/bin/env bash
# Networks as large as the real ones (issue 20): more than 64 receivers,
# each event heard by a handful. collect.layout sparse (auto over 64
# receivers) stores per event only the receivers that heard it
# (/events/link_first, link_count, /links/receiver; every [event, receiver]
# dataset becomes [link]), featurize times each event's own pairs
# (/events/pair_first, pair_count, /tdoa/pairs per row) and localize solves
# each event among its receivers. Shown: the sparse files of a network where
# every receiver hears every event hold exactly the dense files' numbers;
# a 100-receiver network runs end to end and locates its transmitters, and
# is calibrated (per-receiver clock and gain offsets recovered and applied); what
# does not read sparse files yet says so; damaged indexes are refused.
. "$(dirname "$0")/lib.sh"
S="$ROOT/configs/smoke.yaml"

# --- the same campaign, dense and sparse: identical numbers ---------------
E=(--set collect.events=12 --set localize.search=coarse)
run "$HEIMDALL" collect -q -c "$S" "${E[@]}" -o "$TMP/dense_c.h5"
is "$RC" 0 "a dense campaign (7 receivers)"
run "$HEIMDALL" collect -q -c "$S" "${E[@]}" --set collect.layout=sparse --set collect.simulate.receivers.heard_snr_db=-100 \
    -o "$TMP/sparse_c.h5"
is "$RC" 0 "the same campaign in the sparse layout, every receiver heard"
for l in dense sparse; do
    run "$HEIMDALL" featurize -q -c "$S" "${E[@]}" -o "$TMP/${l}_f.h5" "$TMP/${l}_c.h5"
    is "$RC" 0 "$l: featurized"
    run "$HEIMDALL" localize -q -c "$S" "${E[@]}" -o "$TMP/${l}_p.jsonl" "$TMP/${l}_f.h5"
    is "$RC" 0 "$l: localized"
done
pycheck - "$TMP"/dense_c.h5 "$TMP"/sparse_c.h5 "$TMP"/dense_f.h5 "$TMP"/sparse_f.h5 <<'PY'
import sys, h5py, numpy as np
dc, sc, df, sf = (h5py.File(p, "r") for p in sys.argv[1:5])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
E, R = dc["status"].shape
ok(sc.attrs["layout"] in (b"sparse", "sparse") and "layout" not in dc.attrs, "the root attribute layout names the sparse file")
first, count, rx = sc["events/link_first"][:], sc["events/link_count"][:], sc["links/receiver"][:]
ok(np.all(count == R) and np.array_equal(first, np.arange(E) * R), "every event holds its %d receivers, rows in event order" % R)
ok(np.array_equal(rx, np.tile(np.arange(R), E)), "/links/receiver names them in ascending order")
same = [k for k in ("status", "t0_s", "gain_db", "gps_ok", "truth/distance_m", "truth/snr_db", "clock/rate_hz")
        if np.array_equal(dc[k][:].reshape(-1), sc[k][:], equal_nan=True)]
ok(len(same) == 7, "link datasets [event, receiver] flattened equal the sparse [link] ones (%s)" % ", ".join(same))
ok(np.array_equal(dc["iq"][:].reshape(E * R, -1, 2), sc["iq"][:]), "/iq [link, sample, 2] equals the dense /iq")
ok(np.array_equal(df["features"][:].reshape(E * R, -1), sf["features"][:]), "/features [link, feature] equal")
ok(np.array_equal(df["mask_reason"][:].reshape(-1), sf["mask_reason"][:]), "receiver mask reasons equal")
P = df["tdoa/pairs"].shape[0]
ok(np.array_equal(sf["events/pair_first"][:], np.arange(E) * P) and np.all(sf["events/pair_count"][:] == P),
   "each event's %d pairs indexed by /events/pair_first, pair_count" % P)
ok(np.array_equal(np.tile(df["tdoa/pairs"][:], (E, 1)), sf["tdoa/pairs"][:]), "/tdoa/pairs rows name the receivers")
for k in ("delay_s", "sigma_s", "mask", "mask_reason", "method"):
    ok(np.array_equal(df["tdoa/" + k][:].reshape(-1), sf["tdoa/" + k][:]), "/tdoa/%s equal" % k)
ok(sf["tdoa/mask"][:].sum() > E, "pairs timed (%d)" % sf["tdoa/mask"][:].sum())
PY
if cmp -s "$TMP/dense_p.jsonl" "$TMP/sparse_p.jsonl"; then ok 0 "localize: positions, ellipses and receivers used byte-identical"
else ok 1 "localize: positions byte-identical"; diff "$TMP/dense_p.jsonl" "$TMP/sparse_p.jsonl" | head -4 | sed 's/^/# /'; fi
# heat maps: a sparse event's on its own receivers' network, here the
# dense one's seven: the same contours
for l in dense sparse; do
    run "$HEIMDALL" localize -q -c "$S" "${E[@]}" --set localize.heatmap_max_events=3 --heatmap "$TMP/${l}_hm" \
        -o "$TMP/${l}_hp.jsonl" "$TMP/${l}_f.h5"
    is "$RC" 0 "$l: localize --heatmap"
done
n_maps=$(ls "$TMP"/sparse_hm/event_*.geojson 2>/dev/null | wc -l)
is "$n_maps" 3 "sparse: three heat maps (localize.heatmap_max_events)"
same_maps=0
for m in "$TMP"/dense_hm/event_*.geojson; do cmp -s "$m" "$TMP/sparse_hm/$(basename "$m")" && same_maps=$((same_maps + 1)); done
is "$same_maps" 3 "the sparse file's heat maps byte-identical to the dense file's"
cmp -s "$TMP/sparse_p.jsonl" "$TMP/sparse_hp.jsonl"; ok $? "and the positions unchanged by mapping"
for l in dense sparse; do
    run "$HEIMDALL" evaluate -q -c "$S" "${E[@]}" --set evaluate.plots=false -o "$TMP/${l}_e.h5" "$TMP/${l}_f.h5"
    is "$RC" 0 "$l: evaluated"
done
pycheck - "$TMP/dense_e.h5" "$TMP/sparse_e.h5" <<'PY'
import sys, h5py, numpy as np
d, s = (h5py.File(p, "r") for p in sys.argv[1:3])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
cols = [k for k in ("error_m", "mahalanobis2", "content", "nll", "crlb_m", "crlb_with_model_m") if k in d]
ok(len(cols) == 6 and all(np.array_equal(d[k][:], s[k][:], equal_nan=True) for k in cols),
   "evaluate: per-event errors, coverage and CRLB identical (%s)" % ", ".join(cols))
PY

# --- a network of 100 receivers ---------------------------------------------
bash "$ROOT/scripts/network.sh" 100 44.8 46.2 6.8 8.8 >"$TMP/net100.yaml"
cat >"$TMP/big.yaml" <<EOF
seed: 3
stations: net100.yaml
collect:
  events: 40
  duration_s: 0.05
  simulate:
    receivers: {start_jitter_ms: 1, heard_snr_db: 20, max_per_event: 12}
EOF
run "$HEIMDALL" collect -c "$TMP/big.yaml" --set collect.layout=dense -o "$TMP/x.h5"
isnt "$RC" 0 "a dense file of 100 receivers is refused"
like "$ERR" "collect.layout dense holds every receiver in every event: up to 64 receivers, the network has 100" \
    "saying why and what to set"
run "$HEIMDALL" collect -c "$TMP/big.yaml" -o "$TMP/big_c.h5"
is "$RC" 0 "collect: 100 receivers, layout auto"
like "$ERR" "receivers per event of the network's 100; sparse layout" "the summary gives the receivers per event"
run "$HEIMDALL" featurize -c "$TMP/big.yaml" -o "$TMP/big_f.h5" "$TMP/big_c.h5"
is "$RC" 0 "featurize"
like "$ERR" "sparse layout" "its summary names the layout"
like "$ERR" "pairs: [0-9]+ timed; not timed:" "and the pairs' reasons"
run "$HEIMDALL" localize -c "$TMP/big.yaml" -o "$TMP/big_p.jsonl" "$TMP/big_f.h5"
is "$RC" 0 "localize"
pycheck - "$TMP/big_c.h5" "$TMP/big_f.h5" "$TMP/big_p.jsonl" <<'PY'
import sys, json, h5py, numpy as np
c, f = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c_, name): print(("ok" if c_ else "not ok"), "-", name)
R = len(c["receivers/id"]); K = len(c["links/receiver"]); E = len(c["events/index"])
cnt = c["events/link_count"][:]; first = c["events/link_first"][:]; rx = c["links/receiver"][:]
ok(R == 100 and K == cnt.sum() and np.array_equal(first, np.concatenate([[0], np.cumsum(cnt)[:-1]])),
   "%d events, %d links of %d receivers, the index in one read of two datasets" % (E, K, R))
ok(1 <= cnt.min() and cnt.max() <= 12 and cnt.mean() > 4, "receivers per event %d-%d, mean %.1f (max_per_event 12)" % (cnt.min(), cnt.max(), cnt.mean()))
ok(all(np.all(np.diff(rx[a:a + n]) > 0) for a, n in zip(first, cnt)), "within an event, receivers ascending and distinct")
ok(c["iq"].shape == (K, c["iq"].shape[1], 2) and c["status"].shape == (K,), "/iq [link, sample, 2], /status [link]")
# each link row is its receiver's: the true slant range from the transmitter to /receivers[rx]
a = 6378137.0; e2 = 6.69437999014e-3
def ecef(lat, lon, h):
    la, lo = np.radians(lat), np.radians(lon); n = a / np.sqrt(1 - e2 * np.sin(la) ** 2)
    return np.stack([(n + h) * np.cos(la) * np.cos(lo), (n + h) * np.cos(la) * np.sin(lo), (n * (1 - e2) + h) * np.sin(la)], -1)
ev = np.repeat(np.arange(E), cnt)
tx = ecef(c["truth/tx_lat"][:], c["truth/tx_lon"][:], c["truth/tx_alt_m"][:])[ev]
h = c["receivers/alt_m"][:][rx] + c["receivers/antenna_height_m"][:][rx]
d = np.linalg.norm(tx - ecef(c["receivers/lat"][:][rx], c["receivers/lon"][:][rx], h), axis=-1)
ok(np.max(np.abs(d - c["truth/distance_m"][:])) < 1, "every link's truth is its receiver's (slant range within 1 m)")
# the nearest receivers hear it: those heard are among the 48 (4 x 12) nearest
near = np.argsort(np.linalg.norm(ecef(c["receivers/lat"][:], c["receivers/lon"][:], 110.0)[None] -
                                 ecef(c["truth/tx_lat"][:], c["truth/tx_lon"][:], c["truth/tx_alt_m"][:])[:, None], axis=-1), 1)[:, :48]
ok(all(set(rx[a:a + n]) <= set(near[i]) for i, (a, n) in enumerate(zip(first, cnt))), "heard receivers are among the nearest")
Q = cnt * (cnt - 1) // 2
ok(np.array_equal(f["events/pair_count"][:], Q) and len(f["tdoa/pairs"]) == Q.sum(), "features: %d pair rows, k(k-1)/2 per event" % Q.sum())
pf = f["events/pair_first"][:]; pr = f["tdoa/pairs"][:]
ok(all(set(pr[p:p + q].ravel()) <= set(rx[a:a + n]) for a, n, p, q in zip(first, cnt, pf, Q)), "each pair joins two of its event's receivers")
ok(f["features"].shape == (K, f["features"].shape[1]), "/features [link, feature]")
ids = np.array([x.decode() for x in c["receivers/id"][:]])
truth = dict(zip(c["events/index"][:], zip(c["truth/tx_lat"][:], c["truth/tx_lon"][:])))
err, names_ok, why_ok = [], True, True
for line in open(sys.argv[3]):
    o = json.loads(line)
    i = int(np.nonzero(c["events/index"][:] == o["event"])[0][0])
    names_ok &= set(o["receivers"]) <= set(ids[rx[first[i]:first[i] + cnt[i]]])
    if o["status"] != "ok":
        why_ok &= bool(o.get("why"))
        continue
    la, lo = truth[o["event"]]
    err.append(np.hypot((o["lat"] - la) * 111195, (o["lon"] - lo) * 111195 * np.cos(np.radians(la))))
ok(names_ok, "the receivers used are named by id, each one of its event's")
ok(why_ok, "an event without a position says why")
err = np.array(err)
print("# located %d of %d, median error %.0f m, p90 %.0f m" % (len(err), E, np.median(err), np.percentile(err, 90)))
ok(len(err) >= E // 2 and np.median(err) < 500, "most events located, median error %.0f m" % np.median(err))
PY

run "$HEIMDALL" evaluate -c "$TMP/big.yaml" --set evaluate.plots=false -o "$TMP/big_e.h5" "$TMP/big_f.h5"
is "$RC" 0 "evaluate: 100 receivers"
like "$OUT" "error: median [0-9]+ m" "error percentiles"
like "$OUT" "by receivers used \\(median / p95 m, events located\\): [0-9]+ receivers" "and the breakdown by receivers used"

# --- a calibration on sparse files ------------------------------------------
# two campaigns of the 100-receiver network given the same per-receiver clock
# offsets (1.5 us rms) and gain errors (5 dB rms): calibrate on the first
# recovers them; localize/evaluate apply them per event to the second
cat >"$TMP/cal.yaml" <<EOF
stations: net100.yaml
collect:
  events: 300
  duration_s: 0.02
  simulate:
    receivers: {start_jitter_ms: 1, heard_snr_db: 20, max_per_event: 12}
evaluate: {plots: false}
EOF
cat >"$TMP/perturb.py" <<'PY'
import sys, h5py, numpy as np, shutil
src, dst = sys.argv[1], sys.argv[2]
shutil.copy(src, dst)
f = h5py.File(dst, "r+")
rng = np.random.default_rng(5)
R = len(f["receivers/id"])
clk, gain = rng.normal(0, 1500e-9, R), rng.normal(0, 5, R)
names = [x.decode() for x in f["feature_names"][:]]
X = f["features"][:]; rx = f["links/receiver"][:]
for k in ("rss_dbm", "rss_dbfs"):
    X[:, names.index(k)] += gain[rx]
f["features"][...] = X
p = f["tdoa/pairs"][:]
f["tdoa/delay_s"][...] = f["tdoa/delay_s"][:] + clk[p[:, 1]] - clk[p[:, 0]]
if len(sys.argv) > 3:  # rename receiver r: one the calibration does not know
    ids = f["receivers/id"][:]; ids[int(sys.argv[3])] = b"rxnew01"; f["receivers/id"][...] = ids  # ids: 7-byte strings
np.savez(dst + ".npz", clock_ns=clk * 1e9, gain_db=gain)
PY
for s in 1 2; do
    run "$HEIMDALL" collect -q -c "$TMP/cal.yaml" --set seed=$((10 + s)) -o "$TMP/cal_c$s.h5"
    [ "$RC" -eq 0 ] && run "$HEIMDALL" featurize -q -c "$TMP/cal.yaml" -o "$TMP/cal_f$s.h5" "$TMP/cal_c$s.h5"
    [ "$RC" -eq 0 ] && run "$PYTHON" "$TMP/perturb.py" "$TMP/cal_f$s.h5" "$TMP/cal_p$s.h5"
    is "$RC" 0 "calibration campaign $s: 300 events, offsets put in"
done
run "$HEIMDALL" calibrate -c "$TMP/cal.yaml" -o "$TMP/cal.h5" "$TMP/cal_p1.h5"
is "$RC" 0 "calibrate reads a sparse file"
[ "$RC" -eq 0 ] || diag "$ERR"
unlike "$ERR" "dense files only" "the refusal is gone"
like "$OUT" "calibration of 100 receivers from [0-9]+ events with truth \\([0-9]+ with RSS, [0-9]+ with time differences\\)" \
    "the table's heading"
like "$OUT" "rx00042 +[-+][0-9.]+ ± [0-9.]+ +[0-9]+ +[-+][0-9.]+ ± [0-9.]+" "a row per receiver with sigmas"
pycheck - "$TMP/cal.h5" "$TMP/cal_p1.h5.npz" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r"); c = f["calibration"]; t = np.load(sys.argv[2])
def ok(c_, name): print(("ok" if c_ else "not ok"), "-", name)
ok(len(f["receivers/id"]) == 100 and c["clock_offset_ns"].shape == (100,), "100 receivers, by id")
for what, truth, fit, sig, lim in (("clock", t["clock_ns"], c["clock_offset_ns"][:], c["clock_offset_sigma_ns"][:], 0.35),
                                   ("gain", t["gain_db"], c["rss_offset_db"][:], c["rss_offset_sigma_db"][:], 0.5)):
    k = np.isfinite(fit)
    d = fit[k] - truth[k]; d -= d.mean()  # only differences are fitted
    rms, spread = np.sqrt(np.mean(d ** 2)), truth[k].std()
    z = np.abs(d / sig[k])
    print("# %s: %d fitted, rms(fit - truth) %.3g, offsets' rms %.3g, |z| < 3 for %.0f %%" % (what, k.sum(), rms, spread, 100 * np.mean(z < 3)))
    ok(k.sum() >= 90 and rms < lim * spread, "%s offsets recovered: rms(fit - truth) %.3g of their %.3g" % (what, rms, spread))
    ok(np.mean(z < 3) > 0.85, "%s offsets within 3 stated sigma for %.0f %%" % (what, 100 * np.mean(z < 3)))
PY
unlike "$OUT" "DISPLACED" "no receiver flagged where none was moved"
cp "$TMP/cal_p1.h5" "$TMP/cal_m1.h5"  # receiver rx00042 advertised 2 km north of where it is
"$PYTHON" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); la = f["receivers/lat"]; la[41] = la[41] + 2000 / 111132.0' \
    "$TMP/cal_m1.h5"
run "$HEIMDALL" calibrate -c "$TMP/cal.yaml" -o "$TMP/cal_m.h5" "$TMP/cal_m1.h5"
is "$RC" 0 "calibrate with a misplaced receiver"
like "$OUT" "rx00042: its time differences put it (1[6-9][0-9][0-9]|2[0-3][0-9][0-9]) m from its advertised position \\(-?[0-9]+ m east, -(1[6-9]|2[0-3])[0-9][0-9] m north\\)" \
    "reported: about 2 km, to the south"
flagged=$(printf '%s\n' "$OUT" | grep DISPLACED | awk '{print $1}' | tr '\n' ' ')
is "$flagged" "rx00042 " "that receiver alone is flagged DISPLACED"
for c in without with; do
    opt=(); [ $c = with ] && opt=(--calibration "$TMP/cal.h5")
    run "$HEIMDALL" evaluate -c "$TMP/cal.yaml" --method tdoa "${opt[@]}" -o "$TMP/cal_e_$c.h5" "$TMP/cal_p2.h5"
    is "$RC" 0 "evaluate the second campaign $c the calibration"
    [ "$RC" -eq 0 ] || diag "$ERR"
done
like "$ERR" "calibration .*cal.h5: 100 of 100 receivers calibrated" "the calibration said on the log"
pycheck - "$TMP/cal_e_without.report.json" "$TMP/cal_e_with.report.json" <<'PY'
import sys, json
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print("# tdoa median / p95: without %.0f / %.0f m, with %.0f / %.0f m" % (a["median_m"], a["p95_m"], b["median_m"], b["p95_m"]))
print(("ok" if b["median_m"] < 0.6 * a["median_m"] else "not ok"), "- the calibration applied: median error %.0f -> %.0f m" % (a["median_m"], b["median_m"]))
PY
run "$HEIMDALL" localize -q -c "$TMP/cal.yaml" --calibration "$TMP/cal.h5" -o "$TMP/cal_p.jsonl" "$TMP/cal_p2.h5"
is "$RC" 0 "localize takes a calibration on a sparse file"
"$PYTHON" "$TMP/perturb.py" "$TMP/cal_f2.h5" "$TMP/cal_n2.h5" 41
run "$HEIMDALL" localize -c "$TMP/cal.yaml" --calibration "$TMP/cal.h5" --set localize.unknown_receivers=mask \
    -o "$TMP/cal_n.jsonl" "$TMP/cal_n2.h5"
is "$RC" 0 "a receiver the calibration does not know"
like "$ERR" "99 of 100 receivers calibrated" "is counted"
like "$ERR" "[0-9]+ events? heard receivers it does not know, masked" "and masked where heard"
grep -q '"uncalibrated":\["rxnew01"\]' "$TMP/cal_n.jsonl"; ok $? "the events that heard it name it"
run "$HEIMDALL" calibrate -o "$TMP/cal_mix.h5" "$TMP/cal_p1.h5" "$TMP/dense_f.h5"
isnt "$RC" 0 "a dense and a sparse file together refused"
like "$ERR" "mix the dense and the sparse layout" "saying so"

# --- under MPI: the same file ----------------------------------------------
if command -v mpirun >/dev/null && command -v h5diff >/dev/null; then
    run mpirun --oversubscribe -np 2 "$HEIMDALL" collect -q -c "$TMP/big.yaml" -o "$TMP/big_c2.h5"
    is "$RC" 0 "collect, 2 ranks"
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$TMP/big.yaml" -o "$TMP/big_f2.h5" "$TMP/big_c.h5"
    is "$RC" 0 "featurize, 2 ranks"
    bad=0
    for pair in "big_c big_c2" "big_f big_f2"; do
        set -- $pair
        for p in $(h5ls -r "$TMP/$1.h5" | awk '$2 == "Dataset" {print $1}'); do
            h5diff -q "$TMP/$1.h5" "$TMP/$2.h5" "$p" "$p" >/dev/null 2>&1 || { bad=$((bad + 1)); diag "differs: $2 $p"; }
        done
    done
    is "$bad" 0 "2 ranks: every dataset of the captures and features identical to 1 rank"
else
    skip 3 "mpirun or h5diff not installed"
fi

# --- real data: ADS-B arrival times (shared/datasets/mlat), both layouts ---
DATA=${HEIMDALL_MLAT_DATA:-$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat}
if [ -r "$DATA/sensors.csv" ]; then
    M=(-c "$ROOT/configs/experiments/mlat.yaml")
    run "$HEIMDALL" import mlat -q "${M[@]}" -o "$TMP/ml_dense.h5" "$DATA/sensors.csv" "$DATA/set_3.csv" "$DATA/set_4.csv"
    is "$RC" 0 "import mlat, sets 3-4: dense"
    run "$HEIMDALL" import mlat "${M[@]}" --set collect.layout=sparse -o "$TMP/ml_sparse.h5" "$DATA/sensors.csv" \
        "$DATA/set_3.csv" "$DATA/set_4.csv"
    is "$RC" 0 "and sparse (collect.layout sparse)"
    like "$ERR" "sparse layout: the heard receivers only" "saying so"
    for l in dense sparse; do
        run "$HEIMDALL" localize -q "${M[@]}" -o "$TMP/ml_${l}.jsonl" "$TMP/ml_${l}.h5"
        is "$RC" 0 "$l: localized (3-D, the barometric height observed)"
    done
    pycheck - "$TMP/ml_dense.h5" "$TMP/ml_sparse.h5" "$TMP/ml_dense.jsonl" "$TMP/ml_sparse.jsonl" <<'PY'
import sys, json, h5py, numpy as np
d, s = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
E, R = d["toa/mask"].shape
cnt = s["events/link_count"][:]; first = s["events/link_first"][:]; rx = s["links/receiver"][:]
heard = d["toa/mask"][:].astype(bool)
ok(np.array_equal(cnt, heard.sum(1)) and all(np.array_equal(np.nonzero(heard[e])[0], rx[first[e]:first[e] + cnt[e]]) for e in range(E)),
   "each message's links are the receivers that heard it (%d messages, %.1f of %d receivers each)" % (E, cnt.mean(), R))
ok(np.array_equal(d["toa/time_ns"][:][heard], s["toa/time_ns"][:]), "/toa/time_ns per link equals the dense [message, receiver] values")
tm = s["tdoa/mask"][:]; meth = s["tdoa/method"][:]
names = [x.decode() if isinstance(x, bytes) else x for x in s["tdoa/method"].attrs["names"]]
ok(tm.sum() == d["tdoa/mask"][:].sum() and np.all(meth[tm == 1] == names.index("arrival")),
   "the same %d pairs timed, by the receivers' arrival stamps (method arrival)" % tm.sum())
dl = [json.loads(x) for x in open(sys.argv[3])]; sl = [json.loads(x) for x in open(sys.argv[4])]
both = [(a, b) for a, b in zip(dl, sl) if a["status"] == "ok" and b["status"] == "ok"]
dd = np.array([np.hypot((a["lat"] - b["lat"]) * 111195, (a["lon"] - b["lon"]) * 111195 * np.cos(np.radians(a["lat"]))) for a, b in both])
ok(len(both) == sum(a["status"] == "ok" for a in dl) == sum(b["status"] == "ok" for b in sl),
   "the same %d messages located" % len(both))
ok(dd.max() < 1.0 and all(a["receivers"] == b["receivers"] for a, b in both),
   "positions within %.3f m of the dense file's, the same receivers used" % dd.max())
dh = np.array([abs(a["alt_m"] - b["alt_m"]) for a, b in both])
ok(dh.max() < 1.0, "heights within %.3f m (a 3-D solve on both)" % dh.max())
PY
    # calibrated on sets 1-2 in either layout, applied to sets 3-4 in the same
    for l in dense sparse; do
        run "$HEIMDALL" import mlat -q "${M[@]}" --set collect.layout=$l -o "$TMP/ml12_${l}.h5" "$DATA/sensors.csv" \
            "$DATA/set_1.csv" "$DATA/set_2.csv"
        [ "$RC" -eq 0 ] && run "$HEIMDALL" calibrate -q "${M[@]}" -o "$TMP/mlcal_${l}.h5" "$TMP/ml12_${l}.h5"
        [ "$RC" -eq 0 ] && run "$HEIMDALL" evaluate -q "${M[@]}" --method tdoa --calibration "$TMP/mlcal_${l}.h5" \
            -o "$TMP/mle_${l}.h5" "$TMP/ml_${l}.h5"
        is "$RC" 0 "$l: calibrate on sets 1-2, evaluate sets 3-4 with it"
    done
    pycheck - "$TMP/mle_dense.report.json" "$TMP/mle_sparse.report.json" "$TMP/mlcal_dense.h5" "$TMP/mlcal_sparse.h5" <<'PY'
import sys, json, h5py, numpy as np
d, s = (json.load(open(p)) for p in sys.argv[1:3])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
k = ("median_m", "p68_m", "p95_m")
ok(all(abs(d[x] - s[x]) < 0.05 for x in k) and d["located"] == s["located"],
   "the same errors: median/p68/p95 %.1f/%.1f/%.1f m dense, %.1f/%.1f/%.1f m sparse" % tuple([d[x] for x in k] + [s[x] for x in k]))
a, b = (h5py.File(p, "r") for p in sys.argv[3:5])
ia = [x.decode() if isinstance(x, bytes) else x for x in a["receivers/id"][:]]
ib = [x.decode() if isinstance(x, bytes) else x for x in b["receivers/id"][:]]
ca, cb = a["calibration/clock_offset_ns"][:], b["calibration/clock_offset_ns"][:]
la, lb = a["calibration/clock_links"][:], b["calibration/clock_links"][:]
m = {x: j for j, x in enumerate(ib)}
same_links = all(la[i] == lb[m[x]] for i, x in enumerate(ia))
# offsets are fixed up to a constant per group of receivers that share messages: the differences within
# a group agree (the two fits pick each group's constant differently)
diff = np.array([ca[i] - cb[m[x]] for i, x in enumerate(ia) if np.isfinite(ca[i])])
consts = np.unique(np.round(diff, 1))
ok(same_links and len(consts) <= 3, "the same links per receiver, offsets equal up to a constant per group (%s ns)" % consts)
PY
else
    skip 17 "no ADS-B data set at $DATA"
fi

# --- what does not read sparse files yet says so ----------------------------
run "$HEIMDALL" train -q -o "$TMP/m.h5" "$TMP/big_f.h5"
isnt "$RC" 0 "train refuses a sparse file"
like "$ERR" "sparse layout" "naming the layout"
run "$HEIMDALL" evaluate -q --set evaluate.split=time_block -o "$TMP/e.h5" "$TMP/big_f.h5"
isnt "$RC" 0 "evaluate.split refuses it"
like "$ERR" "not with evaluate.split \\(set it to none\\) yet" "saying what to set"
run "$HEIMDALL" localize -q --method nn -o "$TMP/p3.jsonl" "$TMP/big_f.h5"
isnt "$RC" 0 "--method nn refuses it"
run "$HEIMDALL" collect -q -c "$TMP/big.yaml" --set collect.source=live -o "$TMP/live.h5"
isnt "$RC" 0 "live collection of 100 receivers refused (it writes dense files)"
like "$ERR" "collect.source live writes the dense layout: up to 64 receivers \\(the stations file has 100\\)" "saying so"
run "$HEIMDALL" featurize -q --set featurize.logmel=true -o "$TMP/f3.h5" "$TMP/big_c.h5"
isnt "$RC" 0 "featurize.logmel refuses it"
like "$ERR" "no log-mel" "saying why"
[ ! -e "$TMP/f3.h5" ] && [ ! -e "$TMP/m.h5" ] && [ ! -e "$TMP/e.h5" ] && [ ! -e "$TMP/live.h5" ]; ok $? "nothing written"

# --- damaged indexes ----------------------------------------------------------
cp "$TMP/big_c.h5" "$TMP/bad1.h5"
"$PYTHON" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); c = f["events/link_count"]; c[0] = c[0] + 1' "$TMP/bad1.h5"
run "$HEIMDALL" featurize -q -o "$TMP/f4.h5" "$TMP/bad1.h5"
isnt "$RC" 0 "a link count that does not add up is refused"
like "$ERR" "link_count adds up to [0-9]+ links, /links/receiver has [0-9]+" "saying so"
cp "$TMP/big_c.h5" "$TMP/bad2.h5"
"$PYTHON" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); f["links/receiver"][3] = 100' "$TMP/bad2.h5"
run "$HEIMDALL" featurize -q -o "$TMP/f5.h5" "$TMP/bad2.h5"
isnt "$RC" 0 "a link naming a receiver the table does not have is refused"
like "$ERR" "link row 3: receiver 100 of 100" "naming the row"
cp "$TMP/big_c.h5" "$TMP/bad3.h5"
"$PYTHON" -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r+"); d = f["events/link_first"]; d[1] = d[1] + 1' "$TMP/bad3.h5"
run "$HEIMDALL" featurize -q -o "$TMP/f6.h5" "$TMP/bad3.h5"
isnt "$RC" 0 "an event whose links do not follow the previous event's is refused"
[ ! -e "$TMP/f4.h5" ] && [ ! -e "$TMP/f5.h5" ] && [ ! -e "$TMP/f6.h5" ]; ok $? "and nothing written"
done_testing
