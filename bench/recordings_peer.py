#!/usr/bin/env python3
"""The peer of `heimdall import kiwiwav` + featurize + localize for `make
bench` (bench/recordings.sh): the KiwiSDR TDoA service's method (hcab14/TDoA)
written plainly with NumPy and SciPy, on the same kiwiwav recordings:
read each wav and its kiwi chunks (GPS time of every 512-sample block),
fit the GPS clock (sample rate and first-sample time), resample every
capture onto one common time base (linear interpolation), cross-correlate
the whole capture of every pair (FFT, 1 s segments whose correlation
magnitudes add: the LO differences forbid one coherent 30 s correlation), take the peak within the baseline's
lag window, grid the chi-square of the time differences over the
receivers' region grown by MARGIN km, refine from the best grid point with
scipy.optimize.least_squares. Positions from gnss_pos/<station>.txt beside
iq/. Prints "SECONDS LAT LON": wall time of the whole (reading included).

usage: recordings_peer.py WAV...  [--margin-km 300] [--step-km 10]"""
import argparse, glob, math, os, re, struct, sys, time
import numpy as np
from scipy.optimize import least_squares

C = 299792458.0
A_WGS, F_WGS = 6378137.0, 1 / 298.257223563

def ecef(lat, lon, h=0.0):
    la, lo = np.radians(lat), np.radians(lon)
    e2 = F_WGS * (2 - F_WGS)
    n = A_WGS / np.sqrt(1 - e2 * np.sin(la) ** 2)
    return np.stack([(n + h) * np.cos(la) * np.cos(lo), (n + h) * np.cos(la) * np.sin(lo),
                     (n * (1 - e2) + h) * np.sin(la)], axis=-1)

def read_kiwiwav(path):
    b = open(path, "rb").read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise ValueError("%s: not a wav" % path)
    p, fs, iq, stamps, n = 12, None, [], [], 0
    while p + 8 <= len(b):
        tag, size = b[p:p + 4], struct.unpack("<I", b[p + 4:p + 8])[0]
        body = b[p + 8:p + 8 + size]
        if tag == b"fmt ":
            fs = struct.unpack("<I", body[4:8])[0]
        elif tag == b"kiwi":
            _, _, s, ns = struct.unpack("<BBII", body[:10])
            stamps.append((n, s + ns * 1e-9))
        elif tag == b"data":
            x = np.frombuffer(body, dtype="<i2")
            iq.append(x)
            n += len(x) // 2
        p += 8 + size + (size & 1)
    x = np.concatenate(iq).astype(np.float64)
    z = x[0::2] + 1j * x[1::2]
    k, t = np.array(stamps).T
    rate, t0 = np.polyfit(t - t[0], k, 1)  # samples per second of GPS time, sample index at t[0]
    return fs, z, t[0] - t0 / rate, rate

def position(path):
    st = re.match(r".*_(.+)_iq\.wav$", os.path.basename(path)).group(1)
    d = os.path.dirname(os.path.abspath(path))
    for f in (os.path.join(d, "gnss_pos", st + ".txt"), os.path.join(os.path.dirname(d), "gnss_pos", st + ".txt")):
        if os.path.exists(f):
            m = re.search(r"\[\s*([-0-9.]+)\s*,\s*([-0-9.]+)\s*\]", open(f).read())
            return st, float(m.group(1)), float(m.group(2))
    raise ValueError("%s: no gnss_pos/%s.txt" % (path, st))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("wav", nargs="+")
    ap.add_argument("--margin-km", type=float, default=300)
    ap.add_argument("--step-km", type=float, default=10)
    a = ap.parse_args()
    t_start = time.perf_counter()
    recs = [read_kiwiwav(w) for w in a.wav]
    pos = [position(w) for w in a.wav]
    R = len(recs)
    fs = recs[0][0]
    # common time base: the latest first sample to the earliest last one, at the nominal rate
    t_lo = max(t0 for _, _, t0, _ in recs)
    t_hi = min(t0 + (len(z) - 1) / rate for _, z, t0, rate in recs)
    tt = t_lo + np.arange(int((t_hi - t_lo) * fs)) / fs
    ys = []
    for _, z, t0, rate in recs:
        u = (tt - t0) * rate
        k = np.arange(len(z))
        ys.append(np.interp(u, k, z.real) + 1j * np.interp(u, k, z.imag))
    # the whole capture in 1 s segments whose correlation magnitudes add up:
    # a coherent 30 s correlation is wiped out by the receivers' LO
    # differences (0.1 Hz turns the phase three times over 30 s)
    seg = int(fs)
    K = len(tt) // seg
    M = 1 << int(math.ceil(math.log2(2 * seg)))
    S = [np.fft.fft(y[:K * seg].reshape(K, seg), M, axis=1) for y in ys]
    X = ecef(np.array([p[1] for p in pos]), np.array([p[2] for p in pos]))
    pairs, d, w = [], [], []
    for i in range(R):
        for j in range(i + 1, R):
            r = np.abs(np.fft.ifft(S[i] * np.conj(S[j]), axis=1)).sum(axis=0)
            L = int(np.linalg.norm(X[i] - X[j]) / C * fs) + 2
            lags = np.arange(-L, L + 1)
            k = lags[np.argmax(r[lags % M])]
            y0, y1, y2 = r[(k - 1) % M], r[k % M], r[(k + 1) % M]
            frac = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
            pairs.append((i, j)); d.append((k + frac) / fs)  # arrival_i - arrival_j
    d = np.array(d)
    sig = 1.0 / fs / 10  # a tenth of a sample, every pair alike (the service weighs them alike)
    la0, la1 = min(p[1] for p in pos), max(p[1] for p in pos)
    lo0, lo1 = min(p[2] for p in pos), max(p[2] for p in pos)
    dla = a.margin_km / 111.2
    dlo = a.margin_km / (111.2 * math.cos(math.radians((la0 + la1) / 2)))
    gla = np.arange(la0 - dla, la1 + dla, a.step_km / 111.2)
    glo = np.arange(lo0 - dlo, lo1 + dlo, a.step_km / (111.2 * math.cos(math.radians((la0 + la1) / 2))))
    LA, LO = np.meshgrid(gla, glo, indexing="ij")
    G = ecef(LA.ravel(), LO.ravel())
    rng = np.linalg.norm(G[:, None, :] - X[None, :, :], axis=2) / C
    ii = np.array([p[0] for p in pairs]); jj = np.array([p[1] for p in pairs])
    chi2 = (((rng[:, ii] - rng[:, jj]) - d[None, :]) / sig) ** 2
    b = int(np.argmin(chi2.sum(axis=1)))
    def res(v):
        g = ecef(v[0], v[1])
        r = np.linalg.norm(X - g, axis=1) / C
        return ((r[ii] - r[jj]) - d) / sig
    sol = least_squares(res, [LA.ravel()[b], LO.ravel()[b]], x_scale=[0.01, 0.01])
    print("%.6f %.6f %.6f" % (time.perf_counter() - t_start, sol.x[0], sol.x[1]))

if __name__ == "__main__":
    main()
