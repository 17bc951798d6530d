#!/usr/bin/env bash
# Long narrowband recordings end to end (issue 16): three 30 s KiwiSDR
# recordings (--kiwi-wav, the TDoA service layout) of an LF time-code
# transmitter at 77.5 kHz with DCF77-style amplitude marks (the carrier
# drops to 15 % for 100 or 200 ms each second), heard 300-500 km away with
# different LO offsets and noise. Its RMS bandwidth is far below
# featurize.min_rms_bw_hz and the captures' correlation finds nothing; the
# featurizer times every pair from the signal's envelope (/tdoa/method),
# within 4 sigma of the geometry's truth, and says so.
. "$(dirname "$0")/lib.sh"
"$PYTHON" -c 'import numpy' 2>/dev/null || skip_all "numpy missing"

L="$TMP/tdoa"
mkdir -p "$L/iq" "$L/gnss_pos"
"$PYTHON" - "$L" >"$TMP/truth.txt" <<'PY'
import math, struct, sys
import numpy as np
d = sys.argv[1]
fs, T, f0 = 12000, 30.0, 77500
tx = (50.0158, 9.0106)  # Mainflingen
rxs = [("DF0KL", 52.52, 13.40, 1.7), ("F1JEK", 48.85, 2.35, -2.1), ("IZ2GD", 45.46, 9.19, 0.6)]
def dist(a, b):  # great circle, spherical earth (the test's truth; ground wave at c)
    p1, p2, dl = math.radians(a[0]), math.radians(b[0]), math.radians(b[1] - a[1])
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371008.8 * math.acos(min(1, max(-1, c)))
rng = np.random.default_rng(7)
bits = rng.integers(0, 2, 64)
n = int(fs * T)
t_week0 = 388800  # the first sample's GPS second of the week, whole
for st, lat, lon, lo in rxs:
    tau = dist(tx, (lat, lon)) / 299792458.0
    print(st, lat, lon, "%.9f" % tau)
    t = np.arange(n) / fs - tau  # transmitter time of each sample
    sec = np.floor(t).astype(int); frac = t - sec
    mark = np.where(bits[sec % 64] == 1, 0.2, 0.1)
    # amplitude marks with 2 ms raised-cosine edges
    def ramp(x): return np.clip(x / 0.002, 0, 1)
    a = 1 - 0.85 * np.minimum(ramp(frac), ramp(mark - frac))
    a = np.where((frac >= 0) & (frac < mark + 0.002), a, 1.0)
    ph = 2 * math.pi * (300 + lo) * np.arange(n) / fs + rng.uniform(0, 6.3)
    x = a * np.exp(1j * ph) + (rng.normal(size=n) + 1j * rng.normal(size=n)) * math.sqrt(3.0 / 2)
    q = np.clip(np.round(x * 3000), -32767, 32767)
    iq = np.empty(2 * n, dtype="<i2"); iq[0::2] = q.real; iq[1::2] = q.imag
    chunks = []
    for k in range(0, n, 512):
        ts = t_week0 + k / fs
        s = int(math.floor(ts)); ns = int(round((ts - s) * 1e9))
        chunks.append(b"kiwi" + struct.pack("<IBBII", 10, 0, 0, s, ns))
        data = iq[2 * k:2 * min(n, k + 512)].tobytes()
        chunks.append(b"data" + struct.pack("<I", len(data)) + data)
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, fs, fs * 4, 4, 16)
    body = b"WAVE" + fmt + b"".join(chunks)
    open("%s/iq/20240301T120000Z_77500_%s_iq.wav" % (d, st), "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
    open("%s/gnss_pos/%s.txt" % (d, st), "w").write(
        "d.%s = struct('coord', [%.6f,%.6f], 'host', '%s.example', 'port', 8073);\n" % (st, lat, lon, st.lower()))
PY
ok $? "three 30 s recordings of a 77.5 kHz time-code carrier written"
run "$HEIMDALL" import kiwiwav "$L"/iq/*_iq.wav -o "$TMP/c.h5"
is "$RC" 0 "imported (positions from gnss_pos/ beside iq/)"
run "$HEIMDALL" featurize -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "featurize"
like "$ERR" "pairs: 3 timed" "all three pairs timed"
like "$ERR" "pairs timed from their modulation \(narrow signals, /tdoa/method\): 3 by the envelope" \
    "from the envelope, and said so"
run "$HEIMDALL" featurize --force --set featurize.modulation_min_s=0 -o "$TMP/f0.h5" "$TMP/c.h5"
like "$ERR" "pairs: 0 timed; .*too_narrow 3" "without it (modulation_min_s 0): none, each named too_narrow"
"$PYTHON" - "$TMP/f.h5" "$TMP/truth.txt" >"$TMP/check.out" 2>&1 <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
tau = {l.split()[0]: float(l.split()[3]) for l in open(sys.argv[2])}
ids = [x.decode() if isinstance(x, bytes) else x for x in f["receivers/id"][...]]
names = [x.decode() if isinstance(x, bytes) else x for x in f["tdoa/method"].attrs["names"]]
R = len(ids); pairs = [(i, j) for i in range(R) for j in range(i + 1, R)]
def ok(c, m): print(("ok" if c else "not ok"), "-", m)
meth = f["tdoa/method"][0]
ok(all(names[m] == "envelope" for m in meth), "/tdoa/method: envelope for every pair (%s)" % [names[m] for m in meth])
d, s = f["tdoa/delay_s"][0], f["tdoa/sigma_s"][0]
for p, (i, j) in enumerate(pairs):
    truth = tau[ids[j]] - tau[ids[i]]
    z = (d[p] - truth) / s[p]
    ok(abs(z) < 4 and s[p] < 1e-3, "%s-%s: %.1f us from the truth, sigma %.1f us (%.1f sigma)" %
       (ids[i], ids[j], (d[p] - truth) * 1e6, s[p] * 1e6, z))
PY
ok $? "the check ran to the end"
while IFS= read -r line; do
    case "$line" in
        "ok - "*) ok 0 "${line#ok - }" ;;
        "not ok - "*) ok 1 "${line#not ok - }" ;;
        *) diag "$line" ;;
    esac
done <"$TMP/check.out"
done_testing
