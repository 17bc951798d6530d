#!/usr/bin/env bash
# Integrity: every dataset with data is chunked and carries HDF5's
# Fletcher-32 checksum (the small ones written whole as one chunk; only
# empty datasets, with no chunk, have none); one byte flipped inside a
# chunk's stored data (found with H5Dget_chunk_info, through h5py) makes
# `heimdall verify` name that dataset and exit 1, and the stages that read
# it fail with "checksum mismatch in /<dataset>", not an HDF5 error stack
# nor silent garbage. A file written before the checksums (contiguous
# datasets) still verifies: its contiguous datasets are read whole.
. "$(dirname "$0")/lib.sh"
cfg="$ROOT/configs/smoke.yaml"
# 0.6 s captures: /iq holds 2 events a chunk (about 1 MiB), 3 chunks
run "$HEIMDALL" collect -q -c "$cfg" --set collect.duration_s=0.6 -o "$TMP/c.h5"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f.h5" "$TMP/c.h5"
is "$RC" 0 "a campaign"
run "$PYTHON" - "$TMP/c.h5" "$TMP/f.h5" <<'PY'
import sys, h5py
for p in sys.argv[1:]:
    f = h5py.File(p, "r")
    def each(name, o):
        if isinstance(o, h5py.Dataset):
            assert o.size == 0 or (o.chunks is not None and o.fletcher32), (p, name)
            print(p.rsplit("/", 1)[1], name)
    f.visititems(each)
PY
is "$RC" 0 "every dataset with data is chunked with the Fletcher-32 filter"
like "$OUT" "c.h5 iq" "/iq is chunked and checksummed"
like "$OUT" "f.h5 features" "/features too"
like "$OUT" "f.h5 tdoa/delay_s" "/tdoa/delay_s too"
like "$OUT" "c.h5 receivers/lat" "and the small /receivers/lat"
like "$OUT" "c.h5 events/time_ns" "and the per-event columns"

run "$HEIMDALL" verify "$TMP/c.h5" "$TMP/f.h5"
is "$RC" 0 "intact files verify"
like "$OUT" "ok +.*c.h5: data intact: [0-9]+ chunks of ([0-9]+) chunked datasets read \(\1 with checksums\); 0 contiguous" "verify says what it read: every dataset checksummed"

# flip BYTE: one bit of a byte in the middle of chunk K of DATASET
cat > "$TMP/flip.py" <<'PY'
import sys, h5py
src, dst, name, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with h5py.File(src, "r") as f:
    d = f[name]
    if d.chunks is not None:
        info = d.id.get_chunk_info(k)
        off = info.byte_offset + info.size // 2
        print(info.chunk_offset[0], d.id.get_num_chunks())
    else:
        off = d.id.get_offset() + d.id.get_storage_size() // 2
b = bytearray(open(src, "rb").read())
b[off] ^= 0x10
open(dst, "wb").write(b)
PY
# /iq: its second chunk (events 2 and 3); /levels: its only chunk
for dk in iq:1:2:3 levels:0:0:1; do
    IFS=: read -r ds k first n <<<"$dk"
    run "$PYTHON" "$TMP/flip.py" "$TMP/c.h5" "$TMP/bad_$ds.h5" "$ds" "$k"
    is "$OUT" "$first $n" "one bit flipped in chunk $k of /$ds (its first event $first, of $n chunks)"
    run "$HEIMDALL" verify "$TMP/bad_$ds.h5"
    is "$RC" 1 "verify: exit 1 on the damaged /$ds"
    like "$OUT" "CORRUPT .*bad_$ds.h5: checksum mismatch in /$ds chunk at \[$first, 0, 0(, 0)?\]" "verify names /$ds and the chunk"
    like "$OUT" "1 of $n chunks of /$ds bad" "and only that chunk"
    like "$OUT" "verify: 1 file, 1 problem" "one problem"
done
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f2.h5" "$TMP/bad_iq.h5"
is "$RC" 1 "featurize on the damaged captures: exit 1"
like "$ERR" "checksum mismatch in /iq" "says checksum mismatch in /iq"
unlike "$ERR" "HDF5-DIAG|H5D\.c|#[0-9]{3}:" "no HDF5 error stack"
[ -e "$TMP/f2.h5" ]; ok $(( $? == 0 ? 1 : 0 )) "and writes no features"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f3.h5" "$TMP/bad_levels.h5"
is "$RC" 1 "featurize on damaged /levels: exit 1"
like "$ERR" "checksum mismatch in /levels" "says checksum mismatch in /levels"

for ds in features tdoa/delay_s; do
    run "$PYTHON" "$TMP/flip.py" "$TMP/f.h5" "$TMP/bad_f.h5" "$ds" 0
    run "$HEIMDALL" verify "$TMP/bad_f.h5"
    is "$RC" 1 "verify: exit 1 on damaged /$ds"
    like "$OUT" "CORRUPT .*checksum mismatch in /$ds chunk" "verify names /$ds"
    run "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false -o "$TMP/e.h5" "$TMP/bad_f.h5"
    is "$RC" 1 "evaluate on damaged /$ds: exit 1"
    like "$ERR" "checksum mismatch in /$ds" "evaluate says checksum mismatch in /$ds"
done

# a small dataset written whole: one chunk, checksummed too
run "$PYTHON" "$TMP/flip.py" "$TMP/c.h5" "$TMP/bad_small.h5" "receivers/lat" 0
run "$HEIMDALL" verify "$TMP/bad_small.h5"
is "$RC" 1 "a flipped bit in the small /receivers/lat: exit 1"
like "$OUT" "CORRUPT .*checksum mismatch in /receivers/lat chunk at \[0\]" "verify names /receivers/lat"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f4.h5" "$TMP/bad_small.h5"
is "$RC" 1 "featurize on it: exit 1"
like "$ERR" "checksum mismatch in /receivers/lat" "says checksum mismatch in /receivers/lat"
run "$PYTHON" "$TMP/flip.py" "$TMP/c.h5" "$TMP/bad_col.h5" "events/time_ns" 0
run "$HEIMDALL" verify "$TMP/bad_col.h5"
like "$OUT" "CORRUPT .*checksum mismatch in /events/time_ns" "and a per-event column"

# a file of the earlier layout (contiguous, no checksums) still verifies and reads
run "$PYTHON" - "$TMP/c.h5" "$TMP/old.h5" <<'PY'
import sys, h5py
src, dst = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "w")
for k, v in src.attrs.items():
    dst.attrs[k] = v
def copy(name, o):
    if isinstance(o, h5py.Group):
        g = dst.require_group(name)
        for k, v in o.attrs.items():
            g.attrs[k] = v
    else:
        d = dst.create_dataset(name, data=o[...])  # contiguous, no filters
        for k, v in o.attrs.items():
            d.attrs[k] = v
src.visititems(copy)
PY
is "$RC" 0 "the captures rewritten contiguous, without checksums"
run "$HEIMDALL" verify "$TMP/old.h5"
is "$RC" 0 "it verifies"
like "$OUT" "data intact: 0 chunks of 0 chunked datasets read \(0 with checksums\); [1-9][0-9]* contiguous \(no checksum\) read whole" "saying it has no checksums"
run "$HEIMDALL" featurize -q -c "$cfg" -o "$TMP/f5.h5" "$TMP/old.h5"
is "$RC" 0 "and featurizes"
done_testing
