#!/usr/bin/env bash
# localize --heatmap DIR: the recordings demo's three receivers across
# Europe (Paris, Berlin, Munich: KiwiSDR recordings exported, imported back
# as a user would) give a heat map whose GeoJSON parses, has the three
# levels as closed rings, holds the simulator's truth in its 99.7 % region,
# and whose PNG is a PNG (GMT); without GMT the PNG is skipped with a
# warning and the GeoJSON still written; localize.heatmap_max_events caps
# the maps and stderr counts the rest; an existing folder of maps is kept
# without --force; the nn method is refused.
. "$(dirname "$0")/lib.sh"

D="$TMP/rec"
mkdir -p "$D"
cfg="$ROOT/configs/experiments/recordings-demo.yaml"
run "$HEIMDALL" collect -q -c "$cfg" -o "$D.sim.h5"
is "$RC" 0 "recordings demo: the simulated captures"
run "$HEIMDALL" export kiwiwav -q -o "$D/iq" "$D.sim.h5"
files=()
for s in par-sud ber-north muc-center; do files+=("$D"/iq/*_"$s"_iq.wav); done
run "$HEIMDALL" import kiwiwav -q -o "$D/c3.h5" "${files[@]}"
is "$RC" 0 "three recordings imported (Paris, Berlin, Munich)"
run "$HEIMDALL" featurize -q -o "$D/f3.h5" "$D/c3.h5"
run "$HEIMDALL" localize -o "$D/p3.geojson" --heatmap "$D/maps" "$D/f3.h5"
is "$RC" 0 "localize --heatmap"
[ "$RC" -eq 0 ] || diag "$ERR"
like "$ERR" "heat maps: 1 written to .*/maps" "stderr: how many maps were written"

# the GeoJSON: three levels, closed counter-clockwise rings, the truth inside
check=$("$PYTHON" - "$D/maps/event_0.geojson" "$D.sim.h5" <<'EOF'
import json, sys
import h5py
fc = json.load(open(sys.argv[1]))
with h5py.File(sys.argv[2], "r") as f:
    tlat, tlon = float(f["truth/tx_lat"][0]), float(f["truth/tx_lon"][0])
def inside(ring, x, y):
    c = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:]):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            c = not c
    return c
def area(ring):
    return 0.5 * sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(ring, ring[1:]))
out = []
cont = [f for f in fc["features"] if f["properties"]["kind"] == "contour"]
out.append("levels " + " ".join("%.3f" % f["properties"]["probability"] for f in cont))
closed = ccw = True
held = []
for f in cont:
    g = f["geometry"]
    assert g["type"] == "MultiPolygon"
    h = False
    for poly in g["coordinates"]:
        for k, ring in enumerate(poly):
            closed &= len(ring) >= 4 and ring[0] == ring[-1]
            ccw &= (area(ring) > 0) == (k == 0)
        h |= inside(poly[0], tlon, tlat) and not any(inside(r, tlon, tlat) for r in poly[1:])
    held.append("%.1f:%d" % (100 * f["properties"]["probability"], h))
out.append("closed %d ccw %d" % (closed, ccw))
out.append("held " + " ".join(held))
est = [f for f in fc["features"] if f["properties"]["kind"] == "estimate"][0]["properties"]
out.append("nu %g levels %s" % (est["nu"], est["levels"]))
out.append("receivers %d" % sum(f["properties"]["kind"] == "receiver" for f in fc["features"]))
print("\n".join(out))
EOF
)
diag "$check"
like "$check" "^levels 0.997 0.954 0.683" "GeoJSON: the 99.7, 95.4 and 68.3 % regions as MultiPolygons"
like "$check" "closed 1 ccw 1" "GeoJSON: rings closed, exteriors counter-clockwise, holes clockwise"
like "$check" "held 99.7:1" "the simulator's truth lies inside the 99.7 % region"
like "$check" "receivers 3" "GeoJSON: the three receivers used"
like "$check" "nu 4 levels predictive" "three receivers, no spare residual: the predictive's Student-t (nu 4) levels"

