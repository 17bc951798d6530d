#!/usr/bin/env python3
"""The peer of `heimdall featurize` for `make bench`: the same per-receiver
spectral features and pairwise GCC-PHAT time differences, written the
straightforward way with NumPy and SciPy (scipy.signal.welch, numpy.fft),
on the same captures file. Prints events per second on one core.

usage: featurize_peer.py CAPTURES [same-work] [--pairs all|reference] [--events N]
  --pairs reference: as heimdall's featurize.pairs=reference, only the pairs
  of each event's best-SNR receiver with the others."""
import argparse, time
import h5py
import numpy as np
from scipy.signal import welch

def tdoa_same_work(sa, sb, a, b, M, fs, center, maxlag):
    """heimdall's former per-pair work in NumPy (before each receiver was
    corrected once against a reference): coarse GCC-PHAT over the band,
    b aligned at the fractional lag, the frequency difference from conj(a)·b,
    b de-rotated, GCC-PHAT again and a weighted phase-slope refinement."""
    n = len(a)
    def gcc(A, B):
        g = np.conj(A) * B
        mag = np.abs(g)
        band = mag > 4 * np.quantile(mag[::8], 0.25)
        g = np.where(band, g / np.maximum(mag, 1e-30), 0)
        r = np.abs(np.fft.ifft(g))
        lags = np.arange(center - maxlag, center + maxlag + 1)
        k = lags[np.argmax(r[lags % M])]
        y0, y1, y2 = r[(k - 1) % M], r[k % M], r[(k + 1) % M]
        return k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2), g, np.where(band, mag, 0)
    tau, _, _ = gcc(sa, sb)
    kk = np.fft.fftfreq(M, 1.0 / M)
    bal = np.fft.ifft(sb * np.exp(2j * np.pi * kk * tau / M))
    lag = int(round(tau))
    m = np.arange(max(0, -lag), min(n, n - lag))
    z = np.conj(a[m]) * bal[m]
    Z = np.abs(np.fft.fft(z, M))
    k = int(np.argmax(Z))
    df = np.fft.fftfreq(M, 1.0 / fs)[k]
    b2 = b * np.exp(-2j * np.pi * df * np.arange(n) / fs)
    tau, g, w = gcc(sa, np.fft.fft(b2, M))
    for _ in range(2):
        r = g * np.exp(2j * np.pi * kk * tau / M)
        c0 = np.sum(w * r)
        y = np.angle(r * np.conj(c0) / max(abs(c0), 1e-30))
        x = 2 * np.pi * kk / M
        sel = w > 0
        W, X, Y = w[sel], x[sel], y[sel]
        d = W.sum() * (W * X * X).sum() - (W * X).sum() ** 2
        tau -= (W.sum() * (W * X * Y).sum() - (W * X).sum() * (W * Y).sum()) / d
    return tau / fs


def features(path, nfft=256, same_work=False, reference=False, max_events=0):
    f = h5py.File(path, "r")
    iq = f["iq"]
    status, has_iq, gps = f["status"][:], f["has_iq"][:], f["gps_ok"][:]
    t0 = f["t0_s"][:]
    fs = f["events/sample_rate_hz"][:]
    E, R, N, _ = iq.shape
    if max_events:
        E = min(E, max_events)
    pairs = [(i, j) for i in range(R) for j in range(i + 1, R)]
    M = 2 * N
    out_snr = np.zeros((E, R))
    out_tdoa = np.zeros((E, len(pairs)))
    t_start = time.perf_counter()
    for e in range(E):
        x = iq[e].astype(np.float32) / 32768.0
        z = x[..., 0] + 1j * x[..., 1]
        ok = (status[e] == 0) & (has_iq[e] == 1)
        spec = {}
        for r in range(R):
            if not ok[r]:
                continue
            _, p = welch(z[r], fs=fs[e], nperseg=nfft, noverlap=nfft // 2, return_onesided=False,
                         detrend=False, scaling="spectrum")
            noise = np.quantile(p, 0.15) / 0.87 * nfft      # low quantile, roughly bias-corrected
            total = np.mean(np.abs(z[r]) ** 2)
            out_snr[e, r] = 10 * np.log10(max(total - noise, 1e-30) / noise)
            spec[r] = np.fft.fft(z[r], M)
        ref = max((r for r in spec if gps[e, r]), key=lambda r: out_snr[e, r], default=-1)
        for p_, (i, j) in enumerate(pairs):
            if i not in spec or j not in spec or not (gps[e, i] and gps[e, j]):
                continue
            if reference and ref not in (i, j):
                continue
            if same_work:
                center = int(round(-(t0[e, j] - t0[e, i]) * fs[e]))
                out_tdoa[e, p_] = t0[e, j] - t0[e, i] + tdoa_same_work(spec[i], spec[j], z[i], z[j], M, fs[e], center, 40)
                continue
            g = np.conj(spec[i]) * spec[j]
            g /= np.maximum(np.abs(g), 1e-20)
            r_ = np.abs(np.fft.ifft(g))
            k = int(np.argmax(r_))
            y0, y1, y2 = r_[k - 1], r_[k], r_[(k + 1) % M]
            d = 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
            lag = k + d if k < M // 2 else k + d - M
            out_tdoa[e, p_] = t0[e, j] - t0[e, i] + lag / fs[e]
    el = time.perf_counter() - t_start
    return E, el

if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("captures")
    ap.add_argument("mode", nargs="?", default="")
    ap.add_argument("--pairs", choices=["all", "reference"], default="all")
    ap.add_argument("--events", type=int, default=0)
    a = ap.parse_args()
    E, el = features(a.captures, same_work=a.mode == "same-work", reference=a.pairs == "reference",
                     max_events=a.events)
    print(f"{E / el:.3f}")
