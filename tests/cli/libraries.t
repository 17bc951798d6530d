#!/usr/bin/env bash
# Libraries opened when first needed (src/core/dl.h), not linked: PROJ,
# OpenBLAS and libxml2. A command that needs none of them loads none; one
# that cannot open what it needs stops with the loader's status (127), a
# message and no final output. GSL's matrix routines use GSL's own CBLAS:
# localize's digits do not depend on the BLAS kernels OpenBLAS picks for
# the CPU (they did while OpenBLAS was linked: OPENBLAS_CORETYPE changed
# 237 of the 253 ADS-B positions of set 3 in their last digits).
. "$(dirname "$0")/lib.sh"

needed=$(readelf -d "$HEIMDALL" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
[ -n "$needed" ]; ok $? "readelf lists the program's libraries"
for l in libopenblas libxml2 libproj; do
    echo "$needed" | grep -q "^$l"; ok $((1 - $?)) "$l is not linked"
done

run "$HEIMDALL" --version
like "$OUT" "\(core [A-Za-z0-9]+\)" "--version opens the BLAS and names its kernels' core"
run "$HEIMDALL" help
like "$OUT" "HEIMDALL_BLAS_LIB \(any CBLAS\)" "help names the variables that choose the libraries"

# ---- localize the same whatever OpenBLAS would pick (real ADS-B data) -------
DATA=${HEIMDALL_MLAT_DATA:-$(cd "$ROOT" && git rev-parse --show-toplevel 2>/dev/null)/../shared/datasets/mlat}
if [ -r "$DATA/set_3.csv" ]; then
    run "$HEIMDALL" import mlat "$DATA/sensors.csv" "$DATA/set_3.csv" -o "$TMP/m3.h5"
    is "$RC" 0 "import ADS-B set 3" || diag "$ERR"
    for ct in Haswell Sandybridge SkylakeX; do
        OPENBLAS_CORETYPE=$ct "$HEIMDALL" localize -q -o "$TMP/m3-$ct.jsonl" "$TMP/m3.h5" 2>"$TMP/err"
        is "$?" 0 "localize set 3 with OPENBLAS_CORETYPE=$ct" || diag "$(cat "$TMP/err")"
    done
    cmp -s "$TMP/m3-Haswell.jsonl" "$TMP/m3-Sandybridge.jsonl" && cmp -s "$TMP/m3-Haswell.jsonl" "$TMP/m3-SkylakeX.jsonl"
    ok $? "the same bytes whichever kernels OpenBLAS would pick"
    # localize never opens the BLAS: one that cannot be opened changes nothing
    HEIMDALL_BLAS_LIB="$TMP/no-such-libblas.so" "$HEIMDALL" localize -q -o "$TMP/m3-noblas.jsonl" "$TMP/m3.h5"
    is "$?" 0 "localize runs without a BLAS"
    cmp -s "$TMP/m3-Haswell.jsonl" "$TMP/m3-noblas.jsonl"; ok $? "and writes the same bytes"
else
    skip 7 "no ADS-B data set at $DATA (../shared/datasets/mlat beside the repository)"
fi

# ---- train opens the BLAS; one that cannot be opened stops it cleanly -------
"$HEIMDALL" collect -q --set collect.events=48 -o "$TMP/c.h5" && "$HEIMDALL" featurize -q -o "$TMP/f.h5" "$TMP/c.h5"
ok $? "a 48-event campaign featurized"
run env HEIMDALL_BLAS_LIB="$TMP/no-such-libblas.so" "$HEIMDALL" train -q --set train.epochs=1 -o "$TMP/m.h5" "$TMP/f.h5"
is "$RC" 127 "train with a BLAS that cannot be opened: exit 127"
like "$ERR" "the BLAS \(.*no-such-libblas.so\) cannot be loaded: .*; install OpenBLAS" "and says which library and why"
[ ! -e "$TMP/m.h5" ]; ok $? "no model under the final name"
run "$HEIMDALL" train -q --set train.epochs=1 -o "$TMP/m.h5" "$TMP/f.h5"
is "$RC" 0 "the next run trains" || diag "$ERR"
ls -a "$TMP" | grep -q '\.m\.h5\.tmp\.'; ok $((1 - $?)) "and removes the stopped run's temporary"
# any CBLAS will do: GSL's own (no OpenBLAS core to name)
gslcblas=$(ldconfig -p | sed -n 's/^\s*libgslcblas.so.0 .*=> //p' | head -n 1)
if [ -n "$gslcblas" ]; then
    run env HEIMDALL_BLAS_LIB="$gslcblas" "$HEIMDALL" --version
    like "$OUT" "$gslcblas \(core unknown\)" "another CBLAS by \$HEIMDALL_BLAS_LIB: --version names it"
    run env HEIMDALL_BLAS_LIB="$gslcblas" "$HEIMDALL" train -q --force --set train.epochs=1 -o "$TMP/m2.h5" "$TMP/f.h5"
    is "$RC" 0 "and train runs on it" || diag "$ERR"
else
    skip 2 "no libgslcblas.so.0 in ldconfig's cache"
fi

# ---- track's KML opens libxml2 ------------------------------------------------
"$HEIMDALL" localize -q -o "$TMP/p.jsonl" "$TMP/f.h5"
ok $? "localize the campaign"
run env HEIMDALL_XML2_LIB="$TMP/no-such-libxml2.so" "$HEIMDALL" track -o "$TMP/t.geojson" "$TMP/p.jsonl"
is "$RC" 127 "track with a libxml2 that cannot be opened: exit 127"
like "$ERR" "libxml2's KML writer \(.*no-such-libxml2.so\) cannot be loaded: .*; install libxml2" "and says which library and why"
ls "$TMP" | grep -q '^t\.'; ok $((1 - $?)) "no output under a final name"
run "$HEIMDALL" track -o "$TMP/t.geojson" "$TMP/p.jsonl"
is "$RC" 0 "the next run tracks" || diag "$ERR"
[ -s "$TMP/t.kml" ]; ok $? "and writes the KML"
ls -a "$TMP" | grep -q '\.t\..*\.tmp\.'; ok $((1 - $?)) "and removes the stopped run's temporaries"
done_testing
