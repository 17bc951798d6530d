#!/usr/bin/env bash
# A real single-node Slurm: pipeline.sbatch with 2 tasks (MPI through
# srun --mpi=pmix) writes every result with its provenance; a 2-element
# sweep array; the scripts refuse to run outside Slurm.
. "$(dirname "$0")/../cli/lib.sh"
S="$ROOT/scripts/slurm"

run bash "$S/pipeline.sbatch"
is "$RC" 2 "pipeline.sbatch refuses to run outside Slurm"
like "$ERR" "not inside a Slurm job" "and says so"

[ "$(id -u)" -eq 0 ] || skip_all "the local Slurm cluster needs root (daemons as root)"
command -v sbatch >/dev/null && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/munged ] ||
    skip_all "Slurm is not installed (scripts/install-deps.sh installs munge, slurmctld, slurmd, slurm-client)"
export HEIMDALL_SLURM_STATE="$TMP/slurm.state"
trap 'bash "$S/local-cluster.sh" stop 2>/dev/null; rm -rf "$TMP"' EXIT
if ! env_line=$(bash "$S/local-cluster.sh" start 2>"$TMP/start.err"); then
    skip_all "Slurm could not start here: $(tail -1 "$TMP/start.err")"
fi
eval "$env_line"
ok 0 "a local single-node Slurm is up"

sed -e 's/events: 40/events: 8/' -e 's/duration_s: 0.1/duration_s: 0.05/' \
    -e "s|stations: ../stations/nw-italy.yaml|stations: $ROOT/configs/stations/nw-italy.yaml|" \
    "$ROOT/configs/experiments/small.yaml" > "$TMP/exp.yaml"
cd "$TMP"
run timeout 300 sbatch --wait --ntasks=2 --export="ALL,CONFIG=$TMP/exp.yaml,OUT=$TMP/res,HEIMDALL=$HEIMDALL" "$S/pipeline.sbatch"
is "$RC" 0 "sbatch --wait pipeline.sbatch (2 tasks) succeeds"
[ "$RC" -eq 0 ] || diag "$(cat "$TMP"/heimdall-*.out 2>/dev/null | tail -20)"
for f in captures.h5 features.h5 model.h5 eval.h5 eval_nn.h5 positions.geojson; do
    [ -s "$TMP/res/$f" ]; ok $? "results: $f"
done
ls "$TMP"/res/heimdall-*-featurize.out >/dev/null 2>&1; ok $? "logs named by job and step"
run "$HEIMDALL" verify -c "$TMP/exp.yaml" "$TMP/res"
is "$RC" 0 "verify: every output's inputs and config stamp hold"
[ "$RC" -eq 0 ] || diag "$OUT"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" -c "import h5py,sys; print(h5py.File(sys.argv[1],'r').attrs['run_ranks'])" "$TMP/res/features.h5"
    is "$OUT" 2 "featurize ran on 2 MPI ranks under srun"
fi

printf '%s\n' '# two settings of the featurizer' '--set featurize.nfft=128' '--set featurize.nfft=512' > "$TMP/sweep.txt"
run timeout 300 sbatch --wait --array=0-1%1 --export="ALL,CONFIG=$TMP/exp.yaml,SWEEP=$TMP/sweep.txt,OUT=$TMP/sw,HEIMDALL=$HEIMDALL" "$S/sweep.sbatch"
is "$RC" 0 "a 2-element sweep array (throttled to 1 at a time)"
for k in 0 1; do
    [ -s "$TMP/sw/sweep-$k/eval.h5" ]; ok $? "sweep-$k/eval.h5"
done
grep -q 'nfft=512' "$TMP/sw/sweep-1/overrides.txt"; ok $? "each element took its own line"
run "$PYTHON" -c "import h5py,sys; print('nfft: 512' in h5py.File(sys.argv[1],'r').attrs['config_yaml'])" "$TMP/sw/sweep-1/features.h5"
is "$OUT" True "and its output records the override"
cd "$ROOT"
bash "$S/local-cluster.sh" stop 2>/dev/null
[ ! -s "$HEIMDALL_SLURM_STATE" ]; ok $? "the cluster stops"
done_testing
