# Sourced by the live tests after ../cli/lib.sh: the loopback emulators
# (tests/emulators/*.py, ours, on 127.0.0.1) started and stopped.

"$PYTHON" -c 'import websockets, h5py' 2>/dev/null || skip_all "python3-websockets or h5py missing"

EMU_PIDS=()
cleanup() { for p in "${EMU_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done; rm -rf "$TMP"; }
trap cleanup EXIT

# start EMULATOR NAME ARGS...: the emulator serving $TMP/sim.h5, its ports in
# $TMP/NAME.ports; waits for READY (bounded)
start() {
    local emu=$1 name=$2; shift 2
    mkfifo "$TMP/$name.in"
    "$PYTHON" "$ROOT/tests/emulators/$emu.py" "$TMP/sim.h5" --lifetime 120 "$@" \
        <"$TMP/$name.in" >"$TMP/$name.ports" 2>"$TMP/$name.err" &
    EMU_PIDS+=($!)
    exec {fd}>"$TMP/$name.in"   # holding stdin open keeps it alive
    for _ in $(seq 100); do grep -q READY "$TMP/$name.ports" && return 0; sleep 0.1; done
    return 1
}
