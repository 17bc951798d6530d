# TAP helpers for the CLI tests (bash). Source it, then call the checks;
# finish with done_testing. HEIMDALL (the binary under test) and PYTHON come
# from `make check`; by default the build tree's binary and Debian's python.
set -u
HEIMDALL=${HEIMDALL:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/heimdall}
PYTHON=${PYTHON:-/usr/bin/python3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0}
_tap_n=0
_tap_failed=0
TMP=$(mktemp -d "${TMPDIR:-/tmp}/heimdall-test.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

ok() { # ok COND_STATUS NAME  (status 0 = pass)
    _tap_n=$((_tap_n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $_tap_n - $2"; else
        echo "not ok $_tap_n - $2"
        case "$2" in *"# TODO"*) ;; *) _tap_failed=$((_tap_failed + 1)) ;; esac # a TODO test's failure is reported, not counted
    fi
}
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
is() { # is GOT WANT NAME; returns 1 when it fails (is ... || diag MORE)
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got: '$1'" "expected: '$2'"; return 1; fi
}
isnt() { # isnt GOT UNWANTED NAME
    if [ "$1" != "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got: '$1'" "expected anything else"; fi
}
like() { # like TEXT REGEX NAME
    if printf '%s' "$1" | grep -Eq -- "$2"; then ok 0 "$3"; else ok 1 "$3"; diag "text: $1" "does not match: $2"; fi
}
unlike() {
    if printf '%s' "$1" | grep -Eq -- "$2"; then ok 1 "$3"; diag "text: $1" "matches: $2"; else ok 0 "$3"; fi
}
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
skip() { # skip N REASON: N tests passed over, counted as such
    local i; for ((i = 0; i < $1; i++)); do _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # skip $2"; done; }
done_testing() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; exit $?; }

# run CMD...: sets OUT (stdout), ERR (stderr), RC
run() {
    OUT=$("$@" 2>"$TMP/.stderr"); RC=$?
    ERR=$(cat "$TMP/.stderr")
}

# pycheck SCRIPT ARGS...: a Python check printing "ok - …" / "not ok - …" lines
pycheck() {
    local out rc line
    out=$("$PYTHON" "$@" 2>&1); rc=$?
    while IFS= read -r line; do
        case "$line" in
            "ok - "*) ok 0 "${line#ok - }" ;;
            "not ok - "*) ok 1 "${line#not ok - }" ;;
            *) [ -n "$line" ] && diag "$line" ;;
        esac
    done <<<"$out"
    ok $rc "python check $(basename "$1") ran to the end"
}
