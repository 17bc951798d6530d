#!/usr/bin/env bash
# Live capture end to end on 127.0.0.1: the smoke campaign simulated, served
# by seven loopback KiwiSDR emulators (tests/emulators/kiwisdr.py, Python
# websockets, written apart from the C driver), collected live, featurized,
# and compared with the simulated file; two failing receivers; passwords;
# Ctrl-C. Every emulator is ours, on 127.0.0.1, stopped at the end.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/emu.sh"

# make_config NAME EXTRA_YAML: a stations file pointing at NAME's ports and an experiment
make_config() {
    "$PYTHON" - "$TMP/sim.h5" "$TMP/$1.ports" "$TMP/$1.stations.yaml" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
ports = {int(l.split()[1]): int(l.split()[2]) for l in open(sys.argv[2]) if l.startswith("PORT")}
R = f["receivers"]
with open(sys.argv[3], "w") as o:
    o.write("stations:\n")
    for r in range(len(R["id"])):
        o.write(f"  - id: {R['id'][r].decode()}\n    lat: {R['lat'][r]!r}\n    lon: {R['lon'][r]!r}\n"
                f"    alt_m: {R['alt_m'][r]!r}\n    driver: kiwisdr\n    url: ws://127.0.0.1:{ports[r]}/\n"
                f"    sample_rate_hz: 24000\n    clock: gps\n")
PY
    cat >"$TMP/$1.yaml" <<Y
seed: 1
stations: $1.stations.yaml
collect:
  source: live
  events: 6
  interval_s: 0.01
  duration_s: 0.05
  frequencies_hz: [145500000, 433500000]
  min_receivers: 5
  live: {timeout_s: 2, retries: 1, backoff_s: 0.05}
$2
Y
}

run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/sim.h5"
is "$RC" 0 "smoke campaign simulated"

# --- seven healthy receivers
start kiwisdr ok; ok $? "seven emulators listening on 127.0.0.1"
make_config ok ""
run "$HEIMDALL" collect -c "$TMP/ok.yaml" -o "$TMP/live.h5"
is "$RC" 0 "live collect from seven emulators exits 0"
like "$ERR" "wrote 6 events × 7 receivers" "six events written"
"$PYTHON" - "$TMP/sim.h5" "$TMP/live.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
n = 0
def ok(c, name):
    global n; n += 1
    print(("ok" if c else "not ok"), "-", name)
ok(b.attrs["source"] in (b"live", "live") and int(b.attrs["partial"]) == 0, "file says source live, not partial")
# the emulator, like a server, first sends a frame of stale samples with no
# time stamp: identical IQ and gps_ok mean it was dropped
ok(np.array_equal(a["iq"][...], b["iq"][...]), "IQ identical to the simulated file, sample for sample")
ok((b["status"][...] == 0).all(), "every receiver ok")
da = a["t0_s"][...] - a["t0_s"][:, :1]
db = b["t0_s"][...] - b["t0_s"][:, :1]
ok(np.abs(da - db).max() < 2e-9, "GPS first-sample time differences agree within 2 ns (%.2g s)" % np.abs(da - db).max())
ok(np.array_equal(a["gps_ok"][...], b["gps_ok"][...]), "gps_ok carried from the SND time stamps")
ok((b["events/time_ns"][...] % 1000000000 == 0).all(), "event times are whole GPS seconds")
ok(np.allclose(b["events/frequency_hz"][...], a["events/frequency_hz"][...]), "frequencies cycled as configured")
PY
_tap_n=$((_tap_n + 7))

# a receiver whose listed bands (heimdall stations import) miss the frequency is named
sed '0,/    clock: gps/s//    clock: gps\n    bands: 0-30000000/' "$TMP/ok.stations.yaml" >"$TMP/bands.stations.yaml"
sed 's/ok.stations.yaml/bands.stations.yaml/' "$TMP/ok.yaml" >"$TMP/bands.yaml"
# (the emulators have served their campaign: only the warning, given before any capture, is checked)
run "$HEIMDALL" collect -c "$TMP/bands.yaml" --set collect.events=1 -o "$TMP/bands.h5"
like "$ERR" "its bands \(0-30000000 Hz\) do not cover 145.5 MHz" "the receiver whose bands miss 145.5 MHz is warned of"

