#!/usr/bin/env bash
# make bench: the cost of the Fletcher-32 checksums on every chunk, in the
# same run: the same captures written with them (the default) and without
# (HD_H5_NO_CHECKSUM=1, for this measurement only), then read back by
# `heimdall verify` (every chunk through HDF5's filter pipeline) and by
# `heimdall featurize` (its direct /iq reader checks the checksum itself).
# "peer" here is heimdall without the checksums; ratio = speed with / without.
set -eu
H=${HEIMDALL:-build/heimdall}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
E=${BENCH_CHECKSUM_EVENTS:-240}

best() { # best ENV=VAL|- CMD... -> the best of 3 wall times in seconds
    local env=$1 b=1e9
    shift
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        if [ "$env" = - ]; then "$@" >/dev/null; else env "$env" "$@" >/dev/null; fi ||
            { echo "bench checksum: $* failed" >&2; exit 1; }
        t1=$(date +%s.%N)
        b=$(awk -v a="$t0" -v c="$t1" -v b="$b" 'BEGIN { t = c - a; print (t < b ? t : b) }')
    done
    echo "$b"
}
line() { # line NAME T_WITH T_WITHOUT NOTE
    awk -v n="$1" -v w="$2" -v o="$3" -v e="$E" -v note="$4" 'BEGIN {
        printf "bench %s: heimdall=%.1f events/s peer=%.1f events/s ratio=%.3f (%s)\n", n, e / w, e / o, o / w, note }'
}
C=(collect -q --force --set collect.events=$E)
tw=$(best - "$H" "${C[@]}" -o "$D/with.h5")
to=$(best HD_H5_NO_CHECKSUM=1 "$H" "${C[@]}" -o "$D/without.h5")
line checksum-collect "$tw" "$to" "collect writing $E events × 7 receivers of 0.25 s IQ, deflate 4, with Fletcher-32 vs without; simulation included"
tw=$(best - "$H" verify "$D/with.h5")
to=$(best - "$H" verify "$D/without.h5")
line checksum-read "$tw" "$to" "verify: every chunk read through HDF5's pipeline (inflate, and checksum when there)"
tw=$(best - "$H" featurize -q --force -o "$D/f.h5" "$D/with.h5")
to=$(best - "$H" featurize -q --force -o "$D/f.h5" "$D/without.h5")
line checksum-featurize "$tw" "$to" "featurize: /iq read directly (libdeflate), the checksum checked by heimdall when there"
sw=$(stat -c %s "$D/with.h5"); so=$(stat -c %s "$D/without.h5")
awk -v a="$sw" -v b="$so" 'BEGIN { printf "bench checksum-size: with=%d bytes without=%d bytes (x%.4f: 4 bytes a chunk)\n", a, b, a / b }'
