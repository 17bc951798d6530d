#!/usr/bin/env bash
# localize and evaluate on the smoke campaign: GeoJSON checked against RFC
# 7946's rules, KML parsed as XML, JSON lines; captures featurized on the
# fly; "not enough receivers" as a status, never a position; wrong inputs.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=12 --set collect.duration_s=0.1 -o "$TMP/c.h5"
is "$RC" 0 "collect"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "featurize"

run "$HEIMDALL" localize -c "$cfg" -o "$TMP/pos.geojson" "$TMP/f.h5"
is "$RC" 0 "localize exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
for f in pos.geojson pos.kml pos.jsonl; do
    [ -s "$TMP/$f" ]; ok $? "$f written"
done
n_lines=$(printf '%s\n' "$ERR" | grep -c '^event [0-9]* .* tdoa: ')
is "$n_lines" 12 "a one-line summary per event on stderr"
like "$ERR" "± [0-9]+ × [0-9]+ m \(68 %" "summaries give the 68 % ellipse"
ls -a "$TMP" | grep -q '\.tmp\.'; ok $((1 - $?)) "no temporary file left"

if "$PYTHON" -c 'import json, xml.etree.ElementTree' 2>/dev/null; then
    run "$PYTHON" - "$TMP/pos.geojson" "$TMP/pos.kml" "$TMP/pos.jsonl" "$TMP/f.h5" <<'PY'
import json, sys, math
import xml.etree.ElementTree as ET
gj = json.load(open(sys.argv[1]))
assert gj["type"] == "FeatureCollection", gj["type"]
lines = [json.loads(l) for l in open(sys.argv[3])]
assert len(lines) == 12, len(lines)
by_event = {l["event"]: l for l in lines}
points = polys = rx = 0
for f in gj["features"]:
    assert f["type"] == "Feature"
    g, p = f["geometry"], f["properties"]
    if g is None:
        assert p["status"] != "ok" and "lat" not in p, p
        continue
    if g["type"] == "Point":
        lon, lat = g["coordinates"]
        # [lon, lat]: the network is at 44-46 N, 7-9.5 E
        assert 6 < lon < 10.5 and 43.5 < lat < 46.5, (lon, lat)
        if p["kind"] == "receiver":
            rx += 1
            continue
        points += 1
        l = by_event[p["event"]]
        assert abs(l["lat"] - lat) < 1e-9 and abs(l["lon"] - lon) < 1e-9
        for k in ("time", "frequency_hz", "method", "ellipse_68", "ellipse_95", "receivers", "gdop"):
            assert k in p, k
        assert p["ellipse_95"]["semi_major_m"] > p["ellipse_68"]["semi_major_m"] > 0
    else:
        assert g["type"] == "Polygon", g["type"]
        polys += 1
        ring = g["coordinates"][0]
        assert len(ring) >= 4 and ring[0] == ring[-1], "ring not closed"
        area = sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1] for i in range(len(ring) - 1))
        assert area > 0, "exterior ring not counter-clockwise"
        for lon, lat in ring:
            assert 5 < lon < 11.5 and 43 < lat < 47, (lon, lat)
assert rx == 7, rx
assert points > 0 and polys == 2 * points, (points, polys)
ns = {"k": "http://www.opengis.net/kml/2.2"}
root = ET.parse(sys.argv[2]).getroot()
pm = root.findall(".//k:Placemark", ns)
assert len(pm) == 7 + 3 * points, (len(pm), points)
assert root.findall(".//k:Polygon//k:coordinates", ns)
print("%d located, %d ellipses, %d receivers" % (points, polys, rx))
PY
    is "$RC" 0 "GeoJSON follows RFC 7946 (closed counter-clockwise rings, [lon, lat]); KML parses as XML"
    diag "$OUT$ERR"
fi

# a captures file is featurized on the fly: the same positions
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/cap.geojson" "$TMP/c.h5"
is "$RC" 0 "localize from a captures file"
cmp -s "$TMP/cap.jsonl" "$TMP/pos.jsonl"; ok $? "same positions as from the features file"

# methods
for m in rss hybrid; do
    run "$HEIMDALL" localize -q -c "$cfg" --method $m -o "$TMP/$m.geojson" "$TMP/f.h5"
    is "$RC" 0 "--method $m"
    grep -q "\"method\":\"$m\"" "$TMP/$m.jsonl"; ok $? "$m recorded in the records"
