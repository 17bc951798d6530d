#!/usr/bin/env bash
# evaluate in flat memory (issue 20): each block of events is scored and
# written to eval.h5 while its solutions exist, and only a small row an
# event (hd_eval_row, 72 bytes) is kept for the summary's percentiles, not
# the solution with its per-receiver arrays (about 3.3 KB an event, which
# made 10^8 events impossible). Shown by the peak resident memory eval.h5
# records (run_peak_rss_mb, before the inputs are hashed) at 1,000 and
# 11,000 events: it may grow by at most 1 KiB an event between them.
# Short captures (2 ms) time no pair, but their levels locate most events
# by hybrid's RSS part: scored, bounds and all.
. "$(dirname "$0")/lib.sh"
if grep -q __asan_init "$HEIMDALL" 2>/dev/null; then
    skip_all "a sanitizer build: its quarantine keeps freed memory, the resident size says nothing of what is kept"
fi
SET=(--set collect.duration_s=0.002 --set collect.simulate.receivers.start_jitter_ms=1 --set collect.interval_s=1
     --set evaluate.plots=false)
for n in 1000 11000; do
    run "$HEIMDALL" collect -q "${SET[@]}" --set collect.events=$n -o "$TMP/c$n.h5"
    is "$RC" 0 "collect $n events (2 ms captures)"
    run "$HEIMDALL" featurize -q "${SET[@]}" -o "$TMP/f$n.h5" "$TMP/c$n.h5"
    is "$RC" 0 "featurize them"
    rm -f "$TMP/c$n.h5"
    run "$HEIMDALL" evaluate -q "${SET[@]}" --method hybrid -o "$TMP/e$n.h5" "$TMP/f$n.h5"
    is "$RC" 0 "evaluate them"
done
pycheck - "$TMP/e1000.h5" "$TMP/e11000.h5" <<'PY'
import sys, h5py
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
def ok(c, name): print(("ok" if c else "not ok"), "-", name)
ok(a.attrs["n"] == 1000 and b.attrs["n"] == 11000 and len(b["error_m"]) == 11000 and len(b["cov_enu_m2"]) == 11000,
   "every event scored and written (n, /error_m, /cov_enu_m2)")
ok(b.attrs["located"] > 5000 and (b["crlb_m"][:] > 0).sum() > 5000, "most of them located and bounded at the truth (%d)" % b.attrs["located"])
ra, rb = float(a.attrs["run_peak_rss_mb"]), float(b.attrs["run_peak_rss_mb"])
per = (rb - ra) * 1048576 / 10000
ok(per <= 1024, "peak RSS %.1f MiB at 1,000 events, %.1f MiB at 11,000: %.0f bytes an event (at most 1024)" % (ra, rb, per))
PY
done_testing
