#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/pcp_bench.sh - PCP server benchmark: miniupnpd (the anchor) and ueipd,
# driven by bench/pcp_loadgen in a private network-namespace world. Figures,
# never pass/fail. docs/bench-pcp.md says how to read them.
#
# Usage: bash bench/pcp_bench.sh [BUILD_DIR] [--levels "100 1000 10000"]
#            [--duration S] [--window W] [--sources N] [--prefill-timeout S]
#            [--new-count N] [--no-miniupnpd] [--no-ueipd] [--no-pin] [--quick]
#
#   BUILD_DIR   meson build dir holding bench/pcp_loadgen (default build-release;
#               relative to the repo root unless it exists as given)
#   --levels    existing mappings to measure at (default "100 1000 10000")
#   --duration  seconds per measured cell (default 10)
#   --window    requests outstanding, closed loop (default 8)
#   --sources   client source addresses (default 100)
#   --prefill-timeout  seconds allowed to reach each level (default 1800); a
#               server that is slower is measured at the level it reached
#   --new-count fresh mappings per "new" cell (default: max(50, level/10));
#               they are deleted again ("delete" cell) so the level holds
#   --quick     --levels "100 1000" --duration 3 (a smoke run)
#
# Per server and level: prefill to the level (timed), then cells renew,
# announce, new, delete. Per cell: answered requests/s, latency p50/p99/max,
# server CPU per request (utime+stime of its pid from /proc), result codes,
# timeouts. miniupnpd runs on CPU 0, the load generator on CPU 1 (--no-pin:
# unpinned). Figures are "name value" lines; everything else starts with "# ".
# Needs root (namespaces). Everything started here is stopped on exit, and
# the namespaces are deleted, also on error or Ctrl-C.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_ARG=build-release
LEVELS="100 1000 10000"
DURATION=10
WINDOW=8
SOURCES=100
PER_SOURCE=1000
PREFILL_TIMEOUT=1800
NEW_COUNT=""
TIMEOUT_MS=60000           # 20x the slowest answer seen (miniupnpd, 10 k): measured, not retransmitted to
DO_MU=1
DO_UEIPD=1
PIN=1
MODES="renew announce new delete"

usage() { sed -n '6,21p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "pcp_bench.sh: $*" >&2; exit 1; }
note() { echo "# $*"; }
figure() { printf '%s %s\n' "$1" "$2"; }

positional=0
while [ $# -gt 0 ]; do
    case "$1" in
        --levels) LEVELS="${2:?}"; shift 2 ;;
        --duration) DURATION="${2:?}"; shift 2 ;;
        --window) WINDOW="${2:?}"; shift 2 ;;
        --sources) SOURCES="${2:?}"; shift 2 ;;
        --prefill-timeout) PREFILL_TIMEOUT="${2:?}"; shift 2 ;;
        --new-count) NEW_COUNT="${2:?}"; shift 2 ;;
        --no-miniupnpd) DO_MU=0; shift ;;
        --no-ueipd) DO_UEIPD=0; shift ;;
        --no-pin) PIN=0; shift ;;
        --quick) LEVELS="100 1000"; DURATION=3; shift ;;
        -h|--help) usage ;;
        -*) echo "pcp_bench.sh: unknown option $1" >&2; usage ;;
        *) [ "$positional" -eq 0 ] || usage; BUILD_ARG="$1"; positional=1; shift ;;
    esac
done
for v in DURATION WINDOW SOURCES PREFILL_TIMEOUT; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done
[ -z "$NEW_COUNT" ] || [[ "$NEW_COUNT" =~ ^[1-9][0-9]*$ ]] || die "--new-count must be a positive integer"
for l in $LEVELS; do [[ "$l" =~ ^[1-9][0-9]*$ ]] || die "levels must be positive integers"; done
[ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces)"
command -v python3 >/dev/null || die "python3 is needed"

if [ -d "$BUILD_ARG" ]; then BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [ -d "$ROOT/$BUILD_ARG" ]; then BUILD="$ROOT/$BUILD_ARG"
else die "no build dir $BUILD_ARG (meson setup $BUILD_ARG -Dbuildtype=release && ninja -C $BUILD_ARG)"
fi
LOADGEN="$BUILD/bench/pcp_loadgen"
[ -x "$LOADGEN" ] || die "$LOADGEN missing: run ninja -C $BUILD"

# shellcheck source=bench/miniupnpd/setup.sh
. "$ROOT/bench/miniupnpd/setup.sh"

