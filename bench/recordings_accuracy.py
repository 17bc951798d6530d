#!/usr/bin/env python3
"""Time differences against the simulator's truth, for comparing featurize
builds on the same campaign (issue 16: the modulation timing's speed-ups
were checked with it). Prints per features file: valid pairs, RMS and
median error, median sigma, error/sigma (RMS, median, share within 2) and
the count of each /tdoa/method.

usage: recordings_accuracy.py CAPTURES.h5 FEATURES.h5...
  e.g. heimdall collect -c configs/experiments/recordings-demo.yaml \\
           --set collect.events=24 -o mc.h5
       heimdall featurize -o f.h5 mc.h5
       bench/recordings_accuracy.py mc.h5 f.h5"""
import sys
import h5py
import numpy as np

if len(sys.argv) < 3:
    sys.exit(__doc__)
arr = h5py.File(sys.argv[1], "r")["truth/arrival_s"][:]
for fn in sys.argv[2:]:
    f = h5py.File(fn, "r")
    pairs = f["tdoa/pairs"][:]
    d, sg, tm = f["tdoa/delay_s"][:], f["tdoa/sigma_s"][:], f["tdoa/mask"][:].astype(bool)
    err = d - (arr[:, pairs[:, 1]] - arr[:, pairs[:, 0]])
    e, s = err[tm], sg[tm]
    z = e / s
    print("%s: valid %d/%d, rms error %.0f ns, median |error| %.0f ns, median sigma %.0f ns, "
          "rms z %.2f, median |z| %.2f, |z| < 2: %.2f, errors > 10 us: %d, methods %s" % (
              fn, tm.sum(), tm.size, np.sqrt(np.mean(e ** 2)) * 1e9, np.median(abs(e)) * 1e9,
              np.median(s) * 1e9, np.sqrt(np.mean(z ** 2)), np.median(abs(z)), np.mean(abs(z) < 2),
              (abs(e) > 10e-6).sum(), np.bincount(f["tdoa/method"][:].ravel(), minlength=4).tolist()))
