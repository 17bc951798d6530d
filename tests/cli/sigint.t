#!/usr/bin/env bash
# SIGINT during collect leaves no file under the final name (and no
# temporary file behind), and exits 130.
. "$(dirname "$0")/lib.sh"

out="$TMP/big.h5"
"$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.events=100000 -o "$out" 2>"$TMP/err" &
pid=$!
# wait for the temporary file to appear (the run is under way)
for _ in $(seq 1 200); do
    ls -a "$TMP" | grep -q '^\.big\.h5\.tmp\.' && break
    sleep 0.05
done
ls -a "$TMP" | grep -q '^\.big\.h5\.tmp\.'; ok $? "temporary file exists while collecting"
sleep 0.3
kill -INT $pid
wait $pid; rc=$?
is "$rc" 130 "interrupted collect exits 130"
[ ! -e "$out" ]; ok $? "no file under the final name"
left=$(ls -a "$TMP" | grep -c '\.tmp\.')
is "$left" 0 "temporary file removed"
like "$(cat "$TMP/err")" "interrupted" "says it was interrupted"

# an existing good output survives an interrupted --force rewrite
"$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$out"
sum=$(sha256sum "$out" | cut -d' ' -f1)
"$HEIMDALL" collect -q -f -c "$ROOT/configs/smoke.yaml" --set collect.events=100000 -o "$out" 2>/dev/null &
pid=$!
for _ in $(seq 1 200); do ls -a "$TMP" | grep -q '^\.big\.h5\.tmp\.' && break; sleep 0.05; done
sleep 0.3
kill -INT $pid
wait $pid
is "$(sha256sum "$out" | cut -d' ' -f1)" "$sum" "previous output intact after an interrupted --force run"

# featurize interrupted likewise
"$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.events=1500 -o "$TMP/c.h5"
"$HEIMDALL" featurize -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/f.h5" "$TMP/c.h5" 2>"$TMP/err" &
pid=$!
for _ in $(seq 1 200); do ls -a "$TMP" | grep -q '^\.f\.h5\.tmp\.' && break; sleep 0.02; done
kill -INT $pid
wait $pid; rc=$?
is "$rc" 130 "interrupted featurize exits 130"
[ ! -e "$TMP/f.h5" ]; ok $? "no features file under the final name"
is "$(ls -a "$TMP" | grep -c '\.tmp\.')" 0 "its temporary file removed"

done_testing
