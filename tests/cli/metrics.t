#!/usr/bin/env bash
# Run metrics: every output records wall time, events/s, peak memory and
# per-rank times; --metrics FILE appends one JSON line per run.
. "$(dirname "$0")/lib.sh"

cfg="$ROOT/configs/smoke.yaml"
m="$TMP/metrics.jsonl"
run "$HEIMDALL" collect -q -c "$cfg" --metrics "$m" -o "$TMP/c.h5"
is "$RC" 0 "collect with --metrics"
ranks=1
if command -v mpirun >/dev/null; then
    run mpirun --oversubscribe -np 2 "$HEIMDALL" featurize -q -c "$cfg" --metrics "$m" -o "$TMP/f.h5" "$TMP/c.h5"
    ranks=2
else
    run "$HEIMDALL" featurize -q -c "$cfg" --metrics "$m" -o "$TMP/f.h5" "$TMP/c.h5"
fi
is "$RC" 0 "featurize with --metrics on $ranks rank(s)"
run "$HEIMDALL" evaluate -q -c "$cfg" --set evaluate.plots=false --metrics "$m" -o "$TMP/e.h5" "$TMP/f.h5"
is "$RC" 0 "evaluate with --metrics"
is "$(wc -l < "$m" | tr -d ' ')" 3 "one JSON line per run"
run "$PYTHON" - "$m" "$TMP/f.h5" "$ranks" <<'PY'
import json, sys, h5py
lines = [json.loads(l) for l in open(sys.argv[1])]
assert [l["command"] for l in lines] == ["collect", "featurize", "evaluate"], lines
ranks = int(sys.argv[3])
for l in lines:
    for k in ("time", "output", "status", "wall_s", "events", "events_per_s", "peak_rss_mb", "ranks", "rank_wall_s"):
        assert k in l, k
    assert l["status"] == 0 and l["events"] == 6 and l["wall_s"] > 0 and l["peak_rss_mb"] > 1
assert lines[1]["ranks"] == ranks and len(lines[1]["rank_wall_s"]) == ranks
f = h5py.File(sys.argv[2], "r")
a = f.attrs
assert a["run_events"] == 6 and a["run_ranks"] == ranks and len(a["run_rank_wall_s"]) == ranks
assert a["run_wall_s"] > 0 and a["run_events_per_s"] > 0 and a["run_peak_rss_mb"] > 1
PY
is "$RC" 0 "lines and the output's run_* attributes"
[ "$RC" -eq 0 ] || diag "$ERR"
run "$HEIMDALL" collect -q -c "$cfg" -o "$TMP/c2.h5" --metrics
is "$RC" 2 "--metrics without a file is a usage error"
like "$ERR" "option --metrics needs a value" "and says so"
run "$HEIMDALL" collect -q -c "$cfg" --metrics /nonexistent/dir/m.jsonl -o "$TMP/c3.h5"
is "$RC" 0 "an unwritable metrics file does not undo the run"
like "$ERR" "cannot append to the metrics file" "but is reported"
[ -s "$TMP/c3.h5" ]; ok $? "and the output is there"
done_testing
