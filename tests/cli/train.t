#!/usr/bin/env bash
# train: a model file that rebuilds in NumPy, resume equal to an
# uninterrupted run, 1 rank = 2 ranks, SIGTERM checkpoints with exit 75,
# localize/evaluate --method nn, refusals of broken or foreign models.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=80 -o "$TMP/c.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "a small campaign"
T=(--set train.tail_nu=0 --set train.batch_size=16 --set train.hidden=16 --set train.warmup_steps=5 --set train.patience=100)

run "$HEIMDALL" train -c "$cfg" "${T[@]}" --set train.epochs=4 -o "$TMP/m4.h5" "$TMP/f.h5"
is "$RC" 0 "train exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "epoch 4: train NLL" "logs every epoch"
run "$HEIMDALL" info "$TMP/m4.h5"
like "$OUT" "heimdall model file" "a model file"
if "$PYTHON" -c 'import h5py, numpy' 2>/dev/null; then
    run "$PYTHON" "$ROOT/tests/nn_forward.py" "$TMP/m4.h5"
    is "$RC" 0 "NumPy rebuilds the forward pass from model.h5 alone and matches the C outputs"
    diag "$OUT"
    run "$PYTHON" - "$TMP/m4.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
assert f.attrs["epoch"] == 4 and f.attrs["step"] == len(f["log/step_loss"])
for k in ("epoch", "train_loss", "val_loss", "val_median_m", "lr", "seconds"):
    assert len(f["log/" + k]) == 4, k
assert len(f["split/validation_events"]) > 0
assert f["normalization/std"][:].min() > 0
PY
    is "$RC" 0 "architecture, log per epoch, step, split and normalisation stored"
fi

# resume: 2 epochs, then 2 more, equals 4 straight
run "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=4 --set train.stop_after=2 -o "$TMP/m2.h5" "$TMP/f.h5"
is "$RC" 0 "stop after 2 of 4 epochs"
run "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=4 --resume "$TMP/m2.h5" -o "$TMP/m2r.h5" "$TMP/f.h5"
is "$RC" 0 "resume for the last 2"
if command -v h5diff >/dev/null; then
    bad=0
    for d in params best_params optimizer/m optimizer/v log/step_loss; do
        h5diff -q "$TMP/m4.h5" "$TMP/m2r.h5" "/$d" "/$d" >/dev/null 2>&1 || { bad=1; diag "differs: $d"; }
    done
    is "$bad" 0 "4 epochs = 2 + resume + 2: identical weights, optimiser state and losses"
fi

# 1 rank against 2 ranks on the same global batches
if command -v mpirun >/dev/null; then
    run mpirun --oversubscribe -np 2 "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=4 -o "$TMP/m4_2.h5" "$TMP/f.h5"
    is "$RC" 0 "train on 2 ranks"
    run "$PYTHON" - "$TMP/m4.h5" "$TMP/m4_2.h5" <<'PY'
import sys, h5py, numpy as np
a = h5py.File(sys.argv[1], "r")["log/step_loss"][:]
b = h5py.File(sys.argv[2], "r")["log/step_loss"][:]
assert len(a) == len(b) and len(a) > 10, (len(a), len(b))
rel = np.abs(a - b) / np.maximum(np.abs(a), 1e-12)
print("steps %d, largest relative difference %.2g" % (len(a), rel.max()))
assert rel.max() <= 1e-5
PY
    is "$RC" 0 "1-rank and 2-rank loss trajectories agree to 1e-5 per step"
    diag "$OUT"
fi

# SIGTERM: a checkpoint and exit 75, and the checkpoint resumes
"$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=100000 --set train.patience=100000 --set train.batch_size=2 -o "$TMP/mt.h5" "$TMP/f.h5" &
pid=$!
sleep 2
kill -TERM $pid
wait $pid
is "$?" 75 "SIGTERM: exit status 75 (requeue)"
[ -s "$TMP/mt.h5" ]; ok $? "checkpoint written"
run "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=100000 --set train.stop_after=1 --resume "$TMP/mt.h5" -o "$TMP/mt2.h5" "$TMP/f.h5"
is "$RC" 0 "the checkpoint resumes"

# the network locates like the classical methods
run "$HEIMDALL" localize -q -c "$cfg" --method nn -m "$TMP/m4.h5" -o "$TMP/nn.geojson" "$TMP/f.h5"
is "$RC" 0 "localize --method nn"
grep -q '"method":"nn"' "$TMP/nn.jsonl" && grep -q '"ellipse_95"' "$TMP/nn.jsonl"; ok $? "positions with ellipses"
run "$HEIMDALL" evaluate -q -c "$cfg" --method nn -m "$TMP/m4.h5" --set evaluate.plots=false -o "$TMP/e.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate --method nn"
like "$OUT" "calibration \(.*\): .* inside 1-sigma" "scored like the others"
unlike "$OUT" "nan" "no 'nan' in the network's headline (no CRLB is said in words)"

