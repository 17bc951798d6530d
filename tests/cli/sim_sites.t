#!/usr/bin/env bash
# The simulator's receivers where they truly are, not where the stations
# file says (issue 16: a simulator made hard in the ways real data is):
# collect.simulate.receivers.position_error_m moves every site a little,
# misplaced_probability / misplaced_km one by kilometres. The signal
# reaches the true site (/truth/distance_m), /receivers keeps the advertised
# positions, /truth/rx_lat and /truth/rx_lon the true ones (only when
# displaced: other files are unchanged). calibrate finds the misplaced
# receiver and its shift from the time differences alone.
. "$(dirname "$0")/lib.sh"
S="$ROOT/configs/smoke.yaml"
D=(--set collect.events=60 --set collect.simulate.receivers.position_error_m=20
   --set collect.simulate.receivers.misplaced_probability=0.3 --set collect.simulate.receivers.misplaced_km=2)

run "$HEIMDALL" collect -q -c "$S" "${D[@]}" -o "$TMP/c.h5"
is "$RC" 0 "a campaign with displaced receivers simulated"
run "$HEIMDALL" collect -q -c "$S" --set collect.events=60 -o "$TMP/c0.h5"
is "$RC" 0 "and the same campaign with receivers where the stations file says"
run "$HEIMDALL" featurize -q -c "$S" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "featurized"

# which receivers are misplaced, from the truth (what the test knows, calibrate does not)
pycheck - "$TMP/c.h5" "$TMP/c0.h5" "$TMP/f.h5" <<'PY'
import sys, h5py, numpy as np
f, f0, ff = (h5py.File(p, "r") for p in sys.argv[1:4])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
a = 6378137.0; e2 = 6.69437999014e-3
def ecef(lat, lon, h):
    la, lo = np.radians(lat), np.radians(lon)
    n = a / np.sqrt(1 - e2 * np.sin(la) ** 2)
    return np.stack([(n + h) * np.cos(la) * np.cos(lo), (n + h) * np.cos(la) * np.sin(lo), (n * (1 - e2) + h) * np.sin(la)], -1)
ok("rx_lat" in f["truth"] and "rx_lon" in f["truth"], "/truth/rx_lat, /truth/rx_lon written when sites are displaced")
ok("rx_lat" not in f0["truth"], "and not otherwise (the file is as before)")
ok("rx_lat" in ff["truth"], "the features file carries them")
ok(f["truth/rx_lat"].attrs["units"] in (b"degree", "degree"), "with units")
adv = np.stack([f["receivers/lat"][:], f["receivers/lon"][:]], -1)
ok(np.array_equal(adv, np.stack([f0["receivers/lat"][:], f0["receivers/lon"][:]], -1)), "/receivers keeps the advertised positions")
tl, tn = f["truth/rx_lat"][:], f["truth/rx_lon"][:]
ok(np.all(tl == tl[0]) and np.all(tn == tn[0]), "a receiver's true site is the same in every event")
R = adv.shape[0]
shift = np.array([[(tn[0, r] - adv[r, 1]) * 111320 * np.cos(np.radians(adv[r, 0])), (tl[0, r] - adv[r, 0]) * 111132] for r in range(R)])
d = np.hypot(shift[:, 0], shift[:, 1])
ids = [x.decode() for x in f["receivers/id"][:]]
for r in range(R):
    print("# %-16s true site %+6.0f m east %+6.0f m north of the advertised" % (ids[r], shift[r, 0], shift[r, 1]))
mis = d > 500
ok(1 <= mis.sum() < R / 2, "some receivers misplaced by km (%d of %d), most not" % (mis.sum(), R))
ok(np.all(np.abs(d[mis] - 2000) < 150), "the misplaced ones about misplaced_km (2 km) off")
ok(np.all(d[~mis] < 100), "the others within a few position_error_m (20 m)")
# the signal reaches the true site: /truth/distance_m is the slant range from the transmitter to it
tx = ecef(f["truth/tx_lat"][:], f["truth/tx_lon"][:], f["truth/tx_alt_m"][:])
dist = f["truth/distance_m"][:]
st = f["status"][:]
worst_true, best_adv = 0.0, np.inf
for r in np.nonzero(mis)[0]:
    h = f["receivers/alt_m"][r] + f["receivers/antenna_height_m"][r]
    rt = ecef(tl[0, r], tn[0, r], h); ra = ecef(adv[r, 0], adv[r, 1], h)
    good = st[:, r] == 0
    worst_true = max(worst_true, np.abs(np.linalg.norm(tx[good] - rt, axis=-1) - dist[good, r]).max())
    best_adv = min(best_adv, np.abs(np.linalg.norm(tx[good] - ra, axis=-1) - dist[good, r]).max())
print("# slant range to the true site off /truth/distance_m by at most %.2f m; to the advertised, %.0f m" % (worst_true, best_adv))
ok(worst_true < 1.0 and best_adv > 100, "the signal is propagated to the true site, not the advertised one")
open(sys.argv[1] + ".mis", "w").write(" ".join("%s:%.0f:%.0f" % (ids[r], shift[r, 0], shift[r, 1]) for r in np.nonzero(mis)[0]))
PY

run "$HEIMDALL" calibrate -o "$TMP/cal.h5" "$TMP/f.h5"
is "$RC" 0 "calibrate on the displaced campaign"
want=$(for m in $(cat "$TMP/c.h5.mis"); do echo "${m%%:*}"; done | sort | tr '\n' ' ')
got=$(printf '%s\n' "$OUT" | grep DISPLACED | awk '{print $1}' | sort | tr '\n' ' ')
is "$got" "$want" "calibrate flags DISPLACED exactly the misplaced receivers ($want)"
for m in $(cat "$TMP/c.h5.mis"); do
    id=${m%%:*}; rest=${m#*:}; te=${rest%%:*}; tn=${rest#*:}
    line=$(printf '%s\n' "$OUT" "$ERR" | grep "^ *$id: its time differences put it")
    ge=$(printf '%s' "$line" | sed -n 's/.*(\(-\{0,1\}[0-9]*\) m east, \(-\{0,1\}[0-9]*\) m north).*/\1/p')
    gn=$(printf '%s' "$line" | sed -n 's/.*(\(-\{0,1\}[0-9]*\) m east, \(-\{0,1\}[0-9]*\) m north).*/\2/p')
    awk -v a="$ge" -v b="$gn" -v c="$te" -v d="$tn" 'BEGIN { exit !(a != "" && sqrt((a-c)^2 + (b-d)^2) < 600) }'
    ok $? "$id: calibrate's shift ($ge m east, $gn m north) within 600 m of the truth ($te, $tn)"
done

# a malformed value: named with file:line
printf 'collect:\n  simulate:\n    receivers:\n      misplaced_probability: 1.5\n' >"$TMP/bad.yaml"
run "$HEIMDALL" collect -c "$TMP/bad.yaml" -o "$TMP/bad.h5"
is "$RC" 2 "misplaced_probability 1.5 refused (exit 2)"
like "$ERR" "bad.yaml:4:.*misplaced_probability" "named with file:line"
ok $([ ! -e "$TMP/bad.h5" ]; echo $?) "nothing written"
done_testing
