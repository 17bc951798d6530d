#!/usr/bin/env python3
"""Rebuild the network's forward pass from model.h5 alone (NumPy) and check
it against the C implementation's outputs stored in the file (/check).
Usage: nn_forward.py model.h5  — prints the largest difference; exits 1 when
it exceeds 1e-4 (relative to the outputs' scale)."""
import sys
import h5py
import numpy as np


def act(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))
    return np.maximum(x, 0)


def layernorm(x, g, b):
    mu = x.mean(axis=-1, keepdims=True)
    var = ((x - mu) ** 2).mean(axis=-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-5) * g + b


def forward(f, x, m):
    w = {k: f["weights"][k][()].astype(np.float64) for k in f["weights"]}
    kind, a = f.attrs["arch"], f.attrs["activation"]
    kind = kind.decode() if isinstance(kind, bytes) else kind
    a = a.decode() if isinstance(a, bytes) else a
    B, R, D = x.shape
    if kind == "set":
        h = act(x @ w["dense1_W"] + w["dense1_b"], a)
        h = act(h @ w["dense2_W"] + w["dense2_b"], a)
        h = layernorm(h, w["ln_gain"], w["ln_bias"])              # [B, R, H]
        mk = m[..., None].astype(bool)
        n = np.maximum(mk.sum(axis=1), 1)
        mean = np.where(mk, h, 0).sum(axis=1) / n
        mx = np.where(mk, h, -np.inf).max(axis=1)
        mx = np.where(np.isfinite(mx), mx, 0)
        z = np.concatenate([mean, mx], axis=1)
    else:
        h = act(x.reshape(B, R * D) @ w["dense1_W"] + w["dense1_b"], a)
        h = act(h @ w["dense2_W"] + w["dense2_b"], a)
        z = layernorm(h, w["ln_gain"], w["ln_bias"])
    h = act(z @ w["dense3_W"] + w["dense3_b"], a)
    return h @ w["dense4_W"] + w["dense4_b"]


def main(path):
    f = h5py.File(path, "r")
    x = f["check/inputs"][()].astype(np.float64)
    m = f["check/present"][()]
    want = f["check/outputs"][()].astype(np.float64)
    got = forward(f, x, m)
    diff = np.abs(got - want).max() / max(1.0, np.abs(want).max())
    print("events %d, largest relative difference %.3g" % (len(x), diff))
    return 0 if diff < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
