#!/usr/bin/env bash
# SIGKILL anywhere: every stage (collect, featurize, train, localize,
# evaluate, import powder, import mlat, calibrate, track), killed early,
# mid-run and late over an existing output (--force), leaves that output as
# it was or a complete new one — never a half file under the final name —
# and the rerun succeeds and sweeps the temporaries the killed runs left
# (their pids are gone). Besides the kills at fixed delays, two kills land
# at exact points through strace's fault injection (when strace can trace
# here): at the second write of the run (mid-write) and on entry to the
# rename that commits the output (during rename).
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
S=(--set collect.events=40 --set collect.duration_s=0.1)
run "$HEIMDALL" collect -q -c "$cfg" "${S[@]}" -o "$TMP/c.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
run "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/fixes.jsonl" "$TMP/f.h5"
is "$RC" 0 "a campaign to work on"
PW="$ROOT/datasets/powder"
ML=$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat
left=0
STRACE=
if command -v strace >/dev/null 2>&1 && strace -o /dev/null true 2>/dev/null; then STRACE=strace; fi
[ -n "$STRACE" ] || diag "no strace (or no ptrace here): the exact mid-write and rename kills are skipped"
temps() { ls -A "$TMP" | grep -c '\.tmp\.'; }
tempnames() { ls -A "$TMP" | grep '\.tmp\.' | sort; }
DELAYS=(0.02 0.15 0.4 0.8)

# stage NAME OUTPUT COMMAND...: the output made once, then killed runs over
# it (at each of DELAYS, then at the exact points)
stage() {
    local name=$1 out=$2; shift 2
    run "$@"
    is "$RC" 0 "$name: a first, complete $out"
    local before
    before=$(sha256sum "$TMP/$out" | cut -d' ' -f1)
    local bad=0 kept=0 replaced=0 hit=0 how
    local kills=("${DELAYS[@]}")
    [ -z "$STRACE" ] || kills+=(mid-write rename)
    for how in "${kills[@]}"; do
        local t0 new
        t0=$(tempnames)
        case $how in
        mid-write) ($STRACE -o /dev/null -e trace=write,pwrite64 -e inject=write,pwrite64:signal=KILL:when=2 \
                       "$@" --force >/dev/null 2>&1; :) 2>/dev/null ;;
        rename) ($STRACE -o /dev/null -e trace=rename,renameat,renameat2 \
                    -e inject=rename,renameat,renameat2:signal=KILL:when=1 "$@" --force >/dev/null 2>&1; :) 2>/dev/null ;;
        *)  "$@" --force >/dev/null 2>&1 &
            local pid=$!
            sleep "$how"
            kill -9 "$pid" 2>/dev/null
            wait "$pid" 2>/dev/null ;;
        esac
        # temporaries this run left (a run sweeps the dead ones before it)
        new=$(comm -13 <(printf '%s\n' "$t0") <(tempnames) | grep -c .)
        left=$((left + new))
        [ "$new" -gt 0 ] && hit=$((hit + 1))
        case $how in mid-write|rename)
            ok $(( new > 0 ? 0 : 1 )) "$name: the $how kill caught the run before its commit (a temporary left)" ;;
        esac
        now=$(sha256sum "$TMP/$out" | cut -d' ' -f1)
        if [ "$now" = "$before" ]; then
            kept=$((kept + 1))
        elif "$HEIMDALL" info "$TMP/$out" >/dev/null 2>&1 || [ "${out##*.}" != h5 ]; then
            replaced=$((replaced + 1)); before=$now   # the run had finished: a whole new file
        else
            bad=1; diag "$name: a broken $out after a kill ($how)"
        fi
    done
    ok $((bad)) "$name: after ${#kills[@]} kills the output is the old one ($kept) or a complete new one ($replaced), never half"
    if [ -n "$STRACE" ]; then
        is "$before" "$(sha256sum "$TMP/$out" | cut -d' ' -f1)" "$name: a kill on entry to rename leaves the existing $out untouched"
    fi
    run "$@" --force
    is "$RC" 0 "$name: the rerun succeeds"
    is "$(temps)" 0 "$name: no temporary left in the directory (the dead runs' were swept)"
}

stage collect c2.h5 "$HEIMDALL" collect -q -c "$cfg" "${S[@]}" -o "$TMP/c2.h5"
stage featurize f2.h5 "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f2.h5" "$TMP/c.h5"
stage train m.h5 "$HEIMDALL" train -q -c "$cfg" --set train.epochs=30 -o "$TMP/m.h5" "$TMP/f.h5"
stage localize p.geojson "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/p.geojson" "$TMP/f.h5"
stage localize-h5 p.h5 "$HEIMDALL" localize -q -c "$cfg" -o "$TMP/p.h5" "$TMP/f.h5"
stage evaluate e.h5 "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$TMP/e.h5" "$TMP/f.h5"
stage import p_powder.h5 "$HEIMDALL" import powder "$PW/single_tx_apr_jul.csv" "$PW/receivers.csv" -q -o "$TMP/p_powder.h5"
# the newer stages run in tens of milliseconds: kill them sooner
DELAYS=(0.003 0.01 0.03 0.08)
stage calibrate cal.h5 "$HEIMDALL" calibrate -q -o "$TMP/cal.h5" "$TMP/f.h5"
stage track t.geojson "$HEIMDALL" track -q -o "$TMP/t.geojson" "$TMP/fixes.jsonl"
stage track-h5 t.h5 "$HEIMDALL" track -q -o "$TMP/t.h5" "$TMP/fixes.jsonl"
if [ -r "$ML/sensors.csv" ]; then
    stage import-mlat mlat.h5 "$HEIMDALL" import mlat -q "$ML/sensors.csv" "$ML"/set_{1,2,3,4}.csv -o "$TMP/mlat.h5"
else
    skip 6 "no ADS-B data set at $ML"
fi
ok $(( left > 0 ? 0 : 1 )) "the killed runs did leave temporaries ($left in all), and the reruns swept every one"
done_testing
