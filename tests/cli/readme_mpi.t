#!/usr/bin/env bash
# The README's MPI commands work as shown, as root too: with only the
# README's own export line (no variable the Makefile sets for its tests),
# its mpirun examples run.
. "$(dirname "$0")/lib.sh"
command -v mpirun >/dev/null || skip_all "mpirun not installed"
readme="$ROOT/README.md"
exp=$(grep -m1 '^export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1$' "$readme")
ok $? "the README says how to run mpirun as root"
grep -q -- '--allow-run-as-root' "$readme"; ok $? "and names --allow-run-as-root"
ex=$(grep -m1 '^mpirun -np 2 build/heimdall featurize -o features.h5 captures.h5$' "$readme")
ok $? "the README's featurize example"
run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/captures.h5"
# a clean environment: none of the Makefile's OMPI_* settings
clean=(env -u OMPI_ALLOW_RUN_AS_ROOT -u OMPI_ALLOW_RUN_AS_ROOT_CONFIRM -u OMPI_MCA_rmaps_base_oversubscribe)
if [ "$(id -u)" -eq 0 ]; then
    run "${clean[@]}" bash -c "cd '$TMP' && mpirun -np 2 --oversubscribe '$HEIMDALL' featurize -q -o plain.h5 captures.h5"
    isnt_rc=$RC
    ok $(( isnt_rc != 0 ? 0 : 1 )) "as root, mpirun without them is refused (why the README says it)"
fi
# the README's line, with this build's binary and --oversubscribe (2 ranks may exceed the cores)
run "${clean[@]}" bash -c "$exp; cd '$TMP' && mpirun -np 2 --oversubscribe '$HEIMDALL' featurize -q -o features.h5 captures.h5"
is "$RC" 0 "the README's export line, then its mpirun example, works (as $(id -un))"
[ "$RC" -eq 0 ] || diag "$ERR"
[ -s "$TMP/features.h5" ]; ok $? "and writes its output"
done_testing
