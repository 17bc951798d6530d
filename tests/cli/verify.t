#!/usr/bin/env bash
# verify: the sha256 chain from captures to features to evaluation, an
# input changed after use, a missing input, and outputs stale against the
# config.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
d="$TMP/run"
mkdir -p "$d"
"$HEIMDALL" collect -q -c "$cfg" -o "$d/captures.h5" &&
"$HEIMDALL" featurize -q -c "$cfg" -o "$d/features.h5" "$d/captures.h5" &&
"$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$d/eval.h5" "$d/features.h5" >/dev/null
ok $? "a small pipeline ran"

run "$HEIMDALL" verify "$d"
is "$RC" 0 "a fresh chain verifies"
like "$OUT" "ok +.*features.h5: input .*captures.h5 unchanged" "features name the captures' hash"
like "$OUT" "ok +.*eval.h5: input .*features.h5 unchanged" "the evaluation names the features' hash"
like "$OUT" "verify: 3 files, 0 problems" "summary"

run "$HEIMDALL" verify -c "$cfg" --set evaluate.plots=false "$d"
is "$RC" 0 "and matches the config it was made with"
like "$OUT" "ok +.*features.h5: featurize as in" "stage sections compared"

run "$HEIMDALL" verify -c "$cfg" --set evaluate.plots=false --set featurize.nfft=512 "$d"
is "$RC" 1 "a changed featurize setting makes the features stale"
like "$OUT" "STALE +.*features.h5: made with other featurize settings" "says which stage"
unlike "$OUT" "STALE +.*captures.h5" "the captures are not stale"

# change the captures after use: the features no longer match
"$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs['note']='edited'" "$d/captures.h5"
run "$HEIMDALL" verify "$d"
is "$RC" 1 "an input changed after use is a problem"
like "$OUT" "CHANGED .*features.h5: input .*captures.h5 changed since it was used" "and is named"
like "$OUT" "ok +.*eval.h5: input .*features.h5 unchanged" "the rest of the chain still holds"

# verify one file; a moved folder resolves inputs beside the file
mv "$d" "$TMP/moved"
run "$HEIMDALL" verify "$TMP/moved/eval.h5"
is "$RC" 0 "inputs found beside a moved file"
rm "$TMP/moved/features.h5"
run "$HEIMDALL" verify "$TMP/moved/eval.h5"
is "$RC" 1 "a missing input is a problem"
like "$OUT" "MISSING .*features.h5" "and is named"

# stages in folders, made from their parent with relative paths, verified
# from elsewhere: inputs resolve against the folders above each file
mkdir -p "$TMP/exp/sim" "$TMP/exp/train" "$TMP/exp/eval"
(cd "$TMP/exp" && "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o sim/captures.h5 &&
    "$HEIMDALL" featurize -q -o sim/features.h5 sim/captures.h5 &&
    "$HEIMDALL" train -q -c "$ROOT/configs/smoke.yaml" --set train.epochs=1 -o train/model.h5 sim/features.h5 &&
    "$HEIMDALL" evaluate -q --method nn -m train/model.h5 --set evaluate.plots=false -o eval/eval.h5 sim/features.h5)
ok $? "a campaign in sim/, train/, eval/ made from its folder"
run "$HEIMDALL" verify "$TMP/exp/eval" "$TMP/exp/train"
is "$RC" 0 "verify DIR from elsewhere finds train/model.h5 and sim/features.h5"
unlike "$OUT" "MISSING" "no input reported missing"
like "$OUT" "ok +.*eval/eval.h5: input .*exp/train/model.h5 unchanged" "the model found where it is"

run "$HEIMDALL" verify "$TMP/nowhere"
is "$RC" 1 "a path that does not exist"
like "$ERR" "does not exist" "is refused clearly"
run "$HEIMDALL" verify
is "$RC" 2 "no path is a usage error"
done_testing
