#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run.sh - ueip benchmarks: print figures, never pass/fail.
#
# Usage: bash bench/run.sh [BUILD_DIR] [--big] [--no-kea] [--no-pin]
#            [--conns N] [--depth N] [--total N] [--kea-seconds N]
#            [--big-sessions N]
#
#   BUILD_DIR   meson build dir (default build-release; relative to the repo
#               root unless it exists as given). Make it with
#               meson setup build-release -Dbuildtype=release && ninja -C build-release
#
# Runs, in order:
#   1. alloc_bench (the allocator alone).
#   2. one ueipd (single-member set, store on disk, quarantine 0, pool
#      100.64.0.0/10 chunk 256) driven by ueip_loadgen: durable creates/s,
#      p50/p99, ueipd CPU per create, creates per store commit; then a shorter
#      create-release run. ueipd and the load generator are pinned to CPU 0
#      and 1 like kea_bench.sh pins Kea and perfdhcp (--no-pin: not pinned).
#   3. bench/kea/kea_bench.sh --seconds N (root only) and ueipd_vs_kea_ratio.
#   4. with --big: a 4-member set with --big-sessions sessions (default 1M)
#      spread over the members; SIGKILL + restart of one member (time to
#      serve again, recovery round duration); membership 4 -> 5 (moved chunks,
#      hand-off duration); a single member holding --big-sessions sessions:
#      SIGKILL + restart, time to active.
#
# Figures are "name value" lines; everything else starts with "# ".
# The temp dir (under /var/tmp, on disk) and every process started here are
# removed on exit, also on error or Ctrl-C.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_ARG=build-release
BIG=0
PIN=1
KEA=1
CONNS=64
DEPTH=8
TOTAL=200000
RELEASE_TOTAL=50000
KEA_SECONDS=10
BIG_SESSIONS=1000000
BIG_MEMBERS=4

usage() { sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
die() { echo "run.sh: $*" >&2; exit 1; }
note() { echo "# $*"; }
figure() { printf '%s %s\n' "$1" "$2"; }

positional=0
while [ $# -gt 0 ]; do
    case "$1" in
        --big) BIG=1; shift ;;
        --no-kea) KEA=0; shift ;;
        --no-pin) PIN=0; shift ;;
        --conns) CONNS="${2:?}"; shift 2 ;;
        --depth) DEPTH="${2:?}"; shift 2 ;;
        --total) TOTAL="${2:?}"; shift 2 ;;
        --kea-seconds) KEA_SECONDS="${2:?}"; shift 2 ;;
        --big-sessions) BIG_SESSIONS="${2:?}"; shift 2 ;;
        -h|--help) usage ;;
        -*) echo "run.sh: unknown option $1" >&2; usage ;;
        *) [ "$positional" -eq 0 ] || usage; BUILD_ARG="$1"; positional=1; shift ;;
    esac
done
for v in CONNS DEPTH TOTAL KEA_SECONDS BIG_SESSIONS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer"
done

if [ -d "$BUILD_ARG" ]; then BUILD="$(cd "$BUILD_ARG" && pwd)"
elif [ -d "$ROOT/$BUILD_ARG" ]; then BUILD="$ROOT/$BUILD_ARG"
else die "no build dir $BUILD_ARG (meson setup $BUILD_ARG -Dbuildtype=release && ninja -C $BUILD_ARG)"
fi
UEIPD="$BUILD/src/daemon/ueipd"
UEIPCTL="$BUILD/src/cli/ueipctl"
ALLOC_BENCH="$BUILD/bench/alloc_bench"
LOADGEN="$BUILD/bench/ueip_loadgen"
for b in "$UEIPD" "$UEIPCTL" "$ALLOC_BENCH" "$LOADGEN"; do
    [ -x "$b" ] || die "$b missing: run ninja -C $BUILD"
done
command -v python3 >/dev/null || die "python3 is needed to read JSON answers"

NCPU="$(nproc)"
if [ "$PIN" -eq 1 ] && { [ "$NCPU" -lt 2 ] || ! command -v taskset >/dev/null; }; then PIN=0; fi
DAEMON_CPU=(); LOAD_CPU=()
if [ "$PIN" -eq 1 ]; then DAEMON_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); fi

