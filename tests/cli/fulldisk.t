#!/usr/bin/env bash
# A full disk: every stage (collect, featurize, train, evaluate, localize,
# import powder, calibrate, track, import mlat) writing onto a small file
# system (a 1 MiB tmpfs the test mounts, as root; skipped otherwise) fails with "no space left on
# device" naming the output (filled before the run, and for the larger
# outputs also empty before it: the disk fills midway), exit 1, and leaves no half file there — no
# temporary, and no output but complete ones (evaluate's eval.h5 and
# report.json are committed before its plots) — and an existing output on
# it untouched.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "not root: cannot mount a small file system"
D="$TMP/small"
mkdir -p "$D"
mount -t tmpfs -o size=1m tmpfs "$D" 2>/dev/null || skip_all "cannot mount a tmpfs here"
trap 'umount "$D" 2>/dev/null; rm -rf "$TMP"' EXIT
cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" -o "$TMP/c.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "a campaign elsewhere"
printf 'an earlier output\n' > "$D/keep.txt"
# check NAME OUTPUT COMMAND...: fill the file system, then run
check() {
    local name=$1 out=$2; shift 2
    # until the disk is full, or (MIDWAY=1) not at all: the output outgrows it midway
    [ "${MIDWAY:-0}" = 1 ] || dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null
    run "$@"
    is "$RC" 1 "$name on a full disk: exit 1"
    like "$ERR" "no space left on device" "$name: says no space left on device"
    like "$ERR" "$D/${out%%.*}" "$name: names the output"
    is "$(ls -A "$D" | grep -c '\.tmp\.')" 0 "$name: no temporary left on the disk"
    local bad=0
    for f in "$D"/*.h5; do
        [ -e "$f" ] || continue
        "$HEIMDALL" info "$f" >/dev/null 2>&1 || { bad=1; diag "$name: a broken $f"; }
    done
    ok $bad "$name: any HDF5 file left is complete"
    [ "$name" = evaluate ] || is "$(ls -A "$D" | grep -v '^fill$' | grep -v '^keep.txt$' | tr '\n' ' ')" "" "$name: nothing left on the disk"
    rm -f "$D"/*.h5 "$D"/*.json "$D"/*.dat "$D"/*.gp "$D"/*.sh
    rm -f "$D/fill"
}
check collect c.h5 "$HEIMDALL" collect -q -o "$D/c.h5"
MIDWAY=1 check collect-midway c.h5 "$HEIMDALL" collect -q -o "$D/c.h5"   # about 2 MiB: fails once 1 MiB is written
check featurize f.h5 "$HEIMDALL" featurize -q -o "$D/f.h5" "$TMP/c.h5"
check train m.h5 "$HEIMDALL" train -q -c "$cfg" -o "$D/m.h5" "$TMP/f.h5"
check evaluate e.h5 "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$D/e.h5" "$TMP/f.h5"
check localize p.geojson "$HEIMDALL" localize -q -c "$cfg" -o "$D/p.geojson" "$TMP/f.h5"
check localize-h5 p.h5 "$HEIMDALL" localize -q -c "$cfg" -o "$D/p.h5" "$TMP/f.h5"
check import p.h5 "$HEIMDALL" import powder "$ROOT/datasets/powder/single_tx_apr_jul.csv" "$ROOT/datasets/powder/receivers.csv" -q -o "$D/p.h5"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/fixes.jsonl" "$TMP/f.h5"
check calibrate cal.h5 "$HEIMDALL" calibrate -q -o "$D/cal.h5" "$TMP/f.h5"
check track t.geojson "$HEIMDALL" track -q -o "$D/t.geojson" "$TMP/fixes.jsonl"
check track-h5 t.h5 "$HEIMDALL" track -q -o "$D/t.h5" "$TMP/fixes.jsonl"
ML=$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat
if [ -r "$ML/sensors.csv" ]; then
    MIDWAY=1 check import-mlat-midway mlat.h5 "$HEIMDALL" import mlat -q "$ML/sensors.csv" "$ML"/set_{1,2,3,4}.csv -o "$D/mlat.h5"
    check import-mlat mlat.h5 "$HEIMDALL" import mlat -q "$ML/sensors.csv" "$ML"/set_{1,2,3,4}.csv -o "$D/mlat.h5"
else
    skip 12 "no ADS-B data set at $ML"
fi
is "$(cat "$D/keep.txt")" "an earlier output" "an existing file on the full disk untouched"
done_testing
