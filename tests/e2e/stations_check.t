#!/usr/bin/env bash
# heimdall stations check end to end on 127.0.0.1: a mixed network (four
# KiwiSDR, three OpenWebRX) served by the loopback emulators
# (tests/emulators/kiwisdr.py with its HTTP /status page, openwebrx.py;
# Python, written apart from the C probe). Healthy stations reported with
# version, users, GPS and latency; a refused, a busy and a silent (timeout)
# server each reported exactly; a server advertising a position 10 km off
# the stations file flagged; a wrong password; two stations on one server
# probed once; --json parsed by python; exit codes; the password never
# printed; the timeouts run concurrently. Every emulator is ours, on
# 127.0.0.1, stopped at the end.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/emu.sh"

PW='s3cr3t-Pa55word'
export HEIMDALL_PASSWORD_AQUILA_GIAVENO=$PW HEIMDALL_PASSWORD_MONTANARO=$PW HEIMDALL_PASSWORD_TORINO=$PW \
       HEIMDALL_PASSWORD_COAZZE=$PW HEIMDALL_PASSWORD_COAZZE_2=$PW

# nw-italy's seven sites, the first four KiwiSDR, the last three OpenWebRX;
# with --shared, an eighth station "coazze-2" on coazze's server.
"$PYTHON" "$ROOT/tests/e2e/mixed_stations.py" "$TMP/sim_stations.yaml"
cat >"$TMP/sim.yaml" <<Y
seed: 1
stations: sim_stations.yaml
collect:
  source: simulate
  events: 8
  duration_s: 0.05
  frequencies_hz: [145500000]
  simulate:
    receivers: {driver: as-stations, clock: as-stations, level_rate_hz: 200}
Y
run "$HEIMDALL" collect -q -c "$TMP/sim.yaml" -o "$TMP/sim.h5"
is "$RC" 0 "mixed network simulated (the emulators serve its receivers)"

# make_config NAME KIWI_PORTS OWRX_PORTS [--shared]
make_config() {
    "$PYTHON" "$ROOT/tests/e2e/mixed_stations.py" ${4:-} "$TMP/$1.stations.yaml" "$3" "$2"
    printf 'seed: 1\nstations: %s.stations.yaml\ncollect:\n  live: {timeout_s: 1}\n' "$1" >"$TMP/$1.yaml"
}

# --- all healthy (KiwiSDR with a password, every station's given), one server shared by two stations
start kiwisdr kiwi_ok --password "$PW" --users 0:2; ok $? "KiwiSDR emulators listening on 127.0.0.1"
start openwebrx owrx_ok --users 4:5; ok $? "OpenWebRX emulators listening on 127.0.0.1"
make_config ok "$TMP/kiwi_ok.ports" "$TMP/owrx_ok.ports" --shared
run "$HEIMDALL" stations check -c "$TMP/ok.yaml"
is "$RC" 0 "every station ok: exit 0"
like "$OUT" "^STATION +DRIVER +SERVER +STATUS +LATENCY" "a table with a header line"
is "$(printf '%s\n' "$OUT" | grep -c ' ok ')" 8 "eight stations ok in the table"
like "$OUT" "aquila-giaveno +kiwisdr +127\.0\.0\.1:[0-9]+ +ok +[0-9]+ ms +1\.560 +2/4 +7 sats 4321 fixes +0\.00 km" \
    "a KiwiSDR row: latency, version 1.560, users 2/4, GPS 7 satellites 4321 fixes, no offset"
like "$OUT" "passo-giovi +openwebrx .* ok +[0-9]+ ms +v1\.2\.2 +5 +position only +0\.00 km" \
    "an OpenWebRX row: latency, version v1.2.2, 5 users, its receiver_gps at the file's position"
like "$OUT" "coazze-2 .* same server as coazze" "a second station on one server shares its probe"
like "$ERR" "8 of 8 stations probed" "summary on stderr"
run "$HEIMDALL" stations check -c "$TMP/ok.yaml" --json
is "$RC" 0 "--json: exit 0"
printf '%s' "$OUT" >"$TMP/ok.json"
cat >"$TMP/ok_check.py" <<'PY'
import sys, json
d = json.load(open(sys.argv[1]))
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
S = {s["id"]: s for s in d["stations"]}
keys = {"id", "driver", "server", "probed", "status", "ok", "reachable", "message", "latency_ms", "version", "users",
        "users_max", "busy", "auth_required", "gps", "station_position", "server_position", "offset_m",
        "offset_flagged", "shares_probe_with"}
ok(len(d["stations"]) == 8 and all(keys <= set(s) for s in d["stations"]), "one object per station, every field")
ok(all(s["status"] == "ok" and s["ok"] and s["reachable"] for s in d["stations"]), "all ok and reachable")
ok(all(isinstance(s["latency_ms"], float) and 0 < s["latency_ms"] < 1000 for s in d["stations"]),
   "latency in ms for each (%s)" % sorted(round(s["latency_ms"], 1) for s in d["stations"]))
