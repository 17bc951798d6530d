#!/usr/bin/env bash
# featurize on the smoke campaign: the features file, identical under MPI,
# refusals of wrong inputs, no NaN.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=8 -o "$TMP/c.h5"
is "$RC" 0 "collect"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "featurize exits 0"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" info "$TMP/f.h5"
like "$OUT" "heimdall features file, format version 2" "a features file"
like "$OUT" "/features +8 × 7 × 11 +float32" "features [event, receiver, feature]"
like "$OUT" "/tdoa/delay_s +8 × 21 +float64 +s" "21 pairs of time differences"
like "$OUT" "/mask_reason +8 × 7 +uint8" "/mask_reason [event, receiver]"
like "$OUT" "/tdoa/mask_reason +8 × 21 +uint8" "/tdoa/mask_reason [event, pair]"
like "$OUT" "/dbm_ok +8 × 7 +uint8" "/dbm_ok [event, receiver]"
like "$OUT" "receivers: [0-9]+ ok; masked: not_captured [0-9]+ dead [0-9]+ clipped [0-9]+" "info counts the receivers' mask reasons"
like "$OUT" "pairs: [0-9]+ ok; masked: end_masked [0-9]+ level_only [0-9]+ no_gps_time [0-9]+ too_narrow [0-9]+" \
    "info counts the pairs' mask reasons"

# why every mask is 0: the summary and the reason datasets
run "$HEIMDALL" featurize -c "$cfg" -o "$TMP/fs.h5" "$TMP/c.h5"
is "$RC" 0 "featurize (not quiet)"
like "$ERR" "receivers: [0-9]+ valid \([0-9]+ without a calibrated dBm\); masked: not_captured [0-9]+ dead [0-9]+ clipped [0-9]+ no_data [0-9]+ not_finite [0-9]+" \
    "the summary counts the receivers by mask reason"
like "$ERR" "pairs: [0-9]+ timed; not timed: end_masked [0-9]+ level_only [0-9]+ no_gps_time [0-9]+ too_narrow [0-9]+ not_reference [0-9]+ no_peak [0-9]+ outside_lag_window [0-9]+" \
    "the summary counts the pairs by mask reason"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/f.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def names(d):
    return [n.decode() if isinstance(n, bytes) else n for n in f[d].attrs["names"]]
rn, pn = names("mask_reason"), names("tdoa/mask_reason")
assert rn[:4] == ["ok", "not_captured", "dead", "clipped"], rn
assert "no_gps_time" in pn and "too_narrow" in pn and "no_peak" in pn and "end_masked" in pn, pn
m, w = f["mask"][:], f["mask_reason"][:]
tm, tw = f["tdoa/mask"][:], f["tdoa/mask_reason"][:]
assert ((m == 1) == (w == 0)).all(), "a receiver's reason is 0 exactly when it is valid"
assert ((tm == 1) == (tw == 0)).all(), "a pair's reason is 0 exactly when it is timed"
assert (w < len(rn)).all() and (tw < len(pn)).all()
assert (f["dbm_ok"][:] <= m).all(), "a masked receiver has no dBm"
st = f["status"][:]
assert ((st != 0) == (w == rn.index("not_captured"))).all(), "not_captured exactly where the status is not ok"
print("receivers", np.bincount(w.ravel()), "pairs", np.bincount(tw.ravel()))
PY
    is "$RC" 0 "h5py: reason names, reasons 0 exactly where valid, not_captured where the status says"
    [ "$RC" -eq 0 ] || diag "$ERR"
    diag "$OUT"
fi

