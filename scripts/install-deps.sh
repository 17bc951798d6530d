#!/usr/bin/env bash
# Install the Debian 12 packages Heimdall needs to build, test and run.
# Idempotent: prints nothing and does nothing when everything is present.
# Uses sudo when not root. Set HEIMDALL_NO_INSTALL=1 to skip (e.g. on a
# cluster where modules provide the libraries).
set -euo pipefail

[ "${HEIMDALL_NO_INSTALL:-0}" = 1 ] && exit 0

PKGS=(
  build-essential pkg-config make
  libopenmpi-dev openmpi-bin
  libhdf5-openmpi-dev hdf5-tools
  libcurl4-openssl-dev libssl-dev
  libfftw3-dev libfftw3-mpi-dev
  libopenblas-dev
  libgsl-dev
  libyaml-dev
  libproj-dev
  libjansson-dev libxml2-dev libdeflate-dev
  gnuplot-nox
  gmt gmt-gshhg-low gmt-dcw ghostscript
  munge slurmctld slurmd slurm-client
  perl
  python3-h5py python3-numpy python3-scipy
  python3-websockets libjansson-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  # dpkg-query prints "install ok installed" for a present package
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO="sudo"
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
