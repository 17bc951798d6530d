#!/bin/bash
# heimdall stations import: the public KiwiSDR list (the kiwisdr_com.js
# mirror and the kiwisdr.com/public/ page) and gnss_pos files -> a stations
# file that heimdall loads; every entry left out named with its reason; bad
# input refused with nothing written.
. "$(dirname "$0")/lib.sh"
FX=$ROOT/tests/fixtures/kiwilist

run "$HEIMDALL" stations import -o "$TMP/st.yaml" "$FX/kiwisdr_com.js" "$FX/gnss_pos"
is "$RC" 0 "import the JS list and a gnss_pos folder"
like "$ERR" "5 stations written to .*st.yaml \(4 clock gps, 1 free\); 2 left out: 1 no url, 1 no position set" \
    "the summary counts what was written and what was left out, by reason"
F=$(cat "$TMP/st.yaml")
like "$F" "- id: 'dl0muc'" "the id from tdoa_id, lower case"
like "$F" "lat: 48.18234" "its position from gnss_pos/DL0MUC.txt (the TDoA service's)"
like "$F" "position from gnss_pos d.DL0MUC \(0.3 km from the list's\)" "and the comment says so, with the offset"
like "$F" "name: 'München North, 40 m dipole — \"Sky\" & co'" "a name with UTF-8, quotes and & kept"
like "$F" "id: 'augsburg-example-net'" "no tdoa_id: the id from the host"
like "$F" "GPS 2 satellites, 0 fixes/min \(no solution: clock free\)" "a server without a GPS solution: clock free, said why"
like "$F" "id: 'oe_linz'" "a gnss_pos record in no list entry is a station"
like "$F" "#   Nowhere \(http://nopos.example.com:8073\): no position set \(listed at 0, 0\)" \
    "an entry left out is listed at the end with its reason"
like "$F" "antenna: '40 m dipole, 12 m up'" "antenna"
like "$F" "bands: '0-30000000'" "bands"

# the file is a stations file heimdall uses
cat >"$TMP/exp.yaml" <<YAML
seed: 3
stations: st.yaml
collect:
  source: simulate
  events: 2
  duration_s: 0.05
  frequencies_hz: [7000000]
YAML
run "$HEIMDALL" collect -q -c "$TMP/exp.yaml" -o "$TMP/c.h5"
is "$RC" 0 "collect on the imported stations (simulated)"
run "$HEIMDALL" info "$TMP/c.h5"
like "$OUT" "dl0muc .*kiwisdr" "the imported receivers are the file's receivers"

# selection
run "$HEIMDALL" stations import -o - --near 48.14,11.58,100 --gps --freq 7e6 "$FX/kiwisdr_com.js" "$FX/gnss_pos"
is "$RC" 0 "--near --gps --freq to standard output"
is "$(printf '%s\n' "$OUT" | grep -c '^  - id:')" 1 "one receiver passes"
like "$ERR" "beyond --near 100 km" "the others named: distance"
like "$ERR" "no GPS solution" "no GPS"
like "$ERR" "bands do not cover 7 MHz" "bands"

# the HTML page
run "$HEIMDALL" stations import -o "$TMP/h.yaml" "$FX/public.html"
is "$RC" 0 "import the kiwisdr.com/public/ page"
H=$(cat "$TMP/h.yaml")
like "$H" "id: 'iz2gd'" "its tdoa_id comment"
like "$H" "url: 'http://h2.example.org:8075/'" "the second entry's link"
like "$H" "name: 'Gamma & Delta, Milano'" "entities decoded"

# bad input: clear errors, exit 2, nothing written
printf 'just some text\n' >"$TMP/x.txt"
run "$HEIMDALL" stations import -o "$TMP/bad.yaml" "$TMP/x.txt"
is "$RC" 2 "text that is no list: exit 2"
like "$ERR" "x.txt: not a KiwiSDR list" "named"
printf 'var kiwisdr_com = [ {"url": "http://a:1" "name": "b"} ];\n' >"$TMP/m.js"
run "$HEIMDALL" stations import -o "$TMP/bad.yaml" "$TMP/m.js"
is "$RC" 2 "malformed JSON: exit 2"
like "$ERR" "m.js: malformed list" "named"
printf "d.X = struct('coord',[100, 7]);\n" >"$TMP/g.txt"
run "$HEIMDALL" stations import -o "$TMP/bad.yaml" "$TMP/g.txt"
is "$RC" 2 "a gnss_pos line with latitude 100: exit 2"
like "$ERR" "g.txt:1:" "file:line"
run "$HEIMDALL" stations import -o "$TMP/bad.yaml" --near 0,0,1 "$FX/kiwisdr_com.js"
is "$RC" 2 "no receiver left: exit 2"
like "$ERR" "no receiver left of 6 listed .*beyond --near 1 km" "with the reasons"
run test -e "$TMP/bad.yaml"
is "$RC" 1 "nothing was written by any of them"
cp "$TMP/st.yaml" "$TMP/st.before"
run "$HEIMDALL" stations import -o "$TMP/st.yaml" "$FX/kiwisdr_com.js"
is "$RC" 2 "an existing output without --force: exit 2"
run cmp "$TMP/st.yaml" "$TMP/st.before"
is "$RC" 0 "and it is untouched"
run "$HEIMDALL" stations import -o "$TMP/bad.yaml" --near 48,11 "$FX/kiwisdr_com.js"
is "$RC" 2 "--near without KM: exit 2"
run "$HEIMDALL" stations import --help
is "$RC" 0 "--help"
like "$OUT" "kiwisdr_com.js" "names the list forms"
ls -a "$TMP" | grep -q '\.tmp\.' && ok 1 "no temporary left" || ok 0 "no temporary left"
done_testing
