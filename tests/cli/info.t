#!/bin/bash
# heimdall info: the dataset and receiver tables' columns line up whatever
# the widths of the data (a 31-character station id, a 50-character name,
# shapes with the multi-byte '×').
. "$(dirname "$0")/lib.sh"

cat >"$TMP/long.yaml" <<'YAML'
seed: 1
stations:
  - {id: a-receiver-with-a-long-id-12345, name: "A receiver whose display name is fifty characters", lat: 45.02, lon: 7.29}
  - {id: b, name: B, lat: 45.234, lon: 7.857}
  - {id: c-mid, name: Mid length name, lat: -44.5, lon: -108.956}
collect:
  source: simulate
  events: 2
  duration_s: 0.05
  frequencies_hz: [145500000]
YAML
run "$HEIMDALL" collect -q -c "$TMP/long.yaml" -o "$TMP/c.h5"
is "$RC" 0 "collect with a long station id and name"
run "$HEIMDALL" info "$TMP/c.h5"
is "$RC" 0 "info exits 0"
printf '%s\n' "$OUT" >"$TMP/info.txt"
like "$OUT" "a-receiver-with-a-long-id-12345 +A receiver whose display name is fifty characters +45\.02000 +7\.29000" \
    "the long id and name are printed whole"
# the column of each field starts (or, for the right-aligned numbers, ends) at
# the same character offset on every row of a table
cols=$("$PYTHON" - "$TMP/info.txt" <<'PY'
import re, sys
text = open(sys.argv[1], encoding="utf-8").read()
def block(title):
    b = text.split("\n" + title + ":\n", 1)[1]
    return [l for l in b.split("\n\n", 1)[0].split("\n") if l.strip()]
ds = block("Datasets")
starts = {re.search(r"\S+(\s{2,})(\S.*?)(\s{2,})(int|uint|float|string|compound)", l).start(4) for l in ds}
if "\nReceivers:\n" not in text:
    print(len(ds), len(starts), 0, False, 0, 0, 0, 0)
    sys.exit(0)
rx = block("Receivers")
def spans(l):
    return [(m.start(), m.end()) for m in re.finditer(r"\S+(?: \S+)*", l)]
sp = [spans(l) for l in rx]
ncol = {len(s) for s in sp}
name_start = {s[1][0] for s in sp}
lat_end = {s[2][1] for s in sp}
lon_end = {s[3][1] for s in sp}
drv = {s[4][0] for s in sp}
print(len(ds), len(starts), len(rx), ncol == {6}, len(name_start), len(lat_end), len(lon_end), len(drv))
PY
)
set -- $cols
ok $([ "${1:-0}" -gt 10 ] && [ "${2:-0}" = 1 ]; echo $?) "datasets: the type column starts at one offset on all ${1:-0} rows (shapes with ×)"
is "${3:-0} ${4:-}" "4 True" "receivers: a header and three rows of six columns"
is "${5:-} ${6:-} ${7:-} ${8:-}" "1 1 1 1" "receivers: name, lat, lon and driver columns line up"
done_testing
