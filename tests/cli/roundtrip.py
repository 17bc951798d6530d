"""Compare a captures file with its round trip through an interchange format:
samples identical, absolute first-sample times within 1 ns, GPS flags, for
every (event, receiver) that succeeded with IQ; failed ones must be absent
(status not ok) after the trip. An optional third argument caps
last_gps_solution_s as the format does (255 for kiwiwav). Receivers matched by id. Prints one line per
check: 'ok NAME' or 'not ok NAME: detail'."""
import sys
import h5py
import numpy as np

a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
ida = [x.decode() if isinstance(x, bytes) else x for x in a["receivers/id"][()]]
idb = [x.decode() if isinstance(x, bytes) else x for x in b["receivers/id"][()]]
def check(cond, name, detail=""):
    print(("ok " if cond else "not ok ") + name + ("" if cond else ": " + detail))

cap = int(sys.argv[3]) if len(sys.argv) > 3 else 1 << 30
ok = (a["status"][()] == 0) & (a["has_iq"][()] == 1)
check(a["events/time_ns"].shape == b["events/time_ns"].shape, "same number of events")
check(set(idb) == {ida[r] for r in range(len(ida)) if ok[:, r].any()}, "receivers that recorded are all there",
      f"{ida} vs {idb}")
check(np.array_equal(a["events/frequency_hz"][()], b["events/frequency_hz"][()]), "frequencies")
check(np.array_equal(a["events/sample_rate_hz"][()], b["events/sample_rate_hz"][()]), "sample rates")
same_iq = same_t = same_gps = same_lgs = absent = True
worst_ns = 0
n = 0
for e in range(ok.shape[0]):
    for ra, rid in enumerate(ida):
        if rid not in idb:
            continue
        rb = idb.index(rid)
        if not ok[e, ra]:
            absent &= b["status"][e, rb] != 0
            continue
        n += 1
        same_iq &= np.array_equal(a["iq"][e, ra], b["iq"][e, rb])
        ta = int(a["events/time_ns"][e]) + round(float(a["t0_s"][e, ra]) * 1e9)
        tb = int(b["events/time_ns"][e]) + round(float(b["t0_s"][e, rb]) * 1e9)
        worst_ns = max(worst_ns, abs(ta - tb))
        same_gps &= a["gps_ok"][e, ra] == b["gps_ok"][e, rb]
        same_lgs &= min(int(a["last_gps_solution_s"][e, ra]), cap) == int(b["last_gps_solution_s"][e, rb]) or a["gps_ok"][e, ra] == 1
check(n > 0, "some recordings compared")
check(same_iq, "samples identical")
check(worst_ns <= 1, "first-sample times within 1 ns", f"worst {worst_ns} ns")
check(same_gps, "gps_ok identical")
check(same_lgs, "last_gps_solution_s identical where GPS was lost " + (f"(capped at {cap} s by the format)" if cap < 1 << 30 else ""))
check(absent, "failed receivers stay failed")
