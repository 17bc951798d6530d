#!/usr/bin/env bash
# export/import kiwiwav: capture -> KiwiSDR TDoA wav -> capture keeps every
# sample and first-sample time (to the format's 1 ns); positions travel in
# gnss_pos/; a wav written by hand at a true 12001.2 Hz (12001 in the
# header, zero first stamp, counting last_gps_solution) gets its clock from
# the fit; malformed recordings are refused with a reason and no output.
. "$(dirname "$0")/lib.sh"

run "$HEIMDALL" collect -q -c "$ROOT/configs/smoke.yaml" --set collect.simulate.receivers.failure_probability=0.3 \
    -o "$TMP/c.h5"
is "$RC" 0 "collect smoke with failing receivers"

run "$HEIMDALL" export kiwiwav -o "$TMP/wav" "$TMP/c.h5"
is "$RC" 0 "export kiwiwav"
nok=$("$PYTHON" -c "import h5py,sys; f=h5py.File(sys.argv[1]); print(int(((f['status'][()]==0)&(f['has_iq'][()]==1)).sum()))" "$TMP/c.h5")
is "$(ls "$TMP"/wav/*_iq.wav | wc -l)" "$nok" "one wav per event x receiver that succeeded ($nok)"
like "$(ls "$TMP/wav")" '^20260601T080000Z_145500000_[a-z-]+_iq\.wav' "file names YYYYMMDDTHHMMSSZ_freq_station_iq.wav"
ok "$([ -s "$TMP/wav/gnss_pos/torino.txt" ]; echo $?)" "gnss_pos/<station>.txt written"
like "$(cat "$TMP/wav/gnss_pos/torino.txt")" "^d\.torino = struct\('coord',\[[0-9.]+,[0-9.]+\],'host','[^']*','port',8073\);" \
    "gnss_pos line in the TDoA tool's form"
like "$(cat "$TMP/wav/gnss_pos/aquila-giaveno.txt")" "^d\.aquila_giaveno = struct" \
    "an id with '-' is written as the TDoA tool's Octave name (d.aquila_giaveno, '-' as '_')"
