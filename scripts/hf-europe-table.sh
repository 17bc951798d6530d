#!/usr/bin/env bash
# The HF/LF simulator's table (issue 16): configs/experiments/hf-europe.yaml
# through collect -> featurize -> evaluate (TDOA), then, from the files,
#   - median error and 1-sigma / 2-sigma coverage by signal type and by the
#     propagation modes the event's receivers heard (ground, 1F2, 2F2 mixed);
#   - the sky-wave delay bias: per pair of propagation modes, the mean signed
#     error of the time differences (measured minus the geometric path
#     difference over c) against the truth's excess delays: sky waves arrive
#     late, so a pair whose far end is sky-wave reads positive;
#   - the config's localize.propagation (hf) against the line-of-sight
#     model (straight), which that bias pulls off.
# usage: scripts/hf-europe-table.sh [DIR]   (HEIMDALL, PYTHON as in the Makefile)
set -eu
H=${HEIMDALL:-build/heimdall}
PY=${PYTHON:-/usr/bin/python3}
D=${1:-results/hf-europe}
C=${CONFIG:-configs/experiments/hf-europe.yaml}
mkdir -p "$D"
"$H" collect -q --force -c "$C" -o "$D/captures.h5"
"$H" featurize -q --force -c "$C" -o "$D/features.h5" "$D/captures.h5"
"$H" evaluate -q --force -c "$C" --method tdoa --set evaluate.plots=false -o "$D/eval.h5" "$D/features.h5"
"$H" evaluate -q --force -c "$C" --method tdoa --set evaluate.plots=false --set localize.propagation=straight \
    -o "$D/eval_straight.h5" "$D/features.h5"
"$PY" - "$D/features.h5" "$D/eval.h5" "$D/eval_straight.h5" <<'PY'
import sys, h5py, numpy as np
f, e = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
es = h5py.File(sys.argv[3], "r")
dec = lambda a: [x.decode() if isinstance(x, bytes) else x for x in a]
sig_names = dec(f["truth/signal_type"].attrs["names"])
mode_names = dec(f["truth/prop_mode"].attrs["names"])
sig = f["truth/signal_type"][:]
mode = f["truth/prop_mode"][:]            # [event, receiver], -1 none
excess = f["truth/excess_delay_s"][:]
dist = f["truth/distance_m"][:]
mask = f["mask"][:]
err = e["error_m"][:]
content = e["content"][:]   # the predictive's smallest region holding the truth (evaluate's coverage)
status = e["status"][:]
ok = (status == 0) | (status == 3)
def inside(i, k):
    return content[i] <= {1: 0.3935, 2: 0.8647}[k]
def row(name, sel, e=e):
    err, content, status = e["error_m"][:], e["content"][:], e["status"][:]
    ok = (status == 0) | (status == 3)
    inside = lambda i, k: content[i] <= {1: 0.3935, 2: 0.8647}[k]
    s = sel & ok
    n = int(s.sum())
    if n == 0:
        print(f"| {name} | {int(sel.sum())} | 0 | — | — | — |")
        return
    c1 = np.mean([inside(i, 1) for i in np.where(s)[0]]) * 100
    c2 = np.mean([inside(i, 2) for i in np.where(s)[0]]) * 100
    print(f"| {name} | {int(sel.sum())} | {n} | {np.median(err[s]) / 1000:.1f} km | {c1:.0f} % | {c2:.0f} % |")
print("| signal type | events | located | median error | 1σ (39.3 %) | 2σ (86.5 %) |")
print("|---|---|---|---|---|---|")
for k in sorted(set(sig.tolist())):
    row(sig_names[k], sig == k)
row("all", np.ones_like(ok))
# by the propagation modes the event's timed receivers heard (every event's
# dominant mode is one-hop F2 over these baselines; what differs is the mix)
mix = np.array(["+".join(mode_names[k] for k in sorted(set(m[(m >= 0) & (mk > 0)].tolist()))) or "none"
                for m, mk in zip(mode, mask)])
print()
print("| modes its receivers heard | events | located | median error | 1σ (39.3 %) | 2σ (86.5 %) |")
print("|---|---|---|---|---|---|")
for k in sorted(set(mix.tolist())):
    row(k, mix == k)
# the time differences' bias by the pair's modes
pairs, delay, tm = f["tdoa/pairs"][:], f["tdoa/delay_s"][:], f["tdoa/mask"][:]
c = 299792458.0
groups = {}
for ev in range(delay.shape[0]):
    for p, (i, j) in enumerate(pairs):
        if not tm[ev, p] or mode[ev, i] < 0 or mode[ev, j] < 0:
            continue
        geo = (dist[ev, j] - dist[ev, i]) / c
        key = (mode_names[mode[ev, i]], mode_names[mode[ev, j]])
        groups.setdefault(key, []).append((delay[ev, p] - geo, excess[ev, j] - excess[ev, i]))
print()
print("| pair's modes (i, j) | pairs | mean error of T_j − T_i | the truth's excess difference | corr. |")
print("|---|---|---|---|---|")
for key in sorted(groups):
    a = np.array(groups[key])
    r = np.corrcoef(a[:, 0], a[:, 1])[0, 1] if len(a) > 2 and a[:, 1].std() > 0 else float("nan")
    print(f"| {key[0]}, {key[1]} | {len(a)} | {a[:, 0].mean() * 1e6:+.0f} µs | {a[:, 1].mean() * 1e6:+.0f} µs | {r:.2f} |")
print()
print("| localize.propagation | events | located | median error | 1σ (39.3 %) | 2σ (86.5 %) |")
print("|---|---|---|---|---|---|")
row("hf (the config's)", np.ones_like(ok))
row("straight", np.ones_like(ok), es)
PY
