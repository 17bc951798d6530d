# Shared by bench/scale.sh and bench/scale_sparse.sh (sourced): one stage's
# cost and its line. Needs D (a scratch folder).

# scale_stage RANKS CMD...: "wall_s cpu_s peak_kib" of one run (GNU time;
# CPU is user + system summed over the ranks: what the events cost whatever
# else the machine runs, where the wall time also counts waiting for a core)
scale_stage() {
    local ranks=$1
    shift
    local pre=()
    [ "$ranks" -gt 1 ] && pre=(mpirun -np "$ranks")
    /usr/bin/time -f "%e %U %S %M" -o "$D/time" "${pre[@]}" "$@" >/dev/null 2>"$D/err" || { cat "$D/err" >&2; return 1; }
    awk '{ printf "%s %.2f %s\n", $1, $2 + $3, $4 }' "$D/time"
}

declare -A scale_base_t scale_base_c scale_base_m
# scale_line NAME KEY EVENTS "WALL CPU KIB" WHAT: the line, against the
# first size seen under KEY (time per event wall and CPU, peak RSS)
scale_line() {
    local name=$1 key=$2 n=$3 wall cpu kib
    read -r wall cpu kib <<<"$4"
    local us cus
    us=$(awk -v s="$wall" -v n="$n" 'BEGIN { printf "%.1f", s / n * 1e6 }')
    cus=$(awk -v s="$cpu" -v n="$n" 'BEGIN { printf "%.1f", s / n * 1e6 }')
    if [ -z "${scale_base_t[$key]:-}" ]; then
        scale_base_t[$key]=$us scale_base_c[$key]=$cus scale_base_m[$key]=$kib
    fi
    awk -v name="$name" -v n="$n" -v us="$us" -v cus="$cus" -v kib="$kib" -v bt="${scale_base_t[$key]}" \
        -v bc="${scale_base_c[$key]}" -v bm="${scale_base_m[$key]}" -v w="$5" \
        'BEGIN { printf "bench %s, %d events: %.1f us/event wall (x%.2f of the smallest), %.1f us/event CPU (x%.2f), peak RSS %.1f MiB (x%.2f)%s\n",
                 name, n, us, us / bt, cus, (bc > 0 ? cus / bc : 1), kib / 1024, kib / bm, w }'
}