# an uncalibrated receiver (a kiwiwav recording: no gain, no full scale)
# keeps its features and is timed; only its dBm is absent
run "$HEIMDALL" export kiwiwav -q -o "$TMP/rec" "$TMP/c.h5"
run "$HEIMDALL" import kiwiwav -q -o "$TMP/ck.h5" "$TMP"/rec/*.wav
is "$RC" 0 "kiwiwav export and import"
run "$HEIMDALL" featurize -o "$TMP/fk.h5" "$TMP/ck.h5"
is "$RC" 0 "featurize the imported recordings"
like "$ERR" "receivers: [1-9][0-9]* valid \([1-9][0-9]* without a calibrated dBm\)" "the summary counts receivers without a calibrated dBm"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/fk.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
m, d, X = f["mask"][:], f["dbm_ok"][:], f["features"][:]
names = [n.decode() for n in f["feature_names"][:]]
assert m.sum() > 10, m.sum()
assert d.sum() == 0, "no calibrated dBm in a kiwiwav recording"
assert np.isfinite(X).all(), "no NaN"
assert (X[..., names.index("rss_dbm")] == 0).all(), "rss_dbm stored as 0"
v = m.astype(bool)
assert (X[..., names.index("snr_db")][v] != 0).all() and (X[..., names.index("rss_dbfs")][v] != 0).all(), "SNR and dBFS kept"
assert f["tdoa/mask"][:].sum() > 5, f["tdoa/mask"][:].sum()
print("valid receivers", m.sum(), "timed pairs", f["tdoa/mask"][:].sum())
PY
    is "$RC" 0 "h5py: uncalibrated receivers valid (dbm_ok 0, rss_dbm 0), SNR and dBFS kept, pairs timed"
    [ "$RC" -eq 0 ] || diag "$ERR"
    diag "$OUT"
fi

if command -v mpirun >/dev/null && command -v h5diff >/dev/null; then
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f2.h5" "$TMP/c.h5"
    is "$RC" 0 "featurize on 2 ranks"
    bad=0; n=0
    for p in $(h5ls -r "$TMP/f.h5" | awk '$2 == "Dataset" {print $1}'); do
        n=$((n + 1))
        h5diff -q "$TMP/f.h5" "$TMP/f2.h5" "$p" "$p" >/dev/null 2>&1 || { bad=$((bad + 1)); diag "differs: $p"; }
    done
    [ "$n" -gt 20 ]; ok $? "$n datasets compared"
    is "$bad" 0 "2-rank features identical to the 1-rank run (h5diff)"

    # long-capture mode: transforms shared by both ranks (fftw3-mpi)
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -c "$cfg" --set featurize.distributed_fft_min_samples=1000 \
        -o "$TMP/fd.h5" "$TMP/c.h5"
    is "$RC" 0 "featurize with distributed transforms"
    like "$ERR" "transforms distributed over 2 ranks" "says it distributes the transforms"
    h5diff -q "$TMP/f.h5" "$TMP/fd.h5" /features /features >/dev/null 2>&1
    ok $? "per-receiver features identical in distributed mode"
    if "$PYTHON" -c 'import h5py' 2>/dev/null; then
        run "$PYTHON" - "$TMP/f.h5" "$TMP/fd.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
m = a["tdoa/mask"][:].astype(bool) & b["tdoa/mask"][:].astype(bool)
d = np.abs(a["tdoa/delay_s"][:] - b["tdoa/delay_s"][:])[m]
assert m.sum() > 10, m.sum()
# the distributed mode skips the frequency-difference correction: agree
# within a few microseconds, most far closer
print("pairs %d, median |diff| %.3g us" % (m.sum(), np.median(d) * 1e6))
assert np.median(d) < 3e-6, np.median(d)
PY
        is "$RC" 0 "distributed time differences agree with the local ones"
        diag "$OUT"
        # reference pairs in the distributed mode too
        run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$cfg" --set featurize.distributed_fft_min_samples=1000 \
            --set featurize.pairs=reference -o "$TMP/fdr.h5" "$TMP/c.h5"
        is "$RC" 0 "distributed mode with reference pairs"
        run "$PYTHON" - "$TMP/fd.h5" "$TMP/fdr.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
pairs = b["tdoa/pairs"][:]
ma, mb = a["tdoa/mask"][:].astype(bool), b["tdoa/mask"][:].astype(bool)
assert 0 < mb.sum() < ma.sum(), (mb.sum(), ma.sum())
for e in range(mb.shape[0]):
    ps = pairs[mb[e]]
    if len(ps) > 1:  # every valid pair holds one common receiver
        assert set(ps[0]) & set.intersection(*[set(p) for p in ps]), (e, ps)
print("ok")
PY
        is "$RC" 0 "distributed reference pairs share the reference receiver"
        [ "$RC" -eq 0 ] || diag "$ERR"
    fi
fi

run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.logmel=true --set featurize.logmel_n_mels=16 -o "$TMP/fl.h5" "$TMP/c.h5"
is "$RC" 0 "featurize with log-mel spectrograms"
run "$HEIMDALL" info "$TMP/fl.h5"
like "$OUT" "/logmel +8 × 7 × 8 × 16 +float32 +log10" "/logmel [event, receiver, frame, band]"
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.logmel=true --set featurize.logmel_n_fft=65536 -o "$TMP/fx.h5" "$TMP/c.h5"
is "$RC" 2 "a log-mel frame longer than the capture is a config error"
like "$ERR" "logmel_n_fft 65536 is longer than the captures' 1200 samples" "and says so"

run "$HEIMDALL" featurize -q -o "$TMP/x.h5" "$TMP/f.h5"
is "$RC" 1 "a features file is not a captures file"
like "$ERR" "not a heimdall captures file \(heimdall_format is 'features'\)" "and says so"
printf 'junk' >"$TMP/junk.h5"
run "$HEIMDALL" featurize -q -o "$TMP/x.h5" "$TMP/junk.h5"
like "$ERR" "not an HDF5 file" "junk refused"
head -c 20000 "$TMP/c.h5" >"$TMP/trunc.h5"
run "$HEIMDALL" featurize -q -o "$TMP/x.h5" "$TMP/trunc.h5"
is "$RC" 1 "truncated captures refused"
[ ! -e "$TMP/x.h5" ]; ok $? "no output after refusals"
run "$HEIMDALL" featurize -q -o "$TMP/x.h5"
is "$RC" 2 "no input: usage error"

# /iq is read chunk by chunk (libdeflate) when it has collect's layout, else
# by HDF5: both give the same features, and a damaged chunk is an error
run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=8 --set collect.compression=0 -o "$TMP/c0.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f0.h5" "$TMP/c0.h5"
is "$RC" 0 "featurize an uncompressed captures file"
if command -v h5diff >/dev/null; then
    run h5diff "$TMP/f.h5" "$TMP/f0.h5" /features; is "$RC" 0 "its features equal the compressed file's"
    run h5diff "$TMP/f.h5" "$TMP/f0.h5" /tdoa/delay_s; is "$RC" 0 "and its time differences"
fi
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    cp "$TMP/c.h5" "$TMP/bad.h5"
    run "$PYTHON" - "$TMP/bad.h5" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    iq = f["iq"].id
    info = iq.get_chunk_info(min(3, iq.get_num_chunks() - 1))
with open(sys.argv[1], "r+b") as g:
    g.seek(info.byte_offset + info.size // 2)
    g.write(b"\xff" * 64)
PY
    run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/bad_f.h5" "$TMP/bad.h5"
    is "$RC" 1 "a damaged /iq chunk fails the run"
    like "$ERR" "reading /iq" "and names the dataset"
    [ ! -e "$TMP/bad_f.h5" ]; ok $? "nothing written"
fi

if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/f.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
X = f["features"][:]
assert np.isfinite(X).all(), "NaN in features"
assert np.isfinite(f["tdoa/delay_s"][:]).all() and np.isfinite(f["tdoa/sigma_s"][:]).all()
names = [n.decode() for n in f["feature_names"][:]]
assert "snr_db" in names and "rss_dbm" in names
m = f["mask"][:].astype(bool)
snr = X[..., names.index("snr_db")]
t = f["truth/snr_db"][:]
sel = m & (t > 0) & (t < 40)
assert sel.sum() > 10
assert np.abs(snr[sel] - t[sel]).max() < 2.0, np.abs(snr[sel] - t[sel]).max()
print("ok")
PY
    is "$RC" 0 "h5py: finite features; SNR follows the truth"
    [ "$RC" -eq 0 ] || diag "$ERR"
fi

# featurize.pairs=reference: each event's best-SNR receiver against the
# others; the same numbers as those pairs in the all-pairs run
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.pairs=reference -o "$TMP/fr.h5" "$TMP/c.h5"
is "$RC" 0 "featurize with reference pairs"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/f.h5" "$TMP/fr.h5" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
pairs = b["tdoa/pairs"][:]
ma, mb = a["tdoa/mask"][:].astype(bool), b["tdoa/mask"][:].astype(bool)
names = [n.decode() for n in b["feature_names"][:]]
snr = np.where(b["mask"][:].astype(bool), b["features"][..., names.index("snr_db")], -np.inf)
assert mb.sum() > 5 and mb.sum() < ma.sum(), (mb.sum(), ma.sum())
assert not (mb & ~ma).any(), "a reference pair valid only in the reference run"
for e, p in zip(*np.nonzero(mb)):
    i, j = pairs[p]
    # the reference: the best SNR among the receivers with time differences
    others = [r for r in range(snr.shape[1]) if mb[e, [q for q in range(len(pairs)) if r in pairs[q]]].any()]
    ref = max(others, key=lambda r: snr[e, r])
    assert ref in (i, j), (e, i, j, ref)
assert np.array_equal(a["tdoa/delay_s"][:][mb], b["tdoa/delay_s"][:][mb]), "same delays as the all-pairs run"
assert np.array_equal(a["features"][:], b["features"][:]), "same per-receiver features"
print("ok", mb.sum(), "of", ma.sum())
PY
    is "$RC" 0 "reference pairs: each valid pair holds the best-SNR receiver, same delays as all pairs"
    [ "$RC" -eq 0 ] || diag "$ERR"
fi
# a PSD finer than the captures (nfft 4096 against 1200 samples): the long
# transform grows to give every PSD bin a transform bin
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.nfft=4096 -o "$TMP/fn.h5" "$TMP/c.h5"
is "$RC" 0 "featurize with nfft longer than the captures"
if "$PYTHON" -c 'import h5py' 2>/dev/null; then
    run "$PYTHON" - "$TMP/fn.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
names = [n.decode() for n in f["feature_names"][:]]
X, m, t = f["features"][:], f["mask"][:].astype(bool), f["truth/snr_db"][:]
snr = X[..., names.index("snr_db")]
sel = m & (t > 0) & (t < 40)
assert np.isfinite(X).all() and sel.sum() > 10
assert np.abs(snr[sel] - t[sel]).max() < 4.0, np.abs(snr[sel] - t[sel]).max()
assert f["tdoa/mask"][:].sum() > 10
print("ok")
PY
    is "$RC" 0 "nfft 4096: SNR within 4 dB, time differences found"
    [ "$RC" -eq 0 ] || diag "$ERR"
fi
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.pairs=some -o "$TMP/fx.h5" "$TMP/c.h5"
is "$RC" 2 "an unknown featurize.pairs is a config error"
like "$ERR" "featurize.pairs" "and names the key"
# --profile: where the time went, per stage
run "$HEIMDALL" featurize -c "$cfg" --profile -o "$TMP/fprof.h5" "$TMP/c.h5"
is "$RC" 0 "featurize --profile"
like "$ERR" "profile \(rank 0, [0-9.]+ s\): open, plans .* read and inflate [0-9.]+ s \(beside the compute: [0-9.]+ s of it waited for\); FFTW [0-9.]+ s; own DSP [0-9.]+ s; write [0-9.]+ s; input hash" \
    "prints the time of each stage"
run h5diff "$TMP/f.h5" "$TMP/fprof.h5" /features /features
is "$RC" 0 "and the same features"
run "$HEIMDALL" localize -q -c "$cfg" --profile -o "$TMP/x.geojson" "$TMP/f.h5"
is "$RC" 2 "--profile is featurize's alone (localize refuses it)"
# featurize.fftw_wisdom: measured plans kept in a file, loaded by later runs
run "$HEIMDALL" featurize -c "$cfg" --set featurize.fftw_wisdom="$TMP/w.fftw" -o "$TMP/fw1.h5" "$TMP/c.h5"
is "$RC" 0 "featurize with featurize.fftw_wisdom (the file absent: plans measured)"
[ -s "$TMP/w.fftw" ] && head -c 40 "$TMP/w.fftw" | grep -q "fftw"; ok $? "the wisdom written"
like "$ERR" "FFTW wisdom \(measured plans\) kept in" "and said so"
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.fftw_wisdom="$TMP/w.fftw" -o "$TMP/fw2.h5" "$TMP/c.h5"
is "$RC" 0 "a second run loads it"
run h5diff "$TMP/fw1.h5" "$TMP/fw2.h5" /tdoa/delay_s /tdoa/delay_s
is "$RC" 0 "the same plans, the same time differences"
printf 'not wisdom\n' > "$TMP/bad.fftw"
run "$HEIMDALL" featurize -q -c "$cfg" --set featurize.fftw_wisdom="$TMP/bad.fftw" -o "$TMP/fw3.h5" "$TMP/c.h5"
isnt "$RC" 0 "a file that is no FFTW wisdom is refused"
like "$ERR" "cannot read FFTW wisdom .*bad.fftw" "with its name"
[ ! -e "$TMP/fw3.h5" ]; ok $? "nothing written"
if command -v mpirun >/dev/null; then
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$cfg" --set featurize.fftw_wisdom="$TMP/none.fftw" -o "$TMP/fw4.h5" "$TMP/c.h5"
    isnt "$RC" 0 "under MPI a missing wisdom file is refused (ranks measuring apart could plan differently)"
    like "$ERR" "make it with one rank first" "saying how to make it"
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$cfg" --set featurize.fftw_wisdom="$TMP/w.fftw" -o "$TMP/fw5.h5" "$TMP/c.h5"
    is "$RC" 0 "an existing one is used by every rank"
    run h5diff "$TMP/fw1.h5" "$TMP/fw5.h5" /tdoa/delay_s /tdoa/delay_s
    is "$RC" 0 "with the one-rank run's results"
else
    skip 6 "mpirun not installed"
fi
done_testing