NCPU="$(nproc)"
if [ "$PIN" -eq 1 ] && { [ "$NCPU" -lt 2 ] || ! command -v taskset >/dev/null; }; then PIN=0; fi
SERVER_CPU=(); LOAD_CPU=()
if [ "$PIN" -eq 1 ]; then SERVER_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

TMP="$(mktemp -d /var/tmp/ueip-pcp-bench.XXXXXX)"
UEIPD_PID=""

cleanup() {
    local rc=$?
    set +e
    mu_stop
    if [ -n "$UEIPD_PID" ]; then
        kill -TERM "$UEIPD_PID" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$UEIPD_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$UEIPD_PID" 2>/dev/null
        wait "$UEIPD_PID" 2>/dev/null
    fi
    world_down
    if [ -n "${UEIP_BENCH_KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { echo "${EPOCHREALTIME/./}"; }
CLK_TCK="$(getconf CLK_TCK)"
cpu_ticks() {  # utime+stime of a pid, in clock ticks
    local s
    s="$(cat /proc/"$1"/stat 2>/dev/null)" || { echo 0; return; }
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}
# On-CPU time of a pid in ns from /proc/PID/schedstat (what utime+stime count,
# in 10 ms ticks); empty when the kernel has no schedstat.
cpu_ns() { awk '{ print $1; exit }' /proc/"$1"/schedstat 2>/dev/null || true; }
sys_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
lg() { awk -v n="$2" '$1 == n { print $2; exit }' "$1"; }   # a figure of a loadgen output
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "" || v == "n/a") print "n/a"; else printf "%.*f", d, v }'; }

# Results: R[server|level|cell|field]; cells: prefill and the modes.
declare -A R=()

# ---- one run of the load generator, with the server's CPU ---------------------------------
# loadgen_cell SERVER PID LEVEL CELL OUT [loadgen args...]
loadgen_cell() {
    local server="$1" pid="$2" level="$3" cell="$4" out="$5"; shift 5
    local c0 c1 n0 n1 b0 b1 t0 t1 rc=0 answered ticks cpu_s wall lcpu key="$server|$level|$cell"
    note "command: ip netns exec $W_NS_CL ${LOAD_CPU[*]} $LOADGEN $*"
    c0="$(cpu_ticks "$pid")"; n0="$(cpu_ns "$pid")"; b0="$(sys_busy_ticks)"; t0="$(now_us)"
    ip netns exec "$W_NS_CL" "${LOAD_CPU[@]}" "$LOADGEN" "$@" >"$out" 2>"$out.err" || rc=$?
    c1="$(cpu_ticks "$pid")"; n1="$(cpu_ns "$pid")"; b1="$(sys_busy_ticks)"; t1="$(now_us)"
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
        cat "$out" "$out.err" >&2
        die "pcp_loadgen failed (exit $rc)"
    fi
    sed -n 's/^pcp_loadgen: /# loadgen: /p' "$out.err" | head -n 5
    kill -0 "$pid" 2>/dev/null || die "$server (pid $pid) died during $cell at $level"
    local p=""; [ "$cell" != prefill ] || p=prefill_
    answered="$(lg "$out" "${p}answered")"; answered="${answered:-0}"
    ticks=$((c1 - c0)); wall="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')"
    lcpu="$(lg "$out" loadgen_cpu_s)"
    R[$key|answered]="$answered"
    R[$key|per_sec]="$(lg "$out" "${p}answered_per_sec")"
    R[$key|p50_us]="$(lg "$out" "${p}latency_p50_us")"
    R[$key|p99_us]="$(lg "$out" "${p}latency_p99_us")"
    R[$key|max_us]="$(lg "$out" "${p}latency_max_us")"
    R[$key|timeouts]="$(lg "$out" "${p}timeouts")"
    R[$key|success]="$(lg "$out" "${p}result_success")"
    R[$key|elapsed_s]="$(lg "$out" "${p}elapsed_s")"
    R[$key|level_after]="$(lg "$out" mappings_level_after)"
    R[$key|level_reached]="$(lg "$out" mappings_level)"
    # Server CPU: schedstat's ns when there, else the ticks of utime+stime.
    if [ -n "$n0" ] && [ -n "$n1" ]; then
        cpu_s="$(awk -v a="$n0" -v b="$n1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')"
        R[$key|cpu_rough]=0
    else
        cpu_s="$(awk -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { printf "%.6f", t / hz }')"
        R[$key|cpu_rough]="$(awk -v s="$cpu_s" 'BEGIN { print (s < 0.5) ? 1 : 0 }')"
    fi
    R[$key|server_cpu_s]="$cpu_s"
    R[$key|cpu_us]="$(awk -v s="$cpu_s" -v n="$answered" \
        'BEGIN { if (n > 0) printf "%.1f", s * 1e6 / n; else print "n/a" }')"
    R[$key|cpu_us_stat]="$(awk -v t="$ticks" -v hz="$CLK_TCK" -v n="$answered" \
        'BEGIN { if (n > 0) printf "%.1f", t * 1e6 / hz / n; else print "n/a" }')"
    R[$key|foreign]="$(awk -v b=$((b1 - b0)) -v s="$cpu_s" -v l="${lcpu:-0}" -v w="$wall" -v hz="$CLK_TCK" \
        'BEGIN { f = b / hz - s - l; if (f < 0) f = 0; printf "%.2f", (w > 0 ? f / w : 0) }')"
    R[$key|results]="$(awk -v p="${p}result_" 'index($1, p) == 1 && $2 > 0 { sub(p, "", $1); printf "%s%s=%s", s, $1, $2; s = "," }' "$out")"
    local lab="{mappings=\"$level\"}"
    figure "${server}_${cell}_answered$lab" "$answered"
    figure "${server}_${cell}_answered_per_sec$lab" "${R[$key|per_sec]}"
    figure "${server}_${cell}_latency_p50_us$lab" "${R[$key|p50_us]}"
    figure "${server}_${cell}_latency_p99_us$lab" "${R[$key|p99_us]}"
    figure "${server}_${cell}_latency_max_us$lab" "${R[$key|max_us]}"
    figure "${server}_${cell}_cpu_us_per_request$lab" "${R[$key|cpu_us]}"
    figure "${server}_${cell}_cpu_us_per_request_stat$lab" "${R[$key|cpu_us_stat]}"
    figure "${server}_${cell}_server_cpu_s$lab" "${R[$key|server_cpu_s]}"
    figure "${server}_${cell}_timeouts$lab" "${R[$key|timeouts]}"
    figure "${server}_${cell}_foreign_cpu_cores$lab" "${R[$key|foreign]}"
    note "$server $cell at $level: results ${R[$key|results]:-none}"
    if awk -v c="${R[$key|foreign]}" 'BEGIN { exit !(c > 0.25) }'; then
        note "WARNING: other processes used ${R[$key|foreign]} cores during this cell; figures are depressed"
    fi
}