done

# nobody heard it: every event "not enough receivers", no position made up
run "$HEIMDALL" collect -q -c "$cfg" --set collect.simulate.receivers.failure_probability=1 --set collect.min_receivers=0 -o "$TMP/dead.h5"
run "$HEIMDALL" localize -c "$cfg" -o "$TMP/dead.geojson" "$TMP/dead.h5"
is "$RC" 0 "localize of events nobody heard exits 0"
like "$ERR" "not enough receivers \(0 receivers usable; receivers: not_captured 7\)" "says not enough receivers, and why (every capture failed)"
grep -q '"lat"' "$TMP/dead.jsonl"; ok $((1 - $?)) "and writes no position"
is "$(grep -c '"status":"not enough receivers"' "$TMP/dead.jsonl")" 6 "each event has that status"
is "$(grep -c '"why":"receivers: not_captured 7"' "$TMP/dead.jsonl")" 6 "and its reason in the JSON lines"
run "$PYTHON" - "$TMP/pos.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
bad = [e for e in ev if e["status"] not in ("ok", "outside the search region")]
assert bad, "some events without a position"
assert all(e.get("why") for e in bad), [e for e in bad if not e.get("why")]
names = {"not_captured", "dead", "clipped", "no_data", "not_finite", "level_only", "no_gps_time", "too_narrow",
         "not_reference", "no_peak", "outside_lag_window", "stale_gps", "clock_drift", "no_freq_lock"}
for e in bad:
    for part in e["why"].replace("receivers: ", "").replace("pairs: ", "").replace(";", ",").split(","):
        name, n = part.split()
        assert name in names and int(n) > 0, e["why"]
assert not any("why" in e for e in ev if e["status"] == "ok")
PY
is "$RC" 0 "every event without a position names its masks' reasons; located events have none"
[ "$RC" -eq 0 ] || diag "$ERR"

# wrong inputs
run "$HEIMDALL" localize -q -o "$TMP/pos.geojson" "$TMP/f.h5"
is "$RC" 2 "existing output refused without --force"
like "$ERR" "exists; use --force" "and says so"
run "$HEIMDALL" localize -q --method nope -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 2 "unknown method is a usage error"
like "$ERR" "expected tdoa, rss, hybrid, nn or knn" "and names the methods"
run "$HEIMDALL" localize -q --method nn -o "$TMP/x.geojson" "$TMP/f.h5"
[ "$RC" -ne 0 ]; ok $? "--method nn without a model refused"
printf 'not hdf5\n' > "$TMP/junk.h5"
run "$HEIMDALL" localize -q -o "$TMP/x.geojson" "$TMP/junk.h5"
is "$RC" 1 "a non-HDF5 input refused"
like "$ERR" "heimdall localize: error: .*junk.h5" "naming the file"
[ ! -e "$TMP/x.geojson" ] && [ ! -e "$TMP/x.kml" ]; ok $? "nothing written on failure"
run "$HEIMDALL" localize -q -o "$TMP/x.geojson"
is "$RC" 2 "no input is a usage error"
run "$HEIMDALL" localize -q --set localize.grid_step_km=0.01 --set localize.search=grid -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 2 "a dense grid (localize.search grid) too fine for the region is a config error"
like "$ERR" "use a coarser step" "and says what to do"
run "$HEIMDALL" localize -q --set localize.grid_step_km=0.01 -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 0 "with localize.search auto the same step is searched coarse to fine instead"
run "$HEIMDALL" localize -q --set localize.search=spiral -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 2 "an unknown localize.search is refused"

# evaluate
run "$HEIMDALL" evaluate -c "$cfg" --set evaluate.plots=false -o "$TMP/eval.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$OUT" "error: median [0-9]+ m, p68 [0-9]+ m, p95" "prints the error percentiles"
like "$OUT" "calibration \(Student-t, 4 \+ dof degrees of freedom: [0-9]+ to [0-9]+, median [0-9.]+\): .* inside 1-sigma" \
     "prints the calibration and the predictive's shape (each event's own, from its residuals)"
