#!/usr/bin/env bash
# collect under MPI writes data identical to the single-process run
# (h5diff on every dataset), with 2 and 3 ranks.
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || skip_all "mpirun not installed"
command -v h5diff >/dev/null || skip_all "h5diff not installed (hdf5-tools)"

cfg="$ROOT/configs/smoke.yaml"
sets=(--set collect.events=9 --set collect.min_receivers=5)
run "$HEIMDALL" collect -q -c "$cfg" "${sets[@]}" -o "$TMP/one.h5"
is "$RC" 0 "1 rank"
for np in 2 3; do
    run mpirun --oversubscribe -np $np "$HEIMDALL" collect -q -c "$cfg" "${sets[@]}" -o "$TMP/np$np.h5"
    is "$RC" 0 "$np ranks"
    [ "$RC" -eq 0 ] || diag "$ERR"
    # every dataset of the 1-rank file, compared with h5diff
    paths=$(h5ls -r "$TMP/one.h5" | awk '$2 == "Dataset" {print $1}')
    n=0; bad=0
    for p in $paths; do
        n=$((n + 1))
        h5diff -q "$TMP/one.h5" "$TMP/np$np.h5" "$p" "$p" >/dev/null 2>&1 || { bad=$((bad + 1)); diag "differs: $p"; }
    done
    [ "$n" -gt 30 ]; ok $? "$np ranks: $n datasets compared"
    is "$bad" 0 "$np ranks: h5diff finds every dataset identical to the 1-rank run"
done
# dropped events (min_receivers) shift rows; the kept set must agree too
kept1=$(h5dump -d /events/index "$TMP/one.h5" | grep -c ,) 
kept2=$(h5dump -d /events/index "$TMP/np2.h5" | grep -c ,)
is "$kept2" "$kept1" "same events kept"

done_testing