run "$HEIMDALL" featurize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/sim_f.h5" "$TMP/sim.h5"
is "$RC" 0 "featurize the simulated file"
run "$HEIMDALL" featurize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/live_f.h5" "$TMP/live.h5"
is "$RC" 0 "featurize the live file"
"$PYTHON" - "$TMP/sim_f.h5" "$TMP/live_f.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
m = a["tdoa/mask"][...].astype(bool)
ok(np.array_equal(m, b["tdoa/mask"][...].astype(bool)), "same time differences valid")
d = np.abs(a["tdoa/delay_s"][...] - b["tdoa/delay_s"][...])[m]
ok(m.any() and d.max() < 1e-8, "time differences agree within 10 ns (max %.2g s over %d pairs)" % (d.max() if m.any() else -1, m.sum()))
fa, fb = a["features"][...], b["features"][...]
names = [x.decode() if isinstance(x, bytes) else x for x in a["feature_names"][...]]
# rss_dbm needs the capture's gain: the simulator's AGC gain is not on the
# wire, a live capture records the station's fixed gain (AGC off)
skip = {names.index("rss_dbm")}
same = [k for k in range(fa.shape[2]) if k in skip or np.allclose(fa[..., k], fb[..., k], equal_nan=True, rtol=1e-6, atol=1e-9)]
ok(len(same) == fa.shape[2], "every per-receiver feature but rss_dbm agrees (%s differ)" % [names[k] for k in range(fa.shape[2]) if k not in same])
PY
_tap_n=$((_tap_n + 3))

# localize both: the live capture must give the simulated file's positions
run "$HEIMDALL" localize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/sim_p.geojson" "$TMP/sim_f.h5"
is "$RC" 0 "localize the simulated file"
run "$HEIMDALL" localize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/live_p.geojson" "$TMP/live_f.h5"
is "$RC" 0 "localize the live file"
"$PYTHON" - "$TMP/sim_p.jsonl" "$TMP/live_p.jsonl" <<'PY'
import sys, json, math
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
ok(len(a) == len(b) == 6 and [x["status"] for x in a] == [x["status"] for x in b],
   "same events, same statuses (%s)" % [x["status"] for x in b])
located = [(x, y) for x, y in zip(a, b) if x["status"] == "ok"]
def dist(x, y):
    return 6371e3 * math.hypot(math.radians(x["lat"] - y["lat"]),
                               math.radians(x["lon"] - y["lon"]) * math.cos(math.radians(x["lat"])))
# nanosecond-level differences of the time differences move a position by
# a tiny part of its uncertainty (an event timed by three receivers only is
# ill-conditioned: a large ellipse, and a larger but still tiny move)
rel = [dist(x, y) / x["ellipse_68"]["semi_major_m"] for x, y in located]
ok(len(located) >= 4 and max(rel) < 0.01, "%d positions agree within 1 %% of their 68 %% ellipse (max %.2g; %s m)"
   % (len(located), max(rel) if rel else -1, ["%.2g" % dist(x, y) for x, y in located]))
ok(all(abs(x["ellipse_68"]["semi_major_m"] - y["ellipse_68"]["semi_major_m"]) < 0.1 * x["ellipse_68"]["semi_major_m"]
       for x, y in located), "same uncertainty ellipses (within 10 %)")
PY
_tap_n=$((_tap_n + 3))

# --- two receivers failing in different ways: busy and disconnected mid-stream
start kiwisdr bad --fault 1:busy --fault 4:disconnect; ok $? "emulators with two faults listening"
make_config bad ""
sed -i 's/events: 6/events: 1/' "$TMP/bad.yaml"
run "$HEIMDALL" collect -c "$TMP/bad.yaml" -o "$TMP/bad.h5"
is "$RC" 3 "two failed receivers: exit 3 (partial)"
[ -s "$TMP/bad.h5" ]; ok $? "the event is still written from five receivers"
like "$ERR" "montanaro: busy: all 4 channels busy" "the busy receiver named with its failure"
like "$ERR" "disconnected" "the dropped receiver named with its failure"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/bad.h5'); print(f['status'][0].tolist(), int(f.attrs['partial']))")" \
   "[0, 3, 0, 0, 6, 0, 0] 1" "statuses recorded: busy (3) and disconnected (6); file marked partial"

# --- refused, stall, malformed, absurd length: each its exact status
start kiwisdr faults --fault 0:refuse --fault 2:stall --fault 3:malformed --fault 5:absurd --fault 6:auth
ok $? "emulators with five faults listening"
make_config faults ""
# a 4 s limit: the stalled receiver times out, and the healthy ones do not under a loaded CI machine
# (1 s once timed out a healthy one there)
sed -i 's/events: 6/events: 1/; s/min_receivers: 5/min_receivers: 1/; s/timeout_s: 2/timeout_s: 4/' "$TMP/faults.yaml"
run env HEIMDALL_PASSWORD_MONTANARO=hunter2-secret "$HEIMDALL" collect -c "$TMP/faults.yaml" -o "$TMP/faults.h5"
is "$RC" 3 "five failed receivers: exit 3"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/faults.h5'); print(f['status'][0].tolist())")" \
   "[1, 0, 2, 5, 0, 5, 4]" "refused 1, stall = timeout 2, malformed and absurd length = protocol 5, bad password = auth 4" \
   || diag "collect said:" "$ERR" "the emulators said:" "$(tail -n 20 "$TMP/faults.err")"
