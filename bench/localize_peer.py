#!/usr/bin/env python3
"""The peer of `heimdall localize --method tdoa` for `make bench`: the same
TDOA localization written the straightforward way with NumPy and SciPy —
per event, a likelihood grid over the region for the start, then
scipy.optimize.least_squares (Levenberg-Marquardt) on the valid pairs'
time differences, weighted by their sigmas, positions on a local tangent
plane. Prints events per second on one core."""
import sys, time
import h5py
import numpy as np
from scipy.optimize import least_squares

C = 299792458.0

def enu_frame(lat, lon):
    lat0, lon0 = np.radians(np.mean(lat)), np.radians(np.mean(lon))
    R = 6371000.0
    e = R * np.cos(lat0) * (np.radians(lon) - lon0)
    n = R * (np.radians(lat) - lat0)
    return np.stack([e, n], axis=1)

def main(path):
    f = h5py.File(path, "r")
    rx = enu_frame(f["receivers/lat"][:], f["receivers/lon"][:])
    pairs = f["tdoa/pairs"][:]
    delay, sigma, tmask = f["tdoa/delay_s"][:], f["tdoa/sigma_s"][:], f["tdoa/mask"][:].astype(bool)
    E = delay.shape[0]
    lo, hi = rx.min(axis=0) - 30e3, rx.max(axis=0) + 30e3
    gx, gy = np.meshgrid(np.arange(lo[0], hi[0], 2000.0), np.arange(lo[1], hi[1], 2000.0))
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    gd = np.linalg.norm(grid[:, None, :] - rx[None, :, :], axis=2)
    t0 = time.perf_counter()
    located = 0
    for e in range(E):
        m = tmask[e]
        if m.sum() < 2:
            continue
        i, j = pairs[m, 0], pairs[m, 1]
        d, s = delay[e, m] * C, sigma[e, m] * C
        cost = (((gd[:, j] - gd[:, i]) - d) / s) ** 2
        x0 = grid[np.argmin(cost.sum(axis=1))]
        def res(p):
            r = np.linalg.norm(rx - p, axis=1)
            return ((r[j] - r[i]) - d) / s
        sol = least_squares(res, x0, method="lm")
        located += sol.success
    el = time.perf_counter() - t0
    return E / el

if __name__ == "__main__":
    print(f"{main(sys.argv[1]):.3f}")