pngmagic() { "$PYTHON" -c 'import sys; b = open(sys.argv[1], "rb").read(8); sys.exit(0 if b == b"\x89PNG\r\n\x1a\n" else 1)' "$1"; }
s=$(cat "$D/maps/event_0.sh" 2>/dev/null)
like "$s" "gmt coast .*-W0.5p" "the script: coastlines"
like "$s" "-N1/" "the script: borders"
like "$s" "_receivers.dat -St" "the script: receivers as triangles"
like "$s" "gmt grdimage" "the script: the heat map as an image"
if command -v gmt >/dev/null; then
    pngmagic "$D/maps/event_0.png"
    ok $? "the PNG exists and is a PNG"
    ls -a "$D/maps" | grep -q '\.tmp\.' && t=1 || t=0
    is "$t" 0 "no temporary left in the folder"
else
    skip 2 "gmt not installed (scripts/install-deps.sh installs it)"
fi

# an existing folder of maps is kept without --force
run "$HEIMDALL" localize -q -o "$D/p3b.geojson" --heatmap "$D/maps" "$D/f3.h5"
is "$RC" 2 "an existing folder of heat maps without --force: refused (as an existing -o)"
like "$ERR" "holds heat maps already.*--force" "... saying why"

# without GMT: the GeoJSON written, the PNG skipped with a warning
mkdir -p "$TMP/nogmt"
run env PATH="$TMP/nogmt" "$HEIMDALL" localize --force -o "$D/p3c.geojson" --heatmap "$D/maps2" "$D/f3.h5"
is "$RC" 0 "without gmt on PATH: localize --heatmap succeeds"
like "$ERR" "gmt not found.*PNGs not drawn" "... and warns that the PNGs are not drawn"
[ -s "$D/maps2/event_0.geojson" ] && [ ! -e "$D/maps2/event_0.png" ] && t=0 || t=1
ok "$t" "... the GeoJSON written, no PNG"

# many events: the first heatmap_max_events mapped, the rest counted
S="$TMP/smoke"
run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" -o "$S.c.h5"
run "$HEIMDALL" featurize -q -c "$ROOT/configs/smoke.yaml" -o "$S.f.h5" "$S.c.h5"
run env PATH="$TMP/nogmt" "$HEIMDALL" localize -c "$ROOT/configs/smoke.yaml" --set localize.heatmap_max_events=2 \
    --set localize.heatmap_points=60 -o "$S.geojson" --heatmap "$S.maps" "$S.f.h5"
is "$RC" 0 "smoke campaign: localize --heatmap with heatmap_max_events 2"
is "$(ls "$S.maps"/event_*.geojson | wc -l | tr -d ' ')" 2 "two maps written"
like "$ERR" "heat maps: 2 written" "stderr: two written"
like "$ERR" "first 2 located events only: [0-9]+ more skipped \(localize.heatmap_max_events\)" "stderr: the others skipped, counted"
t=$("$PYTHON" -c 'import json, sys; fc = json.load(open(sys.argv[1])); print(sum(f["properties"]["kind"] == "truth" for f in fc["features"]))' "$(ls "$S.maps"/event_*.geojson | head -n 1)")
is "$t" 1 "a simulated campaign's map carries the truth"

run "$HEIMDALL" localize -q -c "$ROOT/configs/smoke.yaml" --set localize.heatmap_region=box -o "$S.b.geojson" \
    --heatmap "$S.maps3" "$S.f.h5"
is "$RC" 2 "heatmap_region box without heatmap_box: a config error"
like "$ERR" "heatmap_box" "... naming the key"
run "$HEIMDALL" localize -q --method nn -m "$TMP/none.h5" -o "$S.n.geojson" --heatmap "$S.maps4" "$S.f.h5"
is "$RC" 2 "--method nn: refused (no chi-square surface)"
like "$ERR" "classical solvers' cost" "... saying why"
done_testing