# ---- temp dir on disk, and cleanup of everything we start --------------------
TMP=""
for base in /var/tmp /work; do
    if [ ! -d "$base" ] || [ ! -w "$base" ]; then continue; fi
    [ "$(stat -f -c %T "$base")" != tmpfs ] || continue
    TMP="$(mktemp -d "$base/ueip-bench.XXXXXX")" && break
done
[ -n "$TMP" ] || die "no writable non-tmpfs dir for the store (tried /var/tmp, /work)"

declare -A PID=() PORT=() MPORT=() MDIR=() START_US=()
BG_PIDS=()

stop_pid() {  # pid: TERM, wait up to 10 s, then KILL
    local p="$1"
    kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    for p in "${BG_PIDS[@]}"; do stop_pid "$p"; done
    for id in "${!PID[@]}"; do [ -z "${PID[$id]}" ] || stop_pid "${PID[$id]}"; done
    if [ -n "${UEIP_BENCH_KEEP:-}" ]; then echo "# kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now_us() { echo "${EPOCHREALTIME/./}"; }
ms_since() { echo $(( ($(now_us) - $1) / 1000 )); }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# jget PATH < json: print one field ("a.b.c"), numbers as they are.
jget() {
    python3 -c '
import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    d = d[int(k)] if isinstance(d, list) else d[k]
print(json.dumps(d) if isinstance(d, (dict, list, bool)) else d)' "$1"
}

cpu_ticks() {  # utime+stime of a pid, in clock ticks
    local s
    s="$(cat /proc/"$1"/stat)"
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    echo $(( ${12} + ${13} ))
}
CLK_TCK="$(getconf CLK_TCK)"
# Machine-wide busy ticks (all but idle and iowait), to show foreign load.
sys_busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }

# foreign_load busy_ticks ueipd_ticks loadgen_cpu_s wall_s: cores used by
# everything else (other processes, softirq) while we measured.
foreign_load() {
    awk -v b="$1" -v u="$2" -v l="$3" -v w="$4" -v hz="$CLK_TCK" \
        'BEGIN { f = (b - u) / hz - l; if (f < 0) f = 0; printf "%.2f", f / w }'
}

metric() {  # member name: value of an unlabelled metric, or "n/a"
    local v=""
    if command -v curl >/dev/null; then
        v="$(curl -s --max-time 5 "http://127.0.0.1:${MPORT[$1]}/metrics" | awk -v n="$2" '$1 == n { print $2; exit }')" || true
    fi
    echo "${v:-n/a}"
}

# ---- members ----------------------------------------------------------------
KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff

member_new() {  # id
    local id="$1"
    MDIR[$id]="$TMP/$id"
    PORT[$id]="$(free_port)"
    MPORT[$id]="$(free_port)"
    PID[$id]=""
    mkdir -p "${MDIR[$id]}"
}

# member_config id epoch member...
member_config() {
    local id="$1" epoch="$2" m
    shift 2
    {
        echo "set:"
        echo "  id: bench"
        echo "  member: $id"
        echo "  epoch: $epoch"
        echo "  key: $KEY"
        echo "  recovery_timeout_ms: 3000"
        echo "  members:"
        for m in "$@"; do echo "    - { id: $m, address: 127.0.0.1:${PORT[$m]} }"; done
        echo "chunk_size: 256"
        echo "quarantine_seconds: 0"
        echo "pools:"
        echo "  - { name: inet4, dnn: internet, ipv4: 100.64.0.0/10 }"
        echo "  - { name: inet6, dnn: internet, ipv6: \"2001:db8::/32\", delegated_length: 64 }"
        echo "store:"
        echo "  path: ${MDIR[$id]}/store.db"
        echo "control:"
        echo "  socket: ${MDIR[$id]}/ctl.sock"
        echo "metrics:"
        echo "  address: 127.0.0.1:${MPORT[$id]}"
        echo "log:"
        echo "  level: warn"
    } >"${MDIR[$id]}/ueipd.yaml"
}

sock() { echo "${MDIR[$1]}/ctl.sock"; }