like "$OUT" "ellipses drawn .* inside the 68 % one, .* inside the 95 % one" "prints the drawn ellipses' coverage"
like "$OUT" "latency: median [0-9]+ us" "prints per-event latency"
[ -s "$TMP/report.json" ]; ok $? "report.json beside eval.h5"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/report.json" "$TMP/eval.h5" "$TMP/pos.jsonl" <<'PY'
import json, sys, h5py, math
r = json.load(open(sys.argv[1]))
for k in ("n", "mean_m", "median_m", "p68_m", "p95_m", "rmse_m", "coverage_1sigma", "coverage_2sigma",
          "median_crlb_m", "method", "by_snr", "by_receivers", "mean_nll", "bias_east_m"):
    assert k in r, k
assert r["method"] == "tdoa" and r["n"] == 12
located = (h5py.File(sys.argv[2], "r")["status"][:] == 0).sum()
assert abs(r["coverage_1sigma_se"] - math.sqrt(0.3934693 * (1 - 0.3934693) / located)) < 1e-6, "binomial s.e."
assert abs(r["coverage_2sigma_se"] - math.sqrt(0.8646647 * (1 - 0.8646647) / located)) < 1e-6, "binomial s.e."
f = h5py.File(sys.argv[2], "r")
assert f.attrs["heimdall_format"] == "evaluation"
assert f["error_m"].shape == (12,) and f["cov_enu_m2"].shape == (12, 3)
assert f["error_m"].attrs["units"] == "m"
ok = f["status"][:] == 0
e = f["error_m"][:]
assert all(math.isfinite(x) for x in e[ok]) and all(math.isnan(x) for x in e[~ok])
assert abs(sorted(e[ok])[len(e[ok]) // 2] - r["median_m"]) < 1e-6 * r["median_m"] + 1e-9 or len(e[ok]) % 2 == 0
assert "breakdown/snr/median_m" in f and "breakdown/receivers/coverage_1sigma" in f
# the posterior predictive: a Student-t with prior_nu + dof degrees of freedom per event
d2, nu, dof, c = f["mahalanobis2"][:][ok], f["nu"][:][ok], f["dof"][:][ok], f["content"][:][ok]
assert (nu == 4 + dof).all() and (nu > 4).any(), (nu, dof)
assert r["prior_nu"] == 4 and r["tail_nu"] == 0 and abs(r["median_nu"] - sorted(nu)[len(nu) // 2]) <= 1, r["median_nu"]
assert (f["chi2"][:][ok] >= 0).all() and all(math.isnan(x) for x in f["dof"][:][~ok])
for i in range(len(d2)):
    assert abs(c[i] - (1 - (1 + d2[i] / (nu[i] - 2)) ** (-nu[i] / 2))) < 1e-9, (d2[i], nu[i], c[i])
# the drawn ellipses' coverage: fraction with d2 inside each event's 68 % and 95 % radii
rad2 = lambda p, v: (v - 2) * ((1 - p) ** (-2 / v) - 1)
for p, k in ((0.68, "coverage_68"), (0.95, "coverage_95")):
    want = (d2 <= rad2(p, nu)).mean()
    assert abs(r[k] - want) < 1e-9 and abs(f.attrs[k] - want) < 1e-9, (k, r[k], want)
assert "breakdown/snr/coverage_68" in f
# localize's positions carry the same nu and dof
n = 0
for line in open(sys.argv[3]):
    a = json.loads(line)
    if "cov_enu_m2" in a:
        assert a["nu"] == 4 + a["dof"], a
        n += 1
assert n == ok.sum(), (n, ok.sum())
PY
    is "$RC" 0 "report.json keys and eval.h5 per-event datasets"
    [ "$RC" -eq 0 ] || diag "$ERR"
    # without the residuals' scaling, a fixed Student-t predictive
    # (localize.tail_nu): its regions hold their probability of the t
    # (tighter than a Gaussian's of the same covariance at 68 %, wider at 95 %)
    fixed=(--set localize.scale_by_chi2=false)
    run "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false "${fixed[@]}" --set localize.tail_nu=5 -o "$TMP/evt.h5" "$TMP/f.h5"
    is "$RC" 0 "evaluate with localize.tail_nu 5"
    run "$HEIMDALL" localize -q -c "$cfg" "${fixed[@]}" --set localize.tail_nu=5 -o "$TMP/t.geojson" "$TMP/f.h5"
    is "$RC" 0 "localize with localize.tail_nu 5"
    run "$HEIMDALL" localize -q -c "$cfg" "${fixed[@]}" -o "$TMP/g.geojson" "$TMP/f.h5"
    is "$RC" 0 "localize with the fitted covariance as a Gaussian"
    run "$PYTHON" - "$TMP/evt.report.json" "$TMP/evt.h5" "$TMP/t.jsonl" "$TMP/g.jsonl" <<'PY'
import json, sys, h5py, math
r = json.load(open(sys.argv[1]))
f = h5py.File(sys.argv[2], "r")
ok = f["status"][:] == 0
d2, c, nu = f["mahalanobis2"][:][ok], f["content"][:][ok], f["nu"][:][ok]
assert len(d2) > 0 and all(nu == 5) and r["tail_nu"] == 5 and r["prior_nu"] == 0
rad2 = lambda p: 3 * ((1 - p) ** (-2 / 5) - 1)            # (nu - 2)((1 - p)^(-2/nu) - 1)
for i in range(len(d2)):
    assert abs(c[i] - (1 - (1 + d2[i] / 3) ** -2.5)) < 1e-9, (d2[i], c[i])
for p, k in ((1 - math.exp(-0.5), "coverage_1sigma"), (1 - math.exp(-2), "coverage_2sigma"), (0.68, "coverage_68"), (0.95, "coverage_95")):
    want = (d2 <= rad2(p)).mean()
    assert abs(r[k] - want) < 1e-9, (k, r[k], want)
assert abs(r["coverage_d2_1"] - (d2 <= 1).mean()) < 1e-9 and abs(r["coverage_d2_4"] - (d2 <= 4).mean()) < 1e-9
assert rad2(0.95) > -2 * math.log(0.05) and rad2(0.68) < -2 * math.log(0.32), "the t's 95 % region is wider, its 68 % one tighter"
# the ellipses localize writes: semi-axes from the covariance's eigenvalues and the t's radius
t = [json.loads(l) for l in open(sys.argv[3])]
g = [json.loads(l) for l in open(sys.argv[4])]
n = 0
for a, b in zip(t, g):
    if "cov_enu_m2" not in a:
        continue
    assert a["nu"] == 5 and b["nu"] == 0, (a["nu"], b["nu"])
    ee, en, nn = a["cov_enu_m2"]
    l1 = (ee + nn) / 2 + math.sqrt(((ee - nn) / 2) ** 2 + en * en)
    for p, k in ((0.68, "ellipse_68"), (0.95, "ellipse_95")):
        want = math.sqrt(rad2(p) * l1)
        assert abs(a[k]["semi_major_m"] - want) < 1e-6 * want, (k, a[k]["semi_major_m"], want)
        ratio = a[k]["semi_major_m"] / b[k]["semi_major_m"]
        assert abs(ratio - math.sqrt(rad2(p) / (-2 * math.log(1 - p)))) < 1e-6, ratio
    n += 1
assert n > 0
print(n)
PY
    is "$RC" 0 "Student-t: content, coverage at every level and the drawn ellipses follow nu"
    [ "$RC" -eq 0 ] || diag "$ERR"
    run "$HEIMDALL" localize -q -c "$cfg" "${fixed[@]}" --set localize.tail_nu=2 -o "$TMP/t2.geojson" "$TMP/f.h5"
    is "$RC" 2 "localize.tail_nu 2 (no covariance) is a config error"
    like "$ERR" "more than 2 degrees of freedom" "and says why"
    run "$HEIMDALL" localize -q -c "$cfg" --set localize.prior_nu=2 -o "$TMP/t2.geojson" "$TMP/f.h5"
    is "$RC" 2 "localize.prior_nu 2 (no covariance without spare residuals) is a config error"
    like "$ERR" "prior_nu is 2: .* more than 2 for a covariance" "and says why"
    run "$HEIMDALL" localize -q -c "$cfg" --set localize.tail_nu=5 -o "$TMP/t2.geojson" "$TMP/f.h5"
    is "$RC" 2 "a fixed tail_nu with scale_by_chi2 true is a config error"
    like "$ERR" "tail_nu 5 applies with scale_by_chi2 false" "and says which applies"
    [ ! -e "$TMP/t2.geojson" ]; ok $? "nothing written on a config error"
    cp "$TMP/f.h5" "$TMP/notruth.h5"
    "$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f['truth']" "$TMP/notruth.h5"
    run "$HEIMDALL" evaluate -q -o "$TMP/e2.h5" "$TMP/notruth.h5"
    is "$RC" 1 "evaluate without truth refused"
    like "$ERR" "has no /truth" "and says why"
    [ ! -e "$TMP/e2.h5" ]; ok $? "no eval file left"
fi
if command -v gnuplot >/dev/null; then
    run "$HEIMDALL" evaluate -q -c "$cfg" -o "$TMP/plots.h5" "$TMP/f.h5"
    is "$RC" 0 "evaluate with plots"
    [ -s "$TMP/plots_cdf.png" ] && [ -s "$TMP/plots.gp" ]; ok $? "CDF drawn by gnuplot from a script beside it"
    [ -s "$TMP/plots_map.sh" ] && grep -q "gmt coast" "$TMP/plots_map.sh"; ok $? "the map's GMT script beside it"
    [ -s "$TMP/plots.report.json" ]; ok $? "NAME.report.json for another NAME"
fi
if command -v gmt >/dev/null && [ -s "$TMP/plots_map.sh" ]; then
    run "$PYTHON" - "$TMP/plots_map.png" "$TMP/plots_map_receivers.dat" <<'PY'
import sys, struct
b = open(sys.argv[1], "rb").read(24)
assert b[:8] == b"\x89PNG\r\n\x1a\n", "a PNG"
w, h = struct.unpack(">II", b[16:24])
assert 1500 <= w <= 2200 and 0.4 * w <= h <= 1.3 * w, (w, h)   # 15 cm wide at 300 dpi plus frame
rows = [l.split() for l in open(sys.argv[2])]
assert len(rows) == 7 and all(len(r) == 5 for r in rows), rows   # every receiver labelled
PY
    is "$RC" 0 "the GMT map drawn (coastlines, borders, scale bar), about 1900 px wide, every receiver labelled"
    [ "$RC" -eq 0 ] || diag "$ERR"
    like "$(cat "$TMP/plots_map.sh")" "no position: .* too few receivers" "unlocated events listed in a corner"
else
    skip 2 "gmt not installed (scripts/install-deps.sh installs it)"
fi
# the output kind follows -o's extension
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/y.h5" "$TMP/f.h5"
is "$RC" 0 "-o y.h5: an HDF5 positions file"
[ ! -e "$TMP/y.h5.kml" ] && [ ! -e "$TMP/y.h5.jsonl" ] && [ ! -e "$TMP/y.kml" ]; ok $? "and nothing beside it"
run "$PYTHON" - "$TMP/y.h5" "$TMP/pos.jsonl" <<'PY'
import sys, json, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
assert f.attrs["heimdall_format"] in ("positions", b"positions"), f.attrs["heimdall_format"]
j = [json.loads(l) for l in open(sys.argv[2])]
assert len(f["lat"]) == len(j)
for i, e in enumerate(j):
    if e.get("lat") is not None:
        assert abs(f["lat"][i] - e["lat"]) < 1e-7 and abs(f["lon"][i] - e["lon"]) < 1e-7, i
    else:
        assert np.isnan(f["lat"][i])
assert f["n_receivers"].dtype.kind == "i" and f["time_ns"].dtype == np.int64 and f["cov_enu_m2"].shape == (len(j), 3)
assert len(f["receivers/id"]) > 0 and f["status"].attrs["units"] in ("1", b"1")
PY
is "$RC" 0 "the positions file holds what the JSON lines hold, as numbers of the right kind"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/only.kml" "$TMP/f.h5"
is "$RC" 0 "-o only.kml"
grep -q "<kml" "$TMP/only.kml" && [ ! -e "$TMP/only.jsonl" ] && [ ! -e "$TMP/only.geojson" ]; ok $? "writes KML alone"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/only.jsonl" "$TMP/f.h5"
head -c1 "$TMP/only.jsonl" | grep -q "{" && [ ! -e "$TMP/only.geojson" ]; ok $? "-o only.jsonl writes JSON lines alone"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/y.txt" "$TMP/f.h5"
is "$RC" 2 "-o y.txt refused (exit 2)"
like "$ERR" "the output kind follows the extension: .geojson .*, .kml, .jsonl or .h5" "and says which kinds there are"
[ ! -e "$TMP/y.txt" ]; ok $? "nothing written"
# time and frequency on every feature (Google Earth's time slider, QGIS
# filters); the GeoJSON's bbox holds every geometry
run "$PYTHON" - "$TMP/pos.geojson" "$TMP/pos.kml" <<'PY'
import sys, json, re
import xml.etree.ElementTree as ET
g = json.load(open(sys.argv[1]))
w, s, e, n = g["bbox"]
pts = []
for f in g["features"]:
    p = f["properties"]
    if p.get("kind") != "receiver":
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", p["time"]) and p["frequency_hz"] > 1e6, p
    geo = f["geometry"]
    if geo is None:
        continue
    pts += [geo["coordinates"]] if geo["type"] == "Point" else geo["coordinates"][0]
assert pts and all(w <= x <= e and s <= y <= n for x, y in pts), "bbox"
assert min(x for x, _ in pts) == w and max(y for _, y in pts) == n, "bbox is tight"
k = ET.parse(sys.argv[2]).getroot()
ns = {"k": "http://www.opengis.net/kml/2.2"}
ev = [pm for pm in k.iter("{%s}Placemark" % ns["k"]) if pm.find("k:name", ns).text.startswith("event")]
assert ev and all(pm.find("k:TimeStamp/k:when", ns) is not None for pm in ev), "every event placemark has a TimeStamp"
assert all(pm.find("k:ExtendedData/k:Data[@name='frequency_hz']/k:value", ns) is not None for pm in ev)
PY
is "$RC" 0 "GeoJSON and KML features carry time and frequency; the GeoJSON has a tight bbox"
[ "$RC" -eq 0 ] || diag "$ERR"
# streaming: more events than one block (256), written block by block as they are located, equal
# to evaluate's whole-file run of the same events
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=600 --set collect.duration_s=0.02 -o "$TMP/c600.h5"
is "$RC" 0 "a 600-event campaign"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/s600.h5" "$TMP/c600.h5"
is "$RC" 0 "localize -o s600.h5 (three blocks)"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/s600.geojson" "$TMP/c600.h5"
is "$RC" 0 "localize -o s600.geojson (and .kml, .jsonl)"
run "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$TMP/e600.h5" "$TMP/c600.h5"
is "$RC" 0 "evaluate the same events"
run "$PYTHON" - "$TMP/s600.h5" "$TMP/s600.jsonl" "$TMP/s600.geojson" "$TMP/e600.h5" <<'PY'
import sys, json, h5py, numpy as np
f, e = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[4], "r")
j = [json.loads(l) for l in open(sys.argv[2])]
g = json.load(open(sys.argv[3]))
assert len(j) == 600 and list(f["event_index"][:]) == list(range(600)) == [x["event"] for x in j]
est = [x for x in g["features"] if x["properties"].get("kind") == "estimate"]
assert len(est) == 600, len(est)
for k in ("lat", "lon", "status", "cov_enu_m2", "n_receivers", "chi2"):
    a, b = f[k][:], e[k][:]
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), k
PY
is "$RC" 0 "every event once, in order, in all four outputs; the same solutions as evaluate's"
[ "$RC" -eq 0 ] || diag "$ERR"
# PROJ is opened on the first geodesic (evaluate's errors against the truth):
# one that cannot be opened stops the run as a missing library would, with
# the dynamic loader's status and a message, and no final output
run env HEIMDALL_PROJ_LIB="$TMP/no-such-libproj.so" "$HEIMDALL" evaluate -q -c "$cfg" -o "$TMP/noproj.h5" "$TMP/f.h5"
is "$RC" 127 "a PROJ that cannot be opened: exit 127"
like "$ERR" "PROJ's geodesic routines \(.*no-such-libproj.so\) cannot be loaded: .*; install PROJ" "and says which library and why"
[ ! -e "$TMP/noproj.h5" ]; ok $? "no output under the final name"
run "$HEIMDALL" evaluate -q -c "$cfg" -o "$TMP/noproj.h5" "$TMP/f.h5"
is "$RC" 0 "the next run writes it"
ls -a "$TMP" | grep -q '\.noproj\.h5\.tmp\.'; ok $((1 - $?)) "and removes the stopped run's temporary"
done_testing
