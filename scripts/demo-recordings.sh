#!/usr/bin/env bash
# make demo-recordings (issue 16): locate a transmitter from KiwiSDR
# recordings as a user of the KiwiSDR TDoA service would.
#   1. simulate 30 s captures of one HF transmitter (4FSK, 7.04 MHz) at eight
#      KiwiSDR-like receivers across central Europe (12 kHz IQ, GPS-timed;
#      configs/experiments/recordings-demo.yaml);
#   2. export them as kiwiwav recordings in the TDoA service's layout:
#      DIR/iq/<time>_<freq>_<station>_iq.wav, DIR/gnss_pos/<station>.txt;
#   3. import the recordings (all of them, or the stations named) with
#      `heimdall import kiwiwav`, featurize and localize them;
#   4. print the position, its ellipse and its error against the simulator's
#      truth (kept in DIR/sim.h5, which the import never reads).
# usage: scripts/demo-recordings.sh [DIR [STATION...]]
set -eu
H=${HEIMDALL:-build/heimdall}
D=${1:-results/demo-recordings}
[ $# -gt 0 ] && shift
CONFIG=${CONFIG:-configs/experiments/recordings-demo.yaml}
rm -rf "$D/iq" "$D/gnss_pos"
mkdir -p "$D"
"$H" collect -q --force -c "$CONFIG" -o "$D/sim.h5"
"$H" export kiwiwav -q -o "$D/iq" "$D/sim.h5"
if [ $# -gt 0 ]; then
    files=()
    for s in "$@"; do files+=("$D"/iq/*_"$s"_iq.wav); done
else
    files=("$D"/iq/*_iq.wav)
fi
"$H" import kiwiwav --force -o "$D/captures.h5" "${files[@]}"
"$H" featurize --force -o "$D/features.h5" "$D/captures.h5"
"$H" localize --force -o "$D/positions.geojson" "$D/features.h5"
truth() { h5dump -m '%.12g' -y -d "/truth/$1" "$D/sim.h5" | awk '/^ *DATA {/ { getline; gsub(/[ ,]/, ""); print; exit }'; }
j=$(head -n 1 "$D/positions.jsonl")
num() { printf '%s\n' "$j" | sed -n "s/.*$1\([-0-9.eE+]*\).*/\1/p"; }
awk -v la="$(num '"lat":')" -v lo="$(num '"lon":')" -v tla="$(truth tx_lat)" -v tlo="$(truth tx_lon)" \
    -v a68="$(num '"ellipse_68":{"probability":0.68,"semi_major_m":')" \
    -v b68="$(num '"ellipse_68":{[^}]*"semi_minor_m":')" \
    -v a95="$(num '"ellipse_95":{"probability":0.95,"semi_major_m":')" \
    -v n="${#files[@]}" -v d="$D" 'BEGIN {
    r = 3.141592653589793 / 180
    x = sin((la - tla) * r / 2) ^ 2 + cos(la * r) * cos(tla * r) * sin((lo - tlo) * r / 2) ^ 2
    e = 2 * 6371008.8 * atan2(sqrt(x), sqrt(1 - x))
    printf "\ndemo-recordings: %d recordings of 30 s, 12 kHz\n", n
    printf "demo-recordings: position %.5f N %.5f E, ellipse 68 %% %.0f x %.0f m, 95 %% semi-major %.0f m\n", la, lo, a68, b68, a95
    printf "demo-recordings: truth    %.5f N %.5f E: error %.0f m (%.2f x the 68 %% semi-major axis)\n", tla, tlo, e, e / a68
    printf "demo-recordings: recordings %s/iq/*_iq.wav, station positions %s/gnss_pos/\n", d, d
    printf "demo-recordings: captures %s/captures.h5, features %s/features.h5, positions %s/positions.{geojson,kml,jsonl}\n", d, d, d
    printf "demo-recordings: simulator truth %s/sim.h5 (not read by the import)\n", d
}'
