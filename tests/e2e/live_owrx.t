#!/usr/bin/env bash
# Live capture of a mixed network end to end on 127.0.0.1: four KiwiSDR (IQ)
# and three OpenWebRX (S-meter levels only) receivers simulated, served by
# the loopback emulators (tests/emulators/kiwisdr.py and openwebrx.py,
# Python websockets, written apart from the C drivers), collected live in one
# poll loop, compared with the simulated file, featurized; then OpenWebRX
# failures (busy, disconnected, refused, stall, malformed, absurd length,
# absurd value) each recorded with the event still written, and a slow server
# whose levels are held. Every emulator is ours, on 127.0.0.1, stopped at the end.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/emu.sh"

# The network: nw-italy's seven sites, the first four KiwiSDR (GPS), the
# last three OpenWebRX (free-running clocks, levels only).
"$PYTHON" "$ROOT/tests/e2e/mixed_stations.py" "$TMP/sim_stations.yaml"
cat >"$TMP/sim.yaml" <<Y
seed: 1
stations: sim_stations.yaml
collect:
  source: simulate
  events: 4
  duration_s: 0.05
  frequencies_hz: [145500000, 433500000]
  simulate:
    receivers: {driver: as-stations, clock: as-stations, level_rate_hz: 200}
Y
run "$HEIMDALL" collect -q -c "$TMP/sim.yaml" -o "$TMP/sim.h5"
is "$RC" 0 "mixed campaign simulated (four IQ, three level-only receivers)"

# make_config NAME KIWI_PORTS OWRX_PORTS: a stations file on the emulators' ports and a live experiment
make_config() {
    # OpenWebRX ports first: a receiver takes the port of the emulator of its driver
    "$PYTHON" "$ROOT/tests/e2e/mixed_stations.py" "$TMP/$1.stations.yaml" "$3" "$2"
    cat >"$TMP/$1.yaml" <<Y
seed: 1
stations: $1.stations.yaml
collect:
  source: live
  events: 4
  interval_s: 0.01
  duration_s: 0.05
  frequencies_hz: [145500000, 433500000]
  min_receivers: 3
  live: {timeout_s: 2, retries: 1, backoff_s: 0.05, level_rate_hz: 200}
Y
}

# --- seven healthy receivers, both drivers in one session
start kiwisdr kiwi_ok; ok $? "KiwiSDR emulators listening on 127.0.0.1"
start openwebrx owrx_ok; ok $? "OpenWebRX emulators listening on 127.0.0.1"
is "$(grep -c '^PORT' "$TMP/owrx_ok.ports")" 3 "the OpenWebRX emulator serves the three level-only receivers"
make_config ok "$TMP/kiwi_ok.ports" "$TMP/owrx_ok.ports"
grep -q 'driver: openwebrx, url: "ws://127.0.0.1' "$TMP/ok.stations.yaml"; ok $? "openwebrx stations point at the emulator"
run "$HEIMDALL" collect -c "$TMP/ok.yaml" -o "$TMP/live.h5"
is "$RC" 0 "live collect from a mixed network exits 0"
like "$ERR" "wrote 4 events × 7 receivers" "four events written"
unlike "$ERR" "held" "no level was held (every S-meter message came)"
# the emulator sends its levels back to back, far faster than 200/s: said so
# (measured, or all in one read when the kernel hands them over together)
like "$ERR" "(sends [0-9.e+]+ S-meter messages/s, more|sent all 10 S-meter messages at once, faster) than collect.live.level_rate_hz 200: the 10 levels span" \
     "a server faster than collect.live.level_rate_hz is reported (its levels span less time)"

cat >"$TMP/cmp.py" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
ok(b.attrs["source"] in (b"live", "live") and int(b.attrs["partial"]) == 0, "file says source live, not partial")
ok((b["status"][...] == 0).all(), "every receiver ok")
ok(np.array_equal(a["has_levels"][...], b["has_levels"][...]), "has_levels as simulated (%s)" % b["has_levels"][0].tolist())
ok(np.array_equal(a["has_iq"][...], b["has_iq"][...]), "has_iq as simulated (%s)" % b["has_iq"][0].tolist())
ok(b["levels"].shape == a["levels"].shape, "levels shape %s as simulated %s" % (b["levels"].shape, a["levels"].shape))
m = a["has_levels"][...].astype(bool)
la, lb = a["levels"][...][m], b["levels"][...][m]
d = np.abs(la.astype(np.float64) - lb.astype(np.float64))
ok(m.sum() == 12 and la.size == 120 and d.max() <= 1e-5 * np.abs(la).max(),
   "levels of the OpenWebRX receivers equal the simulated ones within float rounding (max %.3g dB over %d)" % (d.max(), la.size))
