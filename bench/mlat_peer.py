#!/usr/bin/env python3
"""The peer of heimdall's 3-D TDOA on the ADS-B multilateration data
(../shared/datasets/mlat, LocaRDS), written the plain way with NumPy and
SciPy: per message, scipy.optimize.least_squares on the arrival times
(unknowns latitude, longitude and the emission time; the reported
barometric altitude as a fixed height; vacuum speed of light; no outlier
handling; start at the receivers' centroid), positions on WGS84 in ECEF.
This is the README's "measured for scale" baseline (median 61 m, p95 327 m
on sets 3-4).

    mlat_peer.py SENSORS.csv MESSAGES.csv... [--offsets OFFSETS.csv]
    mlat_peer.py --learn-offsets OUT.csv SENSORS.csv MESSAGES.csv...

Prints one line of key=value: events, events_per_s (the solver loop alone,
one core), median_m, p68_m, p95_m, rmse_m. --offsets subtracts per receiver
clock offsets (CSV serial,offset_ns) first; --learn-offsets writes them:
each receiver's median arrival-time residual against the truth (the
aircraft's reported position and GNSS height) over the messages given, the
message's own median residual removed first (only differences matter).
Receivers seen in fewer than 5 messages get no offset."""
import csv, json, sys, time
import numpy as np
from scipy.optimize import least_squares

A = 6378137.0
F = 1 / 298.257223563
E2 = F * (2 - F)
C = 299792458.0


def ecef(lat, lon, h):
    lat, lon = np.radians(lat), np.radians(lon)
    n = A / np.sqrt(1 - E2 * np.sin(lat) ** 2)
    return np.array([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1 - E2) + h) * np.sin(lat)])


def read(sensors_path, message_paths):
    sens = {}
    for r in csv.DictReader(open(sensors_path)):
        sens[int(r["serial"])] = ecef(float(r["latitude"]), float(r["longitude"]), float(r["height"]))
    msgs = []
    for p in message_paths:
        for r in csv.DictReader(open(p)):
            m = json.loads(r["measurements"])
            msgs.append(dict(lat=float(r["latitude"]), lon=float(r["longitude"]), geo=float(r["geoAltitude"]),
                             baro=float(r["baroAltitude"]), serial=[x[0] for x in m],
                             toa=np.array([x[1] for x in m], dtype=np.int64)))
    return sens, msgs


def horizontal_error(lat, lon, tlat, tlon):
    """Chord between the two points on the ellipsoid (h = 0): the geodesic
    to well under a millimetre at these distances."""
    return float(np.linalg.norm(ecef(lat, lon, 0.0) - ecef(tlat, tlon, 0.0)))


def solve(rx, toa_ns, h):
    t = (toa_ns - toa_ns.min()).astype(float) * 1e-9 * C  # metres
    c = rx.mean(axis=0)
    lat0 = np.degrees(np.arctan2(c[2], np.hypot(c[0], c[1])))
    lon0 = np.degrees(np.arctan2(c[1], c[0]))

    def res(x):
        p = ecef(x[0], x[1], h)
        return t - x[2] - np.linalg.norm(rx - p, axis=1)

    x0 = np.array([lat0, lon0, 0.0])
    x0[2] = np.median(t - np.linalg.norm(rx - ecef(lat0, lon0, h), axis=1))
    return least_squares(res, x0, x_scale=np.array([0.01, 0.01, 1000.0]))


def main(argv):
    offsets, learn = {}, None
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--offsets":
            for row in csv.reader(open(argv[i + 1])):
                if row and not row[0].startswith("#") and row[0].strip().lstrip("-").isdigit():
                    offsets[int(row[0])] = float(row[1])
            i += 2
        elif argv[i] == "--learn-offsets":
            learn = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) < 2:
        sys.exit(__doc__)
    sens, msgs = read(args[0], args[1:])
    if learn:
        per = {}
        for m in msgs:
            p = ecef(m["lat"], m["lon"], m["geo"])
            rx = np.array([sens[s] for s in m["serial"]])
            r = (m["toa"] - m["toa"].min()) - np.linalg.norm(rx - p, axis=1) / C * 1e9
            r -= np.median(r)
            for s, v in zip(m["serial"], r):
                per.setdefault(s, []).append(v)
        with open(learn, "w") as f:
            f.write("serial,offset_ns\n")
            for s in sorted(per):
                if len(per[s]) >= 5:
                    f.write("%d,%.1f\n" % (s, np.median(per[s])))
        print("learnt offsets of %d receivers from %d messages into %s" % (
            sum(len(v) >= 5 for v in per.values()), len(msgs), learn))
        return
    prepared = []
    for m in msgs:
        rx = np.array([sens[s] for s in m["serial"]])
        toa = m["toa"] - np.array([round(offsets.get(s, 0.0)) for s in m["serial"]], dtype=np.int64)
        prepared.append((rx, toa, m["baro"]))
    t0 = time.perf_counter()
    sols = [solve(rx, toa, h) for rx, toa, h in prepared]
    dt = time.perf_counter() - t0
    err = np.array([horizontal_error(s.x[0], s.x[1], m["lat"], m["lon"]) for s, m in zip(sols, msgs)])
    q = np.quantile(err, [0.5, 0.68, 0.95])
    print("events=%d events_per_s=%.1f median_m=%.1f p68_m=%.1f p95_m=%.1f rmse_m=%.1f" % (
        len(msgs), len(msgs) / dt, q[0], q[1], q[2], float(np.sqrt(np.mean(err ** 2)))))


if __name__ == "__main__":
    main(sys.argv[1:])