# ---- the levels, for one server -------------------------------------------------------------------
# bench_server NAME PID SOURCE_BASE: prefill to each level, then the cells.
# The server listens on $W_GW_ADDR:5351; the sources exist in $W_NS_CL.
bench_server() {
    local name="$1" pid="$2" base="$3" level cur=0 reached k new_end out
    local common=(--server "$W_GW_ADDR:5351" --sources "$SOURCES" --source-base "$base"
                  --mappings-per-source "$PER_SOURCE" --window "$WINDOW"
                  --timeout-ms "$TIMEOUT_MS" --retries 0 --protocol udp --ext-port unique)
    for level in $LEVELS; do
        note ""
        note "== $name: $level mappings"
        new_end="$cur"
        out="$TMP/$name-$level-prefill"
        if [ "$cur" -lt "$level" ]; then
            loadgen_cell "$name" "$pid" "$level" prefill "$out" "${common[@]}" \
                --existing "$cur" --prefill "$level" --prefill-timeout "$PREFILL_TIMEOUT" --mode none
            reached="$(lg "$out" mappings_level)"
            figure "${name}_prefill_wall_s{mappings=\"$level\"}" "$(lg "$out" prefill_wall_s)"
            figure "${name}_prefill_complete{mappings=\"$level\"}" "$(lg "$out" prefill_complete)"
            note "$name: mappings $cur -> $reached in $(lg "$out" prefill_wall_s) s" \
                 "(${R[$name|$level|prefill|per_sec]} creates/s, ${R[$name|$level|prefill|cpu_us]} us CPU each)"
            cur="$reached"
        fi
        R[$name|$level|reached]="$cur"
        figure "${name}_mappings{mappings=\"$level\"}" "$cur"
        if [ "$name" = miniupnpd ]; then
            figure "miniupnpd_dnat_rules{mappings=\"$level\"}" "$(mu_rules)"
        fi
        [ "$cur" -ge "$level" ] || note "$name: level $level not reached in ${PREFILL_TIMEOUT}s; measured at $cur"
        k="${NEW_COUNT:-$(( level / 10 > 50 ? level / 10 : 50 ))}"
        for mode in $MODES; do
            out="$TMP/$name-$level-$mode"
            case "$mode" in
                renew|announce)
                    loadgen_cell "$name" "$pid" "$level" "$mode" "$out" "${common[@]}" \
                        --existing "$cur" --mode "$mode" --duration "$DURATION" ;;
                new)
                    loadgen_cell "$name" "$pid" "$level" new "$out" "${common[@]}" \
                        --existing "$cur" --mode new --duration "$DURATION" --count "$k"
                    new_end="$(lg "$out" mappings_level_after)"
                    note "$name: new mappings [$cur, $new_end)" ;;
                delete)
                    [ "${new_end:-$cur}" -gt "$cur" ] || continue
                    loadgen_cell "$name" "$pid" "$level" delete "$out" "${common[@]}" \
                        --existing "$new_end" --first "$cur" --mode delete --duration 0 \
                        --count $((new_end - cur))
                    [ "$(lg "$out" mappings_level_after)" = "$cur" ] ||
                        note "$name: not every new mapping was deleted; the next level starts higher"
                    cur="$(lg "$out" mappings_level_after)" ;;
            esac
        done
    done
}

