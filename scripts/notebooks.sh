#!/usr/bin/env bash
# make notebooks: execute notebooks/*.ipynb headless (nbconvert) on the demo
# results, into results/notebooks/. Installs Debian's Jupyter pieces when
# missing, runs `make demo` when its results are missing, and trains a small
# model on the demo features for the training notebook.
set -euo pipefail
cd "$(dirname "$0")/.."
H=${HEIMDALL:-build/heimdall}
R=${DEMO_DIR:-results/demo}
PKGS=(python3-nbconvert jupyter-nbconvert python3-ipykernel python3-nbclient python3-matplotlib)
missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "notebooks: installing ${missing[*]}" >&2
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -s "$R/eval.h5" ] && [ -s "$R/positions.geojson" ] || make --no-print-directory demo >/dev/null
[ -s "$R/model.h5" ] || "$H" train -q --force --set train.epochs=20 -o "$R/model.h5" "$R/features.h5"
mkdir -p results/notebooks
export HEIMDALL_RESULTS="$PWD/$R" MPLBACKEND=Agg
for nb in notebooks/*.ipynb; do
    /usr/bin/python3 -m nbconvert --to notebook --execute --ExecutePreprocessor.timeout=300 \
        --output-dir results/notebooks "$nb" >/dev/null 2>"results/notebooks/$(basename "$nb" .ipynb).log" ||
        { echo "notebooks: $nb failed:" >&2; tail -20 "results/notebooks/$(basename "$nb" .ipynb).log" >&2; exit 1; }
    echo "notebooks: executed $nb -> results/notebooks/$(basename "$nb")"
done
