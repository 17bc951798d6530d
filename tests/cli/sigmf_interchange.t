#!/usr/bin/env bash
# Issue 16, recording interchange: SigMF recordings carry no gain
# calibration (as kiwiwav ones); featurize must not mask them for their NaN
# dBm. Every receiver of an exported-and-imported SigMF campaign keeps its
# features and is timed; only its dBm is absent (dbm_ok 0, rss_dbm 0).
# Receivers keep the stations file's order (-c), else the command line's,
# never alphabetical.
. "$(dirname "$0")/lib.sh"
"$PYTHON" -c 'import h5py' 2>/dev/null || skip_all "h5py missing"
cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" -o "$TMP/c.h5"
is "$RC" 0 "collect the smoke campaign"
run "$HEIMDALL" export sigmf -q -o "$TMP/rec" "$TMP/c.h5"
is "$RC" 0 "export sigmf"
run "$HEIMDALL" import sigmf -q -o "$TMP/cs.h5" "$TMP"/rec/*.sigmf-meta
is "$RC" 0 "import sigmf"
run "$HEIMDALL" featurize -o "$TMP/fs.h5" "$TMP/cs.h5"
is "$RC" 0 "featurize the imported SigMF recordings"
like "$ERR" "receivers: [1-9][0-9]* valid \([1-9][0-9]* without a calibrated dBm\)" \
    "the summary counts receivers without a calibrated dBm"
unlike "$ERR" "pairs: 0 timed" "pairs are timed"
run "$HEIMDALL" featurize -q -o "$TMP/fc.h5" "$TMP/c.h5"
run "$PYTHON" - "$TMP/fs.h5" "$TMP/fc.h5" <<'PY'
import sys, h5py, numpy as np
f, g = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
m, d, X = f["mask"][:], f["dbm_ok"][:], f["features"][:]
names = [n.decode() for n in f["feature_names"][:]]
assert d.sum() == 0, "no calibrated dBm in a SigMF recording"
assert np.isfinite(X).all(), "no NaN"
assert (X[..., names.index("rss_dbm")] == 0).all(), "rss_dbm stored as 0"
v = m.astype(bool)
assert v.sum() == g["mask"][:].astype(bool).sum(), ("as many valid receivers as from the captures", v.sum(), g["mask"][:].sum())
assert (X[..., names.index("snr_db")][v] != 0).all(), "SNR kept"
assert f["tdoa/mask"][:].sum() == g["tdoa/mask"][:].sum(), ("as many timed pairs", f["tdoa/mask"][:].sum(), g["tdoa/mask"][:].sum())
print("valid receivers", v.sum(), "timed pairs", f["tdoa/mask"][:].sum())
PY
is "$RC" 0 "h5py: every receiver valid as from the captures themselves (dbm_ok 0, rss_dbm 0), SNR kept, as many pairs timed"
[ "$RC" -eq 0 ] || diag "$ERR"
diag "$OUT"

# receiver order: the command line's; with -c, the stations file's
run "$HEIMDALL" collect -q -c "$ROOT/configs/experiments/recordings-demo.yaml" --set collect.duration_s=1 -o "$TMP/eu.h5"
run "$HEIMDALL" export sigmf -q -o "$TMP/eu" "$TMP/eu.h5"
is "$RC" 0 "export sigmf of the recordings demo's network (ids not in the default stations)"
m="$TMP/eu/20240301T120000Z_7040000"
ids() { "$PYTHON" -c "import h5py,sys; print(' '.join(x.decode() for x in h5py.File(sys.argv[1])['receivers/id'][()]))" "$1"; }
run "$HEIMDALL" import sigmf -q -o "$TMP/o1.h5" "$m"_vie-ost.sigmf-meta "$m"_cph-nord.sigmf-meta "$m"_ams-west.sigmf-meta
is "$(ids "$TMP/o1.h5")" "vie-ost cph-nord ams-west" "no stations file of its own: the command line's order"
run "$HEIMDALL" import sigmf -q -c "$ROOT/configs/experiments/recordings-demo.yaml" -o "$TMP/o2.h5" \
    "$m"_vie-ost.sigmf-meta "$m"_cph-nord.sigmf-meta "$m"_ams-west.sigmf-meta
is "$(ids "$TMP/o2.h5")" "ams-west vie-ost cph-nord" "-c: the stations file's order (europe-kiwi.yaml)"
done_testing