# ---- miniupnpd ----------------------------------------------------------------------------------
run_miniupnpd() {
    note ""
    note "== miniupnpd $("$MU_BIN" --version 2>/dev/null | head -n1 | cut -d' ' -f2) (nftables backend)," \
         "$SOURCES sources, window $WINDOW, ${DURATION}s per cell"
    world_up "m$$"
    world_add_sources 10.77.128.1 "$SOURCES" 10.77.128.0/17
    mkdir -p "$TMP/mu"
    mu_start "$TMP/mu" "${SERVER_CPU[@]}" || die "miniupnpd did not start"
    note "miniupnpd pid $MU_PID in $W_NS_GW, config $TMP/mu/miniupnpd.conf, external ${W_EXT_ADDR}"
    bench_server miniupnpd "$MU_PID" 10.77.128.1
    mu_stop
    world_down
}

# ---- ueipd --------------------------------------------------------------------------------------
# run_ueipd: the same cells against ueipd's PCP server, in a world of its own.
#
# TODO(issue 3, ueipd side): wire this once the public module answers PCP.
# What it needs, step by step (bench/run.sh shows how ueipd is configured,
# started and waited for):
#   1. world_up "u$$"  (the miniupnpd world is gone by then).
#   2. $TMP/ueipd/ueipd.yaml: a single-member set as in run.sh member_config
#      (quarantine_seconds: 0, chunk_size: 256), UE pool
#      { name: inet4, dnn: internet, ipv4: 100.64.0.0/10 }, store and control
#      socket under $TMP/ueipd, log level warn, and
#        public:
#          pcp: { address: "$W_GW_ADDR:5351" }
#          pools: [ { name: pub-a, ipv4: 11.99.0.0/24 } ]     # = miniupnpd's side
#          shared: { pool: pub-a, port_min: 1024, port_max: 65535 }
#          lifetime: { min: 120, max: 86400, default: 3600 }
#          quota: { dedicated: 1, ports: 65535 }   # >= mappings per source + new-count
#          rate: { per_ue: 10000000, burst: 10000000 }   # measure the server, not the limiter
#        dataplane: { backend: nft, table: ueip }        # miniupnpd programs nftables too
#   3. start ueipd in $W_NS_GW with "${SERVER_CPU[@]}", set UEIPD_PID (the
#      cleanup trap stops it), wait until the control socket answers.
#   4. one session per source, with its UE address given, so that the sources
#      are consecutive from 100.64.0.1:
#        for i in 0..SOURCES-1:
#          ueipctl -s SOCK session-create supi=imsi-0010$(printf %011d i) dnn=internet \
#              snssai=1 pdu=1 type=v4 address=<100.64.0.1 + i>
#      (authorization is by source address = the session's UE IP).
#   5. world_add_sources 100.64.0.1 "$SOURCES" 100.64.0.0/10   (adds the route back)
#   6. bench_server ueipd "$UEIPD_PID" 100.64.0.1
#   7. stop ueipd (TERM, wait), UEIPD_PID="", world_down.
# Levels above 64 k (e.g. 1 M = --sources 1000 x 1000) are for ueipd only:
# miniupnpd has one external address, hence at most 64 k port mappings.
run_ueipd() {
    note ""
    note "== ueipd: not measured yet: run_ueipd in bench/pcp_bench.sh is a TODO (sessions for the sources)"
    return 0
}