like "$ERR" "larger than the maximum" "the absurd length is caught by the message limit"
unlike "$ERR" "hunter2" "the password is not in the messages"
grep -q hunter2 "$TMP/faults.h5"; ok $((!$?)) "nor in the file"

# --- what a real server says when it refuses or ends a session (every MSG a
# binary frame; Beagle_SDR_GPS rx_server.cpp, rx_cmd.h, support/stats.cpp):
# redirect when full, reason_disabled/down, badp=5, inactivity_timeout
start kiwisdr refusals --fault 0:redirect --fault 2:down --fault 3:badp5 --fault 5:inactive
ok $? "emulators with four server refusals listening"
make_config refusals ""
sed -i 's/events: 6/events: 1/; s/min_receivers: 5/min_receivers: 1/' "$TMP/refusals.yaml"
run "$HEIMDALL" collect -c "$TMP/refusals.yaml" -o "$TMP/refusals.h5"
is "$RC" 3 "four refusing receivers: exit 3"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/refusals.h5'); print(f['status'][0].tolist())")" \
   "[3, 0, 1, 3, 0, 6, 0]" "redirect = busy 3, down = refused 1, badp=5 = busy 3, inactivity timeout = disconnected 6"
like "$ERR" "redirects to http://other.example.org:8073/" "the redirect names where to"
like "$ERR" "server is disabled \(down=0\): antenna work, back on Monday" "down names the admin's reason"
like "$ERR" "one connection per address.*\(badp=5\)" "badp=5 is not called a wrong password"
like "$ERR" "the server ended the session: inactivity timeout after 1 min" "an inactivity timeout is named"

# --- the emulator itself follows the server: every MSG binary, sample_rate
# before auth, no SND before frequency, mode, passband, AGC and AR OK (a
# client sending more than 4 keepalives without them is closed), SND flags
# 0x08 with sequence numbers from 1, the first frame without a time stamp
start kiwisdr raw; ok $? "an emulator for a raw protocol check"
"$PYTHON" - "$(awk '$2==0{print $3}' "$TMP/raw.ports")" <<'PY'
import asyncio, struct, sys, websockets
port = int(sys.argv[1])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
async def session(cmds, keepalives):
    got = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/1/SND", max_size=2**20) as ws:
        first = await asyncio.wait_for(ws.recv(), 5)
        got.append(first)
        await ws.send("SET auth t=kiwi p=")
        for c in cmds:
            await ws.send(c)
        for _ in range(keepalives):
            await ws.send("SET keepalive")
        try:
            while True:
                m = await asyncio.wait_for(ws.recv(), 2)
                got.append(m)
                if isinstance(m, bytes) and m[:3] == b"SND" and len([x for x in got if x[:3] == b"SND"]) >= 2:
                    break
        except (asyncio.TimeoutError, websockets.ConnectionClosed) as e:
            got.append(e)
    return got
a = asyncio.run(session(["SET mod=iq low_cut=-5000 high_cut=5000 freq=145500.000", "SET AR OK in=12000 out=44100"], 5))
ok(isinstance(a[0], bytes) and a[0].startswith(b"MSG sample_rate="), "the first message, before auth: MSG sample_rate, binary")
ok(all(not isinstance(m, str) for m in a), "no text frame at all")
ok(not any(isinstance(m, bytes) and m[:3] == b"SND" for m in a) and isinstance(a[-1], websockets.ConnectionClosed),
   "without SET agc: no SND, and closed after 5 keepalives")
msgs = [m[4:].decode() for m in a if isinstance(m, bytes) and m[:3] == b"MSG"]
ok(len(msgs) > 3 and msgs[1] == "badp=0" and msgs[2].startswith("version_maj=") and any(m.startswith("load_cfg=") for m in msgs)
   and any(m.startswith("audio_init=0 audio_rate=") for m in msgs), "after auth: badp=0, version, load_cfg, audio_init/audio_rate")
b = asyncio.run(session(["SET mod=iq low_cut=-5000 high_cut=5000 freq=145500.000",
                         "SET agc=0 hang=0 thresh=-100 slope=6 decay=1000 manGain=0", "SET AR OK in=12000 out=44100"], 1))
snd = [m for m in b if isinstance(m, bytes) and m[:3] == b"SND"]
ok(len(snd) >= 2, "with every command: SND frames")
f0 = snd[0][3] if snd else 0
s0 = struct.unpack("<I", snd[0][4:8])[0] if snd else -1
ok(len(snd) >= 2 and f0 & 0x08 and s0 == 1 and struct.unpack("<I", snd[1][4:8])[0] == 2, "flags 0x08 (IQ), sequence from 1")
ok(len(snd) >= 2 and struct.unpack("<BBII", snd[0][10:20]) == (0, 0, 0, 0) and struct.unpack("<II", snd[1][12:20]) != (0, 0),
   "the first frame has no time stamp, the second has")
