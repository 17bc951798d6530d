#!/usr/bin/env bash
# The tracking campaign (configs/experiments/tracking.yaml): moving simulated
# transmitters whose events carry /events/tx_id through captures and
# features; scripts/tracking.sh's table (walk, car, aircraft): the tracks' median
# error below the fixes'; track.map draws the PNG; bad motion values refused.
. "$(dirname "$0")/lib.sh"
C=$ROOT/configs/experiments/tracking.yaml

run "$ROOT/scripts/tracking.sh" -b "$HEIMDALL" -c "$C" -o "$TMP/res" walk car aircraft
is "$RC" 0 "scripts/tracking.sh runs walk, car and aircraft"
diag "$OUT"
for m in walk car aircraft; do
  row=$(printf '%s\n' "$OUT" | grep "^| $m |")
  ratio=$(printf '%s' "$row" | awk -F'|' '{gsub(/ /, "", $10); print $10}')
  fix=$(printf '%s' "$row" | awk -F'|' '{gsub(/ /, "", $4); print $4}')
  trk=$(printf '%s' "$row" | awk -F'|' '{gsub(/ /, "", $7); print $7}')
  ok "$(awk -v r="$ratio" 'BEGIN { exit !(r > 0 && r < 0.7) }'; echo $?)" \
     "$m: the tracks' median ($trk m) below 0.7 x the fixes' ($fix m): ratio $ratio"
  ok "$([ -s "$TMP/res/$m/tracks_map.png" ] && head -c 8 "$TMP/res/$m/tracks_map.png" | grep -q PNG; echo $?)" \
     "$m: track.map wrote tracks_map.png"
  ok "$([ -s "$TMP/res/$m/tracks_map.sh" ] && [ -s "$TMP/res/$m/tracks_map_truths.dat" ]; echo $?)" \
     "$m: with its GMT script and data beside it"
done
# the ids: 4 transmitters, event i is transmitter i mod 4, in captures and features
for f in captures features; do
  ids=$(h5dump -d /events/tx_id -c 8 "$TMP/res/walk/$f.h5" 2>/dev/null | grep -E "^ *\(0\): [0-9]" | tr -d " ")
  is "$ids" "(0):0,1,2,3,0,1,2,3" "walk: $f.h5 has /events/tx_id (i mod 4)"
done
run "$HEIMDALL" track -q -c "$C" --truth "$TMP/res/walk/features.h5" -o "$TMP/t.geojson" "$TMP/res/walk/positions.h5"
like "$(grep -o '"tx_id":[0-9]*' "$TMP/t.geojson" | sort -u | tr '\n' ' ')" '"tx_id":0 "tx_id":1 "tx_id":2 "tx_id":3' \
     "track groups by the transmitter ids: 4 tracks"
# the default stays static: no ids written
run "$HEIMDALL" collect -q --set collect.events=4 -o "$TMP/static.h5"
ok "$(h5ls "$TMP/static.h5/events" | grep -q tx_id; [ $? -ne 0 ]; echo $?)" "a static campaign has no /events/tx_id"
# bad values
run "$HEIMDALL" collect -q -c "$C" --set collect.simulate.transmitter.motion=fly -o "$TMP/x.h5"
is "$RC" 2 "motion: fly refused (exit 2)"
like "$ERR" "motion" "the message names the key"
run "$HEIMDALL" collect -q -c "$C" --set collect.simulate.transmitter.transmitters=0 -o "$TMP/x.h5"
is "$RC" 2 "transmitters: 0 refused (exit 2)"
run "$HEIMDALL" track -q -c "$C" --set track.map=maybe -o "$TMP/x.geojson" "$TMP/res/walk/positions.h5"
is "$RC" 2 "track.map: maybe refused (exit 2)"
done_testing