# ---- the table ----------------------------------------------------------------------------------
cell_text() {  # server level cell: "req/s p50 p99 cpu" columns, n/a when absent
    local k="$1|$2|$3"
    if [ -z "${R[$k|per_sec]:-}" ]; then printf '%9s %8s %8s %9s' n/a n/a n/a n/a; return; fi
    local cpu
    cpu="$(awk -v v="${R[$k|cpu_us]}" 'BEGIN { if (v == "n/a") print v; else printf (v < 100 ? "%.1f" : "%.0f"), v }')"
    [ "${R[$k|cpu_rough]}" = 0 ] || cpu="~$cpu"
    printf '%9s %8s %8s %9s' "$(fmt "${R[$k|per_sec]}" 0)" "$(fmt "$(awk -v v="${R[$k|p50_us]}" 'BEGIN { print v / 1000 }')" 2)" \
        "$(fmt "$(awk -v v="${R[$k|p99_us]}" 'BEGIN { print v / 1000 }')" 2)" "$cpu"
}

print_table() {
    local level cell both=0 u m
    note ""
    note "== PCP, closed loop, window $WINDOW, $SOURCES sources, ${DURATION}s per cell; latency in ms, CPU in us of server CPU per answered request"
    note "   provisional unless the foreign_cpu_cores figures above are ~0: the machine's 2 cores may be shared;"
    note "   CPU = the server's on-CPU time (/proc/PID/schedstat; ~ = from 10 ms stat ticks, under 0.5 s: rough)"
    printf '# %-9s %-8s | %-37s | %-37s | %s\n' "" "" miniupnpd ueipd "ueipd/miniupnpd"
    printf '# %-9s %-8s | %9s %8s %8s %9s | %9s %8s %8s %9s | %s\n' mappings cell \
        req/s "p50 ms" "p99 ms" "CPU us" req/s "p50 ms" "p99 ms" "CPU us" "req/s, CPU mu/ueipd"
    for level in $LEVELS; do
        for cell in prefill $MODES; do
            [ -n "${R[miniupnpd|$level|$cell|per_sec]:-}${R[ueipd|$level|$cell|per_sec]:-}" ] || continue
            local ratio="-"
            m="${R[miniupnpd|$level|$cell|per_sec]:-}"; u="${R[ueipd|$level|$cell|per_sec]:-}"
            if [ -n "$m" ] && [ -n "$u" ]; then
                both=1
                ratio="$(awk -v u="$u" -v m="$m" -v cu="${R[ueipd|$level|$cell|cpu_us]}" -v cm="${R[miniupnpd|$level|$cell|cpu_us]}" \
                    'BEGIN { r = m > 0 ? sprintf("%.1fx", u / m) : "n/a";
                             c = (cu > 0 && cm != "n/a") ? sprintf("%.1fx", cm / cu) : "n/a"; print r ", " c }')"
                figure "ueipd_vs_miniupnpd_${cell}_ratio{mappings=\"$level\"}" "$(awk -v u="$u" -v m="$m" 'BEGIN { printf "%.2f", (m > 0 ? u / m : 0) }')"
            fi
            printf '# %-9s %-8s | %s | %s | %s\n' "$level" "$cell" "$(cell_text miniupnpd "$level" "$cell")" \
                "$(cell_text ueipd "$level" "$cell")" "$ratio"
        done
        [ -z "${R[miniupnpd|$level|reached]:-}" ] || [ "${R[miniupnpd|$level|reached]}" -ge "$level" ] ||
            note "   (miniupnpd reached only ${R[miniupnpd|$level|reached]} mappings for this level)"
    done
    [ "$both" -eq 1 ] || note "   (ratios appear once both servers have figures)"
}

# ---- run -------------------------------------------------------------------------------------------
note "ueip PCP benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note "machine: nproc=$NCPU, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
     "kernel $(uname -r); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
note "loadgen: $LOADGEN; pinning: $([ "$PIN" -eq 1 ] && echo 'server on CPU 0, load generator on CPU 1' || echo none)"
note "levels: $LEVELS; cells: prefill $MODES; prefill timeout ${PREFILL_TIMEOUT}s per level"
figure pcp_bench_nproc "$NCPU"
if [ "$DO_MU" -eq 1 ]; then run_miniupnpd; fi
if [ "$DO_UEIPD" -eq 1 ]; then run_ueipd; fi
print_table
note "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
