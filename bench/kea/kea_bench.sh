#!/usr/bin/env bash
# kea_bench.sh - measure ISC Kea DHCPv4 (memfile) lease rate in a private
# network-namespace world, driven by perfdhcp.  See README.md beside this file.
#
# Usage: bench/kea/kea_bench.sh [--seconds N] [--rate R] [--clients C]
#          [--no-pin] [--perf-threads single|multi] [--log-severity SEV]
#          [--keep-tmp] [--verbose]          (as root)
#
# Final lines on stdout (parsable):
#   kea_leases_per_sec <float>
#   kea_cpu_us_per_lease <float>
#   kea_version <string>
# Everything else (diagnostics) goes to stderr.
set -euo pipefail

SECONDS_RUN=10      # perfdhcp -p: length of the load phase
RATE=30000          # perfdhcp -r: offered DORAs/s; Kea 2.2 tops out ~21k/s here
CLIENTS=1000000     # perfdhcp -R: distinct simulated client MACs
PIN=1               # kea-dhcp4 on CPU 0, perfdhcp on CPU 1 (else they fight)
PERF_THREADS=single # perfdhcp -g; 'multi' puts 2 threads on the pinned CPU
KEA_LOG_SEVERITY=WARN  # INFO logs ~2 lines per lease and costs ~35% throughput
EXIT_WAIT_US=50000  # perfdhcp -W: drain time after the period (counted in
                    # perfdhcp's rate denominator, so keep it short)
KEEP_TMP=0
VERBOSE=0

usage() {
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die() { echo "kea_bench: $*" >&2; exit 1; }
log() { echo "kea_bench: $*" >&2; }

while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) SECONDS_RUN="${2:?--seconds needs a value}"; shift 2 ;;
        --seconds=*) SECONDS_RUN="${1#*=}"; shift ;;
        --rate) RATE="${2:?--rate needs a value}"; shift 2 ;;
        --rate=*) RATE="${1#*=}"; shift ;;
        --clients) CLIENTS="${2:?--clients needs a value}"; shift 2 ;;
        --clients=*) CLIENTS="${1#*=}"; shift ;;
        --no-pin) PIN=0; shift ;;
        --perf-threads) PERF_THREADS="${2:?--perf-threads needs a value}"; shift 2 ;;
        --perf-threads=*) PERF_THREADS="${1#*=}"; shift ;;
        --log-severity) KEA_LOG_SEVERITY="${2:?--log-severity needs a value}"; shift 2 ;;
        --log-severity=*) KEA_LOG_SEVERITY="${1#*=}"; shift ;;
        --keep-tmp) KEEP_TMP=1; shift ;;
        --verbose|-v) VERBOSE=1; shift ;;
        -h|--help) usage ;;
        *) echo "kea_bench: unknown argument: $1" >&2; usage ;;
    esac
done

if ! [[ "$SECONDS_RUN" =~ ^[0-9]+$ ]] || [ "$SECONDS_RUN" -lt 1 ] || [ "$SECONDS_RUN" -gt 600 ]; then
    die "--seconds must be an integer in 1..600"
fi
if ! [[ "$RATE" =~ ^[0-9]+$ ]] || [ "$RATE" -lt 1 ]; then die "--rate must be a positive integer"; fi
if ! [[ "$CLIENTS" =~ ^[0-9]+$ ]] || [ "$CLIENTS" -lt 1 ]; then die "--clients must be a positive integer"; fi
[[ "$PERF_THREADS" =~ ^(single|multi)$ ]] || die "--perf-threads must be single or multi"
[[ "$KEA_LOG_SEVERITY" =~ ^(FATAL|ERROR|WARN|INFO|DEBUG)$ ]] || die "--log-severity must be FATAL|ERROR|WARN|INFO|DEBUG"

[ "$(id -u)" -eq 0 ] || die "must run as root (needs ip netns, veth, port 67)"

KEA_BIN="$(command -v kea-dhcp4 || true)"
PERF_BIN="$(command -v perfdhcp || true)"
[ -n "$KEA_BIN" ] || [ ! -x /usr/sbin/kea-dhcp4 ] || KEA_BIN=/usr/sbin/kea-dhcp4
[ -n "$PERF_BIN" ] || [ ! -x /usr/sbin/perfdhcp ] || PERF_BIN=/usr/sbin/perfdhcp
[ -n "$KEA_BIN" ] || die "kea-dhcp4 not found; install with: apt-get install -y kea-dhcp4-server kea-admin"
[ -n "$PERF_BIN" ] || die "perfdhcp not found; install with: apt-get install -y kea-admin"
command -v ip >/dev/null || die "'ip' (iproute2) not found"

NCPU="$(nproc)"
if [ "$PIN" -eq 1 ] && { [ "$NCPU" -lt 2 ] || ! command -v taskset >/dev/null; }; then
    log "not pinning (need >=2 CPUs and taskset)"
    PIN=0
