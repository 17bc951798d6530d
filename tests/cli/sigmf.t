#!/usr/bin/env bash
# export/import sigmf: capture -> SigMF -> capture keeps every sample, the
# first-sample time (core:datetime to the ns), GPS flags and the positions
# (core:geolocation); a plain SigMF recording without heimdall: fields
# imports too; malformed metadata or data are refused with a reason and no
# output.
. "$(dirname "$0")/lib.sh"

run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.simulate.receivers.failure_probability=0.3 \
    -o "$TMP/c.h5"
is "$RC" 0 "collect smoke with failing receivers"
run "$HEIMDALL" export sigmf -o "$TMP/sg" "$TMP/c.h5"
is "$RC" 0 "export sigmf"
nok=$("$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(int(((f['status'][()]==0)&(f['has_iq'][()]==1)).sum()))" "$TMP/c.h5")
is "$(ls "$TMP"/sg/*.sigmf-meta | wc -l) $(ls "$TMP"/sg/*.sigmf-data | wc -l)" "$nok $nok" \
    "one meta and one data file per event x receiver that succeeded ($nok)"
out=$("$PYTHON" - "$TMP"/sg/*.sigmf-meta <<'PY'
import json, os, sys
bad = 0
for p in sys.argv[1:]:
    m = json.load(open(p)); g = m["global"]; c = m["captures"][0]
    n = os.path.getsize(p[:-4] + "data")
    bad += not (g["core:datatype"] == "ci16_le" and g["core:sample_rate"] > 0 and g["core:geolocation"]["type"] == "Point"
                and c["core:frequency"] > 0 and c["core:datetime"].endswith("Z") and c["core:sample_start"] == 0
                and n % 4 == 0 and any(e["name"] == "heimdall" for e in g["core:extensions"]) and m["annotations"] == [])
print(bad)
PY
)
is "$out" 0 "every meta: ci16_le, rate, frequency, datetime, GeoJSON point, heimdall extension declared"

run "$HEIMDALL" import sigmf "$TMP"/sg/*.sigmf-meta -o "$TMP/back.h5"
is "$RC" 0 "import sigmf"
while read -r line; do
    case "$line" in ok*) ok 0 "round trip: ${line#ok }" ;; *) ok 1 "round trip: ${line#not ok }" ;; esac
done < <("$PYTHON" "$ROOT/tests/cli/roundtrip.py" "$TMP/c.h5" "$TMP/back.h5")
out=$("$PYTHON" - "$TMP/c.h5" "$TMP/back.h5" <<'PY'
import h5py, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ia = [x.decode() for x in a["receivers/id"][()]]
ib = [x.decode() for x in b["receivers/id"][()]]
same = all(a["receivers/" + k][ia.index(i)] == b["receivers/" + k][j] for j, i in enumerate(ib) for k in ("lat", "lon", "alt_m"))
print(same, (a["events/time_ns"][()] == b["events/time_ns"][()]).all(), b.attrs["source"])
PY
)
is "$out" "True True sigmf" "positions and event times exact; source sigmf"

# a plain SigMF recording (no heimdall: fields): station from the name, event from the datetime's second
mkdir -p "$TMP/plain"
"$PYTHON" - "$TMP/plain" <<'PY'
import json, struct, sys
d = sys.argv[1]
meta = {"global": {"core:datatype": "ci16_le", "core:sample_rate": 48000, "core:version": "1.0.0"},
        "captures": [{"core:sample_start": 0, "core:frequency": 7100000, "core:datetime": "2024-03-01T12:00:00.25Z"}],
        "annotations": []}
json.dump(meta, open(d + "/rx1.sigmf-meta", "w"))
open(d + "/rx1.sigmf-data", "wb").write(struct.pack("<200h", *range(200)))
PY
run "$HEIMDALL" import sigmf "$TMP/plain/rx1.sigmf-meta" -o "$TMP/plain.h5"
is "$RC" 2 "a plain SigMF recording without a position anywhere is refused (exit 2)"
like "$ERR" "station 'rx1' .* has no position: .*no --positions file given" "the message names the station and where it looked"
ok "$([ ! -e "$TMP/plain.h5" ]; echo $?)" "no position: no output file"
printf 'id,lat,lon\nrx1,45.5,7.25\n' > "$TMP/plain/pos.csv"
run "$HEIMDALL" import sigmf "$TMP/plain/rx1.sigmf-meta" --positions "$TMP/plain/pos.csv" -o "$TMP/plain.h5"
is "$RC" 0 "a plain SigMF recording imports with --positions"
like "$ERR" "station rx1: 45.500000, 7.250000 from .*pos.csv:2" "the station's source is printed (file:line)"
out=$("$PYTHON" -c "
import h5py, sys
f = h5py.File(sys.argv[1])
print(f['receivers/id'][0].decode(), f['events/time_ns'][0], f['t0_s'][0, 0], f['iq'].shape, f['gps_ok'][0, 0])" "$TMP/plain.h5")
is "$out" "rx1 1709294400000000000 0.25 (1, 1, 100, 2) 1" "station from the name, event at the second, t0 0.25 s, 100 samples"

# malformed: an error with the reason, no output file
bad() { # bad NAME REGEX  (the recording is $TMP/bad/x)
    run "$HEIMDALL" import sigmf "$TMP/bad/x.sigmf-meta" -o "$TMP/bad.h5"
    is "$RC" 1 "$1: runtime failure"
    like "$ERR" "$2" "$1: the message says why"
    ok "$([ ! -e "$TMP/bad.h5" ]; echo $?)" "$1: no output file"
}
mkdir -p "$TMP/bad"
cp "$TMP/plain/rx1.sigmf-data" "$TMP/bad/x.sigmf-data"
printf '{"global": {"core:datatype": "ci16_le",' > "$TMP/bad/x.sigmf-meta"
bad "truncated JSON" "x.sigmf-meta: not JSON: line 1"
sed 's/ci16_le/cf32_le/' "$TMP/plain/rx1.sigmf-meta" > "$TMP/bad/x.sigmf-meta"
bad "datatype cf32_le" "core:datatype is 'cf32_le': only ci16_le"
sed 's/"core:sample_rate": 48000/"core:sample_rate": -1/' "$TMP/plain/rx1.sigmf-meta" > "$TMP/bad/x.sigmf-meta"
bad "negative sample rate" "core:sample_rate"
sed 's/2024-03-01T12:00:00.25Z/yesterday/' "$TMP/plain/rx1.sigmf-meta" > "$TMP/bad/x.sigmf-meta"
bad "bad datetime" "core:datetime"
cp "$TMP/plain/rx1.sigmf-meta" "$TMP/bad/x.sigmf-meta"
head -c 398 "$TMP/plain/rx1.sigmf-data" > "$TMP/bad/x.sigmf-data"
bad "data not whole I/Q pairs" "not a whole number"
rm "$TMP/bad/x.sigmf-data"
bad "missing data file" "x.sigmf-data"

run "$HEIMDALL" export sigmf -o "$TMP/sg" "$TMP/c.h5"
is "$RC" 2 "export over existing files without --force is refused"
run "$HEIMDALL" export --help
like "$OUT" "sigmf     SigMF recordings" "export --help lists sigmf"
done_testing
