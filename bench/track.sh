#!/usr/bin/env bash
# make bench: heimdall track (constant-velocity Kalman filter + RTS smoother,
# the process noise configured) against a plain NumPy Kalman + RTS on the
# same fixes, in the same run, one core each. Prints ratios, never absolute
# claims.
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
# 8 walks of 1000 fixes every 4 s, 30 m noise
"$PY" - "$D/fixes.jsonl" <<'PY'
import json, random, sys, math
random.seed(1)
with open(sys.argv[1], "w") as f:
    ev = 0
    for tx in range(8):
        e = n = 0.0; ve, vn = 1.2, -0.8
        for k in range(1000):
            ve += random.gauss(0, 0.3 * 2); vn += random.gauss(0, 0.3 * 2)
            e += 4 * ve; n += 4 * vn
            t = 4 * k
            o = {"event": ev, "time": "2022-07-06T%02d:%02d:%02d.000000000Z" % (t // 3600, t // 60 % 60, t % 60),
                 "frequency_hz": 462.7e6, "tx_id": tx, "status": "ok",
                 "lat": 40.76 + (n + random.gauss(0, 30)) / 111000.0,
                 "lon": -111.84 + (e + random.gauss(0, 30)) / (111000.0 * math.cos(math.radians(40.76))),
                 "cov_enu_m2": [900.0, 0.0, 900.0], "nu": 0}
            f.write(json.dumps(o) + "\n"); ev += 1
PY
best=0
for _ in 1 2 3; do
    t0=$(date +%s.%N)
    "$H" track -q --force --set track.accel_sigma_mps2=0.6 --set track.gate_sigma=0 -o "$D/t.h5" "$D/fixes.jsonl"
    t1=$(date +%s.%N)
    best=$(awk -v a="$t0" -v b="$t1" -v best="$best" 'BEGIN { r = 8000 / (b - a); print (r > best ? r : best) }')
done
solver=$("$H" track --force --set track.accel_sigma_mps2=0.6 --set track.gate_sigma=0 -o "$D/t.h5" "$D/fixes.jsonl" 2>&1 |
    sed -n 's/.*filter and smoother: \([0-9]*\) states\/s on one core.*/\1/p')
peer=$("$PY" bench/track_peer.py "$D/fixes.jsonl" 0.6)
awk -v h="$best" -v p="$peer" 'BEGIN { printf "bench track: heimdall=%.0f states/s peer=%.0f states/s ratio=%.1f (cv Kalman + RTS, 8 tracks x 1000 fixes; heimdall: whole command incl. reading JSON lines and writing tracks.h5; peer: numpy filter + smoother only)\n", h, p, h / p }'
awk -v s="$solver" -v p="$peer" 'BEGIN { printf "bench track-filter: heimdall=%.0f states/s peer=%.0f states/s ratio=%.1f (forward filter + RTS smoother passes only, both; same states)\n", s, p, s / p }'
