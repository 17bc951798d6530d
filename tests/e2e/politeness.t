#!/usr/bin/env bash
# Politeness limits against a KiwiSDR emulator that enforces its own:
#  - listening time: the emulator allows 0.125 s of audio per receiver to
#    this address (a KiwiSDR's ip_limit). Without a limit of ours the
#    fourth capture meets the server's ip_limit on every receiver; with
#    collect.live.max_listen_s 0.1 heimdall stops connecting after two
#    captures (status not run, saying why), never hits the server's limit,
#    and the emulator counts no more than 0.1 s per receiver; the run is
#    partial (fewer events than asked), the file says so.
#  - connections at once: two stations on one server are refused unless
#    collect.live.max_connections_per_server allows 2; then both connect at
#    once, which an emulator allowing one user answers with too_busy and
#    one allowing two serves.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/emu.sh"

# stations NAME [DOUBLE]: a stations file for NAME's ports (DOUBLE: a
# second station, "second", on receiver 0's server)
stations() {
    "$PYTHON" - "$TMP/sim.h5" "$TMP/$1.ports" "$TMP/$1.stations.yaml" "${2:-}" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ports = {int(l.split()[1]): int(l.split()[2]) for l in open(sys.argv[2]) if l.startswith("PORT")}
R = f["receivers"]
rows = [(R["id"][r].decode(), R["lat"][r], R["lon"][r], ports[r]) for r in range(len(R["id"]))]
if sys.argv[4]:
    rows.append(("second", rows[0][1] + 0.01, rows[0][2], rows[0][3]))
with open(sys.argv[3], "w") as o:
    o.write("stations:\n")
    for i, la, lo, p in rows:
        o.write(f"  - id: {i}\n    lat: {la!r}\n    lon: {lo!r}\n    driver: kiwisdr\n"
                f"    url: ws://127.0.0.1:{p}/\n    sample_rate_hz: 24000\n    clock: gps\n")
PY
}
# config NAME EVENTS EXTRA_LIVE: the experiment
config() {
    cat >"$TMP/$1.yaml" <<Y
seed: 1
stations: $1.stations.yaml
collect:
  source: live
  events: $2
  interval_s: 0.01
  duration_s: 0.05
  min_receivers: 1
  live: {timeout_s: 10, retries: 0, backoff_s: 0.05$3}
Y
}

run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.events=8 --set collect.duration_s=0.05 -o "$TMP/sim.h5"
is "$RC" 0 "a campaign to serve (0.05 s per capture)"

# --- listening time
start kiwisdr free --ip-limit 0.125; ok $? "emulators allowing 0.125 s of audio per receiver"
stations free; config free 6 ""
run "$HEIMDALL" collect -c "$TMP/free.yaml" -o "$TMP/free.h5"
is "$RC" 3 "no listening limit of ours: partial (exit 3)"
like "$ERR" "24-hour time limit per address reached.*ip_limit" "the server's ip_limit met"
like "$ERR" "wrote 3 events" "three captures before it"

start kiwisdr polite --ip-limit 0.125; ok $? "fresh emulators with the same limit"
stations polite; config polite 6 ", max_listen_s: 0.1"
run "$HEIMDALL" collect -c "$TMP/polite.yaml" -o "$TMP/polite.h5"
is "$RC" 3 "max_listen_s 0.1: partial (exit 3), the campaign cut short by us"
unlike "$ERR" "ip_limit" "the server's limit never met"
like "$ERR" "every receiver has listened its collect.live.max_listen_s \(0.1 s\)" "says why it stopped"
like "$ERR" "wrote 2 events" "two captures of 0.05 s each"
most=$(sed -n 's/^LISTENED [0-9]* //p' "$TMP/polite.err" | sort -g | tail -n 1)
ok $(awk -v m="${most:-9}" 'BEGIN { exit !(m <= 0.1 + 1e-6) }'; echo $?) "the emulator counted at most 0.1 s per receiver (${most:-none})"

run "$PYTHON" -c "import h5py; f = h5py.File('$TMP/polite.h5'); print(f['status'].shape[0], int((f['status'][...] == 0).all()), int(f.attrs['partial']))"
is "$OUT" "2 1 1" "the file: 2 events, every receiver ok in them, marked partial"

# --- connections at once
start kiwisdr one --max-users 1 --fault 0:drip; ok $? "emulators allowing one user each (receiver 0 streams slowly: the two connections overlap)"
stations one double; config one 1 ""
run "$HEIMDALL" collect -c "$TMP/one.yaml" -o "$TMP/one.h5"
is "$RC" 2 "two stations on one server refused by default"
like "$ERR" "stations '[^']*' and 'second' name the same server" "naming both and the server"
config one 1 ", max_connections_per_server: 2"
run "$HEIMDALL" collect -c "$TMP/one.yaml" -o "$TMP/one.h5"
is "$RC" 3 "allowed two: both connect at once, the server allowing one refuses one (exit 3)"
like "$ERR" "busy" "too_busy from the server"
start kiwisdr two --max-users 2 --fault 0:drip; ok $? "emulators allowing two users each"
stations two double; config two 1 ", max_connections_per_server: 2"
run "$HEIMDALL" collect -c "$TMP/two.yaml" -o "$TMP/two.h5"
is "$RC" 0 "a server allowing two serves both" || diag "$ERR"
like "$ERR" "wrote 1 events? × 8 receivers" "eight receivers, two on one server (one event: a server frees a channel only some time after a close)"
config two 1 ", max_connections_per_server: 1"
stations two double
run "$HEIMDALL" collect -c "$TMP/two.yaml" -o "$TMP/x.h5"
is "$RC" 2 "max_connections_per_server 1 refuses them again"
done_testing
