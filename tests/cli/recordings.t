#!/usr/bin/env bash
# import of real-style recordings: the KiwiSDR TDoA service layout
# (iq/<time>_<freq>_<station>_iq.wav, gnss_pos/<station>.txt beside iq/),
# station positions from -c, gnss_pos and --positions with their source
# printed, receiver order (stations file, else command line), and bad input
# refused with a clear message and nothing written; input hashes in one
# dataset, verify on old and new files.
. "$(dirname "$0")/lib.sh"

# recordings written by hand: 12001 Hz header, fresh GPS every 4th block
gen() { # gen DIR STATION [RATE] [MODE]   MODE: ok | nofix | stale
    "$PYTHON" - "$@" <<'PY'
import struct, sys, math
d, st = sys.argv[1], sys.argv[2]
rate = int(sys.argv[3]) if len(sys.argv) > 3 else 12001
mode = sys.argv[4] if len(sys.argv) > 4 else "ok"
chunks = []
for k in range(60):
    t = 200000.25 + k * 512 / (rate + 0.2)
    sec = int(math.floor(t)); ns = int(round((t - sec) * 1e9))
    lgs = k % 4
    if mode == "nofix": sec = ns = 0; lgs = 255
    if mode == "stale": lgs = 30 + k // 24
    chunks.append(b"kiwi" + struct.pack("<IBBII", 10, lgs, 0, sec, ns))
    data = struct.pack("<1024h", *[((k * 37 + i * 11) % 4000) - 2000 for i in range(1024)])
    chunks.append(b"data" + struct.pack("<I", len(data)) + data)
fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, rate, rate * 4, 4, 16)
body = b"WAVE" + fmt + b"".join(chunks)
open("%s/20240301T120000Z_77500_%s_iq.wav" % (d, st), "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
PY
}

