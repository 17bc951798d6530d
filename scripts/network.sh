#!/usr/bin/env bash
# A stations file of N simulated receivers spread over a box, for
# networks as large as the real ones (about 600 public KiwiSDRs, the 716
# ADS-B sensors of shared/datasets/mlat) with collect.layout sparse:
#   scripts/network.sh N LAT_MIN LAT_MAX LON_MIN LON_MAX > stations.yaml
# Sites follow a 2-D Kronecker (golden-ratio) sequence jittered by a
# second one: spread evenly, irregular, identical on every machine (no
# random generator). Use it from a config as `stations: stations.yaml`.
set -eu
[ $# -eq 5 ] || { echo "usage: $0 N LAT_MIN LAT_MAX LON_MIN LON_MAX" >&2; exit 2; }
awk -v n="$1" -v la0="$2" -v la1="$3" -v lo0="$4" -v lo1="$5" 'BEGIN {
    if (n < 1 || n > 100000 || la1 <= la0 || lo1 <= lo0) { print "network.sh: bad arguments" > "/dev/stderr"; exit 2 }
    a1 = 0.7548776662466927; a2 = 0.5698402909980532   # the plastic number R2 sequence
    printf "# %d simulated receivers over lat %s..%s, lon %s..%s (scripts/network.sh)\nstations:\n", n, la0, la1, lo0, lo1
    for (i = 1; i <= n; i++) {
        u = (0.5 + a1 * i) % 1; v = (0.5 + a2 * i) % 1
        j = (0.5 + 0.6180339887498949 * i) % 1          # a third sequence: jitter of a quarter spacing
        s = 0.25 / sqrt(n)
        u += s * (j - 0.5); v += s * (((0.5 + 0.4142135623730950 * i) % 1) - 0.5)
        u = u < 0 ? 0 : u > 1 ? 1 : u; v = v < 0 ? 0 : v > 1 ? 1 : v
        printf "  - {id: rx%05d, lat: %.5f, lon: %.5f, alt_m: 100}\n", i, la0 + u * (la1 - la0), lo0 + v * (lo1 - lo0)
    }
}'
