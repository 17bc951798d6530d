#!/usr/bin/env bash
# make pipeline: an experiment as file dependencies with per-stage config
# stamps — a second run does nothing, a featurize setting reruns featurize
# and what follows it, an evaluate setting only the evaluation; make -n
# shows it; verify agrees.
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip_all "make is not installed"

sed -e 's/events: 40/events: 6/' -e 's/duration_s: 0.1/duration_s: 0.05/' \
    -e "s|stations: ../stations/nw-italy.yaml|stations: $ROOT/configs/stations/nw-italy.yaml|" \
    "$ROOT/configs/experiments/small.yaml" > "$TMP/exp.yaml"
M=(make -C "$ROOT" --no-print-directory pipeline CONFIG="$TMP/exp.yaml" PIPE_DIR="$TMP/res" HD="$HEIMDALL")
stages() { grep -oE 'heimdall (collect|featurize|train|evaluate|localize) ' | awk '{print $2}' | tr '\n' ' '; }

run "${M[@]}"
is "$RC" 0 "make pipeline runs"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$(printf '%s\n' "$OUT" | stages)" "collect featurize evaluate localize train evaluate " "every stage ran once"
for f in captures.h5 features.h5 model.h5 eval.h5 eval_nn.h5 positions.geojson report.json; do
    [ -s "$TMP/res/$f" ]; ok $? "results/$f"
done

run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "" "make -n: nothing to redo"
run "${M[@]}"
is "$(printf '%s\n' "$OUT" | stages)" "" "a second run does nothing"

sed -i 's/  nfft: 256/  nfft: 128/' "$TMP/exp.yaml"
run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "featurize evaluate localize train evaluate " "make -n after a featurize change: featurize and what follows"
run "${M[@]}"
is "$(printf '%s\n' "$OUT" | stages)" "featurize evaluate localize train evaluate " "and that is what reruns"

sed -i 's/  hidden: 16/  hidden: 12/' "$TMP/exp.yaml"
run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "train evaluate " "a training setting: only train and the network's evaluation"
run "${M[@]}"
is "$RC" 0 "rerun"

printf '  snr_bins_db: [5, 15]\n' >> "$TMP/exp.yaml"
run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "evaluate localize evaluate " "an evaluate setting: only the evaluation stage"
run "${M[@]}"
is "$RC" 0 "rerun"

run "$HEIMDALL" verify -c "$TMP/exp.yaml" "$TMP/res"
is "$RC" 0 "verify: chain and stamps hold"
[ "$RC" -eq 0 ] || diag "$OUT"
done_testing