ctl() {  # id command [ueipctl args...]: the answer as JSON
    local id="$1"; shift
    "$UEIPCTL" -s "$(sock "$id")" --json --timeout 30 "$@"
}

member_start() {  # id [cpu-prefix...]
    local id="$1"; shift
    rm -f "$(sock "$id")"
    START_US[$id]="$(now_us)"
    "$@" "$UEIPD" -c "${MDIR[$id]}/ueipd.yaml" >>"${MDIR[$id]}/ueipd.log" 2>&1 &
    PID[$id]=$!
}

# member_wait id what timeout_s: poll set-status every 5 ms until `what`
# (up = the socket answers, active = state active); prints ms since exec.
member_wait() {
    local id="$1" what="$2" timeout="$3" out deadline
    deadline=$(( $(now_us) + timeout * 1000000 ))
    while :; do
        if ! kill -0 "${PID[$id]}" 2>/dev/null; then
            tail -n 20 "${MDIR[$id]}/ueipd.log" >&2
            die "$id exited while waiting for it to be $what"
        fi
        if [ -S "$(sock "$id")" ] &&
           out="$("$UEIPCTL" -s "$(sock "$id")" --json --timeout 2 set-status 2>/dev/null)"; then
            if [ "$what" = up ] || [[ "$out" =~ \"state\":\ *\"active\" ]]; then
                ms_since "${START_US[$id]}"
                return 0
            fi
        fi
        [ "$(now_us)" -lt "$deadline" ] || die "$id not $what after ${timeout}s"
        sleep 0.005
    done
}

member_kill() {  # SIGKILL, reap
    local id="$1"
    kill -KILL "${PID[$id]}" 2>/dev/null || true
    wait "${PID[$id]}" 2>/dev/null || true
    PID[$id]=""
}

member_stop() {
    local id="$1"
    [ -z "${PID[$id]}" ] || stop_pid "${PID[$id]}"
    PID[$id]=""
}

# Every given member active, no hand-off, outbox or recovery outstanding.
set_settle() {  # timeout_s id...
    local timeout="$1" deadline id out ok
    shift
    deadline=$(( $(now_us) + timeout * 1000000 ))
    while :; do
        ok=1
        for id in "$@"; do
            out="$(ctl "$id" set-status 2>/dev/null)" || { ok=0; break; }
            if ! python3 -c '
import json, sys
a = json.load(sys.stdin)["arguments"]
sys.exit(0 if a["state"] == "active" and not a["handoff"]["active"] and not a["outbox"]
         and not a["recovery"]["running"] else 1)' <<<"$out"; then
                ok=0; break
            fi
        done
        [ "$ok" -eq 0 ] || return 0
        [ "$(now_us)" -lt "$deadline" ] || die "the set did not settle within ${timeout}s"
        sleep 0.1
    done
}

# loadgen id outfile [loadgen args...]: run it, print its output with a prefix.
run_loadgen() {
    local id="$1" out="$2"; shift 2
    local rc=0
    "${LOAD_CPU[@]}" "$LOADGEN" -s "$(sock "$id")" --timeout 900 "$@" >"$out" 2>"$out.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$out" "$out.err" >&2
        die "ueip_loadgen against $id failed (exit $rc)"
    fi
}
lg() { awk -v n="$2" '$1 == n { print $2; exit }' "$1"; }

# ---- machine ----------------------------------------------------------------
note "ueip benchmarks, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
note "machine: nproc=$NCPU, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)," \
     "kernel $(uname -r), $(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
note "store dir: $TMP ($(stat -f -c %T "$TMP"), $(df -P "$TMP" | awk 'NR == 2 { print $1 }'))"
note "build: $BUILD ($(grep -m1 -o "buildtype=[a-z]*" "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null ||
        python3 -c 'import json,sys; print(next("buildtype=" + o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "buildtype"))' \
        "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo '?'))"
note "pinning: $([ "$PIN" -eq 1 ] && echo 'ueipd on CPU 0, load generator on CPU 1' || echo none)"
figure bench_nproc "$NCPU"

# ---- 1. allocator -----------------------------------------------------------
note ""
note "== 1. allocator: $ALLOC_BENCH"
"$ALLOC_BENCH"

# ---- 2. one ueipd under load --------------------------------------------------
note ""
note "== 2. one ueipd (single-member set), durable creates over the control socket"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
member_new solo
member_config solo 1 solo
member_start solo "${DAEMON_CPU[@]}"
member_wait solo active 30 >/dev/null
C0="$(cpu_ticks "${PID[solo]}")"; K0="$(metric solo ueip_store_commits_total)"; S0="$(sys_busy_ticks)"
note "command: ${LOAD_CPU[*]} $LOADGEN -s $(sock solo) -c $CONNS -d $DEPTH -n $TOTAL --op create --prefix 1"
run_loadgen solo "$TMP/lg-create" -c "$CONNS" -d "$DEPTH" -n "$TOTAL" --op create --prefix 1
C1="$(cpu_ticks "${PID[solo]}")"; K1="$(metric solo ueip_store_commits_total)"; S1="$(sys_busy_ticks)"
sed 's/^/ueipd_/' "$TMP/lg-create"
UEIPD_CPS="$(lg "$TMP/lg-create" creates_per_sec)"
figure ueipd_busy_share "$(awk -v t=$((C1 - C0)) -v hz="$CLK_TCK" -v w="$(lg "$TMP/lg-create" elapsed_s)" 'BEGIN { printf "%.2f", t / hz / w }')"
FOREIGN="$(foreign_load $((S1 - S0)) $((C1 - C0)) "$(lg "$TMP/lg-create" loadgen_cpu_s)" "$(lg "$TMP/lg-create" elapsed_s)")"
figure foreign_cpu_cores "$FOREIGN"
if awk -v c="$FOREIGN" 'BEGIN { exit !(c > 0.25) }'; then
    note "WARNING: other processes used $FOREIGN of $NCPU cores during the run; figures are likely depressed"
fi
UEIPD_CPU_US="$(awk -v t=$((C1 - C0)) -v hz="$CLK_TCK" -v n="$TOTAL" 'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"
figure ueipd_cpu_us_per_create "$UEIPD_CPU_US"
if [ "$K0" != n/a ] && [ "$K1" != n/a ]; then
    figure ueipd_store_commits "$((K1 - K0))"
    figure ueipd_creates_per_commit "$(awk -v c=$((K1 - K0)) -v n="$TOTAL" 'BEGIN { printf "%.1f", c ? n / c : 0 }')"
fi

note "command: ${LOAD_CPU[*]} $LOADGEN -s $(sock solo) -c $CONNS -d $DEPTH -n $RELEASE_TOTAL --op create-release --prefix 2"
run_loadgen solo "$TMP/lg-cr" -c "$CONNS" -d "$DEPTH" -n "$RELEASE_TOTAL" --op create-release --prefix 2
sed 's/^/ueipd_create_release_/' "$TMP/lg-cr"

note "command: ${LOAD_CPU[*]} $LOADGEN -s $(sock solo) -c 1 -d 1 -n 5000 --op create --prefix 3   (one request at a time)"
run_loadgen solo "$TMP/lg-serial" -c 1 -d 1 -n 5000 --op create --prefix 3
sed 's/^/ueipd_serial_/' "$TMP/lg-serial"
figure ueipd_store_bytes "$(du -cb "${MDIR[solo]}"/store.db* | awk 'END { print $1 }')"
member_stop solo
rm -rf "${MDIR[solo]}"

# ---- 3. Kea baseline ----------------------------------------------------------
note ""
note "== 3. Kea DHCPv4 baseline"
KEA_SH="$ROOT/bench/kea/kea_bench.sh"
if [ "$KEA" -eq 0 ]; then
    note "skipped (--no-kea)"
elif [ ! -f "$KEA_SH" ]; then
    note "skipped: $KEA_SH not present"
elif [ "$(id -u)" -ne 0 ]; then
    note "skipped: kea_bench.sh needs root"
else
    note "command: bash $KEA_SH --seconds $KEA_SECONDS"
    if bash "$KEA_SH" --seconds "$KEA_SECONDS" >"$TMP/kea.out" 2>"$TMP/kea.err"; then
        sed 's/^/# kea: /' "$TMP/kea.err"
        cat "$TMP/kea.out"
        KEA_LPS="$(lg "$TMP/kea.out" kea_leases_per_sec)"
        if [ -n "$KEA_LPS" ]; then
            figure ueipd_vs_kea_ratio "$(awk -v u="$UEIPD_CPS" -v k="$KEA_LPS" 'BEGIN { printf "%.2f", u / k }')"
            note "ratio = ueipd durable creates/s (fsync per batch) / Kea leases/s (memfile, no fsync)"
        fi
        KEA_CPU="$(lg "$TMP/kea.out" kea_cpu_us_per_lease)"
        if [ -n "$KEA_CPU" ]; then
            figure ueipd_vs_kea_cpu_ratio "$(awk -v u="$UEIPD_CPU_US" -v k="$KEA_CPU" 'BEGIN { printf "%.2f", k / u }')"
            note "cpu ratio = Kea CPU us per lease / ueipd CPU us per create (less sensitive to foreign load)"
        fi
    else
        note "kea_bench.sh failed (exit $?):"
        sed 's/^/# kea: /' "$TMP/kea.err" "$TMP/kea.out"
    fi
fi

[ "$BIG" -eq 1 ] || { note ""; note "(--big not given: recovery and membership benchmarks skipped)"; exit 0; }

# ---- 4. big: recovery and membership with many sessions ---------------------------
note ""
note "== 4a. $BIG_MEMBERS-member set, $BIG_SESSIONS sessions created through the members' control sockets"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
IDS=()
for i in $(seq 1 "$BIG_MEMBERS"); do IDS+=("smf$i"); member_new "smf$i"; done
for id in "${IDS[@]}"; do member_config "$id" 1 "${IDS[@]}"; done
for id in "${IDS[@]}"; do member_start "$id"; done
for id in "${IDS[@]}"; do member_wait "$id" active 60 >/dev/null; done
PER=$(( BIG_SESSIONS / BIG_MEMBERS ))
T0="$(now_us)"
LG_PIDS=()
n=0
for id in "${IDS[@]}"; do
    n=$((n + 1))
    note "command: $LOADGEN -s $(sock "$id") -c 16 -d 8 -n $PER --op create --prefix 4$n  (all $BIG_MEMBERS at once)"
    "$LOADGEN" -s "$(sock "$id")" --timeout 900 -c 16 -d 8 -n "$PER" --op create --prefix "4$n" \
        >"$TMP/lg-big-$id" 2>"$TMP/lg-big-$id.err" &
    LG_PIDS+=($!); BG_PIDS+=($!)
done
for p in "${LG_PIDS[@]}"; do
    wait "$p" || { cat "$TMP"/lg-big-*.err >&2; die "a loadgen of the $BIG_MEMBERS-member set failed"; }
done
BG_PIDS=()
LOAD_MS="$(ms_since "$T0")"
FAILS=0
for id in "${IDS[@]}"; do
    figure "set_load_creates_per_sec{member=\"$id\"}" "$(lg "$TMP/lg-big-$id" creates_per_sec)"
    figure "set_load_latency_p99_us{member=\"$id\"}" "$(lg "$TMP/lg-big-$id" latency_p99_us)"
    FAILS=$(( FAILS + $(lg "$TMP/lg-big-$id" failures) ))
done
figure set_load_sessions "$((PER * BIG_MEMBERS))"
figure set_load_failures "$FAILS"
figure set_load_creates_per_sec_total "$(awk -v n=$((PER * BIG_MEMBERS)) -v ms="$LOAD_MS" 'BEGIN { printf "%.0f", n * 1000 / ms }')"
set_settle 120 "${IDS[@]}"

VICTIM=smf2
note ""
note "== 4b. SIGKILL $VICTIM ($(ctl "$VICTIM" set-status | jget arguments.sessions) sessions) and restart it"
member_kill "$VICTIM"
member_start "$VICTIM"
UP_MS="$(member_wait "$VICTIM" up 300)"
ACTIVE_MS="$(member_wait "$VICTIM" active 300)"
ST="$(ctl "$VICTIM" set-status)"
figure recovery_socket_up_ms "$UP_MS"
figure recovery_serves_again_ms "$ACTIVE_MS"
figure recovery_round_ms "$(jget arguments.recovery.last-duration-ms <<<"$ST")"
figure recovery_complete "$(jget arguments.recovery.last-complete <<<"$ST")"
figure recovery_sessions "$(jget arguments.sessions <<<"$ST")"
set_settle 120 "${IDS[@]}"

note ""
note "== 4c. membership $BIG_MEMBERS -> $((BIG_MEMBERS + 1)) with $((PER * BIG_MEMBERS)) sessions"
NEW="smf$((BIG_MEMBERS + 1))"
member_new "$NEW"
ALL=("${IDS[@]}" "$NEW")
for id in "${ALL[@]}"; do member_config "$id" 2 "${ALL[@]}"; done   # for restarts; running members learn by set-members
member_start "$NEW"
member_wait "$NEW" up 60 >/dev/null
MEMBERS_JSON="$(for id in "${ALL[@]}"; do printf '{"id":"%s","address":"127.0.0.1:%s"}\n' "$id" "${PORT[$id]}"; done |
    python3 -c 'import json,sys; print(json.dumps({"members": [json.loads(l) for l in sys.stdin]}))')"
note "command: $UEIPCTL -s $(sock smf1) --json --args '$MEMBERS_JSON' set-members"
T0="$(now_us)"
ANS="$(ctl smf1 --args "$MEMBERS_JSON" set-members)"
CALL_MS="$(ms_since "$T0")"
[ "$(jget result <<<"$ANS")" = 0 ] || { echo "$ANS" >&2; die "set-members failed"; }
set_settle 300 "${ALL[@]}"
SETTLE_MS="$(ms_since "$T0")"
figure handoff_moved_chunks "$(jget arguments.moved-chunks <<<"$ANS")"
figure handoff_total_chunks "$(jget arguments.total-chunks <<<"$ANS")"
figure handoff_moved_fraction "$(jget arguments.moved-fraction <<<"$ANS")"
figure handoff_set_members_call_ms "$CALL_MS"
figure handoff_settled_wall_ms "$SETTLE_MS"
MAXH=0
for id in "${ALL[@]}"; do
    ST="$(ctl "$id" set-status)"
    h="$(jget arguments.handoff.last-duration-ms <<<"$ST")"
    figure "handoff_last_duration_ms{member=\"$id\"}" "$h"
    figure "handoff_sessions{member=\"$id\"}" "$(jget arguments.sessions <<<"$ST")"
    figure "handoff_lent{member=\"$id\"}" "$(jget arguments.lent <<<"$ST")"
    [ "$h" -le "$MAXH" ] || MAXH="$h"
done
figure handoff_duration_ms_max "$MAXH"
for id in "${ALL[@]}"; do member_stop "$id"; rm -rf "${MDIR[$id]}"; done

note ""
note "== 4d. one member holding $BIG_SESSIONS sessions: SIGKILL, restart, time to active"
note "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
member_new big1
member_config big1 1 big1
member_start big1 "${DAEMON_CPU[@]}"
member_wait big1 active 60 >/dev/null
note "command: ${LOAD_CPU[*]} $LOADGEN -s $(sock big1) -c $CONNS -d $DEPTH -n $BIG_SESSIONS --op create --prefix 5"
run_loadgen big1 "$TMP/lg-big1" -c "$CONNS" -d "$DEPTH" -n "$BIG_SESSIONS" --op create --prefix 5
sed 's/^/single_fill_/' "$TMP/lg-big1"
figure single_store_bytes "$(du -cb "${MDIR[big1]}"/store.db* | awk 'END { print $1 }')"
figure single_rss_bytes "$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/"${PID[big1]}"/status)"
member_kill big1
member_start big1 "${DAEMON_CPU[@]}"
UP_MS="$(member_wait big1 up 300)"
ACTIVE_MS="$(member_wait big1 active 300)"
ST="$(ctl big1 set-status)"
figure single_restart_socket_up_ms "$UP_MS"
figure single_restart_active_ms "$ACTIVE_MS"
figure single_restart_sessions "$(jget arguments.sessions <<<"$ST")"
figure single_restart_rss_bytes "$(awk '/^VmRSS/ { print $2 * 1024 }' /proc/"${PID[big1]}"/status)"
member_stop big1
note "done"