k = S["aquila-giaveno"]
ok(k["version"] == "1.560" and k["users"] == 2 and k["users_max"] == 4 and not k["busy"], "KiwiSDR version and users")
ok(k["gps"] == {"satellites": 7, "fixes": 4321, "fixes_min": 12} and k["auth_required"], "KiwiSDR GPS and auth=password")
o = S["passo-giovi"]
ok(o["version"] == "v1.2.2" and o["users"] == 5 and o["users_max"] is None and o["gps"]["satellites"] is None,
   "OpenWebRX version and clients, no GPS fix information")
ok(all(s["offset_m"] is not None and s["offset_m"] < 1 and not s["offset_flagged"] for s in d["stations"]),
   "every advertised position within 1 m of the file")
ok(S["coazze-2"]["shares_probe_with"] == 3 and S["coazze"]["shares_probe_with"] is None, "shared probe named by index")
sm = d["summary"]
ok(sm["stations"] == 8 and sm["probed"] == 8 and sm["ok"] == 8 and sm["not_ok"] == 0 and sm["position_flagged"] == 0,
   "summary counts")
PY
pycheck "$TMP/ok_check.py" "$TMP/ok.json"
# the emulator requires the password: every KiwiSDR ok above means it was sent
run env HEIMDALL_PASSWORD_TORINO=Xy9-bad-guess "$HEIMDALL" stations check -v -c "$TMP/ok.yaml"
is "$RC" 3 "a wrong password: exit 3"
like "$OUT" "torino +kiwisdr .* auth .*wrong password \(badp=1\)" "reported as auth (badp=1)"
unlike "$OUT$ERR" "$PW|Xy9-bad-guess" "no password in the table or on stderr (even with -v)"

# --- the wrong driver in the stations file: the server says what it is
kport=$(awk '$1 == "PORT" && $2 == 0 {print $3}' "$TMP/kiwi_ok.ports")
oport=$(awk '$1 == "PORT" && $2 == 4 {print $3}' "$TMP/owrx_ok.ports")
cat >"$TMP/wrong.yaml" <<Y
seed: 1
collect:
  live: {timeout_s: 1}
stations:
  - {id: says-owrx, lat: 45.02, lon: 7.29, driver: openwebrx, url: "ws://127.0.0.1:$kport/"}
  - {id: says-kiwi, lat: 44.561, lon: 8.956, driver: kiwisdr, url: "ws://127.0.0.1:$oport/"}
Y
run "$HEIMDALL" stations check -c "$TMP/wrong.yaml" --json
is "$RC" 3 "stations with the wrong driver: exit 3"
run "$PYTHON" - <<PY
import json
d = {s["id"]: s for s in json.loads('''$OUT''')["stations"]}
o, k = d["says-owrx"], d["says-kiwi"]
assert o["status"] == "protocol" and o["server_driver"] == "kiwisdr", o
assert "answers as a KiwiSDR (GET /status" in o["message"] and "set driver: kiwisdr" in o["message"], o["message"]
assert k["status"] == "protocol" and k["server_driver"] == "openwebrx", k
assert "answers as an OpenWebRX (its web page at /)" in k["message"] and "set driver: openwebrx" in k["message"], k["message"]
PY
is "$RC" 0 "each told from the server's own answer (a KiwiSDR's /status page, an OpenWebRX's web page), the right driver named"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" stations check -c "$TMP/ok.yaml" --json
run "$PYTHON" -c 'import json, sys; d = json.loads(sys.stdin.read()); assert all(s["server_driver"] == s["driver"] for s in d["stations"]), [(s["id"], s["server_driver"]) for s in d["stations"]]' <<<"$OUT"
is "$RC" 0 "healthy stations: the server's answer agrees with the file's driver"

# --- faults: KiwiSDR 0 refused, 1 busy, 2 silent, 3 advertises 10 km north;
#     OpenWebRX 4 advertises 10 km north, 5 busy, 6 silent
north() { "$PYTHON" -c "print('%.6f,%s' % ($1 + 10000 / 111132.95, $2))"; }   # 10 km north, near 45° N
start kiwisdr kiwi_bad --password "$PW" --fault 0:refuse --fault 1:busy --fault 2:silent \
    --position 3:"$(north 45.048 7.238)"; ok $? "faulty KiwiSDR emulators listening"