PY
_tap_n=$((_tap_n + 7))

# --- MSG in text frames (older emulators, other servers): still understood
start kiwisdr textmsg --msg-frames text; ok $? "emulators sending MSG as text frames listening"
make_config textmsg ""
sed -i 's/events: 6/events: 2/' "$TMP/textmsg.yaml"
run "$HEIMDALL" collect -c "$TMP/textmsg.yaml" -o "$TMP/textmsg.h5"
is "$RC" 0 "MSG in text frames: exit 0"
"$PYTHON" - "$TMP/sim.h5" "$TMP/textmsg.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
print(("ok" if np.array_equal(a["iq"][:2], b["iq"][...]) and (b["gps_ok"][...] == a["gps_ok"][:2]).all() else "not ok"),
      "- the same IQ and GPS flags as from binary MSG (the stale first frame dropped)")
PY
_tap_n=$((_tap_n + 1))

# --- a server that accepts TCP and never answers does not hold up the others:
# every receiver connects at once (the connects never block the loop)
start kiwisdr silent --fault 0:silent; ok $? "emulators with a silent server listening"
make_config silent ""
sed -i 's/events: 6/events: 1/; s/timeout_s: 2/timeout_s: 3/; s/retries: 1/retries: 0/' "$TMP/silent.yaml"
t_start=$("$PYTHON" -c 'import time; print("%.6f" % time.time())')
run "$HEIMDALL" collect -c "$TMP/silent.yaml" -o "$TMP/silent.h5"
is "$RC" 3 "the silent server fails, the event is kept (exit 3)"
like "$ERR" "aquila-giaveno: timeout" "the silent server is a timeout"
"$PYTHON" - "$TMP/silent.err" "$t_start" <<'PY'
import sys
t0 = float(sys.argv[2])
t = {int(l.split()[1]): float(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("CONNECT")}
late = max(t.values()) - t0 if t else -1
print(("ok" if sorted(t) == [1, 2, 3, 4, 5, 6] and late < 1.0 else "not ok"),
      "- the six others opened their streams %.2f s after the start, not after the 3 s timeout" % late)
PY
_tap_n=$((_tap_n + 1))

# --- SND sequence numbers: a dropped block is a gap, a duplicated one a repeat; both counted and recorded
start kiwisdr seq --fault 2:dropblock --fault 5:dupblock; ok $? "emulators dropping and duplicating a block listening"
make_config seq ""
sed -i 's/events: 6/events: 1/' "$TMP/seq.yaml"
run "$HEIMDALL" collect -c "$TMP/seq.yaml" -o "$TMP/seq.h5"
like "$ERR" "event 0: [a-z]+: 1 sequence gaps \(1 frames lost, zero-filled\)" "the dropped block is warned of as a gap"
like "$ERR" "event 0: [a-z]+: 1 repeated sequence numbers \(frames dropped\)" "the duplicated block is warned of as a repeat"
like "$ERR" "sequence numbers: 1 frames lost, 1 repeated" "the summary counts both"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/seq.h5'); print(f['seq_lost_frames'][0].tolist(), f['seq_repeats'][0].tolist())")" \
   "[0, 0, 1, 0, 0, 0, 0] [0, 0, 0, 0, 0, 1, 0]" "recorded per event and receiver in the file"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/live.h5'); print(int(f['seq_lost_frames'][...].sum()), int(f['seq_repeats'][...].sum()))")" \
   "0 0" "the healthy campaign lost and repeated none"

# --- Ctrl-C during a live collect: what was captured is written, marked partial
start kiwisdr int; ok $? "emulators for the interrupt test"
make_config int ""
sed -i 's/interval_s: 0.01/interval_s: 60/' "$TMP/int.yaml"
"$HEIMDALL" collect -c "$TMP/int.yaml" -o "$TMP/int.h5" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 200); do grep -q "event 0: 7 of 7" "$TMP/int.err" && break; sleep 0.05; done
kill -INT $pid
wait $pid; rc=$?
is "$rc" 3 "interrupted live collect exits 3 (partial)"
is "$("$PYTHON" -c "import h5py; f = h5py.File('$TMP/int.h5'); print(f['iq'].shape[0], int(f.attrs['partial']), int(f.attrs['interrupted']))")" \
   "1 1 1" "the captured event is in a complete file marked partial and interrupted"
ls -a "$TMP" | grep -q '\.tmp\.'; ok $((!$?)) "no temporary file left"

done_testing
