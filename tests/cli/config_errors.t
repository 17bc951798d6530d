#!/usr/bin/env bash
# Config errors reach the user as file:line:column messages, exit 2, and no output.
. "$(dirname "$0")/lib.sh"

check() { # check NAME YAML REGEX
    printf '%s\n' "$2" >"$TMP/c.yaml"
    run "$HEIMDALL" collect -q -c "$TMP/c.yaml" -o "$TMP/out.h5"
    is "$RC" 2 "$1: exit 2"
    like "$ERR" "^heimdall collect: error: $TMP/c.yaml:$3" "$1: message names file:line:column"
    unlike "$ERR" "error:.*error:" "$1: says error once"
    [ ! -e "$TMP/out.h5" ]; ok $? "$1: no output written"
}

check "malformed YAML" $'collect:\n  events: [1, 2\n' "[0-9]+:[0-9]+: .*"
check "unknown key" $'collect:\n  evnts: 3\n' "2:3: unknown key 'evnts' .*did you mean 'events'"
check "wrong type" $'collect:\n  events: many\n' "2:11: collect.events: expected an integer"
check "out of range" $'collect:\n  events: 0\n' "2:11: collect.events: .*out of range"
check "bad enum" $'collect:\n  simulate:\n    propagation:\n      model: okumura\n' "4:14: .*log-distance"

run "$HEIMDALL" collect -q --set collect.evnts=3 -o "$TMP/out.h5"
is "$RC" 2 "bad --set key: exit 2"
like "$ERR" "--set collect.evnts=3.*did you mean 'events'" "bad --set key: suggestion"

run "$HEIMDALL" collect -q --set collect.events=abc -o "$TMP/out.h5"
is "$RC" 2 "bad --set value: exit 2"
like "$ERR" "collect.events" "bad --set value: names the key"

run "$HEIMDALL" collect -q -c "$TMP/does-not-exist.yaml" -o "$TMP/out.h5"
is "$RC" 2 "missing config file: exit 2"
like "$ERR" "does-not-exist.yaml" "missing config file named"

done_testing
