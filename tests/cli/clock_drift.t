#!/usr/bin/env bash
# The receivers' clocks (issue 16): a KiwiSDR's sample clock is not the
# header's rate (12001.2 Hz against 12001); its GPS stamps, one per
# 512-sample block, give the true rate (/clock/rate_hz: the kiwiwav import's
# fit, or the simulator's). featurize resamples every capture onto the
# nominal time base with it, so a receiver 40 ppm fast (160 us over a 4 s
# capture) is timed as well as the others; without the clock the same
# captures are off by about half the drift. A clock off nominal beyond
# featurize.max_clock_ppm, or whose stamps scatter beyond
# max_clock_residual_us, is not timed: its pairs say clock_drift; a receiver
# whose GPS fix is stale says stale_gps. Both counted by featurize and shown
# by info. The same through kiwiwav files: export writes the stamps at the
# clock's rate, import fits them back.
. "$(dirname "$0")/lib.sh"
"$PYTHON" -c 'import h5py, numpy' 2>/dev/null || skip_all "h5py or numpy missing"

cat >"$TMP/st.yaml" <<'Y'
stations:
  - {id: a, lat: 45.00, lon: 7.00, driver: kiwisdr, clock: gps, sample_rate_ppm: 0.01}
  - {id: b, lat: 45.40, lon: 7.10, driver: kiwisdr, clock: gps, sample_rate_ppm: 0.01}
  - {id: fast, lat: 45.20, lon: 7.60, driver: kiwisdr, clock: gps, sample_rate_ppm: 40}
  - {id: d, lat: 44.80, lon: 7.50, driver: kiwisdr, clock: gps, sample_rate_ppm: 0.01}
Y
cat >"$TMP/x.yaml" <<'Y'
seed: 3
stations: st.yaml
collect:
  source: simulate
  events: 3
  duration_s: 4
  frequencies_hz: [145500000]
  simulate:
    receivers: {driver: as-stations, clock: as-stations, sample_rate_hz: 12000,
                gps_outage_probability: 0, failure_probability: 0}
    transmitter: {signal_types: [fsk4], fsk_symbol_rate: 2400, fsk_deviation_hz: 1800, power_dbm: [40, 40]}
    propagation: {multipath_taps: 0, rician_k_db: 30, rician_max_km: 1000}
Y
run "$HEIMDALL" collect -q -c "$TMP/x.yaml" -o "$TMP/c.h5"
is "$RC" 0 "three 4 s events, receiver 'fast' with a 40 ppm (1 sigma) sample clock"
[ "$RC" = 0 ] || diag "$ERR"
# the same captures without their clock: nothing tells featurize the rate
"$PYTHON" - "$TMP/c.h5" "$TMP/c_noclock.h5" <<'PY'
import sys, shutil, h5py
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+"); del f["clock"]
PY
for k in clock noclock; do
    src="$TMP/c.h5"; [ $k = noclock ] && src="$TMP/c_noclock.h5"
    run "$HEIMDALL" featurize -c "$TMP/x.yaml" -o "$TMP/f_$k.h5" "$src"
    is "$RC" 0 "featurized ($k)"
done

# the pairs' errors against the geometry's truth, with and without the clock
pycheck - "$TMP/c.h5" "$TMP/f_clock.h5" "$TMP/f_noclock.h5" <<'PY'
import sys, h5py, numpy as np
c, fc, fn = (h5py.File(p, "r") for p in sys.argv[1:4])
def ok(v, name): print(("ok" if v else "not ok"), "-", name)
ppm = c["truth/sample_rate_error_ppm"][:, 2]
rate, nom = c["clock/rate_hz"][:, 2], c["events/sample_rate_hz"][:]
ok(np.allclose(rate / nom - 1, ppm * 1e-6, rtol=0, atol=1e-12), "/clock/rate_hz is the receiver's true rate (%s ppm)" % np.round(ppm, 1))
ok(np.all(np.abs(ppm) > 5) and np.all(np.abs(ppm) < 100), "its clock is off by more than 5 ppm and less than max_clock_ppm")
pairs = fc["tdoa/pairs"][:]
def errors(f):
    d, m = f["tdoa/delay_s"][:], f["tdoa/mask"][:]
    e = {}
    for p, (i, j) in enumerate(pairs):
        # the geometry's, with the time stamps' own errors (GPS, 100 ns)
        truth = (c["truth/arrival_s"][:, j] + c["truth/clock_error_s"][:, j]) - (c["truth/arrival_s"][:, i] + c["truth/clock_error_s"][:, i])
        e[(i, j)] = np.where(m[:, p] > 0, d[:, p] - truth, np.nan)
    return e
ec, en = errors(fc), errors(fn)
fastp = [k for k in ec if 2 in k]
other = [k for k in ec if 2 not in k]
worst_c = max(np.nanmax(np.abs(ec[k])) for k in fastp)
worst_o = max(np.nanmax(np.abs(ec[k])) for k in other)
mean_n = np.mean([np.nanmean(np.abs(en[k])) for k in fastp])
half = np.abs(ppm).mean() * 1e-6 * 4 / 2
print("# pairs with 'fast': worst |error| %.2f us with its clock, mean %.1f us without (half the drift: %.1f us); other pairs' worst %.2f us"
      % (worst_c * 1e6, mean_n * 1e6, half * 1e6, worst_o * 1e6))
