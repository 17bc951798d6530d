#!/usr/bin/env python3
"""The peer of `heimdall track` for `make bench`: a plain NumPy constant-
velocity Kalman filter and Rauch-Tung-Striebel smoother written the
straightforward way, on the same fixes (JSON lines: time, lat, lon,
cov_enu_m2, one track per tx_id), the same process noise (white
acceleration of density sigma^2 x 1 s), positions on a local tangent plane.
Usage: track_peer.py FIXES.jsonl ACCEL_SIGMA. Prints states per second on
one core (filter + smoother only; reading not timed)."""
import sys, time, json, math
from datetime import datetime
import numpy as np

def main(path, sigma):
    tracks = {}
    for line in open(path):
        o = json.loads(line)
        t = datetime.strptime(o["time"][:26], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
        tracks.setdefault(o.get("tx_id", -1), []).append((t, o["lat"], o["lon"], o["cov_enu_m2"]))
    q = sigma * sigma
    n_states = 0
    el = 0.0
    for rows in tracks.values():
        rows.sort()
        lat0, lon0 = math.radians(rows[0][1]), math.radians(rows[0][2])
        R = 6371000.0
        z = np.array([[R * math.cos(lat0) * (math.radians(lo) - lon0), R * (math.radians(la) - lat0)]
                      for _, la, lo, _ in rows])
        Rk = np.array([[[c[0], c[1]], [c[1], c[2]]] for *_, c in rows])
        t = np.array([r[0] for r in rows])
        t0 = time.perf_counter()
        m = len(rows)
        H = np.zeros((2, 4)); H[0, 0] = H[1, 1] = 1
        xf = np.zeros((m, 4)); Pf = np.zeros((m, 4, 4)); xp = np.zeros((m, 4)); Pp = np.zeros((m, 4, 4))
        Fs = []
        x = np.array([z[0, 0], z[0, 1], 0.0, 0.0])
        P = np.diag([Rk[0, 0, 0], Rk[0, 1, 1], 100.0 ** 2, 100.0 ** 2])
        P[0, 1] = P[1, 0] = Rk[0, 0, 1]
        xf[0], Pf[0], xp[0], Pp[0] = x, P, x, P
        Fs.append(np.eye(4))
        for k in range(1, m):
            dt = t[k] - t[k - 1]
            F = np.eye(4); F[0, 2] = F[1, 3] = dt
            Q1 = q * np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])
            Q = np.zeros((4, 4)); Q[np.ix_([0, 2], [0, 2])] = Q1; Q[np.ix_([1, 3], [1, 3])] = Q1
            x = F @ x
            P = F @ P @ F.T + Q
            xp[k], Pp[k] = x, P
            Fs.append(F)
            S = H @ P @ H.T + Rk[k]
            K = P @ H.T @ np.linalg.inv(S)
            x = x + K @ (z[k] - H @ x)
            A = np.eye(4) - K @ H
            P = A @ P @ A.T + K @ Rk[k] @ K.T
            xf[k], Pf[k] = x, P
        xs, Ps = xf.copy(), Pf.copy()
        for k in range(m - 2, -1, -1):
            C = Pf[k] @ Fs[k + 1].T @ np.linalg.inv(Pp[k + 1])
            xs[k] = xf[k] + C @ (xs[k + 1] - xp[k + 1])
            Ps[k] = Pf[k] + C @ (Ps[k + 1] - Pp[k + 1]) @ C.T
        el += time.perf_counter() - t0
        n_states += m
    return n_states / el

if __name__ == "__main__":
    print("%.0f" % main(sys.argv[1], float(sys.argv[2])))
