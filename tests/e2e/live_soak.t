#!/usr/bin/env bash
# Live soak on 127.0.0.1: 32 loopback KiwiSDR emulators (one Python process
# for 31, one for the 32nd so it can be killed and restarted on its port)
# streaming at the real-time rate for SOAK_SECONDS (60 in make check, about
# 20 under the sanitizers, 3600 in make soak). Checked: no SND frame lost or
# repeated (sequence numbers), heimdall's peak RSS flat (sampled from /proc
# early and at the end), the killed receiver fails while down and recovers
# after its restart (retries with backoff), the other 31 ok in every event.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/emu.sh"

SAN=0
ldd "$HEIMDALL" 2>/dev/null | grep -q libasan && SAN=1
SECS=${SOAK_SECONDS:-$([ $SAN = 1 ] && echo 20 || echo 60)}
R=32
DUR=1   # seconds per event: events follow one another, so streaming is near continuous
EVENTS=$((SECS / DUR))
diag "soak: $R receivers, $SECS s, $EVENTS events of $DUR s (sanitizers: $SAN)"

# 32 simulated receivers on a grid over north-west Italy, two events to loop over
"$PYTHON" - "$TMP/sim.stations.yaml" "$R" <<'PY'
import sys
R = int(sys.argv[2])
with open(sys.argv[1], "w") as o:
    o.write("stations:\n")
    for r in range(R):
        o.write(f"  - id: rx{r:02d}\n    lat: {44.0 + 0.15 * (r // 8)!r}\n    lon: {7.0 + 0.2 * (r % 8)!r}\n"
                f"    driver: kiwisdr\n    clock: gps\n    sample_rate_hz: 12000\n")
PY
cat >"$TMP/sim.yaml" <<Y
seed: 1
stations: sim.stations.yaml
collect:
  source: simulate
  events: 2
  duration_s: $DUR
  frequencies_hz: [145500000]
  simulate:
    receivers: {driver: kiwisdr, clock: gps, sample_rate_hz: 12000}
Y
run "$HEIMDALL" collect -q -c "$TMP/sim.yaml" -o "$TMP/sim.h5"
is "$RC" 0 "a two-event campaign of 32 receivers simulated"
# every link served (the simulator fails a few; the soak wants only the killed one down)
"$PYTHON" -c "import h5py; f = h5py.File('$TMP/sim.h5', 'r+'); f['status'][...] = 0"

LAST=$((R - 1))
# an event of DUR s takes about 13 % longer (connections, writing): over the
# 1 h soak the emulators outlived by half an hour the campaign they serve
# (SECS + 120 s ran out at event 3284 of 3600); they live twice the soak
only=(); for r in $(seq 0 $((R - 2))); do only+=(--only "$r"); done
start kiwisdr many --loop --realtime --lifetime $((SECS * 2 + 120)) "${only[@]}"
ok $? "31 real-time emulators listening on 127.0.0.1 (one process)"
start kiwisdr last --loop --realtime --lifetime $((SECS * 2 + 120)) --only $LAST
ok $? "the 32nd in its own process"
cat "$TMP/many.ports" "$TMP/last.ports" >"$TMP/all.ports"
LAST_PORT=$(awk -v r=$LAST '$1 == "PORT" && $2 == r {print $3}' "$TMP/last.ports")

"$PYTHON" - "$TMP/all.ports" "$TMP/live.stations.yaml" "$R" <<'PY'
import sys
ports = {int(l.split()[1]): int(l.split()[2]) for l in open(sys.argv[1]) if l.startswith("PORT")}
with open(sys.argv[2], "w") as o:
    o.write("stations:\n")
    for r in range(int(sys.argv[3])):
        o.write(f"  - id: rx{r:02d}\n    lat: {44.0 + 0.15 * (r // 8)!r}\n    lon: {7.0 + 0.2 * (r % 8)!r}\n"
                f"    driver: kiwisdr\n    url: ws://127.0.0.1:{ports[r]}/\n    clock: gps\n    sample_rate_hz: 12000\n")
PY
cat >"$TMP/live.yaml" <<Y
seed: 1
stations: live.stations.yaml
collect:
  source: live
  events: $EVENTS
  interval_s: $DUR
  duration_s: $DUR
  frequencies_hz: [145500000]
  min_receivers: 1
  live: {timeout_s: 3, retries: 2, backoff_s: 0.5}
