#!/usr/bin/env bash
# make demo-recordings (scripts/demo-recordings.sh, issue 16): simulated 30 s
# HF captures at KiwiSDR-like receivers across central Europe, exported as
# kiwiwav in the TDoA service's layout (iq/ and gnss_pos/ beside it),
# imported back, featurized and located: the position's error against the
# simulator's truth is within its 95 % ellipse, with all eight recordings
# and with three of them (Paris, Berlin, Munich: 500-880 km apart).
. "$(dirname "$0")/lib.sh"
command -v h5dump >/dev/null || skip_all "h5dump missing"
cd "$ROOT" || exit 1
check() { # check DIR N_RECORDINGS
    local out=$1 n=$2 line e a95
    line=$(grep '^demo-recordings: truth' "$TMP/$out.out")
    e=$(printf '%s' "$line" | sed -n 's/.*error \([0-9]*\) m.*/\1/p')
    a95=$(sed -n 's/.*95 % semi-major \([0-9]*\) m.*/\1/p' "$TMP/$out.out")
    like "$(cat "$TMP/$out.out")" "demo-recordings: $n recordings of 30 s" "$n recordings located"
    ok "$([ -n "$e" ] && [ -n "$a95" ] && [ "$e" -le "$a95" ]; echo $?)" \
        "$n recordings: error ${e:-?} m within the 95 % ellipse's semi-major axis ${a95:-?} m"
}
HEIMDALL="$HEIMDALL" bash scripts/demo-recordings.sh "$TMP/all" >"$TMP/all.out" 2>"$TMP/all.err"
is "$?" 0 "demo-recordings with all eight recordings"
is "$(ls "$TMP"/all/iq/*_iq.wav | wc -l)" 8 "eight kiwiwav recordings in iq/"
ok "$([ -s "$TMP/all/gnss_pos/muc-center.txt" ] && [ ! -e "$TMP/all/iq/gnss_pos" ]; echo $?)" \
    "gnss_pos/ beside iq/ (the TDoA service's layout), not inside it"
like "$(cat "$TMP/all.err")" "station muc-center: 48.137000, 11.575000 from .*/gnss_pos/muc-center.txt" \
    "the import found each station's position in gnss_pos/ beside iq/ and said so"
check all 8
HEIMDALL="$HEIMDALL" bash scripts/demo-recordings.sh "$TMP/three" par-sud ber-north muc-center \
    >"$TMP/three.out" 2>"$TMP/three.err"
is "$?" 0 "demo-recordings with three recordings"
check three 3
diag "$(grep '^demo-recordings: \(position\|truth\)' "$TMP/all.out" "$TMP/three.out")"
done_testing
