#!/usr/bin/env bash
# The program's entry: usage, help, version, unknown commands.
. "$(dirname "$0")/lib.sh"

run "$HEIMDALL"
is "$RC" 2 "no command: exit 2"
like "$ERR" "usage: heimdall <command>" "no command: usage on stderr"

run "$HEIMDALL" --version
is "$RC" 0 "--version exits 0"
like "$OUT" "^heimdall [0-9]+\.[0-9]+\.[0-9]+ \(git [0-9a-f]{7,}|unknown" "--version names version and commit"

run "$HEIMDALL" help
is "$RC" 0 "help exits 0"
like "$OUT" "collect" "help lists collect"
like "$OUT" "info" "help lists info"

run "$HEIMDALL" help collect
like "$OUT" "usage: heimdall collect" "help collect shows collect's usage"

run "$HEIMDALL" collect --help
is "$RC" 0 "collect --help exits 0"
like "$OUT" "--set KEY=VALUE" "collect --help lists the common options"
like "$OUT" "simulate" "collect --help describes the sources"

run "$HEIMDALL" colect -o x.h5
is "$RC" 2 "unknown command exits 2"
like "$ERR" "'colect' is not a heimdall command \(did you mean 'collect'\?\)" "unknown command answered with the closest name"

run "$HEIMDALL" zzzzzz
unlike "$ERR" "did you mean" "no suggestion when nothing is close"

run "$HEIMDALL" collect --bogus -o "$TMP/x.h5"
is "$RC" 2 "unknown option exits 2"
like "$ERR" "heimdall collect: error: unknown option '--bogus'" "unknown option named"

run "$HEIMDALL" collect
is "$RC" 2 "collect without -o exits 2"
like "$ERR" "output file is required" "and says what is missing"

run "$HEIMDALL" info
is "$RC" 2 "info without a file exits 2"

run "$HEIMDALL" featurize --help
is "$RC" 0 "featurize --help exits 0"
like "$OUT" "usage: heimdall featurize" "featurize has its usage"
like "$OUT" "GCC-PHAT" "and says what it computes"

# a plain srun without PMIx starts N singletons: an MPI command refuses
run env SLURM_STEP_ID=0 SLURM_NTASKS=2 "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$TMP/s.h5"
is "$RC" 1 "world of 1 under SLURM_NTASKS=2 refused"
like "$ERR" "MPI world has 1 rank\(s\) but SLURM_NTASKS is 2" "and explained"
[ ! -e "$TMP/s.h5" ]; ok $? "nothing written"

done_testing
