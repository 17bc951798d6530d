#!/usr/bin/env bash
# make pipeline: an experiment as file dependencies with per-stage config
# stamps — a second run does nothing, a featurize setting reruns featurize
# and what follows it, an evaluate setting only the evaluation; make -n
# shows it; verify agrees. The network trains on the experiment's campaign
# and every method is scored on a separate test campaign (another seed).
. "$(dirname "$0")/lib.sh"
command -v make >/dev/null || skip_all "make is not installed"

sed -e 's/events: 40/events: 6/' -e 's/duration_s: 0.1/duration_s: 0.05/' \
    -e "s|stations: ../stations/nw-italy.yaml|stations: $ROOT/configs/stations/nw-italy.yaml|" \
    "$ROOT/configs/experiments/small.yaml" > "$TMP/exp.yaml"
# BUILD elsewhere: the binary under test has no rule here, so make never
# relinks it (version.o is rebuilt every time) while other tests run it
M=(make -C "$ROOT" --no-print-directory pipeline CONFIG="$TMP/exp.yaml" PIPE_DIR="$TMP/res" HD="$HEIMDALL" BUILD="$TMP/nobuild")
stages() { grep -oE 'heimdall (collect|featurize|train|evaluate|localize) ' | awk '{print $2}' | tr '\n' ' '; }

run "${M[@]}"
is "$RC" 0 "make pipeline runs"
[ "$RC" -eq 0 ] || diag "$ERR"
is "$(printf '%s\n' "$OUT" | stages)" "collect featurize evaluate localize collect featurize train evaluate " "every stage ran once (featurize for each campaign)"
for f in captures.h5 features.h5 test-captures.h5 test-features.h5 model.h5 eval.h5 eval_nn.h5 positions.geojson report.json; do
    [ -s "$TMP/res/$f" ]; ok $? "results/$f"
done
like "$OUT" "trained on the campaign of seed 3 .*scored on the test campaign of seed 1003" "says what it trained on and what it scored on"
run "$PYTHON" - "$TMP/res" <<'PY'
import sys, json, h5py
d = sys.argv[1]
seed = lambda p: int(h5py.File(p, "r").attrs["config_yaml"].split("\nseed: ")[1].split()[0])
assert seed(d + "/captures.h5") == 3 and seed(d + "/test-captures.h5") == 1003
def ins(p):
    f = h5py.File(p, "r")
    rows = f["provenance/inputs"][:] if "provenance" in f else f.attrs["inputs"]
    return " ".join(r.decode() if isinstance(r, bytes) else r for r in rows)
assert "/features.h5 " in ins(d + "/model.h5") and "test-features" not in ins(d + "/model.h5")
for e in ("eval.h5", "eval_nn.h5"):
    assert "test-features.h5" in ins(d + "/" + e), e
assert json.load(open(d + "/report.json"))["input"].endswith("test-features.h5")
PY
is "$RC" 0 "the model learnt from the seed-3 campaign, every evaluation scored the seed-1003 one"
[ "$RC" -eq 0 ] || diag "$ERR"

run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "" "make -n: nothing to redo"
run "${M[@]}"
is "$(printf '%s\n' "$OUT" | stages)" "" "a second run does nothing"

sed -i 's/  nfft: 256/  nfft: 128/' "$TMP/exp.yaml"
run "${M[@]}" -n
is "$(printf '%s\n' "$OUT" | stages)" "featurize evaluate localize featurize train evaluate " "make -n after a featurize change: featurize and what follows"
run "${M[@]}"
is "$(printf '%s\n' "$OUT" | stages)" "featurize evaluate localize featurize train evaluate " "and that is what reruns"

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
