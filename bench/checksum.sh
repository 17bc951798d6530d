#!/usr/bin/env bash
# make bench: the cost of the Fletcher-32 checksums on every chunk, in the
# same run: the same captures written with them (the default) and without
# (HD_H5_NO_CHECKSUM=1, for this measurement only), then read back by
# `heimdall verify` (every chunk through HDF5's filter pipeline) and by
# `heimdall featurize` (its direct /iq reader checks the checksum itself).
# "peer" here is heimdall without the checksums; ratio = speed with / without.
set -eu
# (the runs alternate with and without, best of several: this machine may be shared)
H=${HEIMDALL:-build/heimdall}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
E=${BENCH_CHECKSUM_EVENTS:-240}

# pair N "CMD_WITH" "CMD_WITHOUT": the best wall time of each over N runs,
# alternating (a loaded machine drifts: both see the same drift) -> "tw to"
pair() {
    local n=$1 bw=1e9 bo=1e9
    for _ in $(seq "$n"); do
        for k in w o; do
            local t0 t1 c
            [ $k = w ] && c=$2 || c=$3
            t0=$(date +%s.%N)
            bash -c "$c" >/dev/null || { echo "bench checksum: $c failed" >&2; exit 1; }
            t1=$(date +%s.%N)
            if [ $k = w ]; then bw=$(awk -v a="$t0" -v c="$t1" -v b="$bw" 'BEGIN { t = c - a; print (t < b ? t : b) }')
            else bo=$(awk -v a="$t0" -v c="$t1" -v b="$bo" 'BEGIN { t = c - a; print (t < b ? t : b) }'); fi
        done
    done
    echo "$bw $bo"
}
line() { # line NAME T_WITH T_WITHOUT NOTE
    awk -v n="$1" -v w="$2" -v o="$3" -v e="$E" -v note="$4" 'BEGIN {
        printf "bench %s: heimdall=%.1f events/s peer=%.1f events/s ratio=%.3f (%s)\n", n, e / w, e / o, o / w, note }'
}
C="$H collect -q --force --set collect.events=$E"
read -r tw to <<<"$(pair 3 "$C -o $D/with.h5" "HD_H5_NO_CHECKSUM=1 $C -o $D/without.h5")"
line checksum-collect "$tw" "$to" "collect writing $E events × 7 receivers of 0.25 s IQ, deflate 4, with Fletcher-32 vs without; simulation included"
read -r tw to <<<"$(pair 5 "$H verify $D/with.h5" "$H verify $D/without.h5")"
line checksum-read "$tw" "$to" "verify: every chunk read through HDF5's pipeline (inflate, and checksum when there)"
read -r tw to <<<"$(pair 3 "$H featurize -q --force -o $D/f.h5 $D/with.h5" "$H featurize -q --force -o $D/f.h5 $D/without.h5")"
line checksum-featurize "$tw" "$to" "featurize: /iq read directly (libdeflate), the checksum checked by heimdall when there"
sw=$(stat -c %s "$D/with.h5"); so=$(stat -c %s "$D/without.h5")
awk -v a="$sw" -v b="$so" 'BEGIN { printf "bench checksum-size: heimdall=%d bytes peer=%d bytes ratio=%.4f (the captures file with / without the checksums: 4 bytes a chunk)\n", a, b, a / b }'