ok(all(np.isfinite(ec[k]).all() for k in ec), "every pair timed with the clock")
ok(worst_c < 1e-6, "with its clock the fast receiver's pairs are within 1 us of the truth")
ok(mean_n > 0.3 * half, "without it they are off by a good part of half the drift")
ok(worst_c < 0.1 * mean_n, "the clock makes them at least 10x better")
sig = fc["tdoa/sigma_s"][:]
z = np.concatenate([ec[k] / sig[:, p] for p, k in enumerate(ec)])
print("# |z| of every pair with the clock: max %.2f" % np.nanmax(np.abs(z)))
ok(np.nanmax(np.abs(z)) < 5, "and their errors within 5 sigma")
PY

# a clock further than max_clock_ppm from nominal: its pairs not timed, named clock_drift
run "$HEIMDALL" featurize -c "$TMP/x.yaml" --set featurize.max_clock_ppm=1 -o "$TMP/f_strict.h5" "$TMP/c.h5"
is "$RC" 0 "featurize with max_clock_ppm 1"
like "$ERR$OUT" "clock_drift 9" "the summary counts 9 pairs clock_drift (3 pairs with 'fast' x 3 events)"
run "$HEIMDALL" info "$TMP/f_strict.h5"
like "$OUT" "clock_drift" "info names clock_drift"
pycheck - "$TMP/f_strict.h5" <<'PY'
import sys, h5py, numpy as np
f = h5py.File(sys.argv[1], "r")
def ok(v, name): print(("ok" if v else "not ok"), "-", name)
names = [x.decode() if isinstance(x, bytes) else x for x in f["tdoa/mask_reason"].attrs["names"]]
why, m, pairs = f["tdoa/mask_reason"][:], f["tdoa/mask"][:], f["tdoa/pairs"][:]
fast = np.array([2 in p for p in pairs])
ok(np.all(why[:, fast] == names.index("clock_drift")) and np.all(m[:, fast] == 0), "every pair with 'fast' masked clock_drift")
ok(np.all(m[:, ~fast] == 1), "the others timed")
ok(np.all(f["mask"][:, 2] == 1), "the receiver itself keeps its features (RSS, SNR)")
PY
# stamps scattered about the fit (the rate drifted during the capture)
"$PYTHON" - "$TMP/c.h5" "$TMP/c_scatter.h5" <<'PY'
import sys, shutil, h5py
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+"); r = f["clock/residual_s"][...]; r[:, 0] = 200e-6; f["clock/residual_s"][...] = r
PY
run "$HEIMDALL" featurize -c "$TMP/x.yaml" -o "$TMP/f_scatter.h5" "$TMP/c_scatter.h5"
like "$ERR$OUT" "clock_drift 9" "stamps 200 us about the fit (max_clock_residual_us 50): receiver a's 9 pairs clock_drift"

# a stale GPS fix: the pair says stale_gps, not just no GPS time
run "$HEIMDALL" collect -q -c "$TMP/x.yaml" --set collect.simulate.receivers.gps_outage_probability=0.5 -o "$TMP/c_stale.h5"
run "$HEIMDALL" featurize -c "$TMP/x.yaml" -o "$TMP/f_stale.h5" "$TMP/c_stale.h5"
like "$ERR$OUT" "stale_gps [1-9]" "captures with a stale GPS fix: their pairs counted stale_gps"
unlike "$ERR$OUT" "no_gps_time [1-9]" "and none no_gps_time (every receiver has a GPS, some stale)"

# the same through kiwiwav files: export stamps each block at the clock's rate, import fits it
run "$HEIMDALL" export kiwiwav -q -o "$TMP/wav" "$TMP/c.h5"
is "$RC" 0 "exported as kiwiwav"
run "$HEIMDALL" import kiwiwav -q -c "$TMP/x.yaml" -o "$TMP/ci.h5" "$TMP"/wav/*_iq.wav
is "$RC" 0 "imported back"
run "$PYTHON" -c "
import h5py, numpy as np
a, b = h5py.File('$TMP/c.h5', 'r'), h5py.File('$TMP/ci.h5', 'r')
d = np.abs(b['clock/rate_hz'][:] / a['clock/rate_hz'][:] - 1)
print('%.3g' % d.max())"
awk -v d="$OUT" 'BEGIN { exit !(d < 1e-8) }'; ok $? "the fitted rates are the simulator's within 0.01 ppm ($OUT)"
run "$HEIMDALL" featurize -c "$TMP/x.yaml" -o "$TMP/f_wav.h5" "$TMP/ci.h5"
is "$RC" 0 "featurized from the recordings"
run "$PYTHON" -c "
import h5py, numpy as np
a, b = h5py.File('$TMP/f_clock.h5', 'r'), h5py.File('$TMP/f_wav.h5', 'r')
print('%.3g' % np.abs(a['tdoa/delay_s'][:] - b['tdoa/delay_s'][:]).max())"
awk -v d="$OUT" 'BEGIN { exit !(d < 5e-7) }'; ok $? "their time differences are the collected file's within 0.5 us ($OUT s)"
done_testing
