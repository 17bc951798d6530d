#!/usr/bin/env bash
# make check's own reporting: tests/logged keeps each test's output and
# status, and tests/failures prints, after a failing run, the failing
# tests' "not ok" lines with their diagnostics and the end of their
# standard error (CI shows only the tail of what make check prints).
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/t"
cat >"$TMP/t/bad.t" <<'T'
#!/usr/bin/env bash
echo "1..3"
echo "ok 1 - fine"
echo "not ok 2 - the statuses"
echo "# got: '[1, 0, 6]'"
echo "# expected: '[1, 0, 2]'"
echo "collect said: receiver 3 disconnected" >&2
echo "ok 3 - also fine"
exit 1
T
cat >"$TMP/t/good.t" <<'T'
#!/usr/bin/env bash
echo "1..1"
echo "ok 1 - fine"
T
printf '#!/usr/bin/env bash\necho "1..2"\necho "ok 1 - first"\nkill -SEGV $$\n' >"$TMP/t/crash.t"
chmod +x "$TMP/t/"*.t
logs="$TMP/logs"
(cd "$TMP/t" && TEST_LOGS="$logs" prove --exec "$ROOT/tests/logged" bad.t good.t crash.t >"$TMP/prove.out" 2>&1)
isnt "$?" 0 "prove fails through tests/logged"
[ -s "$logs/bad.t.out" ] && [ -s "$logs/good.t.out" ]; ok $? "each test's output kept"
is "$(cat "$logs/bad.t.rc") $(cat "$logs/good.t.rc")" "1 0" "and its exit status"
like "$(cat "$TMP/prove.out")" "Failed test: +2" "prove still parses the TAP (bad.t: test 2)"
run "$ROOT/tests/failures" "$logs"
like "$OUT" "== bad.t \(exit 1\)" "the failing test named with its status"
like "$OUT" "not ok 2 - the statuses" "its not ok line"
like "$OUT" "# got: '\[1, 0, 6\]'" "its diagnostics"
like "$OUT" "collect said: receiver 3 disconnected" "the end of its standard error"
like "$OUT" "== crash.t \(exit 1[0-9][0-9]\)" "a test killed by a signal"
unlike "$OUT" "good.t" "a passing test not shown"
run "$ROOT/tests/failures" "$TMP/nothing"
like "$OUT" "no failing test's log found" "no logs: said so"
done_testing