ok(np.isnan(b["levels"][...][~m]).all(), "receivers without levels have NaN levels")
k = a["has_iq"][...].astype(bool)
ok(np.array_equal(a["iq"][...][k], b["iq"][...][k]), "IQ of the KiwiSDR receivers identical, sample for sample")
ok(not b["gps_ok"][...][m].any(), "OpenWebRX levels are not GPS-timed")
ok(np.allclose(b["events/level_rate_hz"][...], 200), "level rate recorded")
PY
pycheck "$TMP/cmp.py" "$TMP/sim.h5" "$TMP/live.h5"

run "$HEIMDALL" featurize -q -c "$TMP/sim.yaml" -o "$TMP/sim_f.h5" "$TMP/sim.h5"
is "$RC" 0 "featurize the simulated file"
run "$HEIMDALL" featurize -q -c "$TMP/sim.yaml" -o "$TMP/live_f.h5" "$TMP/live.h5"
is "$RC" 0 "featurize the live file"
cat >"$TMP/feat.py" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
names = [x.decode() if isinstance(x, bytes) else x for x in a["feature_names"][...]]
fa, fb = a["features"][...], b["features"][...]
ma, mb = a["mask"][...].astype(bool), b["mask"][...].astype(bool)
ok(np.array_equal(ma, mb), "same receivers valid")
ok(mb[:, 4:].all(), "the level-only receivers are valid RSS features")
for n in ("rss_dbfs", "level_std_db"):
    j = names.index(n)
    d = np.abs(fa[:, 4:, j] - fb[:, 4:, j]).max()
    ok(d < 1e-4, "%s of the level-only receivers agrees (max diff %.3g)" % (n, d))
PY
pycheck "$TMP/feat.py" "$TMP/sim_f.h5" "$TMP/live_f.h5"

# --- two OpenWebRX receivers failing: busy (backoff) and disconnected mid-stream
start kiwisdr kiwi_bad && start openwebrx owrx_bad --fault 4:busy --fault 6:disconnect
ok $? "emulators with two OpenWebRX faults listening"
make_config bad "$TMP/kiwi_bad.ports" "$TMP/owrx_bad.ports"
sed -i 's/events: 4/events: 1/' "$TMP/bad.yaml"
run "$HEIMDALL" collect -c "$TMP/bad.yaml" -o "$TMP/bad.h5"
is "$RC" 3 "two failed receivers: exit 3 (partial)"
[ -s "$TMP/bad.h5" ]; ok $? "the event is still written from five receivers"
like "$ERR" "passo-giovi: busy: .*Too many clients" "the busy receiver named with the server's reason"
like "$ERR" "milano-baggio: disconnected" "the dropped receiver named with its failure"
is "$("$PYTHON" -c "
import h5py, numpy as np
f = h5py.File('$TMP/bad.h5')
print(f['status'][0].tolist(), int(f.attrs['partial']), f['has_levels'][0].tolist(), int(np.isnan(f['levels'][0, 4]).all() and np.isnan(f['levels'][0, 6]).all()))")" \
   "[0, 0, 0, 0, 3, 0, 6] 1 [0, 0, 0, 0, 0, 1, 0] 1" \
   "statuses busy (3) and disconnected (6), file partial, failed receivers without levels"

# --- more failures, each its exact status: refused, stall, malformed, absurd length, absurd value
start kiwisdr kiwi_f && start openwebrx owrx_f1 --fault 4:refuse --fault 5:stall --fault 6:malformed
ok $? "emulators with refuse, stall and malformed faults listening"
make_config f1 "$TMP/kiwi_f.ports" "$TMP/owrx_f1.ports"
sed -i 's/events: 4/events: 1/; s/timeout_s: 2/timeout_s: 1/' "$TMP/f1.yaml"
run "$HEIMDALL" collect -c "$TMP/f1.yaml" -o "$TMP/f1.h5"
is "$RC" 3 "three failed receivers: exit 3"
is "$("$PYTHON" -c "import h5py; print(h5py.File('$TMP/f1.h5')['status'][0].tolist())")" \
   "[0, 0, 0, 0, 1, 2, 5]" "refused 1, stall = timeout 2, truncated JSON = protocol 5"
like "$ERR" "genova: timeout: no S-meter message" "the stalled receiver says what it waited for"
like "$ERR" "milano-baggio: protocol: openwebrx: malformed JSON" "the malformed message named"

start openwebrx owrx_f2 --fault 4:absurd --fault 5:badvalue --fault 6:drip
ok $? "emulators with absurd length, absurd value and slow drip listening"
make_config f2 "$TMP/kiwi_f.ports" "$TMP/owrx_f2.ports"
sed -i 's/events: 4/events: 1/' "$TMP/f2.yaml"
run "$HEIMDALL" collect -c "$TMP/f2.yaml" -o "$TMP/f2.h5"
is "$RC" 3 "absurd length and value: exit 3"
is "$("$PYTHON" -c "import h5py; print(h5py.File('$TMP/f2.h5')['status'][0].tolist())")" \
   "[0, 0, 0, 0, 5, 5, 0]" "absurd length and absurd value = protocol 5, slow server ok"