# the Student-t loss (train.tail_nu): kept in the model, whose predictions
# carry it; a model from before it existed is Gaussian
run "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.epochs=2 --set train.tail_nu=4 -o "$TMP/mt4.h5" "$TMP/f.h5"
is "$RC" 0 "train with train.tail_nu 4"
run "$HEIMDALL" evaluate -q -c "$cfg" --method nn -m "$TMP/mt4.h5" --set evaluate.plots=false -o "$TMP/et4.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate its model"
cp "$TMP/m4.h5" "$TMP/old.h5"
"$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f.attrs['tail_nu']" "$TMP/old.h5"
run "$HEIMDALL" evaluate -q -c "$cfg" --method nn -m "$TMP/old.h5" --set evaluate.plots=false -o "$TMP/eold.h5" "$TMP/f.h5"
is "$RC" 0 "a model without tail_nu still loads"
run "$PYTHON" - "$TMP/mt4.h5" "$TMP/et4.h5" "$TMP/m4.h5" "$TMP/eold.h5" <<'PY'
import sys, h5py, numpy as np
m, e, m0, e0 = (h5py.File(p, "r") for p in sys.argv[1:5])
assert m.attrs["tail_nu"] == 4 and m0.attrs["tail_nu"] == 0, (m.attrs["tail_nu"], m0.attrs["tail_nu"])
ok = e["status"][:] == 0
assert ok.any() and np.all(e["nu"][:][ok] == 4) and np.all(e0["nu"][:][e0["status"][:] == 0] == 0)
# the logged validation loss (the t's) is finite
assert np.all(np.isfinite(m["log/val_loss"][:]))
PY
is "$RC" 0 "the model keeps nu 4, its predictions carry it; an old model is Gaussian"
[ "$RC" -eq 0 ] || diag "$ERR"
# the anchor fit uses the localize settings the model was trained with,
# whatever the config at hand: the same predictions under another one; a
# format-2 model (before the residuals' posterior t) keeps its old anchor
# settings, a fixed tail_nu with scale_by_chi2 among them
run "$HEIMDALL" evaluate -q -c "$cfg" --method nn -m "$TMP/m4.h5" --set evaluate.plots=false \
    --set localize.model_sigma_ns=900 --set localize.scale_by_chi2=false -o "$TMP/e_other.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate --method nn under other localize settings"
cp "$TMP/m4.h5" "$TMP/v2.h5"
"$PYTHON" - "$TMP/v2.h5" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1], "r+")
y = f.attrs["config_yaml"]
y = y.decode() if isinstance(y, bytes) else y
assert "  tail_nu: 0.0\n" in y.split("localize:")[1], "localize.tail_nu in the model's config"
f.attrs["config_yaml"] = y.split("localize:")[0] + "localize:" + y.split("localize:")[1].replace("  tail_nu: 0.0\n", "  tail_nu: 6.0\n", 1)
f.attrs["heimdall_format_version"] = 2
PY
run "$HEIMDALL" evaluate -q -c "$cfg" --method nn -m "$TMP/v2.h5" --set evaluate.plots=false -o "$TMP/e_v2.h5" "$TMP/f.h5"
is "$RC" 0 "a format-2 model with a fixed tail_nu and scale_by_chi2 loads and predicts"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$PYTHON" - "$TMP/e.h5" "$TMP/e_other.h5" "$TMP/e_v2.h5" <<'PY'
import sys, h5py, numpy as np
a, b, c = (h5py.File(p, "r") for p in sys.argv[1:4])
for k in ("lat", "lon", "cov_enu_m2"):
    assert np.array_equal(a[k][:], b[k][:], equal_nan=True), k
ok = np.isfinite(c["lat"][:])
assert ok.sum() == np.isfinite(a["lat"][:]).sum() and ok.any()
PY
is "$RC" 0 "the same predictions, bit for bit, under other localize settings"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" train -q -c "$cfg" "${T[@]}" --set train.tail_nu=1.5 -o "$TMP/bad_nu.h5" "$TMP/f.h5"
is "$RC" 2 "train.tail_nu 1.5 (no covariance) is a config error"
like "$ERR" "more than 2 degrees of freedom" "and says why"
[ ! -e "$TMP/bad_nu.h5" ]; ok $? "and writes nothing"

# refusals
run "$HEIMDALL" localize -q --method nn -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 2 "--method nn without -m"
cp "$TMP/m4.h5" "$TMP/bad.h5"
"$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs['hidden']=17" "$TMP/bad.h5"
run "$HEIMDALL" localize -q --method nn -m "$TMP/bad.h5" -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 1 "a model whose weights do not fit its architecture is refused"
like "$ERR" "does not match the architecture" "clearly"
head -c 5000 "$TMP/m4.h5" > "$TMP/trunc.h5"
run "$HEIMDALL" localize -q --method nn -m "$TMP/trunc.h5" -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 1 "a truncated model is refused"
run "$HEIMDALL" localize -q --method nn -m "$TMP/f.h5" -o "$TMP/x.geojson" "$TMP/f.h5"
like "$ERR" "not a heimdall model file" "a features file is not a model"
"$HEIMDALL" collect -q -c "$cfg" --set collect.events=4 --set 'stations=[{id: a, lat: 45, lon: 7}, {id: b, lat: 45.1, lon: 7.2}, {id: c, lat: 44.9, lon: 7.3}]' -o "$TMP/c3.h5" 2>/dev/null
"$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f3.h5" "$TMP/c3.h5" 2>/dev/null
if [ -s "$TMP/f3.h5" ]; then
    run "$HEIMDALL" localize -q --method nn -m "$TMP/m4.h5" -o "$TMP/x.geojson" "$TMP/f3.h5"
    like "$ERR" "trained on other receivers" "a model of another network is refused"
fi
[ ! -e "$TMP/x.geojson" ]; ok $? "nothing written on refusal"
done_testing