start openwebrx owrx_bad --fault 5:busy --fault 6:silent --position 4:"$(north 44.561 8.956)"
ok $? "faulty OpenWebRX emulators listening"
make_config bad "$TMP/kiwi_bad.ports" "$TMP/owrx_bad.ports"
run "$HEIMDALL" stations check -c "$TMP/bad.yaml" --timeout 1
is "$RC" 3 "some stations not ok: exit 3"
like "$OUT" "aquila-giaveno .* refused .*connection refused" "refused reported"
like "$OUT" "montanaro .* busy .* 4/4\* .*all 4 channels busy \(too_busy\)" "KiwiSDR busy reported (4/4, too_busy)"
like "$OUT" "torino .* timeout .*no answer to GET /status within 1\.0 s" "silent KiwiSDR: timeout"
like "$OUT" "coazze .* ok .* 10\.0[0-9] km !" "KiwiSDR 10 km off: flagged"
like "$OUT" "passo-giovi .* ok .* 10\.0[0-9] km !" "OpenWebRX 10 km off: flagged"
like "$OUT" "genova .* busy .*backoff: Too many clients" "OpenWebRX busy reported (backoff)"
like "$OUT" "milano-baggio .* timeout .*no answer to GET /status within 1\.0 s" "silent OpenWebRX: timeout (the first question every server is asked)"
unlike "$OUT$ERR" "$PW" "no password printed"
run "$HEIMDALL" stations check -c "$TMP/bad.yaml" --timeout 1 --json --max-offset 0.5
is "$RC" 3 "--json: exit 3 as well"
printf '%s' "$OUT" >"$TMP/bad.json"
cat >"$TMP/bad_check.py" <<'PY'
import sys, json
d = json.load(open(sys.argv[1]))
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
S = {s["id"]: s for s in d["stations"]}
want = {"aquila-giaveno": "refused", "montanaro": "busy", "torino": "timeout", "coazze": "ok", "passo-giovi": "ok",
        "genova": "busy", "milano-baggio": "timeout"}
ok({k: S[k]["status"] for k in want} == want, "each status exact: %s" % {k: S[k]["status"] for k in want})
ok([k for k in want if S[k]["reachable"]] == ["montanaro", "coazze", "passo-giovi", "genova"],
   "busy servers reachable, refused and silent ones not")
for k in ("coazze", "passo-giovi"):
    s = S[k]
    ok(s["offset_flagged"] and 9900 < s["offset_m"] < 10100,
       "%s: advertised position %.1f m from the file, flagged" % (k, s["offset_m"]))
ok(S["montanaro"]["busy"] and S["montanaro"]["users"] == 4 and S["montanaro"]["users_max"] == 4, "busy: 4 of 4 users")
ok(S["torino"]["latency_ms"] is None and S["aquila-giaveno"]["latency_ms"] is None, "no latency without an answer")
ok(d["summary"]["max_offset_m"] == 500 and d["summary"]["position_flagged"] == 2, "threshold from --max-offset")
# the two silent servers time out together, not one after the other
ok(d["summary"]["wall_s"] < 1.8, "probes concurrent: two 1 s timeouts in %.2f s" % d["summary"]["wall_s"])
PY
pycheck "$TMP/bad_check.py" "$TMP/bad.json"
run "$HEIMDALL" stations check -c "$TMP/bad.yaml" --timeout 1 --max-offset 20
unlike "$OUT" "km !" "--max-offset 20: the 10 km offsets are not flagged"

# --- usage
run "$HEIMDALL" stations check --timeout 0
is "$RC" 2 "--timeout 0 is a usage error"
run "$HEIMDALL" stations frobnicate
is "$RC" 2 "unknown subcommand: exit 2"
run "$HEIMDALL" stations --help
like "$OUT" "Exit status: 0 every probed station is ok" "--help documents the exit status"
# (the default network names public servers: the tests probe none of them)
printf 'stations:\n  - {id: sim-a, lat: 45, lon: 7}\n  - {id: owrx-b, lat: 45.1, lon: 7.2, driver: openwebrx}\n' > "$TMP/nourl.yaml"
run "$HEIMDALL" stations check -c "$TMP/nourl.yaml"
is "$RC" 0 "simulated stations and one without url: nothing to probe, exit 0"
like "$OUT" "not-probed +- +- +- +- +- +no url in the stations file" "listed as not probed"

# --- TLS: a KiwiSDR served over https:// and wss:// with a throwaway certificate
if openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
        -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >/dev/null 2>&1 &&
   start kiwisdr kiwi_tls --tls "$TMP/cert.pem" "$TMP/key.pem"; then
    port=$(awk '$1 == "PORT" && $2 == 0 { print $3 }' "$TMP/kiwi_tls.ports")
    printf 'stations:\n  - {id: tls-kiwi, lat: 45.02, lon: 7.29, alt_m: 600, driver: kiwisdr, url: "wss://localhost:%s/", sample_rate_hz: 24000, clock: gps}\n' \
        "$port" >"$TMP/tls.stations.yaml"
    printf 'seed: 1\nstations: tls.stations.yaml\n' >"$TMP/tls.yaml"
    run env -u HEIMDALL_CA_BUNDLE "$HEIMDALL" stations check -c "$TMP/tls.yaml" --timeout 2
    is "$RC" 3 "TLS with an unknown certificate: not ok (exit 3)"
    like "$OUT" "tls-kiwi .* refused .*TLS" "refused, saying TLS: certificates are always verified"
    run env HEIMDALL_CA_BUNDLE="$TMP/cert.pem" "$HEIMDALL" stations check -c "$TMP/tls.yaml" --timeout 2
    is "$RC" 0 "TLS with the certificate trusted (HEIMDALL_CA_BUNDLE): exit 0"
    like "$OUT" "tls-kiwi +kiwisdr +localhost:[0-9]+ +ok +[0-9]+ ms +1\.560" "https:// /status and wss:// SND probed: ok, with the version"
else
    skip 4 "no openssl or the TLS emulator did not start"
fi

done_testing
