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

done_testing
