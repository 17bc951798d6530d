#!/usr/bin/env python3
"""The peer of `heimdall train` for `make bench`: the same set network
(dense, GELU (tanh), dense, GELU, layer norm, masked mean and max pooling,
dense, GELU, dense to 5), Gaussian NLL with the Cholesky-factor covariance,
AdamW, warm-up + cosine, gradient clipping, the same batch size, on the very
tensors heimdall trained on (HD_TRAIN_DUMP). One thread. Prints
'samples_per_s final_val_loss'."""
import math, sys, time
import h5py
import numpy as np
import torch

torch.set_num_threads(1)
torch.manual_seed(0)
f = h5py.File(sys.argv[1], "r")
epochs, batch, hidden, lr, wd, warm, clip = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), 0.002, 1e-4, 100, 5.0
nu = float(sys.argv[5]) if len(sys.argv) > 5 else 0.0  # train.tail_nu: Student-t loss (0: Gaussian)
x = torch.tensor(f["train_x"][()]); m = torch.tensor(f["train_m"][()]).bool(); y = torch.tensor(f["train_y"][()])
vx = torch.tensor(f["val_x"][()]); vm = torch.tensor(f["val_m"][()]).bool(); vy = torch.tensor(f["val_y"][()])
N, R, D = x.shape


class SetNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.d1, self.d2 = torch.nn.Linear(D, hidden), torch.nn.Linear(hidden, hidden)
        self.ln = torch.nn.LayerNorm(hidden, eps=1e-5)
        self.d3, self.d4 = torch.nn.Linear(2 * hidden, hidden), torch.nn.Linear(hidden, 5)
        self.act = torch.nn.GELU(approximate="tanh")

    def forward(self, x, m):
        h = self.ln(self.act(self.d2(self.act(self.d1(x)))))
        mk = m.unsqueeze(-1)
        mean = (h * mk).sum(1) / mk.sum(1).clamp(min=1)
        mx = torch.where(mk, h, torch.full_like(h, -1e30)).max(1).values
        mx = torch.where(mk.any(1), mx, torch.zeros_like(mx))
        return self.d4(self.act(self.d3(torch.cat([mean, mx], 1))))


def nll(o, y):
    a, b, c = o[:, 2].clamp(-20, 20), o[:, 3].clamp(-20, 20), o[:, 4]
    z1 = (y[:, 0] - o[:, 0]) * torch.exp(-a)
    z2 = (y[:, 1] - o[:, 1] - c * z1) * torch.exp(-b)
    q = z1 * z1 + z2 * z2
    if nu > 2:  # a Student-t with covariance L Lᵀ, as heimdall's
        return (0.5 * (nu + 2) * torch.log1p(q / (nu - 2)) + math.log((nu - 2) / nu) + a + b + 1.8378770664093453).mean()
    return (0.5 * q + a + b + 1.8378770664093453).mean()


net = SetNet()
opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=wd, betas=(0.9, 0.999), eps=1e-8)
spe = (N + batch - 1) // batch
total = epochs * spe
sched = torch.optim.lr_scheduler.LambdaLR(
    opt, lambda t: (t + 1) / warm if t < warm else 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (t - warm) / max(1, total - warm)))))
g = torch.Generator().manual_seed(0)
t0 = time.perf_counter()
for ep in range(epochs):
    perm = torch.randperm(N, generator=g)
    for s in range(spe):
        idx = perm[s * batch:(s + 1) * batch]
        opt.zero_grad()
        loss = nll(net(x[idx], m[idx]), y[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        sched.step()
el = time.perf_counter() - t0
with torch.no_grad():
    val = nll(net(vx, vm), vy).item()
print("%.1f %.4f" % (epochs * N / el, val))