# --- the TDoA service layout: iq/ and gnss_pos/ side by side
L="$TMP/tdoa"
mkdir -p "$L/iq" "$L/gnss_pos"
gen "$L/iq" DF0KL; gen "$L/iq" F1JEK-P; gen "$L/iq" muc-center
printf "d.DF0KL = struct('coord', [50.000000,8.500000], 'host', 'df0kl.example', 'port', 8073);\n" > "$L/gnss_pos/DF0KL.txt"
printf "d.F1JEK_P = struct('coord', [48.800000,2.300000], 'host', 'f1jek.example', 'port', 8073);\n" > "$L/gnss_pos/F1JEK_P.txt"
printf "d.muc_center = struct('coord',[48.137000,11.575000],'host','','port',8073);\n" > "$L/gnss_pos/all-others.txt"
run "$HEIMDALL" import kiwiwav "$L"/iq/*_iq.wav -o "$TMP/layout.h5"
is "$RC" 0 "TDoA layout: iq/*.wav with gnss_pos/ beside iq/ imports"
like "$ERR" "station DF0KL: 50.000000, 8.500000 from .*tdoa/gnss_pos/DF0KL.txt" "the source of each station is printed"
like "$ERR" "station F1JEK-P: 48.800000, 2.300000 from .*gnss_pos/F1JEK_P.txt" \
    "an id with '-' is found under its Octave name (d.F1JEK_P in F1JEK_P.txt, as the service writes it)"
like "$ERR" "station muc-center: 48.137000, 11.575000 from .*gnss_pos/all-others.txt" \
    "a station in any gnss_pos/*.txt (the service sources them all)"
out=$("$PYTHON" -c "
import h5py, sys
f = h5py.File(sys.argv[1])
print([x.decode() for x in f['receivers/id'][()]], f['provenance/inputs'].shape[0], len([a for a in f.attrs if a.startswith('input')]))" "$TMP/layout.h5")
is "$out" "['DF0KL', 'F1JEK-P', 'muc-center'] 3 0" \
    "receivers in the command line's order; input hashes: one dataset of 3 lines, no input attribute"

# gnss_pos beside the recording itself wins over the parent's
mkdir -p "$L/iq/gnss_pos"
printf "d.DF0KL = struct('coord',[51.000000,9.000000],'host','','port',8073);\n" > "$L/iq/gnss_pos/DF0KL.txt"
run "$HEIMDALL" import kiwiwav --force "$L"/iq/*_iq.wav -o "$TMP/layout.h5"
like "$ERR" "station DF0KL: 51.000000, 9.000000 from .*iq/gnss_pos/DF0KL.txt" "gnss_pos/ beside the recording first"
rm -r "$L/iq/gnss_pos"

# --- order: the stations file's, whatever the command line
O="$TMP/order"
mkdir -p "$O"
gen "$O" kiwia; gen "$O" kiwib; gen "$O" kiwic
cat > "$TMP/st.yaml" <<'EOF'
stations:
  - id: kiwic
    lat: 48.2
    lon: 11.6
  - id: kiwia
    lat: 50.1
    lon: 8.6
EOF
printf 'kiwib,47,9\n' > "$TMP/b.csv"
run "$HEIMDALL" import kiwiwav -c "$TMP/st.yaml" --positions "$TMP/b.csv" "$O"/*_iq.wav -o "$TMP/order.h5"
is "$RC" 0 "import with a stations file"
like "$ERR" "station kiwic: 48.200000, 11.600000 from the stations of .*st.yaml" "the stations file gives its stations"
out=$("$PYTHON" -c "import h5py,sys; print([x.decode() for x in h5py.File(sys.argv[1])['receivers/id'][()]])" "$TMP/order.h5")
is "$out" "['kiwic', 'kiwia', 'kiwib']" "receivers: the stations file's order, then the command line's"
run "$HEIMDALL" import kiwiwav "$L/iq/20240301T120000Z_77500_muc-center_iq.wav" "$L/iq/20240301T120000Z_77500_DF0KL_iq.wav" \
    -o "$TMP/order2.h5"
out=$("$PYTHON" -c "import h5py,sys; print([x.decode() for x in h5py.File(sys.argv[1])['receivers/id'][()]])" "$TMP/order2.h5")
is "$out" "['muc-center', 'DF0KL']" "no stations file of its own: the command line's order (not alphabetical)"

# --- --positions: CSV and YAML, last in the order
P="$TMP/plain"
mkdir -p "$P"
gen "$P" kiwia; gen "$P" kiwib
printf '# positions\nid,lat,lon,alt_m\nkiwia,45.5,7.25,300\nkiwib, 44.0, 8.0\n' > "$TMP/pos.csv"
run "$HEIMDALL" import kiwiwav --positions "$TMP/pos.csv" "$P"/*_iq.wav -o "$TMP/pos.h5"
is "$RC" 0 "--positions CSV"
like "$ERR" "station kiwia: 45.500000, 7.250000 from .*pos.csv:3" "its source is file:line"
out=$("$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(f['receivers/alt_m'][0], f['receivers/lat'][1])" "$TMP/pos.h5")
is "$out" "300.0 44.0" "altitude and positions from the CSV"
like "$("$PYTHON" -c "import h5py,sys; print(h5py.File(sys.argv[1]).attrs['command_line'])" "$TMP/pos.h5")" \
    "--positions .*pos.csv" "the recorded command line keeps --positions"
printf 'stations:\n  - id: kiwia\n    lat: 45.5\n    lon: 7.25\n  - id: kiwib\n    lat: 44\n    lon: 8\n' > "$TMP/pos.yaml"
run "$HEIMDALL" import kiwiwav --positions="$TMP/pos.yaml" "$P"/*_iq.wav -o "$TMP/posy.h5"
is "$RC" 0 "--positions=FILE.yaml (a stations file)"
like "$ERR" "station kiwib: 44.000000, 8.000000 from .*pos.yaml" "its source is the YAML file"

# --- bad input: a clear message, exit 2 (the set of inputs or a positions file) or 1 (a broken file), no output
bad() { # bad NAME WANT_RC REGEX ARGS...
    local name=$1 want=$2 re=$3; shift 3
    rm -f "$TMP/bad.h5"
    run "$HEIMDALL" import "$@" -o "$TMP/bad.h5"
    is "$RC" "$want" "$name: exit $want"
    like "$ERR" "$re" "$name: the message says why"
    ok "$([ ! -e "$TMP/bad.h5" ] && ! ls "$TMP"/.bad.h5.tmp.* >/dev/null 2>&1; echo $?)" "$name: nothing written"
    diag "$name: $(printf '%s' "$ERR" | grep error)"
}
B="$TMP/bad"
mkdir -p "$B/nokiwi" "$B/nofix" "$B/trunc" "$B/mixed" "$B/dup1" "$B/dup2" "$B/nopos" "$B/stale"
gen "$B/nokiwi" k1
"$PYTHON" - "$B/nokiwi/20240301T120000Z_77500_k1_iq.wav" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b = b.replace(b"kiwi", b"junk"); open(p, "wb").write(b)
PY
bad "a wav with no kiwi chunks" 1 "k1_iq.wav: .*no kiwi chunk" kiwiwav --positions "$TMP/pos.csv" "$B"/nokiwi/*.wav
gen "$B/nofix" kiwia 12001 nofix
bad "GPS never fixed" 1 "kiwia_iq.wav: GPS never fixed: none of its 60 time stamps is set" \
    kiwiwav --positions "$TMP/pos.csv" "$B"/nofix/*.wav
gen "$B/trunc" kiwia
head -c 30000 "$B/trunc/20240301T120000Z_77500_kiwia_iq.wav" > "$B/trunc/t" && mv "$B/trunc/t" "$B/trunc/20240301T120000Z_77500_kiwia_iq.wav"
bad "a truncated file" 1 "kiwia_iq.wav: truncated" kiwiwav --positions "$TMP/pos.csv" "$B"/trunc/*.wav
gen "$B/mixed" kiwia 12001; gen "$B/mixed" kiwib 20250
bad "mixed sample rates" 2 "mixed sample rates in one event: .*kiwia_iq.wav is 12001 Hz, .*kiwib_iq.wav is 20250 Hz" \
    kiwiwav --positions "$TMP/pos.csv" "$B"/mixed/*.wav
gen "$B/dup1" kiwia; gen "$B/dup2" kiwia
bad "two files of the same station in one event" 2 "dup1/.*kiwia_iq.wav and .*dup2/.*kiwia_iq.wav are the same station" \
    kiwiwav --positions "$TMP/pos.csv" "$B"/dup1/*.wav "$B"/dup2/*.wav
printf 'id,lat,lon\nkiwia,45.5,7.25\nkiwib;44.0;8.0\n' > "$TMP/badpos.csv"
bad "a positions file with a malformed line" 2 "badpos.csv:3: too few fields \(expected id,lat,lon\[,alt_m\]; got 'kiwib;44.0;8.0'\)" \
    kiwiwav --positions "$TMP/badpos.csv" "$P"/*.wav
printf 'kiwia,45.5,7.25\nkiwib,144.0,8.0\n' > "$TMP/badpos.csv"
bad "a positions file with a latitude out of range" 2 "badpos.csv:2: latitude outside \[-90, 90\]" \
    kiwiwav --positions "$TMP/badpos.csv" "$P"/*.wav
bad "a missing positions file" 1 "nothere.csv" kiwiwav --positions "$TMP/nothere.csv" "$P"/*.wav
gen "$B/nopos" kiwiz
bad "a station with no position anywhere" 2 \
    "station 'kiwiz' \(.*kiwiz_iq.wav\) has no position: not in the stations of .*no d.kiwiz line in .*nopos/gnss_pos/\*.txt nor .*bad/gnss_pos/\*.txt, not in .*pos.csv" \
    kiwiwav --positions "$TMP/pos.csv" "$B"/nopos/*.wav
run "$HEIMDALL" import kiwiwav --positions "$P/x.csv" -o "$TMP/bad.h5" --positions
is "$RC" 2 "--positions without a value: usage error"

# stale GPS (fixed once, not fresh now) is no error: kept with gps_ok 0 and a warning
gen "$B/stale" kiwia 12001 stale
run "$HEIMDALL" import kiwiwav --positions "$TMP/pos.csv" "$B"/stale/*.wav -o "$TMP/stale.h5"
is "$RC" 0 "stale GPS: imported"
like "$ERR" "no fresh GPS time stamp: gps_ok 0" "stale GPS: warned"

# --- input hashes: verify reads the new dataset and the old attributes alike
run "$HEIMDALL" verify "$TMP/pos.h5"
is "$RC" 0 "verify: a new file's inputs (from /provenance/inputs) hold"
like "$OUT" "input .*kiwia_iq.wav unchanged" "verify names each input"
run "$HEIMDALL" info "$TMP/pos.h5"
like "$OUT" "inputs +2 file\(s\)" "info counts the inputs of the dataset"
"$PYTHON" - "$TMP/pos.h5" "$TMP/old.h5" <<'PY'
import h5py, shutil, sys, os
shutil.copy(sys.argv[1], sys.argv[2])
f = h5py.File(sys.argv[2], "r+")
lines = [x.decode() for x in f["provenance/inputs"][()]]
del f["provenance"]
f.attrs["inputs"] = lines  # as heimdall wrote them before /provenance/inputs
for l in lines:
    p, h = l.rsplit(" ", 1)
    f.attrs["input_sha256:" + os.path.basename(p)] = h
PY
run "$HEIMDALL" verify "$TMP/old.h5"
is "$RC" 0 "verify: an old file's inputs (root attribute inputs) hold"
like "$OUT" "input .*kiwib_iq.wav unchanged" "old file: each input checked"
run "$HEIMDALL" info "$TMP/old.h5"
like "$OUT" "inputs +2 file\(s\)" "info counts an old file's inputs"
printf 'x' >> "$P/20240301T120000Z_77500_kiwib_iq.wav"
run "$HEIMDALL" verify "$TMP/old.h5"
like "$OUT" "CHANGED .*kiwib_iq.wav changed" "old file: a changed input is found"
run "$HEIMDALL" verify "$TMP/pos.h5"
like "$OUT" "CHANGED .*kiwib_iq.wav changed" "new file: a changed input is found"
done_testing