bad=$(cat "$TMP"/wav/gnss_pos/*.txt | grep -cvE "^d\.[A-Za-z][A-Za-z0-9_]* = struct\('coord',")
is "$bad" 0 "every gnss_pos line assigns a valid Octave name"

# every file: RIFF size right, a kiwi chunk before every data chunk of <= 512 pairs
out=$("$PYTHON" - "$TMP"/wav/*_iq.wav <<'PY'
import struct, sys
bad = []
for p in sys.argv[1:]:
    b = open(p, "rb").read()
    if b[:4] != b"RIFF" or struct.unpack("<I", b[4:8])[0] != len(b) - 8: bad.append(p + " riff"); continue
    off, prev = 12, None
    while off < len(b):
        cid, sz = b[off:off+4], struct.unpack("<I", b[off+4:off+8])[0]
        if cid == b"data" and (prev != b"kiwi" or sz > 2048): bad.append(p + " data")
        if cid == b"kiwi" and sz != 10: bad.append(p + " kiwi")
        prev, off = cid, off + 8 + sz
print(len(bad), bad[:3])
PY
)
is "$out" "0 []" "RIFF sizes right and a kiwi chunk before every data chunk"

run "$HEIMDALL" import kiwiwav "$TMP"/wav/*_iq.wav -o "$TMP/back.h5"
is "$RC" 0 "import kiwiwav (positions from gnss_pos)"
while read -r line; do
    case "$line" in ok*) ok 0 "round trip: ${line#ok }" ;; *) ok 1 "round trip: ${line#not ok }" ;; esac
done < <("$PYTHON" "$ROOT/tests/cli/roundtrip.py" "$TMP/c.h5" "$TMP/back.h5" 255)
out=$("$PYTHON" - "$TMP/c.h5" "$TMP/back.h5" <<'PY'
import h5py, sys
a, b = h5py.File(sys.argv[1]), h5py.File(sys.argv[2])
ia = [x.decode() for x in a["receivers/id"][()]]
ib = [x.decode() for x in b["receivers/id"][()]]
print(max(abs(a["receivers/lat"][ia.index(i)] - b["receivers/lat"][j]) + abs(a["receivers/lon"][ia.index(i)] - b["receivers/lon"][j]) for j, i in enumerate(ib)) < 2e-6,
      b.attrs["heimdall_format"], b.attrs["source"])
PY
)
is "$out" "True captures kiwiwav" "positions from gnss_pos; a captures file with source kiwiwav"

run "$HEIMDALL" export kiwiwav -o "$TMP/wav" "$TMP/c.h5"
is "$RC" 2 "export over existing files without --force is refused (exit 2)"
like "$ERR" "exists" "and says the file exists"

# a messy recording made by hand: 12001 Hz header, true 12001.2 Hz, first stamp zero,
# fresh fix every 4th block, last_gps_solution counting in between
mkdir -p "$TMP/messy"
"$PYTHON" - "$TMP/messy" <<'PY'
import struct, sys, math
d = sys.argv[1]
def wav(path, true_rate, nblocks, zero_first=True):
    chunks = []
    t0 = 200000.25  # GPS seconds of week
    for k in range(nblocks):
        t = t0 + k * 512 / true_rate
        sec = int(math.floor(t)); ns = int(round((t - sec) * 1e9))
        if ns >= 1000000000: sec += 1; ns -= 1000000000
        lgs = k % 4
        if k == 0 and zero_first: sec = ns = 0
        chunks.append(b"kiwi" + struct.pack("<IBBII", 10, lgs, 0, sec, ns))
        data = struct.pack("<1024h", *[(k * 31 + i) % 2000 - 1000 for i in range(1024)])
        chunks.append(b"data" + struct.pack("<I", len(data)) + data)
    fmt = b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, 12001, 12001 * 4, 4, 16)
    body = b"WAVE" + fmt + b"".join(chunks)
    b = b"RIFF" + struct.pack("<I", len(body)) + body
    open(path, "wb").write(b)
wav(d + "/20240301T120000Z_7100000_kiwi1_iq.wav", 12001.2, 240)
wav(d + "/20240301T120000Z_7100000_kiwi2_iq.wav", 12001.0 * (1 + 400e-6), 240)
PY
mkdir -p "$TMP/messy/gnss_pos"
printf "d.kiwi1 = struct('coord',[45.1,7.6],'host','k1.example','port',8073);\n" > "$TMP/messy/gnss_pos/kiwi1.txt"
printf "d.kiwi2 = struct('coord',[44.9,8.1],'host','k2.example','port',8073);\n" > "$TMP/messy/gnss_pos/kiwi2.txt"
run "$HEIMDALL" import kiwiwav "$TMP"/messy/*_iq.wav -o "$TMP/messy.h5"
is "$RC" 0 "import messy recordings"
like "$ERR" "kiwi2_iq.wav: the GPS stamps give 12005.800 Hz against 12001 Hz" "the drifting station is named, and kept"
out=$("$PYTHON" - "$TMP/messy.h5" <<'PY'
import h5py, sys
f = h5py.File(sys.argv[1])
r = f["clock/rate_hz"][0]
print(f["events/time_ns"].shape[0], f["receivers/id"].shape[0], "%.3f %.3f" % (r[0], r[1]),
      int(f["gps_ok"][0].sum()), f["clock/residual_s"][0].max() < 1e-9, "%.2f" % f["receivers/lat"][1])
PY
)
is "$out" "1 2 12001.200 12005.800 2 True 44.90" "one event, two receivers; rates 12001.2 and drifting 12005.8 Hz fitted; positions"

# malformed recordings: an error naming the file and the reason, no output
w="$TMP/messy/20240301T120000Z_7100000_kiwi1_iq.wav"
mkdir -p "$TMP/bad"
head -c 5000 "$w" > "$TMP/bad/20240301T120000Z_7100000_trunc_iq.wav"
run "$HEIMDALL" import kiwiwav "$TMP/bad/20240301T120000Z_7100000_trunc_iq.wav" -o "$TMP/bad.h5"
is "$RC" 1 "truncated wav: runtime failure"
like "$ERR" "trunc_iq.wav: truncated" "truncated wav: the message names the file and says truncated"
ok "$([ ! -e "$TMP/bad.h5" ]; echo $?)" "truncated wav: no output file"
"$PYTHON" - "$w" "$TMP/bad/20240301T120000Z_7100000_nokiwi_iq.wav" <<'PY'
import sys
b = bytearray(open(sys.argv[1], "rb").read()); b[36:40] = b"junk"; open(sys.argv[2], "wb").write(b)
PY
run "$HEIMDALL" import kiwiwav "$TMP/bad/20240301T120000Z_7100000_nokiwi_iq.wav" -o "$TMP/bad.h5"
like "$ERR" "no kiwi chunk" "data without a kiwi chunk refused"
ok "$([ ! -e "$TMP/bad.h5" ]; echo $?)" "missing kiwi chunk: no output file"
cp "$w" "$TMP/bad/recording.wav"
run "$HEIMDALL" import kiwiwav "$TMP/bad/recording.wav" -o "$TMP/bad.h5"
like "$ERR" "recording.wav: the name is not YYYYMMDDTHHMMSSZ" "a file name without time and frequency refused"
ok "$([ ! -e "$TMP/bad.h5" ]; echo $?)" "bad name: no output file"

run "$HEIMDALL" import --help
like "$OUT" "kiwiwav FILE_iq.wav" "import --help lists kiwiwav"
run "$HEIMDALL" export --help
like "$OUT" "usage: heimdall export FORMAT -o DIR captures.h5" "export --help"
run "$HEIMDALL" export sigmund -o "$TMP/x" "$TMP/c.h5"
is "$RC" 2 "unknown export format: usage error"
done_testing
