#!/usr/bin/env bash
# evaluate's maps, drawn with GMT, for the default network and for the
# Munich experiment (configs/experiments/munich.yaml): each figure exists, is
# a PNG of the expected size, and its script (beside it, to restyle) names
# the coastlines, the scale bar and the unlocated events; several methods
# give the maps side by side.
. "$(dirname "$0")/lib.sh"
command -v gmt >/dev/null || skip_all "gmt not installed (scripts/install-deps.sh installs it)"

pngsize() { "$PYTHON" -c 'import sys, struct; b = open(sys.argv[1], "rb").read(24); assert b[:8] == b"\x89PNG\r\n\x1a\n"; print("%d %d" % struct.unpack(">II", b[16:24]))' "$1"; }

for exp in smoke experiments/munich; do
    name=$(basename "$exp")
    cfg="$ROOT/configs/$exp.yaml"
    mkdir -p "$TMP/$name"
    run "$HEIMDALL" collect -q -c "$cfg" --set collect.events=30 --set collect.duration_s=0.05 -o "$TMP/$name/c.h5"
    is "$RC" 0 "$name: a campaign"
    run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/$name/f.h5" "$TMP/$name/c.h5"
    run "$HEIMDALL" evaluate -q -c "$cfg" --method tdoa,hybrid --set evaluate.plots=true -o "$TMP/$name/eval.h5" "$TMP/$name/f.h5"
    is "$RC" 0 "$name: evaluate tdoa,hybrid with plots"
    [ "$RC" -eq 0 ] || diag "$ERR"
    read -r w h < <(pngsize "$TMP/$name/eval_tdoa_map.png")
    ok $(( w >= 1500 && w <= 2200 && h >= 600 && h <= 2600 ? 0 : 1 )) "$name: the tdoa map, ${w}×${h} px (15 cm at 300 dpi)"
    read -r w2 h2 < <(pngsize "$TMP/$name/eval_map.png")
    ok $(( w2 > w && w2 <= 4 * w ? 0 : 1 )) "$name: the two methods side by side, ${w2}×${h2} px"
    s=$(cat "$TMP/$name/eval_tdoa_map.sh")
    like "$s" "gmt coast .*-W0.5p" "$name: coastlines"
    like "$s" "-N1/" "$name: borders"
    like "$s" "-LjBL\+w[0-9.]+k" "$name: a scale bar"
    like "$s" "no position: [0-9]+ too few receivers" "$name: the events without a position in a corner"
    is "$(wc -l < "$TMP/$name/eval_tdoa_map_receivers.dat" | tr -d ' ')" "$(if [ $name = smoke ]; then echo 7; else echo 5; fi)" "$name: every receiver labelled"
done
done_testing
