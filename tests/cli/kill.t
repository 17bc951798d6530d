#!/usr/bin/env bash
# SIGKILL anywhere: every stage, killed early, mid-run and late over an
# existing output (--force), leaves that output as it was or a complete new
# one — never a half file under the final name — and the rerun succeeds and
# sweeps the temporaries the killed runs left (their pids are gone).
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
S=(--set collect.events=40 --set collect.duration_s=0.1)
run "$HEIMDALL" collect -q -c "$cfg" "${S[@]}" -o "$TMP/c.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "a campaign to work on"
PW="$ROOT/datasets/powder"
left=0

# stage NAME OUTPUT COMMAND...: the output made once, then killed runs over it
stage() {
    local name=$1 out=$2; shift 2
    run "$@"
    is "$RC" 0 "$name: a first, complete $out"
    local before
    before=$(sha256sum "$TMP/$out" | cut -d' ' -f1)
    local bad=0 kept=0 replaced=0
    for delay in 0.02 0.15 0.4 0.8; do
        "$@" --force >/dev/null 2>&1 &
        local pid=$!
        sleep "$delay"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        left=$((left + $(ls -A "$TMP" | grep -c "^\.${out//./\\.}\.tmp\.")))
        now=$(sha256sum "$TMP/$out" | cut -d' ' -f1)
        if [ "$now" = "$before" ]; then
            kept=$((kept + 1))
        elif "$HEIMDALL" info "$TMP/$out" >/dev/null 2>&1 || [ "${out##*.}" != h5 ]; then
            replaced=$((replaced + 1)); before=$now   # the run had finished: a whole new file
        else
            bad=1; diag "$name: a broken $out after a kill at ${delay} s"
        fi
    done
    ok $((bad)) "$name: after 4 kills the output is the old one ($kept) or a complete new one ($replaced), never half"
    run "$@" --force
    is "$RC" 0 "$name: the rerun succeeds"
    is "$(ls -A "$TMP" | grep -c "^\.${out//./\\.}\.tmp\.")" 0 "$name: no temporary left beside $out (the dead runs' were swept)"
}

stage collect c2.h5 "$HEIMDALL" collect -q -c "$cfg" "${S[@]}" -o "$TMP/c2.h5"
stage featurize f2.h5 "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f2.h5" "$TMP/c.h5"
stage train m.h5 "$HEIMDALL" train -q -c "$cfg" --set train.epochs=30 -o "$TMP/m.h5" "$TMP/f.h5"
stage localize p.geojson "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/p.geojson" "$TMP/f.h5"
stage localize-h5 p.h5 "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/p.h5" "$TMP/f.h5"
stage evaluate e.h5 "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$TMP/e.h5" "$TMP/f.h5"
stage import p_powder.h5 "$HEIMDALL" import powder "$PW/single_tx_apr_jul.csv" "$PW/receivers.csv" -q -o "$TMP/p_powder.h5"
ok $(( left > 0 ? 0 : 1 )) "the killed runs did leave temporaries ($left in all), and the reruns swept every one"
done_testing
