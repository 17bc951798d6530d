#!/usr/bin/env bash
# A full disk: every stage writing onto a small file system (a 1 MiB tmpfs
# the test mounts, as root; skipped otherwise) fails with "no space left on
# device" naming the output, exit 1, and leaves no half file there — no
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
    dd if=/dev/zero of="$D/fill" bs=4k 2>/dev/null   # until the disk is full
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
check featurize f.h5 "$HEIMDALL" featurize -q -o "$D/f.h5" "$TMP/c.h5"
check train m.h5 "$HEIMDALL" train -q -c "$cfg" -o "$D/m.h5" "$TMP/f.h5"
check evaluate e.h5 "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$D/e.h5" "$TMP/f.h5"
check localize p.geojson "$HEIMDALL" localize -q -c "$cfg" -o "$D/p.geojson" "$TMP/f.h5"
check localize-h5 p.h5 "$HEIMDALL" localize -q -c "$cfg" -o "$D/p.h5" "$TMP/f.h5"
check import p.h5 "$HEIMDALL" import powder "$ROOT/datasets/powder/single_tx_apr_jul.csv" "$ROOT/datasets/powder/receivers.csv" -q -o "$D/p.h5"
is "$(cat "$D/keep.txt")" "an earlier output" "an existing file on the full disk untouched"
done_testing
