#!/usr/bin/env bash
# collect on the smoke campaign: the file, its provenance, refusal to
# overwrite, info, and h5py reading /iq and /truth.
. "$(dirname "$0")/lib.sh"

out="$TMP/captures.h5"
run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$out"
is "$RC" 0 "collect smoke exits 0"
[ -s "$out" ]; ok $? "captures file written"
ls -a "$TMP" | grep -q '\.tmp\.'; ok $((!$?)) "no temporary file left"

sum=$(sha256sum "$out" | cut -d' ' -f1)
run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$out"
is "$RC" 2 "existing output refused without --force (exit 2)"
like "$ERR" "exists; use --force to overwrite" "refusal says how to overwrite"
is "$(sha256sum "$out" | cut -d' ' -f1)" "$sum" "existing file untouched"

run "$HEIMDALL" collect -q -f -c "$ROOT/configs/smoke.yaml" -o "$out"
is "$RC" 0 "--force overwrites"

run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/no/such/dir/c.h5"
is "$RC" 1 "unwritable output: exit 1"
like "$ERR" "no/such/dir" "unwritable output named"

printf 'stations:\n  - {id: rx-a, lat: 45, lon: 7, driver: kiwisdr, url: "ws://127.0.0.1:9/"}\n  - {id: rx-b, lat: 45.2, lon: 7.3, driver: openwebrx}\n' > "$TMP/nourl.yaml"
run "$HEIMDALL" collect -q -c "$TMP/nourl.yaml" --set collect.source=live -o "$TMP/live.h5"
is "$RC" 2 "live capture without receiver addresses refused (exit 2)"
like "$ERR" "collect.source live: station 'rx-b' has no url" "and says which station lacks one"
[ ! -e "$TMP/live.h5" ]; ok $? "no file written"

run "$HEIMDALL" collect -q --set collect.source=sigmf -o "$TMP/rec.h5"
is "$RC" 2 "collect.source sigmf refused (exit 2)"
like "$ERR" "recordings come in through heimdall import sigmf" "and points to heimdall import"

# one connection per server: two stations naming the same host:port are refused
cat >"$TMP/dup.stations.yaml" <<'Y'
stations:
  - {id: alpha, lat: 45.0, lon: 7.6, alt_m: 300, driver: kiwisdr, url: "ws://127.0.0.1:8073/", sample_rate_hz: 12000, clock: gps}
  - {id: beta, lat: 45.1, lon: 7.7, alt_m: 300, driver: kiwisdr, url: "ws://127.0.0.1:8074/", sample_rate_hz: 12000, clock: gps}
  - {id: gamma, lat: 45.2, lon: 7.8, alt_m: 300, driver: openwebrx, url: "http://LOCALHOST.test:8073/ws/"}
  - {id: delta, lat: 45.3, lon: 7.9, alt_m: 300, driver: kiwisdr, url: "ws://127.0.0.1:8073", sample_rate_hz: 12000, clock: gps}
Y
printf 'seed: 1\nstations: dup.stations.yaml\ncollect: {source: live, events: 1, min_receivers: 2}\n' >"$TMP/dup.yaml"
run "$HEIMDALL" collect -q -c "$TMP/dup.yaml" -o "$TMP/dup.h5"
is "$RC" 2 "two stations on one server refused (exit 2)"
like "$ERR" "stations 'alpha' and 'delta' name the same server \\(127.0.0.1:8073\\)" "both named, with the server"
[ ! -e "$TMP/dup.h5" ]; ok $? "no file written"

run "$HEIMDALL" info "$out"
is "$RC" 0 "info exits 0"
like "$OUT" "heimdall captures file, format version 1" "info names the format"
like "$OUT" "/iq +6 × 7 × [0-9]+ × 2 +int16" "info lists /iq with its shape"
like "$OUT" "/truth/snr_db .* dB" "info lists units"
like "$OUT" "events: 6 +receivers: 7" "info summary counts"
like "$OUT" "SNR of received links" "info summarises SNR"
like "$OUT" "git_commit" "info shows provenance"

# the real nw-italy servers: five OpenWebRX (level series), two KiwiSDR
# (IQ), free-running clocks
run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.simulate.receivers.driver=as-stations \
    --set collect.simulate.receivers.clock=as-stations -o "$TMP/levels.h5"
is "$RC" 0 "collect as the stations say (OpenWebRX and KiwiSDR)"
run "$HEIMDALL" info "$TMP/levels.h5"
like "$OUT" "IQ captures: [1-9][0-9]* \(GPS-timed 0\) +level series: [1-9]" "level series from the OpenWebRX servers, IQ from the KiwiSDRs, no GPS time"

printf 'not hdf5\n' >"$TMP/text.h5"
run "$HEIMDALL" info "$TMP/text.h5"
is "$RC" 1 "info on a text file fails"
like "$ERR" "not an HDF5 file" "info says it is not HDF5"

if ! "$PYTHON" -c 'import h5py, numpy' 2>/dev/null; then
    diag "h5py not available in $PYTHON"
    ok 1 "h5py available (install python3-h5py)"
else
    run "$PYTHON" - "$out" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
iq = f["iq"]
assert iq.dtype == np.int16 and iq.ndim == 4 and iq.shape[0] == 6 and iq.shape[1] == 7 and iq.shape[3] == 2, iq
assert iq.attrs["units"] == "1" and isinstance(iq.attrs["description"], str)
x = iq[0].astype(np.float32)
assert np.abs(x).max() > 0, "IQ is not all zero"
for k in ["tx_lat", "tx_lon", "snr_db", "arrival_s", "distance_m"]:
    assert k in f["truth"], k
lat = f["truth/tx_lat"][:]
assert np.all(np.isfinite(lat)) and lat.min() > 43 and lat.max() < 47, lat
d = f["truth/distance_m"][:]
a = f["truth/arrival_s"][:]
assert np.allclose(a, d / 299792458.0, rtol=1e-9), "arrival = distance / c"
assert f.attrs["heimdall_format"] == "captures"
assert int(f.attrs["heimdall_format_version"]) == 1
for k in ["software_version", "git_commit", "created_utc", "command_line", "config_yaml", "config_sha256"]:
    assert k in f.attrs, k
assert "collect:" in f.attrs["config_yaml"]
ids = [s.decode() if isinstance(s, bytes) else s for s in f["receivers/id"][:]]
assert len(ids) == 7, ids
print("ok")
PY
    is "$RC" 0 "h5py reads /iq, /truth, receivers and provenance"
    [ "$RC" -eq 0 ] || diag "$ERR"
fi

done_testing