like "$ERR" "larger than the maximum" "the absurd length is caught by the message limit"
like "$ERR" "absurd smeter value -1" "the absurd S-meter value named"
like "$ERR" "milano-baggio: [0-9]+ S-meter messages for 10 levels .*held" "the slow server's levels are held, and said so"
cat >"$TMP/held.py" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
sim, live = a["levels"][0, 6], b["levels"][0, 6]
ok(live[0] == sim[0], "the held series starts with the first message")
idx = [int(np.argmin(np.abs(sim - v))) for v in live]
ok(all(np.abs(sim[i] - v) <= 1e-5 * abs(v) for i, v in zip(idx, live)), "every held level is a level the server sent")
ok(idx == sorted(idx) and len(set(idx)) < len(idx), "held in order, some repeated (%s)" % idx)
PY
pycheck "$TMP/held.py" "$TMP/sim.h5" "$TMP/f2.h5"

# --- OpenWebRX as real servers differ from the plain case (issue 16): another band running (the client
# selects the profile that covers the event), messages before the handshake reply, receiver_gps as a list
start openwebrx owrx_g --fault 4:profiles --fault 5:early --fault 6:gpslist
ok $? "emulators with profiles, early and gpslist listening"
make_config g "$TMP/kiwi_f.ports" "$TMP/owrx_g.ports"
sed -i 's/events: 4/events: 1/' "$TMP/g.yaml"
run "$HEIMDALL" collect -c "$TMP/g.yaml" -o "$TMP/g.h5"
is "$RC" 0 "another band running, early messages, a list receiver_gps: every receiver ok"
is "$(grep -c '^SELECT 4 ' "$TMP/owrx_g.err")" 2 "the client asked for the server's other profiles in turn (selectprofile)"
like "$(grep '^SELECT 4 ' "$TMP/owrx_g.err" | tail -1)" "rtl\|good" "ending on the one that covers the event"
is "$("$PYTHON" -c "
import h5py, numpy as np
a, b = h5py.File('$TMP/sim.h5'), h5py.File('$TMP/g.h5')
print(b['status'][0].tolist(), bool(np.allclose(a['levels'][0, 4:], b['levels'][0, 4:], rtol=1e-5)))")" \
   "[0, 0, 0, 0, 0, 0, 0] True" "all ok, and the levels are the event's (after the profile switch)"

# no profile covers the event; the band moved mid-capture; a server behind a reverse proxy (/sdr/ws/)
start openwebrx owrx_h --fault 4:noband --fault 5:retune --fault 6:path
ok $? "emulators with noband, retune and path listening"
make_config h "$TMP/kiwi_f.ports" "$TMP/owrx_h.ports"
sed -i 's/events: 4/events: 1/' "$TMP/h.yaml"
p6=$(awk '$1 == "PORT" && $2 == 6 {print $3}' "$TMP/owrx_h.ports")
sed -i "s|ws://127.0.0.1:$p6/|http://127.0.0.1:$p6/sdr/|" "$TMP/h.stations.yaml"
run "$HEIMDALL" collect -c "$TMP/h.yaml" -o "$TMP/h.h5"
is "$RC" 3 "no band, retuned: exit 3"
is "$("$PYTHON" -c "import h5py; print(h5py.File('$TMP/h.h5')['status'][0].tolist())")" \
   "[0, 0, 0, 0, 1, 3, 0]" "no band = refused 1, retuned away = busy 3, the /sdr/ server ok"
like "$ERR" "passo-giovi: refused: no profile of the server covers 145.50* MHz \(3 tried" "no profile: said, with the count"
like "$ERR" "genova: busy: the server retuned to .* MHz during the capture" "the retune named"

# waterfall lines of 262145 bytes; S-meter messages at the servers' real rate (5.9/s) with the default level rate
start kiwisdr kiwi_p && start openwebrx owrx_p --fault 4:bigfft --fault 5:paced
ok $? "emulators with bigfft and paced listening"
make_config p "$TMP/kiwi_p.ports" "$TMP/owrx_p.ports"
sed -i 's/events: 4/events: 1/; s/duration_s: 0.05/duration_s: 1.0/; s/, level_rate_hz: 200//' "$TMP/p.yaml"
run "$HEIMDALL" collect -c "$TMP/p.yaml" -o "$TMP/p.h5"
is "$RC" 3 "262145-byte waterfall lines and a paced server (the KiwiSDR emulators hold 0.05 s: they time out)"
unlike "$ERR" "genova: .*held" "at the default level rate (5.9/s) a real-rate server's levels are not held"
is "$("$PYTHON" -c "
import h5py
f = h5py.File('$TMP/p.h5')
print(f['status'][0].tolist()[4:], f['levels'].shape[2], round(float(f['events/level_rate_hz'][0]), 1))")" \
   "[0, 0, 0] 5 5.9" "the OpenWebRX receivers ok, 5 levels of 1 s at 5.9/s"

done_testing