Y

# under ASan, freed blocks go to its quarantine (256 MB by default), which would grow the peak RSS
# whatever the program does (66 -> 219 MB in 20 s); without it the sanitized build too shows its
# memory (42 -> 51 MB)
[ "$SAN" = 1 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=0"
"$HEIMDALL" collect -c "$TMP/live.yaml" -o "$TMP/live.h5" 2>"$TMP/live.err" &
trap 'cp "$TMP/live.err" "${SOAK_LOG:-/dev/null}" 2>/dev/null; cleanup' EXIT
hpid=$!
hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }
# start: once the first few events are in (buffers and connections made)
for _ in $(seq 600); do [ "$(grep -c 'receivers ok' "$TMP/live.err")" -ge 3 ] && break; sleep 0.1; done
RSS0=$(hwm $hpid)
# kill the 32nd emulator a third of the way in, restart it on its port some seconds later
sleep $((SECS / 3))
kill "${EMU_PIDS[1]}" 2>/dev/null; wait "${EMU_PIDS[1]}" 2>/dev/null
KILLED_AT=$(grep -c 'receivers ok' "$TMP/live.err")
sleep 4
mkfifo "$TMP/last2.in"
"$PYTHON" "$ROOT/tests/emulators/kiwisdr.py" "$TMP/sim.h5" --loop --realtime --lifetime $((SECS * 2 + 120)) \
    --only $LAST --port "$LAST:$LAST_PORT" <"$TMP/last2.in" >"$TMP/last2.ports" 2>"$TMP/last2.err" &
EMU_PIDS+=($!)
exec {fd2}>"$TMP/last2.in"
for _ in $(seq 100); do grep -q READY "$TMP/last2.ports" && break; sleep 0.1; done
grep -q "PORT $LAST $LAST_PORT" "$TMP/last2.ports"; ok $? "the 32nd emulator restarted on its port"
RESTART_AT=$(grep -c 'receivers ok' "$TMP/live.err")
# the end: the last sample before heimdall exits
RSS1=$RSS0
while kill -0 $hpid 2>/dev/null; do x=$(hwm $hpid); [ -n "$x" ] && RSS1=$x; sleep 0.2; done
wait $hpid; rc=$?
diag "heimdall peak RSS: $RSS0 kB at the start, $RSS1 kB at the end; emulator killed after event $KILLED_AT, restarted after $RESTART_AT"
is "$rc" 3 "the soak exits 3 (partial: the killed receiver's events)"
ok $(( !(RSS0 > 0 && RSS1 <= RSS0 * 12 / 10 + 16384) )) "memory flat: peak RSS at the end $RSS1 kB <= 1.2 x $RSS0 kB + 16 MB"
like "$(cat "$TMP/live.err")" "rx31: (refused|disconnected|timeout)" "the killed receiver's failure is named"
unlike "$(cat "$TMP/live.err")" "sequence gaps|repeated sequence" "no sequence gap or repeat warned of"

pycheck - "$TMP/live.h5" "$EVENTS" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
E = int(sys.argv[2])
st = f["status"][...]
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
ok(st.shape == (E, 32), "all %d events written (%s)" % (E, st.shape))
ok(int(f["seq_lost_frames"][...].sum()) == 0, "no SND frame lost (sequence numbers)")
ok(int(f["seq_repeats"][...].sum()) == 0, "no SND frame repeated")
for e, r in zip(*np.nonzero(st[:, :31] != 0)):
    print("# event %d: rx%02d status %d" % (e, r, st[e, r]))
ok((st[:, :31] == 0).all(), "the 31 others ok in every event")
bad = np.nonzero(st[:, 31] != 0)[0]
print("# rx31 failed in events", bad.tolist())
ok(len(bad) >= 1, "the killed receiver failed while it was down (%d events)" % len(bad))
ok(len(bad) > 0 and (st[bad.max() + 1:, 31] == 0).all() and bad.max() + 1 < E, "and recovered: ok in every event after")
ok((st[:bad.min(), 31] == 0).all() if len(bad) else False, "and was ok before the kill")
PY

done_testing