fi

KEA_VERSION="$("$KEA_BIN" -v 2>/dev/null | head -n1 | tr -d '[:space:]')"
[ -n "$KEA_VERSION" ] || KEA_VERSION=unknown

# ---- names: everything prefixed ueipk, unique per run --------------------
TAG="$$"
NS_SRV="ueipk-srv-$TAG"
NS_CLI="ueipk-cli-$TAG"
IF_SRV="ueipk${TAG}s"      # <= 15 chars for pid <= 8 digits
IF_CLI="ueipk${TAG}c"
SRV_IP=192.0.2.1
CLI_IP=192.0.2.2

TMP="$(mktemp -d /tmp/ueipk-kea.XXXXXX)"
KEA_PID=""
PERF_WRAP_PID=""

cleanup() {
    local rc=$?
    set +e
    if [ -n "$PERF_WRAP_PID" ]; then
        kill -TERM "$PERF_WRAP_PID" 2>/dev/null
        wait "$PERF_WRAP_PID" 2>/dev/null
    fi
    if [ -n "$KEA_PID" ] && kill -0 "$KEA_PID" 2>/dev/null; then
        kill -TERM "$KEA_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$KEA_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$KEA_PID" 2>/dev/null
        wait "$KEA_PID" 2>/dev/null
    fi
    # Any stray process left in our namespaces (only ours: they are private).
    for ns in "$NS_SRV" "$NS_CLI"; do
        if ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$ns"; then
            for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
            ip netns del "$ns" 2>/dev/null
        fi
    done
    # Deleting the netns destroys the veth pair; make sure anyway.
    ip link del "$IF_SRV" 2>/dev/null
    if [ "$KEEP_TMP" -eq 1 ]; then
        log "kept temp dir $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- private world ---------------------------------------------------------
ip netns add "$NS_SRV"
ip netns add "$NS_CLI"
ip link add "$IF_SRV" type veth peer name "$IF_CLI"
ip link set "$IF_SRV" netns "$NS_SRV"
ip link set "$IF_CLI" netns "$NS_CLI"
ip -n "$NS_SRV" link set lo up
ip -n "$NS_CLI" link set lo up
ip -n "$NS_SRV" addr add "$SRV_IP/24" dev "$IF_SRV"
ip -n "$NS_CLI" addr add "$CLI_IP/24" dev "$IF_CLI"
ip -n "$NS_SRV" link set "$IF_SRV" up
ip -n "$NS_CLI" link set "$IF_CLI" up


# ---- Kea config ------------------------------------------------------------
# perfdhcp runs as a relay agent (unicast to the server, giaddr=$CLI_IP), so
# the pool subnet is selected via the relay address.  The pool lives only
# inside the private namespaces.
mkdir -p "$TMP/run" "$TMP/lock"
cat >"$TMP/kea-dhcp4.json" <<EOF
{
  "Dhcp4": {
    "interfaces-config": {
      "interfaces": [ "$IF_SRV/$SRV_IP" ],
      "dhcp-socket-type": "udp"
    },
    "control-socket": {
      "socket-type": "unix",
      "socket-name": "$TMP/run/kea4-ctrl-socket"
    },
    "lease-database": {
      "type": "memfile",
      "persist": true,
      "name": "$TMP/kea-leases4.csv",
      "lfc-interval": 0
    },
    "multi-threading": { "enable-multi-threading": false },
    "expired-leases-processing": { "reclaim-timer-wait-time": 0,
                                   "flush-reclaimed-timer-wait-time": 0 },
    "renew-timer": 900,
    "rebind-timer": 1800,
    "valid-lifetime": 3600,
    "subnet4": [
      {
        "id": 1,
        "subnet": "100.64.0.0/10",
        "pools": [ { "pool": "100.64.0.10 - 100.127.255.250" } ],
        "relay": { "ip-addresses": [ "$CLI_IP" ] },
        "option-data": [ { "name": "routers", "data": "100.64.0.1" } ]
      }
    ],
    "loggers": [
      {
        "name": "kea-dhcp4",
        "output_options": [ { "output": "$TMP/kea-dhcp4.log" } ],
        "severity": "$KEA_LOG_SEVERITY"
      }
    ]
  }
}
EOF

KEA_PIDFILE_DIR="$TMP/run" KEA_LOCKFILE_DIR="$TMP/lock" \
    ip netns exec "$NS_SRV" "$KEA_BIN" -t "$TMP/kea-dhcp4.json" >"$TMP/kea-check.log" 2>&1 \
    || { cat "$TMP/kea-check.log" >&2; die "kea-dhcp4 rejected the generated config"; }

# ---- start Kea in the server namespace -------------------------------------
KEA_CPU=()
PERF_CPU=()
if [ "$PIN" -eq 1 ]; then KEA_CPU=(taskset -c 0); PERF_CPU=(taskset -c 1); fi

# `ip netns exec` and `taskset` both exec(), so $! is kea-dhcp4's own pid.
KEA_PIDFILE_DIR="$TMP/run" KEA_LOCKFILE_DIR="$TMP/lock" \
    ip netns exec "$NS_SRV" "${KEA_CPU[@]}" "$KEA_BIN" -c "$TMP/kea-dhcp4.json" \
    >"$TMP/kea-stdout.log" 2>&1 &
KEA_PID=$!

ready=0
for _ in $(seq 1 100); do
    kill -0 "$KEA_PID" 2>/dev/null || break
    if ip netns exec "$NS_SRV" ss -Hlunp 2>/dev/null | grep -q "$SRV_IP:67 .*pid=$KEA_PID,"; then
        ready=1; break
    fi
    sleep 0.05
done
if [ "$ready" -ne 1 ]; then
    cat "$TMP/kea-stdout.log" "$TMP/kea-dhcp4.log" 2>/dev/null | tail -n 20 >&2 || true
    die "kea-dhcp4 did not come up listening on $SRV_IP:67"
fi
[ "$(cat /proc/"$KEA_PID"/comm)" = "kea-dhcp4" ] || die "pid $KEA_PID is not kea-dhcp4"

# utime+stime (fields 14,15) in clock ticks; comm may hold spaces, so split
# after the last ')'.
cpu_ticks() {
    local s
    s="$(cat /proc/"$1"/stat 2>/dev/null)" || return 1
    s="${s##*) }"
    # shellcheck disable=SC2086
    set -- $s
    [ $# -ge 13 ] && [ "$1" != Z ] || return 1   # gone or zombie
    echo $(( ${12} + ${13} ))
}
CLK_TCK="$(getconf CLK_TCK)"

# Machine-wide busy ticks (everything but idle+iowait) from /proc/stat, to
# spot foreign CPU load that would skew the figures on a 2-core box.
sys_busy_ticks() {
    awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# ---- drive it with perfdhcp from the client namespace ----------------------
# -l $CLI_IP + server address => relay mode (giaddr=$CLI_IP, replies unicast
# back to us).  -p bounds the run; -d drop time; -W drain wait (us) at the end.
PERF_ARGS=(-4 -l "$CLI_IP" -r "$RATE" -R "$CLIENTS" -p "$SECONDS_RUN"
           -d 2 -W "$EXIT_WAIT_US" -g "$PERF_THREADS" "$SRV_IP")
if [ "$VERBOSE" -eq 1 ]; then log "perfdhcp ${PERF_ARGS[*]}"; fi

export PERF_CPU_FILE="$TMP/perfdhcp.cputicks"
T0="$(cpu_ticks "$KEA_PID")" || die "kea-dhcp4 died before the run"
S0="$(sys_busy_ticks)"
START_NS="$(date +%s%N)"
# A tiny bash wrapper records perfdhcp's own CPU time (cutime+cstime of the
# wrapper after it reaped perfdhcp) so we can tell whether the load
# generator, rather than Kea, is the bottleneck.  Run in the background and
# `wait` so INT/TERM reach our trap at once.
# shellcheck disable=SC2016
timeout --signal=INT --kill-after=5 $(( SECONDS_RUN + 20 )) \
    ip netns exec "$NS_CLI" "${PERF_CPU[@]}" bash -c '
        "$@" & c=$!
        trap "kill -TERM $c 2>/dev/null" TERM INT   # forward, then reap
        rc=0; wait $c || rc=$?
        while kill -0 $c 2>/dev/null; do rc=0; wait $c || rc=$?; done
        s=$(cat /proc/$$/stat); s=${s##*) }; set -- $s
        echo $(( ${14} + ${15} )) >"$PERF_CPU_FILE"
        exit $rc' perfdhcp-wrap "$PERF_BIN" "${PERF_ARGS[@]}" \
    >"$TMP/perfdhcp.out" 2>&1 &
PERF_WRAP_PID=$!
PERF_RC=0
wait "$PERF_WRAP_PID" || PERF_RC=$?
PERF_WRAP_PID=""
END_NS="$(date +%s%N)"
T1="$(cpu_ticks "$KEA_PID")" || die "kea-dhcp4 died during the run (see --keep-tmp logs)"
S1="$(sys_busy_ticks)"


if [ "$VERBOSE" -eq 1 ]; then cat "$TMP/perfdhcp.out" >&2; fi
# perfdhcp exit 3 == some exchanges not completed (normal under saturation).
if [ "$PERF_RC" -ne 0 ] && [ "$PERF_RC" -ne 3 ]; then
    cat "$TMP/perfdhcp.out" >&2
    die "perfdhcp failed (exit $PERF_RC)"
fi

# ---- parse perfdhcp's final report -----------------------------------------
OUT="$TMP/perfdhcp.out"
# "Rate: 6123.45 4-way exchanges/second, expected rate: 9000"
RATE_LINE="$(grep -E 'Rate: [0-9.]+ 4-way exchanges/second' "$OUT" | tail -n1 || true)"
[ -n "$RATE_LINE" ] || { cat "$OUT" >&2; die "could not find the 4-way rate in perfdhcp output"; }
LPS="$(sed -E 's/.*Rate: ([0-9.]+) 4-way.*/\1/' <<<"$RATE_LINE")"

# Per-exchange sections: "***Statistics for: DISCOVER-OFFER***" then
# "REQUEST-ACK".  Pull sent/received/drops out of the REQUEST-ACK section.
section_val() {  # section key
    awk -v sec="$1" -v key="$2" '
        /^\*\*\*Statistics for:/ { insec = index($0, sec) > 0; next }
        insec && index($0, key) == 1 { sub(/^[^:]*: */, ""); print $1; exit }' "$OUT"
}
DO_SENT="$(section_val DISCOVER-OFFER 'sent packets')"
DO_RECV="$(section_val DISCOVER-OFFER 'received packets')"
RA_SENT="$(section_val REQUEST-ACK 'sent packets')"
ACKS="$(section_val REQUEST-ACK 'received packets')"
RA_DROPS="$(section_val REQUEST-ACK 'drops')"
DO_DROPS="$(section_val DISCOVER-OFFER 'drops')"
if ! [[ "${ACKS:-}" =~ ^[0-9]+$ ]] || [ "$ACKS" -eq 0 ]; then
    cat "$OUT" >&2; die "perfdhcp received no ACKs"
fi

LEASE_LINES="$(( $(wc -l <"$TMP/kea-leases4.csv") - 1 ))"
CPU_TICKS=$(( T1 - T0 ))
WALL_MS=$(( (END_NS - START_NS) / 1000000 ))

CPU_US_PER_LEASE="$(awk -v t="$CPU_TICKS" -v hz="$CLK_TCK" -v n="$ACKS" \
    'BEGIN { printf "%.1f", t * 1e6 / hz / n }')"

log "perfdhcp exit=$PERF_RC wall=${WALL_MS}ms offered_rate=$RATE clients=$CLIENTS pinned=$PIN"
log "DISCOVER sent=$DO_SENT offers=$DO_RECV drops=$DO_DROPS; REQUEST sent=$RA_SENT acks=$ACKS drops=$RA_DROPS"
PERF_TICKS="$(cat "$PERF_CPU_FILE" 2>/dev/null || echo 0)"
log "cpu seconds over the run: kea-dhcp4=$(awk -v t="$CPU_TICKS" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t/hz}')" \
    "perfdhcp=$(awk -v t="$PERF_TICKS" -v hz="$CLK_TCK" 'BEGIN{printf "%.2f", t/hz}') (wall $(awk -v m="$WALL_MS" 'BEGIN{printf "%.2f", m/1000}')s);" \
    "lease-file records=$LEASE_LINES"
log "kea-dhcp4 busy $(awk -v t="$CPU_TICKS" -v hz="$CLK_TCK" -v m="$WALL_MS" 'BEGIN{printf "%.0f", 100*t/hz/(m/1000)}')% of wall" \
    "(~100% => Kea is the bottleneck); acks/period=$(awk -v n="$ACKS" -v p="$SECONDS_RUN" 'BEGIN{printf "%.1f", n/p}')/s"
FOREIGN_TICKS=$(( S1 - S0 - CPU_TICKS - PERF_TICKS ))
[ "$FOREIGN_TICKS" -ge 0 ] || FOREIGN_TICKS=0   # tick-sampling jitter
FOREIGN_CORES="$(awk -v t="$FOREIGN_TICKS" -v hz="$CLK_TCK" -v m="$WALL_MS" 'BEGIN{printf "%.2f", t/hz/(m/1000)}')"
log "other CPU load during the run (softirq + foreign processes): $FOREIGN_CORES cores"
if awk -v c="$FOREIGN_CORES" 'BEGIN{exit !(c > 0.25)}'; then
    log "WARNING: significant foreign CPU load ($FOREIGN_CORES of $NCPU cores) during the run;" \
        "figures are likely depressed - rerun on an idle machine"
fi
log "REQUEST-ACK $(awk '/^\*\*\*Statistics for:/ { insec = index($0, "REQUEST-ACK") > 0 }
    insec && /^(avg delay|max delay):/ { printf "%s ", $0 }' "$OUT")"

echo "kea_leases_per_sec $LPS"
echo "kea_cpu_us_per_lease $CPU_US_PER_LEASE"
echo "kea_version $KEA_VERSION"
